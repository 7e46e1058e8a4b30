"""`nndoctor tune …` end to end on the bundled example script: the script runs unchanged
until its first batches are intercepted, then it is ended and the copies are measured."""
import json
import sys
from pathlib import Path

import warm_launcher

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "train_classifier.py"


def tune(*args, cwd=None):
    return warm_launcher.run([sys.executable, "-m", "nndoctor", "tune", *map(str, args)], capture_output=True,
                             text=True, timeout=300, cwd=cwd)


def test_tune_lr_teaches_and_writes_json(tmp_path):
    report = tmp_path / "lr.json"
    result = tune("lr", "--json", report, "--batches", "12", "--budget", "20", "--repeats", "2", "--range-steps", "40", SCRIPT, "--epochs", "3")
    assert result.returncode == 0, result.stderr
    assert "Range test" in result.stdout and "Confirming sweep" in result.stdout and "Change:" in result.stdout
    assert "epoch 1" not in result.stdout  # the script was ended before training on
    data = json.loads(report.read_text())
    measured = data["context"]["lr_range"]
    assert measured["confirmed_lr"] is not None and measured["optimizer"] == "Adam"
    assert measured["user_lr"] == 1e-3 and len(measured["suggestions"]) == 2
    assert sum(measured["sweep_orders"].values()) >= 3 * len(measured["sweep"])  # three batch orders per rate at least
    assert measured["confirmed_lr_error"] is None or f"×/÷ {measured['confirmed_lr_error']:.2f}" in result.stdout
    assert {"no-usable-lr-valley", "lr-far-from-best", "lr-needs-warmup"} <= set(data["checks_run"])


def test_tune_batch_size_and_weight_decay(tmp_path):
    result = tune("batch-size", "--json", tmp_path / "b.json", "--batches", "6", SCRIPT, "--epochs", "1")
    assert result.returncode == 0, result.stderr
    measured = json.loads((tmp_path / "b.json").read_text())["context"]["noise_scale"]
    assert measured["user_batch_size"] == 64 and measured["small_batch"] == 8
    assert "B_simple" in result.stdout
    result = tune("weight-decay", "--budget", "12", "--batches", "8", SCRIPT, "--epochs", "1")
    assert result.returncode == 0, result.stderr
    assert "Sweep" in result.stdout and "group 0" in result.stdout


def test_a_script_without_training_is_one_clear_error(tmp_path):
    script = tmp_path / "nothing.py"
    script.write_text("print('no training here')\n")
    result = tune("lr", script)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("nndoctor: error: nothing to tune")
    assert "Traceback" not in result.stderr
