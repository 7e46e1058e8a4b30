"""Issue 8: the habits users bring from ruff, pytest and python itself, and "never lose a
diagnosis". Each test runs `python -m nndoctor` as a user would, on a tiny training script."""
import json
import os
import re
import sys
import textwrap
from pathlib import Path

import pytest

import warm_launcher

TRAIN = """
    import sys
    from pathlib import Path
    import torch
    torch.set_num_threads(1)
    Path("started.marker").write_text("yes")
    print("argv", sys.argv[1:])
    if "--no-train" in sys.argv:
        sys.exit(0)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(128, 8)
    y = (x[:, 0] > 0).long()
    for step in range(12):
        if "--no-zero-grad" not in sys.argv:
            optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        if "--interrupt" in sys.argv and step == 6:
            raise KeyboardInterrupt
    print("done")
"""


def write(directory, name, text):
    path = Path(directory) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


SRC = str(Path(__file__).resolve().parents[2] / "src")


def nndoctor(*args, cwd, env=None):
    # This checkout's sources first, whatever is installed.
    path = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
    environment = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path, **(env or {}))
    return warm_launcher.run([sys.executable, "-m", "nndoctor", *map(str, args)], capture_output=True,
                             text=True, timeout=300, cwd=cwd, env=environment)


@pytest.fixture()
def project(tmp_path):
    write(tmp_path, "train.py", TRAIN)
    write(tmp_path, "pkg/__init__.py", "")
    write(tmp_path, "pkg/train.py", TRAIN)
    write(tmp_path, "pyproject.toml", '[project]\nname = "demo"\n')
    return tmp_path


def test_a_misspelt_threshold_stops_before_the_script_starts(project):
    write(project, "pyproject.toml", "[tool.nndoctor.thresholds.update-ratio-high]\nratio_hihg = 0.05\n")
    result = nndoctor("run", "train.py", cwd=project)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "ratio_hihg" in result.stderr and "did you mean 'ratio_high'" in result.stderr
    assert not (project / "started.marker").exists()  # the training never started


def test_a_misspelt_rule_id_in_thresholds_is_not_silently_accepted(project):
    write(project, "pyproject.toml", "[tool.nndoctor.thresholds.update-ratio-hihg]\nratio_high = 0.05\n")
    result = nndoctor("run", "train.py", cwd=project)
    assert result.returncode == 2
    assert "[tool.nndoctor.thresholds.update-ratio-hihg]" in result.stderr
    assert "did you mean 'update-ratio-high'" in result.stderr
    assert not (project / "started.marker").exists()


@pytest.mark.parametrize("command", [
    ["python", "train.py", "--lr", "1"],
    ["--", "python", "train.py", "--lr", "1"],
    [Path(sys.executable).name, "-u", "train.py", "--lr", "1"],
    ["python", "-m", "pkg.train", "--lr", "1"],
    ["-m", "pkg.train", "--lr", "1"],
    ["--verbose", "train.py", "--lr", "1"],
], ids=["python", "dashdash-python", "python-u", "python-m", "m", "verbose"])
def test_pasted_command_lines_run_the_script(project, command):
    result = nndoctor("run", "--json", "r.json", *command, cwd=project)
    assert result.returncode == 0, result.stderr
    assert "argv ['--lr', '1']" in result.stdout and "done" in result.stdout
    assert json.loads((project / "r.json").read_text())["context"]["steps_observed"] == 12


def test_options_after_the_script_belong_to_the_script(project):
    result = nndoctor("run", "train.py", "--verbose", "--json", "x.json", cwd=project)
    assert "argv ['--verbose', '--json', 'x.json']" in result.stdout
    assert not (project / "x.json").exists()


def test_an_unknown_option_before_the_script_is_one_line(project):
    result = nndoctor("run", "--verbos", "train.py", cwd=project)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "no option '--verbos'" in result.stderr
    assert not (project / "started.marker").exists()


