"""The demo gallery: every case shows what it promises, end to end through the CLI too."""
import sys

import pytest
import torch

from nndoctor.demo.gallery import CASES, case_names, missing_expectations, run_case

import warm_launcher


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the demo does: tiny models are fastest on one thread
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_case_shows_what_it_promises(case):
    report = run_case(case)
    assert missing_expectations(case, report) == []
    if case.healthy:
        assert [f for f in report.findings if f.severity != "info"] == []
    else:
        assert any(f.severity in ("error", "warning") for f in report.findings)


def test_case_names_are_unique_and_both_kinds_exist():
    assert len(set(case_names())) == len(CASES)
    assert any(case.healthy for case in CASES) and any(not case.healthy for case in CASES)


def nndoctor(*args):
    return warm_launcher.run([sys.executable, "-m", "nndoctor", "demo", *args],
                             capture_output=True, text=True, timeout=300)


def test_cli_one_broken_case_shows_its_rules():
    result = nndoctor("--case", "old-school-mlp")
    assert result.returncode == 0, result.stderr
    for rule in ("sigmoid-hidden-activation", "dropout-with-normalization", "batchnorm-small-batch"):
        assert rule in result.stdout
    assert "Sigmoid hidden layers" in result.stdout  # the one-line title of what is broken


def test_cli_healthy_case_has_no_warnings():
    result = nndoctor("--case", "healthy-regressor")
    assert result.returncode == 0, result.stderr
    assert "0 errors, 0 warnings" in result.stdout


def test_cli_list_and_unknown_case():
    listed = nndoctor("--list")
    assert listed.returncode == 0 and all(name in listed.stdout for name in case_names())
    unknown = nndoctor("--case", "no-such-case")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().startswith("nndoctor: error: unknown demo case 'no-such-case'")
    assert "Traceback" not in unknown.stderr
