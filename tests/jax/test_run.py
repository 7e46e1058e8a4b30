"""`nndoctor run` on unchanged Flax scripts (the examples), in a subprocess as a user runs it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "jax"


def _run(tmp_path, script, *args):
    report = tmp_path / "report.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "nndoctor", "run", "--quiet", "--json", str(report),
                           str(EXAMPLES / script), *args], capture_output=True, text=True, env=env, timeout=600)
    return done, json.loads(report.read_text())


def test_a_healthy_linen_script_runs_clean(tmp_path):
    done, report = _run(tmp_path, "linen_regressor.py", "--steps", "150")
    assert done.returncode == 0, done.stderr
    assert report["findings"] == []
    assert report["context"]["framework"] == "jax" and report["context"]["steps_observed"] == 150
    assert report["context"]["series"]["loss"]["count"] == 150 and report["context"]["series"]["grad_norm"]
    assert "loss-diverging" in report["checks_run"] and "dropout-key-reused" in report["checks_run"]
    assert "final training loss" in done.stdout  # the script's own output is untouched


def test_a_reused_dropout_key_is_found(tmp_path):
    done, report = _run(tmp_path, "linen_regressor.py", "--steps", "60", "--bug", "reused-dropout-key")
    assert done.returncode == 1
    finding = next(f for f in report["findings"] if f["rule"] == "dropout-key-reused")
    assert finding["evidence"]["most_uses_of_one_key"] == 60 and "Dropout_0" in finding["where"]


def test_the_first_nan_is_traced_to_the_log_that_made_it(tmp_path):
    done, report = _run(tmp_path, "nnx_classifier.py", "--steps", "30", "--bug", "nan-log")
    assert done.returncode == 1
    finding = next(f for f in report["findings"] if f["rule"] == "non-finite")
    assert finding["step"] == 0
    assert finding["evidence"]["origin"] == "activation"
    assert "`log`" in finding["evidence"]["detail"] and "nnx_classifier.py:" in finding["evidence"]["detail"]
    assert not any("torch" in text for text in finding["fixes"] + finding["causes"])


def test_the_healthy_nnx_example_runs_without_nndoctor():
    done = subprocess.run([sys.executable, str(EXAMPLES / "nnx_classifier.py"), "--steps", "5"], capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300)
    assert done.returncode == 0, done.stderr
