"""`nndoctor evaluate` on CSV, Parquet and NPZ prediction files."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from nndoctor.cli.app import _load_commands
from nndoctor.cli.common import run_cli

_load_commands()


def predictions_table(n=1200, seed=0, weak_site=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) * 0.7
    logits[np.arange(n), y] += 2.5
    site = rng.choice(["A", "B", "C", "D"], n)
    if weak_site:
        logits[site == "D"] = rng.normal(size=((site == "D").sum(), 3))
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    names = np.array(["cat", "dog", "eel"])
    frame = pd.DataFrame({"id": [f"s{i}" for i in range(n)], "y": names[y], "site": site,
                          "age": rng.uniform(20, 80, n).round(1), "prediction": names[p.argmax(1)]})
    for j, name in enumerate(names):
        frame[f"prob_{name}"] = p[:, j]
    return frame


def test_csv_with_weak_site_finds_it_and_writes_json_and_html(tmp_path, capsys):
    predictions_table(weak_site=True).to_csv(tmp_path / "val.csv", index=False)
    predictions_table(seed=1).to_parquet(tmp_path / "test.parquet", index=False)
    code = run_cli(["evaluate", "--predictions", str(tmp_path / "val.csv"), "--label", "y", "--slices", "site,age",
                    "--id-col", "id", "--test", str(tmp_path / "test.parquet"), "--json", str(tmp_path / "r.json"),
                    "--html", str(tmp_path / "r.html"), "--fail-on", "warning"])
    out = capsys.readouterr().out
    assert code == 1
    assert "95% interval" in out and "weak-slice" in out and "site = D" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["command"] == "evaluate" and "test" in report["context"]["evaluation"]["splits"]
    assert report["context"]["evaluation"]["classes"] == ["cat", "dog", "eel"]
    assert "<svg" in (tmp_path / "r.html").read_text()


def test_healthy_csv_exits_zero(tmp_path, capsys):
    predictions_table().to_csv(tmp_path / "val.csv", index=False)
    assert run_cli(["evaluate", "--predictions", str(tmp_path / "val.csv"), "--label", "y",
                    "--slices", "site"]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_npz_arrays(tmp_path, capsys):
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    np.savez(tmp_path / "p.npz", y_true=y, predictions=y + 0.3 * rng.normal(size=500),
             site=rng.choice(["a", "b"], 500))
    assert run_cli(["evaluate", "--predictions", str(tmp_path / "p.npz"), "--slices", "site"]) == 0
    assert "R²" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--label", "nope"], "no label column 'nope'"),
    (["--label", "y", "--slices", "hospital"], "no column 'hospital'"),
    (["--label", "y", "--prediction-col", "guess"], "no prediction column 'guess'"),
    (["--label", "y", "--fail-on", "info"], "--fail-on takes"),
])
def test_bad_usage_is_one_line_and_exit_two(tmp_path, capsys, args, message):
    predictions_table(200).to_csv(tmp_path / "val.csv", index=False)
    assert run_cli(["evaluate", "--predictions", str(tmp_path / "val.csv"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_missing_file_from_a_shell(tmp_path):
    result = subprocess.run([sys.executable, "-m", "nndoctor", "evaluate", "--predictions", str(tmp_path / "x.csv"),
                             "--label", "y"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "no such file" in result.stderr and "Traceback" not in result.stderr
