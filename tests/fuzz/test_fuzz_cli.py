"""The command line with any combination of arguments: an exit code, at most one error line
(naming what was expected), no traceback, and no file written except the report paths the
user asked for (issue 8)."""
import textwrap

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nndoctor.cli.app import _load_commands
from nndoctor.cli.common import run_cli
from nndoctor.core import Report

FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SCRIPT = """
    import torch
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    for _ in range(3):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
"""

VALUES = st.sampled_from(["error", "warning", "info", "", "dead-relu", "dynamics,code", "no-such-rule", "0", "-1",
                          "3", "x", "train.csv", "missing.csv", "train.py", "y", "a=1", "model_sample_cap=x",
                          "data", "out.json", "out.html", "r.json", "<script>", "ü"])
OPTIONS = st.sampled_from(["--select", "--ignore", "--extend-select", "--fail-on", "--json", "--html", "--every",
                           "--stop-on", "--area", "--train", "--test", "--label", "--max-rows", "--option", "--task",
                           "--group", "-q", "--verbose", "-m", "--preflight", "--help", "--", "--bogus", "python"])
COMMANDS = st.sampled_from(["run", "audit", "report", "rules", "explain", "nonsense", ""])


@pytest.fixture(scope="module", autouse=True)
def commands():
    _load_commands()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(textwrap.dedent(SCRIPT), encoding="utf-8")
    (tmp_path / "train.csv").write_text("a,b,y\n" + "".join(f"{i % 7},{i % 3},{i % 2}\n" for i in range(60)),
                                        encoding="utf-8")
    Report(command="audit", checks_run=["x"]).to_json(tmp_path / "r.json")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@FUZZ
@given(COMMANDS, st.lists(st.one_of(OPTIONS, VALUES), max_size=7))
def test_any_argument_combination(workdir, capsys, command, words):
    before = {p.name for p in workdir.iterdir()}
    argv = [command, *words] if command else words
    code = run_cli(argv)
    captured = capsys.readouterr()
    event(f"{command or '-'} exit {code}")
    assert isinstance(code, int) and code in (0, 1, 2, 130), (argv, code, captured.err)
    if command == "run" and code == 1 and "Traceback" in captured.err:
        # The script's own crash (e.g. `run train.csv`), shown as python would: none of nndoctor's frames.
        assert "/nndoctor/" not in captured.err.split("Traceback", 1)[1].split("nndoctor run")[0], captured.err
    else:
        assert "Traceback" not in captured.err, argv
    errors = [line for line in captured.err.splitlines() if line.startswith("nndoctor: error:")]
    if code == 2 and errors:
        assert len(errors) == 1, captured.err
    asked = {after for flag, after in zip(argv, argv[1:]) if flag in ("--json", "--html")}
    new = {p.name for p in workdir.iterdir()} - before
    assert new <= asked, (argv, new)
    for name in new:
        (workdir / name).unlink()
