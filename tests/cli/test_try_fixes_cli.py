"""`nndoctor run --try-fixes` end to end on the bundled examples, as a user runs it: the
injected bug is diagnosed, the candidate fix that cures it is named with its code change,
and a healthy run gets "nothing to try". Each case limits the trials (--fix) to stay fast;
the fix catalogue's choice of candidates is tested in tests/tune/test_try_fixes_scoring.py."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import warm_launcher

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def try_fixes(tmp_path, script, *args, steps, fixes=None):
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "nndoctor", "run", "--quiet", "--try-fixes", "--fix-steps", str(steps),
               "--json", str(report)]
    if fixes:
        command += ["--fix", fixes]
    result = warm_launcher.run([*command, str(EXAMPLES / script), *args], capture_output=True, timeout=600)
    assert report.exists(), result.stderr
    return result, json.loads(report.read_text())["context"]["try_fixes"]


def verdicts(record):
    return {trial["fix"]: trial["verdict"] for trial in record["trials"]}


@pytest.mark.parametrize("script, bug, steps, fixes, symptom, cure", [
    ("train_classifier.py", "lr-too-high", 30, "lr-x0.01,warmup", "update-ratio-high", "lr-x0.01"),
    ("train_transformer.py", "no-warmup", 36, "warmup", "vanishing-gradients", "warmup"),
    ("train_regression.py", "init", 64, "init-xavier", "saturated-activation", "init-xavier"),
], ids=["lr-too-high", "no-warmup", "init"])
def test_bug_is_cured_and_the_fix_named(tmp_path, script, bug, steps, fixes, symptom, cure):
    result, record = try_fixes(tmp_path, script, "--bug", bug, steps=steps, fixes=fixes)
    assert symptom in record["baseline"]["findings"], result.stderr
    assert record["recommended"] == cure, (verdicts(record), result.stderr)
    row = next(trial for trial in record["trials"] if trial["fix"] == cure)
    assert symptom in row["targets"] and row["symptoms_left"] == [] and row["loss_ratio"] < 0.95
    assert len(row["loss"]) == len(record["baseline"]["loss"]) == steps
    assert "Cured by" in result.stderr and row["code_change"] in result.stderr.replace("\n", "")


def test_healthy_run_has_nothing_to_try(tmp_path):
    result, record = try_fixes(tmp_path, "train_classifier.py", "--epochs", "1", steps=16)
    assert record["nothing_to_try"] and record["trials"] == [], result.stderr
    assert "Nothing to try" in result.stderr and result.returncode == 0


def test_unknown_fix_is_a_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "nndoctor", "run", "--try-fixes", "--fix", "lr-x3",
                             str(EXAMPLES / "train_classifier.py")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--fix has no fix 'lr-x3'" in result.stderr
    assert "Traceback" not in result.stderr
