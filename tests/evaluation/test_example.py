"""examples/evaluate: the planted weak slice and the noisy class are both found."""
import subprocess
import sys
from pathlib import Path

import pandas as pd

import nndoctor

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "evaluate" / "train_and_predict.py"


def test_example_predictions_reveal_weak_site_and_noisy_class(tmp_path):
    subprocess.run([sys.executable, str(EXAMPLE), "--out", str(tmp_path), "--epochs", "10"], check=True,
                   capture_output=True, timeout=600)
    table = pd.read_csv(tmp_path / "val_predictions.csv")
    probabilities = table[[f"prob_{c}" for c in "ABCDE"]].to_numpy()
    report = nndoctor.evaluate(table["cell_type"], table["prediction"], probabilities=probabilities,
                               classes=list("ABCDE"), slices=table[["site", "age"]], sample_ids=table["sample_id"])
    found = {f.rule: f for f in report.findings}
    assert "site = D" in found["weak-slice"].where
    assert found["class-failure"].where == ["E"]
    assert found["top-loss-samples"].evidence["n_label_issues"] > 100
    assert not {"worse-than-baseline", "predictions-degenerate"} & set(found)
