"""`nndoctor audit` from a shell, on small CSV/Parquet files."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import warm_launcher


def nndoctor(*args, cwd=None):
    return warm_launcher.run([sys.executable, "-m", "nndoctor", "audit", *map(str, args)],
                             capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    data = pd.DataFrame({
        "patient_id": np.repeat(np.arange(150), 4), "age": rng.integers(20, 90, n),
        "crp": rng.normal(5, 2, n).round(3), "wbc": rng.normal(7, 1.5, n).round(3), "y": rng.integers(0, 2, n),
    })
    train, test = data.iloc[:480], data.iloc[480:].copy()
    test.iloc[:10, 1:] = train.iloc[:10, 1:].to_numpy()  # copied rows under new patient ids
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_parquet(tmp_path / "test.parquet", index=False)
    return tmp_path


def test_audit_csv_and_parquet_reports_the_planted_copies(files):
    result = nndoctor("--train", files / "train.csv", "--test", files / "test.parquet", "--label", "y",
                      "--group", "patient_id", "--json", files / "report.json", cwd=files)
    assert "split-overlap-exact" in result.stdout, result.stderr
    assert result.returncode == 1  # error findings
    report = json.loads((files / "report.json").read_text())
    [finding] = [f for f in report["findings"] if f["rule"] == "split-overlap-exact"]
    assert finding["evidence"]["overlap_rows"] == 10 and finding["where"] == list(range(10))
    assert report["context"]["files"]["test"].endswith("test.parquet")
    assert "group-leakage" in report["checks_run"]


def test_clean_split_exits_zero(files):
    rng = np.random.default_rng(1)
    clean = pd.DataFrame({"x1": rng.normal(size=400), "x2": rng.normal(size=400), "y": rng.integers(0, 2, 400)})
    clean.iloc[:300].to_csv(files / "a.csv", index=False)
    clean.iloc[300:].to_csv(files / "b.csv", index=False)
    result = nndoctor("--train", files / "a.csv", "--test", files / "b.csv", "--label", "y",
                      "--select", "split-overlap-exact,duplicate-samples,feature-leakage", cwd=files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checks run" in result.stdout


def test_fail_on_warning_and_missing_train_option(files):
    train, test = pd.read_csv(files / "train.csv"), pd.read_parquet(files / "test.parquet")
    train.assign(site="A").to_csv(files / "site_train.csv", index=False)
    test.assign(site=np.where(np.arange(len(test)) % 2, "A", "B")).to_csv(files / "site_test.csv", index=False)
    args = ["--train", "site_train.csv", "--test", "site_test.csv", "--label", "y", "--select", "constant-feature"]
    assert nndoctor(*args, cwd=files).returncode == 0  # a warning only
    assert nndoctor(*args, "--fail-on", "warning", cwd=files).returncode == 1
    missing = nndoctor("--label", "y", cwd=files)
    assert missing.returncode == 2 and "--train" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--train", "missing.csv", "--label", "y"], "no such file"),
    (["--train", "train.csv", "--label", "outcome"], "label column 'outcome' is not in the train split"),
    (["--train", "train.csv", "--label", "y", "--embeddings", "oops.npy"], "--embeddings takes SPLIT=PATH.npy"),
    (["--train", "train.csv", "--label", "y", "--select", "no-such-rule"], "unknown rule"),
    (["--train", "train.csv", "--label", "y", "--option", "bogus=3"], "unknown audit option"),
])
def test_bad_usage_is_one_line_and_exit_2(files, args, message):
    result = nndoctor(*args, cwd=files)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_mismatched_columns_between_files(files):
    pd.read_parquet(files / "test.parquet").drop(columns=["wbc"]).to_csv(files / "short.csv", index=False)
    result = nndoctor("--train", "train.csv", "--test", "short.csv", "--label", "y", cwd=files)
    assert result.returncode == 2
    assert "test split's columns differ from train's: missing wbc" in result.stderr


def test_embeddings_files_per_split(files):
    rng = np.random.default_rng(2)
    train_embeddings = rng.normal(size=(480, 16)).astype(np.float32)
    test_embeddings = rng.normal(size=(120, 16)).astype(np.float32)
    test_embeddings[20:40] = train_embeddings[100:120] + 0.001
    np.save(files / "train_emb.npy", train_embeddings)
    np.save(files / "test_emb.npy", test_embeddings)
    result = nndoctor("--train", "train.csv", "--test", "test.parquet", "--label", "y",
                      "--embeddings", "train=train_emb.npy,test=test_emb.npy", "--select", "split-overlap-near",
                      "--json", "near.json", cwd=files)
    report = json.loads((files / "near.json").read_text())
    [finding] = report["findings"]
    assert finding["evidence"]["method"] == "embeddings" and finding["evidence"]["near_rows"] == 20, result.stderr


def test_patients_example_broken_and_fixed(tmp_path):
    """The example a user would try first: every planted mistake is found, the fixed split is clean."""
    import pathlib

    script = pathlib.Path(__file__).resolve().parents[2] / "examples" / "data" / "make_patients.py"
    mine = ["length-mismatch", "non-finite-data", "constant-feature", "duplicate-samples", "conflicting-labels",
            "split-overlap-exact", "split-overlap-near", "group-leakage", "feature-leakage", "preprocessing-leakage"]
    found = {}
    for version, extra in (("broken", []), ("fixed", ["--fixed"])):
        subprocess.run([sys.executable, str(script), str(tmp_path / version), *extra], check=True, capture_output=True)
        nndoctor("--train", tmp_path / version / "train.csv", "--test", tmp_path / version / "test.csv",
                 "--label", "readmitted", "--group", "patient_id", "--select", ",".join(mine),
                 "--json", tmp_path / f"{version}.json")
        found[version] = {f["rule"] for f in json.loads((tmp_path / f"{version}.json").read_text())["findings"]}
    assert found["broken"] == {"group-leakage", "split-overlap-exact", "duplicate-samples", "feature-leakage",
                               "preprocessing-leakage"}
    assert found["fixed"] == set()
