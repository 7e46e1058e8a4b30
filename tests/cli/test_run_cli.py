"""`nndoctor run` end to end: the bundled example scripts, clean and with each injected
bug, through `python -m nndoctor run`, plus the promise to behave like `python SCRIPT`."""
import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import warm_launcher

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DYNAMICS = {"loss-diverging", "update-ratio-high", "non-finite", "exploding-gradients",
            "loss-oscillating", "loss-not-decreasing"}

# (script, bug, short-run arguments, expected rule (None: clean), expected step or None)
CASES = [
    ("train_classifier.py", "none", ["--epochs", "2"], None, None),
    ("train_classifier.py", "no-zero-grad", ["--epochs", "2"], "missing-zero-grad", 1),
    ("train_classifier.py", "softmax-ce", ["--epochs", "2"], "probabilities-to-logit-loss", 0),
    ("train_classifier.py", "no-eval", ["--epochs", "2"], "eval-mode-missing", 16),
    ("train_classifier.py", "detach", ["--epochs", "2"], "no-gradient", None),
    ("train_classifier.py", "missing-from-optimizer", ["--epochs", "2"], "params-not-updated", None),
    ("train_classifier.py", "lr-too-high", ["--epochs", "2"], "dynamics", None),
    ("train_lstm_lm.py", "none", ["--epochs", "2"], None, None),
    ("train_lstm_lm.py", "no-zero-grad", ["--epochs", "2"], "missing-zero-grad", 1),
    ("train_lstm_lm.py", "no-eval", ["--epochs", "2"], "eval-mode-missing", 50),
    ("train_lstm_lm.py", "softmax-ce", ["--epochs", "2"], "probabilities-to-logit-loss", 0),
    ("train_lstm_lm.py", "lr-too-high", ["--epochs", "2"], "dynamics", None),
    ("train_transformer.py", "none", ["--epochs", "2"], None, None),
    ("train_transformer.py", "no-zero-grad", ["--epochs", "2"], "missing-zero-grad", 1),
    ("train_transformer.py", "no-eval", ["--epochs", "2"], "eval-mode-missing", 12),
    ("train_transformer.py", "softmax-ce", ["--epochs", "2"], "probabilities-to-logit-loss", 0),
    ("train_transformer.py", "lr-too-high", ["--epochs", "2"], "dynamics", None),
    ("train_transformer.py", "no-warmup", ["--epochs", "2"], "vanishing-gradients", None),
    ("train_regression.py", "none", ["--epochs", "3"], None, None),
    ("train_regression.py", "broadcast", ["--epochs", "3"], "loss-broadcasting", 0),
    ("train_regression.py", "no-zero-grad", ["--epochs", "3"], "missing-zero-grad", 1),
    ("train_regression.py", "missing-from-optimizer", ["--epochs", "3"], "params-not-updated", None),
    ("train_regression.py", "lr-too-high", ["--epochs", "3"], "dynamics", None),
    ("train_regression.py", "init", ["--epochs", "3"], "saturated-activation", 0),
    ("train_lbfgs.py", "none", ["--steps", "8"], None, None),
    ("train_lbfgs.py", "broadcast", ["--steps", "8"], "loss-broadcasting", 0),
    ("train_lbfgs.py", "missing-from-optimizer", ["--steps", "8"], "params-not-updated", None),
    ("train_lbfgs.py", "detach", ["--steps", "8"], "no-gradient", None),
]


def nndoctor_run(*args, cwd=None, env=None, warm=False):
    """`python -m nndoctor run ARGS…`; warm: through a warm server (tests/warm_launcher.py) for
    the tests that judge the report, a real subprocess for those that judge the process."""
    return (warm_launcher.run if warm else subprocess.run)(
        [sys.executable, "-m", "nndoctor", "run", *map(str, args)], capture_output=True, text=True, timeout=300,
        cwd=cwd, env=env)


@pytest.fixture(scope="module")
def example_runs(tmp_path_factory):
    """All example runs, two at a time (each is a separate Python process)."""
    out = tmp_path_factory.mktemp("runs")

    def run(case):
        script, bug, extra, _, _ = case
        report = out / f"{script}-{bug}.json"
        result = nndoctor_run("--quiet", "--json", report, EXAMPLES / script, "--bug", bug, *extra, warm=True)
        return case, result, json.loads(report.read_text()) if report.exists() else None

    with ThreadPoolExecutor(max_workers=2) as pool:
        return {case[:2]: (result, report) for case, result, report in pool.map(run, CASES)}


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0][6:-3]}-{c[1]}" for c in CASES])
def test_example(example_runs, case):
    script, bug, _, rule, step = case
    result, report = example_runs[(script, bug)]
    assert report is not None, result.stderr
    problems = [(f["rule"], f["step"]) for f in report["findings"] if f["severity"] in ("error", "warning")]
    if rule is None:
        assert problems == [], result.stderr
        assert result.returncode == 0
        assert report["context"]["script_exit_code"] == 0
        return
    if rule == "dynamics":
        assert {r for r, _ in problems} & DYNAMICS, problems
        return
    fired = [s for r, s in problems if r == rule]
    assert fired, problems
    if step is not None:
        assert fired[0] == step
    errors = any(f["severity"] == "error" for f in report["findings"])
    assert result.returncode == (1 if errors else 0)


def write(directory, name, text):
    path = Path(directory) / name
    path.write_text(textwrap.dedent(text))
    return path


