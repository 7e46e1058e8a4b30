"""Issue 8: `audit` honours pyproject's fail_on, and --select/--ignore mean what they mean
in every other command (ruff's convention: --select replaces, --ignore adds)."""
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import nndoctor
from nndoctor.cli.app import _load_commands
from nndoctor.cli.common import run_cli


@pytest.fixture()
def project(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=300), "flat": 1.0, "b": rng.normal(size=300),
                          "y": rng.integers(0, 2, 300)})
    frame.to_csv(tmp_path / "train.csv", index=False)
    # Constant in train, varying in test: a constant-feature warning.
    frame.assign(flat=np.arange(300) % 2).to_csv(tmp_path / "test.csv", index=False)
    monkeypatch.chdir(tmp_path)
    _load_commands()
    return tmp_path


def audit_cli(*args):
    return run_cli(["audit", "--train", "train.csv", "--test", "test.csv", "--label", "y", *args])


def test_audit_fails_on_a_warning_when_pyproject_says_so(project, capsys):
    assert audit_cli("--select", "constant-feature") == 0  # a warning, default fail_on = error
    (project / "pyproject.toml").write_text('[tool.nndoctor]\nfail_on = "warning"\n')
    assert audit_cli("--select", "constant-feature") == 1
    assert audit_cli("--select", "constant-feature", "--fail-on", "error") == 0  # the flag wins
    capsys.readouterr()


def test_audit_ignore_adds_to_pyproject_and_select_replaces(project, capsys):
    (project / "pyproject.toml").write_text('[tool.nndoctor]\nselect = ["constant-feature", "duplicate-samples"]\n'
                                            'ignore = ["constant-feature"]\n')
    report = nndoctor.audit(pd.read_csv("train.csv"), label="y", ignore=["duplicate-samples"])
    assert "constant-feature" not in report.checks_run and "duplicate-samples" not in report.checks_run
    report = nndoctor.audit(pd.read_csv("train.csv"), label="y", select=["constant-feature"])
    assert "constant-feature" in report.checks_run  # named explicitly: wins over pyproject's ignore
    report = nndoctor.audit(pd.read_csv("train.csv"), label="y", extend_select=["feature-leakage"])
    assert {"duplicate-samples", "feature-leakage"} <= set(report.checks_run)
    assert audit_cli("--ignore", "duplicate-samples", "--json", "r.json") == 2  # nothing left to check
    capsys.readouterr()


def test_preflight_ignore_adds_to_pyproject(project):
    (project / "pyproject.toml").write_text('[tool.nndoctor]\nignore = ["cannot-overfit-batch"]\n')
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    batch = (torch.randn(8, 4), torch.randint(0, 2, (8,)))
    report = nndoctor.preflight(model, batch, F.cross_entropy, steps=5, ignore=["ignores-input"])
    assert "cannot-overfit-batch" not in report.checks_run and "ignores-input" not in report.checks_run
    assert "batch-mixing" in report.checks_run
