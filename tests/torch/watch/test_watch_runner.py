"""The runner in-process: the script runs as under `python`, and nndoctor's own faults
never reach it."""
import sys
import textwrap

import pytest

from nndoctor.torch.watch.runner import run_target
from nndoctor.torch.watch.session import Session
from nndoctor.torch.watch.stale_grads import StaleGradTracker

SCRIPT = """
    import sys
    import torch
    import torch.nn.functional as F
    from torch import nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    for step in range(6):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    print("final", round(loss.item(), 6), sys.argv[1:])
    sys.exit(int(sys.argv[1]))
"""


@pytest.fixture()
def script(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(SCRIPT))
    return path


def run(script, code, capsys):
    result = run_target(Session(live=False), script=str(script), args=[str(code)])
    return result, capsys.readouterr().out


def test_script_output_and_exit_code_pass_through(script, capsys):
    argv, path0 = sys.argv[:], sys.path[0]
    result, out = run(script, 4, capsys)
    assert result.script_exit_code == 4
    assert out.startswith("final ") and out.endswith("['4']\n")
    assert result.report.context["steps_observed"] == 6
    assert sys.argv == argv and sys.path[0] == path0


def test_a_failing_hook_changes_nothing(script, capsys, monkeypatch):
    _, healthy = run(script, 0, capsys)

    def broken(self):
        raise KeyError("injected")

    monkeypatch.setattr(StaleGradTracker, "before_backward", broken)
    result, out = run(script, 0, capsys)
    assert out == healthy
    assert result.script_exit_code == 0
    internal = [f for f in result.report.findings if f.rule == "internal-error"]
    assert internal and internal[0].evidence["exception"] == "KeyError"


NESTED = """
    import torch
    import torch.nn.functional as F
    from torch import nn
    import nndoctor
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    with nndoctor.watch(model, optimizer) as doctor:
        for step in range(4):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
        doctor.log(val_loss=0.7)
    print("steps", doctor.step)
"""


def test_watch_inside_nndoctor_run_joins_the_session(tmp_path, capsys):
    path = tmp_path / "nested.py"
    path.write_text(textwrap.dedent(NESTED))
    result = run_target(Session(live=False), script=str(path))
    assert result.script_exit_code == 0
    assert capsys.readouterr().out == "steps 4\n"
    assert result.report.context["steps_observed"] == 4
    assert [m["class"] for m in result.report.context["models"]] == ["Sequential"]