BEHAVIOUR = """
    import sys
    import helper
    print("name", __name__, "argv", sys.argv[1:], "path0", sys.path[0] == helper.HERE)
    print("file", __file__)
    if "--crash" in sys.argv:
        helper.explode()
    if "--interrupt" in sys.argv:
        raise KeyboardInterrupt
    if "--exit" in sys.argv:
        sys.exit(int(sys.argv[sys.argv.index("--exit") + 1]))
"""
HELPER = """
    import os
    HERE = os.path.dirname(os.path.abspath(__file__))
    def explode():
        raise ValueError("boom from the script")
"""


@pytest.fixture()
def behaviour_script(tmp_path):
    write(tmp_path, "helper.py", HELPER)
    return write(tmp_path, "script.py", BEHAVIOUR)


def test_runs_like_python(behaviour_script, tmp_path):
    plain = subprocess.run([sys.executable, str(behaviour_script), "--x", "1"], capture_output=True,
                           text=True, cwd=tmp_path)
    watched = nndoctor_run(behaviour_script, "--x", "1", cwd=tmp_path)
    assert watched.stdout == plain.stdout
    assert "name __main__ argv ['--x', '1'] path0 True" in watched.stdout
    assert watched.returncode == 2  # nothing trained, so nothing could be judged (issue 8)
    assert "no training step was seen" in watched.stderr


def test_exit_code_passes_through(behaviour_script, tmp_path):
    result = nndoctor_run("--json", tmp_path / "r.json", behaviour_script, "--exit", "3", cwd=tmp_path)
    assert result.returncode == 3
    assert json.loads((tmp_path / "r.json").read_text())["context"]["script_exit_code"] == 3


def test_crash_prints_the_script_traceback_and_writes_the_report(behaviour_script, tmp_path):
    result = nndoctor_run("--json", tmp_path / "r.json", behaviour_script, "--crash", cwd=tmp_path)
    assert result.returncode == 1
    assert "ValueError: boom from the script" in result.stderr
    assert 'helper.py", line' in result.stderr
    assert "nndoctor/torch/watch" not in result.stderr and "runpy" not in result.stderr
    assert (tmp_path / "r.json").exists()


def test_keyboard_interrupt_writes_the_report(behaviour_script, tmp_path):
    result = nndoctor_run("--json", tmp_path / "r.json", behaviour_script, "--interrupt", cwd=tmp_path)
    assert result.returncode == 130
    assert json.loads((tmp_path / "r.json").read_text())["context"]["interrupted"] is True


def test_module_mode(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    write(package, "__init__.py", "")
    write(package, "train.py", """
        import sys
        print("module", __name__, sys.argv[1:], sys.argv[0].endswith("train.py"))
    """)
    result = nndoctor_run("-m", "pkg.train", "--lr", "0.1", cwd=tmp_path)
    assert result.returncode == 2, result.stderr  # the module trains nothing: nothing judged
    assert "module __main__ ['--lr', '0.1'] True" in result.stdout


def test_stop_on_error_ends_a_doomed_run(tmp_path):
    report = tmp_path / "r.json"
    result = nndoctor_run("--stop-on", "error", "--json", report, EXAMPLES / "train_classifier.py",
                          "--bug", "no-zero-grad")
    assert result.returncode == 1
    data = json.loads(report.read_text())
    assert data["context"]["stopped_by"] == "missing-zero-grad"
    assert data["context"]["steps_observed"] < 10
    assert "nndoctor error [missing-zero-grad] step 1" in result.stderr
    assert "epoch 0" not in result.stdout


def test_live_line_and_report_go_to_stderr():
    result = nndoctor_run(EXAMPLES / "train_regression.py", "--bug", "broadcast", "--epochs", "1")
    assert "nndoctor error [loss-broadcasting] step 0" in result.stderr
    assert "nndoctor run" in result.stderr and "loss-broadcasting" not in result.stdout
    assert result.stdout.startswith("epoch 0")


def test_preflight_runs_on_the_first_step_and_training_continues():
    plain = subprocess.run([sys.executable, str(EXAMPLES / "train_classifier.py"), "--epochs", "1"],
                           capture_output=True, text=True)
    result = nndoctor_run("--preflight", EXAMPLES / "train_classifier.py", "--epochs", "1")
    assert "nndoctor preflight" in result.stderr
    assert result.stdout == plain.stdout
    assert result.returncode == 0, result.stderr


def test_bad_usage_is_one_line(tmp_path):
    result = nndoctor_run(tmp_path / "missing.py")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no such file" in result.stderr
    result = nndoctor_run("--every", "0", tmp_path / "missing.py")
    assert result.returncode == 2 and "--every" in result.stderr


def test_environment_is_untouched(tmp_path):
    env = dict(os.environ, NNDOCTOR_TEST_MARK="kept")
    script = write(tmp_path, "env.py", "import os; print(os.environ['NNDOCTOR_TEST_MARK'])")
    assert nndoctor_run(script, env=env).stdout == "kept\n"


def test_training_in_spawned_workers_leaves_the_run_intact_and_is_explained():
    # pytorch/examples mnist_hogwild: spawn-started workers re-import the script as
    # __mp_main__ and train there; the parent only tests.
    result = nndoctor_run(EXAMPLES / "multiprocess" / "mnist_hogwild.py", "--epochs", "1")
    assert "Test set: Average loss" in result.stdout and result.stdout.count("Train Epoch: 1 [0/1024") == 2
    assert result.returncode == 2
    assert "started 2 child processes" in result.stderr and "Traceback" not in result.stderr