def test_verbose_lists_every_skipped_check(project):
    result = nndoctor("run", "--verbose", "--select", "dynamics,code", "train.py", cwd=project)
    assert "more (--verbose)" not in result.stderr


def test_nothing_judged_exits_2_and_a_script_failure_passes_through(project):
    result = nndoctor("run", "train.py", "--no-train", cwd=project)
    assert result.returncode == 2
    assert "no training step was seen" in result.stderr
    write(project, "fails.py", "import sys; sys.exit(5)")
    failed = nndoctor("run", "fails.py", cwd=project)
    assert failed.returncode == 5
    # The script's own failure is named as such, with its exit code, not nndoctor's 2.
    assert "the script stopped with exit code 5 before nndoctor saw a training step" in failed.stderr
    assert "(exit code 2)" not in failed.stderr


def test_quiet_still_names_each_finding(project):
    result = nndoctor("run", "-q", "train.py", "--no-zero-grad", cwd=project)
    assert result.returncode == 1
    assert "nndoctor error [missing-zero-grad] step 1:" in result.stderr
    assert "● missing-zero-grad" not in result.stderr  # no full report
    assert re.search(r"nndoctor: 1 error, \d+ warnings?, \d+ notes? over 12 steps\.", result.stderr)


def test_an_interrupted_run_says_so_and_where(project):
    result = nndoctor("run", "--json", "r.json", "train.py", "--interrupt", cwd=project)
    assert result.returncode == 130
    assert "interrupted at step 7" in result.stderr
    assert "The run was interrupted at step 7" in nndoctor("report", "r.json", cwd=project).stdout


def test_preflight_checks_join_the_run_report(project):
    result = nndoctor("run", "--preflight", "--json", "r.json", "train.py", cwd=project)
    assert result.returncode == 0, result.stderr
    report = json.loads((project / "r.json").read_text())
    preflight_checks = report["context"]["preflight"]["checks_run"]
    assert "cannot-overfit-batch" in preflight_checks
    assert set(preflight_checks) <= set(report["checks_run"])
    skipped = {s["rule"] for s in report["checks_skipped"]}
    assert not skipped & set(report["checks_run"])


def test_ignore_adds_to_pyproject_and_select_replaces_it(project):
    write(project, "pyproject.toml", '[tool.nndoctor]\nignore = ["missing-zero-grad"]\n')
    # --ignore adds: the project's ignore still holds (it used to be replaced in run).
    result = nndoctor("run", "--ignore", "dead-relu", "--json", "r.json", "train.py", "--no-zero-grad", cwd=project)
    rules = {f["rule"] for f in json.loads((project / "r.json").read_text())["findings"]}
    assert "missing-zero-grad" not in rules, result.stderr
    assert "dead-relu" not in json.loads((project / "r.json").read_text())["checks_run"]
    # Naming the rule in --select wins over the project's ignore (as in ruff).
    nndoctor("run", "--select", "missing-zero-grad", "--json", "r.json", "train.py", "--no-zero-grad", cwd=project)
    assert "missing-zero-grad" in {f["rule"] for f in json.loads((project / "r.json").read_text())["findings"]}


def test_rules_never_cuts_rule_ids():
    from nndoctor.core.registry import load_rules

    ids = [rule.id for rule in load_rules()]
    narrow = nndoctor("rules", cwd=".", env={"FORCE_COLOR": "1", "COLUMNS": "60"})
    text = re.sub(r"\x1b\[[0-9;]*m", "", narrow.stdout)
    assert "…" not in text.split("what it")[0]
    for rule_id in ids:
        assert re.search(rf"^{re.escape(rule_id)}\s", text, re.M), rule_id
    piped = nndoctor("rules", cwd=".")
    lines = piped.stdout.splitlines()
    assert len(lines) == len(ids) and all(line.split()[0] in ids for line in lines)


def test_explain_suggests_the_nearest_rule():
    result = nndoctor("explain", "missing-zero-grd", cwd=".")
    assert result.returncode == 2
    assert "did you mean 'missing-zero-grad'?" in result.stderr and result.stderr.count("\n") == 1
