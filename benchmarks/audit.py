"""Benchmark of `nndoctor audit` at scale, with planted problems.

    python benchmarks/audit.py              # 1M rows x 50 columns, and 1M x 64 embeddings
    python benchmarks/audit.py --rows 200000 --embedding-rows 200000

Part 1 builds a 1,000,000 x 50 table (35 float, 5 integer, 10 string columns, a binary label
and a patient id), plants within-train copies, test rows copied from train, patients in
several splits (a random row split), a leaky feature and a scaler fitted before the split,
then runs the exact checks and the feature-leakage check. Targets: <= 60 s, <= 4 GB RSS.

Part 2 searches near duplicates of 1,000,000 x 64 float32 embeddings (800k train, 200k test
with planted near copies). Target: <= 120 s.

Each part checks that the planted problems were found. Where deepchecks (separate venv,
--deepchecks-python) or cleanlab can run the same check on the same data, the time ratio
is printed.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

import nndoctor

EXACT_RULES = ["length-mismatch", "non-finite-data", "constant-feature", "duplicate-samples", "conflicting-labels",
               "split-overlap-exact", "group-leakage", "preprocessing-leakage"]


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # kB on Linux


def make_table(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    floats = rng.normal(size=(rows, 35)) * rng.uniform(0.5, 20, 35) + rng.uniform(-50, 50, 35)
    frame = pd.DataFrame(floats, columns=[f"lab_{i}" for i in range(35)])
    for i in range(5):
        frame[f"count_{i}"] = rng.poisson(3 + 4 * i, rows)
    for i in range(10):
        pool = np.array([f"cat{i}_{v}" for v in range(5 + 20 * i)], dtype=object)
        frame[f"code_{i}"] = pool[rng.integers(0, len(pool), rows)]
    frame["patient_id"] = rng.integers(0, rows // 4, rows)
    signal = (floats[:, 0] - floats[:, 0].mean()) / floats[:, 0].std()
    frame["y"] = (signal + rng.normal(size=rows) > 0).astype(np.int8)
    # planted: a feature only known after the outcome (leaky)
    frame["discharge_score"] = frame["y"] * 5.0 + rng.normal(scale=0.1, size=rows)
    order = rng.permutation(rows)  # random row split: patients end up in several splits
    n_train, n_val = int(rows * 0.8), int(rows * 0.1)
    train = frame.iloc[order[:n_train]].reset_index(drop=True)
    val = frame.iloc[order[n_train:n_train + n_val]].reset_index(drop=True)
    test = frame.iloc[order[n_train + n_val:]].reset_index(drop=True)
    # planted: 2% of train duplicated inside train, 1,000 train rows copied into test
    copies = train.sample(frac=0.02, random_state=seed)
    train = pd.concat([train, copies], ignore_index=True)
    leaked = train.iloc[:1000].copy()
    test = pd.concat([test.iloc[1000:], leaked], ignore_index=True)
    # planted: every float column standardised over all splits together (a scaler fitted
    # on the whole table before it was split)
    float_columns = [f"lab_{i}" for i in range(35)] + ["discharge_score"]
    everything = np.concatenate([part[float_columns].to_numpy() for part in (train, val, test)])
    mean, std = everything.mean(axis=0), everything.std(axis=0)
    for part in (train, val, test):
        part[float_columns] = (part[float_columns].to_numpy() - mean) / std
    planted = {"train_duplicates": len(copies), "test_rows_from_train": 1000,
               "test_rows_leaked": list(range(len(test) - 1000, len(test)))}
    return train, val, test, planted


def run_exact(rows: int) -> dict:
    start = time.perf_counter()
    train, val, test, planted = make_table(rows)
    generated = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    report = nndoctor.audit(train, val=val, test=test, label="y", group="patient_id",
                            select=EXACT_RULES + ["feature-leakage"])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    found = {f.rule: f for f in report.findings}
    overlap = [f for f in report.findings if f.rule == "split-overlap-exact" and f.evidence["splits"] == ["train", "test"]]
    checks = {
        "duplicate-samples finds the 2% copies": found.get("duplicate-samples") is not None
        and found["duplicate-samples"].evidence["duplicate_rows"] >= planted["train_duplicates"],
        "split-overlap-exact finds the 1,000 copied test rows": bool(overlap)
        and overlap[0].evidence["overlap_rows"] >= planted["test_rows_from_train"]
        and set(overlap[0].where) <= set(planted["test_rows_leaked"]),
        "group-leakage fires": "group-leakage" in found,
        "feature-leakage names discharge_score": any(
            f.rule == "feature-leakage" and f.where == "discharge_score" for f in report.findings),
        "preprocessing-leakage fires": "preprocessing-leakage" in found,
    }
    shape = (len(train) + len(val) + len(test), train.shape[1])
    return {"rows x columns": shape, "generate_s": generated, "audit_s": seconds, "cpu_s": cpu, "checks": checks,
            "context": report.context, "frames": (train, val, test)}


def run_near(rows: int, dims: int = 64) -> dict:
    rng = np.random.default_rng(1)
    n_train = int(rows * 0.8)
    centres = rng.normal(size=(256, dims)).astype(np.float32)
    embeddings = centres[rng.integers(0, 256, rows)] + rng.normal(size=(rows, dims)).astype(np.float32)
    planted = np.arange(n_train, n_train + 2000)
    embeddings[planted] = embeddings[:2000] + rng.normal(scale=0.01, size=(2000, dims)).astype(np.float32)
    frame = pd.DataFrame({"y": rng.integers(0, 2, rows)})
    train, test = frame.iloc[:n_train], frame.iloc[n_train:]
    start, cpu = time.perf_counter(), time.process_time()
    report = nndoctor.audit(train, test=test, label="y", select=["split-overlap-near"],
                            embeddings={"train": embeddings[:n_train], "test": embeddings[n_train:]})
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    findings = [f for f in report.findings if f.rule == "split-overlap-near"]
    found = findings[0].evidence["near_rows"] if findings else 0
    return {"rows x dims": (rows, dims), "audit_s": seconds, "cpu_s": cpu, "near_rows_found": found, "planted": 2000,
            "approximate": findings[0].evidence["approximate_search"] if findings else None,
            "embeddings": embeddings, "n_train": n_train}


DEEPCHECKS_SCRIPT = r"""
import sys, time, json, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from deepchecks.tabular import Dataset
from deepchecks.tabular.checks import (ConflictingLabels, DataDuplicates, FeatureLabelCorrelation,
                                       IsSingleValue, TrainTestSamplesMix)
train = pd.read_parquet(sys.argv[1]); test = pd.read_parquet(sys.argv[2])
cat = [c for c in train.columns if c.startswith("code_")]
train_ds = Dataset(train, label="y", cat_features=cat); test_ds = Dataset(test, label="y", cat_features=cat)
times = {}
for name, run in [("DataDuplicates", lambda: DataDuplicates().run(train_ds)),
                  ("ConflictingLabels", lambda: ConflictingLabels().run(train_ds)),
                  ("IsSingleValue", lambda: IsSingleValue().run(train_ds)),
                  ("TrainTestSamplesMix", lambda: TrainTestSamplesMix().run(train_ds, test_ds)),
                  ("FeatureLabelCorrelation", lambda: FeatureLabelCorrelation().run(train_ds))]:
    start = time.perf_counter(); run(); times[name] = time.perf_counter() - start
print(json.dumps(times))
"""
# deepchecks check -> the nndoctor rule that answers the same question on the same data
DEEPCHECKS_EQUIVALENTS = {"DataDuplicates": "duplicate-samples", "ConflictingLabels": "conflicting-labels",
                          "IsSingleValue": "constant-feature", "TrainTestSamplesMix": "split-overlap-exact",
                          "FeatureLabelCorrelation": "feature-leakage"}


def compare_deepchecks(python: str, frames: tuple) -> None:
    train, _, test = frames
    train = train.drop(columns=["patient_id"])
    test = test.drop(columns=["patient_id"])
    with tempfile.TemporaryDirectory() as folder:
        paths = [os.path.join(folder, "train.parquet"), os.path.join(folder, "test.parquet")]
        train.to_parquet(paths[0])
        test.to_parquet(paths[1])
        script = os.path.join(folder, "dc.py")
        with open(script, "w") as handle:
            handle.write(DEEPCHECKS_SCRIPT)
        result = subprocess.run([python, script, *paths], capture_output=True, text=True)
        if result.returncode != 0:
            print(f"  deepchecks could not run: {result.stderr.strip().splitlines()[-1:]}")
            return
        theirs = json.loads(result.stdout.strip().splitlines()[-1])
    nndoctor.audit(train.iloc[:1000], test=test.iloc[:1000], label="y")  # imports warmed up, as in theirs
    for check, rule in DEEPCHECKS_EQUIVALENTS.items():
        start = time.perf_counter()
        nndoctor.audit(train, test=test, label="y", select=[rule])
        ours = time.perf_counter() - start
        print(f"  deepchecks {check}: {theirs[check]:.1f} s; nndoctor {rule}: {ours:.1f} s "
              f"-> deepchecks/nndoctor = {theirs[check] / ours:.1f}x")


def compare_cleanlab(embeddings: np.ndarray, n_train: int, sample: int = 50_000) -> None:
    """cleanlab Datalab's near_duplicate issue vs nndoctor's FAISS search on the same sample."""
    from cleanlab import Datalab

    try:
        Datalab(pd.DataFrame({"y": [0, 1]}), label_name="y", verbosity=0)
    except ImportError as error:
        print(f"  cleanlab: not compared — {str(error).split('.')[0]} (needs `pip install 'cleanlab[datalab]'`)")
        return
    rows = np.random.default_rng(0).choice(len(embeddings), sample, replace=False)
    features = embeddings[rows]
    labels = pd.DataFrame({"y": np.zeros(sample, dtype=int)})
    start = time.perf_counter()
    lab = Datalab(labels, label_name="y", verbosity=0)
    lab.find_issues(features=features, issue_types={"near_duplicate": {}})
    theirs = time.perf_counter() - start
    split = int(sample * 0.8)
    start = time.perf_counter()
    nndoctor.audit(labels.iloc[:split], test=labels.iloc[split:], label="y", select=["split-overlap-near"],
                   embeddings={"train": features[:split], "test": features[split:]})
    ours = time.perf_counter() - start
    print(f"  cleanlab Datalab near_duplicate on {sample:,} x {features.shape[1]}: {theirs:.1f} s; nndoctor "
          f"split-overlap-near on the same rows: {ours:.1f} s -> cleanlab/nndoctor = {theirs / ours:.1f}x "
          "(cleanlab searches all pairs within one set; nndoctor searches test against train)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--embedding-rows", type=int, default=1_000_000)
    parser.add_argument("--deepchecks-python", default=None,
                        help="python of a separate venv with deepchecks installed (it is not a dependency)")
    parser.add_argument("--skip-near", action="store_true")
    parser.add_argument("--full-audit", action="store_true", help="also time an audit with every data rule")
    parser.add_argument("--cleanlab-sample", type=int, default=50_000)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start (other work slows wall times)")

    print(f"Part 1: exact checks + feature-leakage on {args.rows:,} rows x 50 columns")
    exact = run_exact(args.rows)
    print(f"  generated {exact['rows x columns']} in {exact['generate_s']:.1f} s")
    print(f"  audit: {exact['audit_s']:.1f} s wall, {exact['cpu_s']:.1f} s CPU (target <= 60 s), "
          f"peak RSS so far {peak_rss_gb():.2f} GB (target <= 4 GB)")
    for name, ok in exact["checks"].items():
        print(f"  {'ok ' if ok else 'MISSED'} {name}")
    print(f"  sampling noted in the report: {exact['context'].get('feature_leakage_sample')}")
    if args.full_audit:
        train, val, test = exact["frames"]
        start = time.perf_counter()
        report = nndoctor.audit(train, val=val, test=test, label="y", group="patient_id")
        print(f"  full audit (every data rule, incl. near duplicates on numeric features): "
              f"{time.perf_counter() - start:.1f} s, {len(report.findings)} findings")
    if args.deepchecks_python:
        compare_deepchecks(args.deepchecks_python, exact["frames"])
    else:
        print("  deepchecks: not compared (pass --deepchecks-python PATH of a venv that has it)")
    del exact

    if args.skip_near:
        return
    print(f"Part 2: near-duplicate search on {args.embedding_rows:,} x 64 embeddings (80% train, 20% test)")
    near = run_near(args.embedding_rows)
    print(f"  audit: {near['audit_s']:.1f} s wall, {near['cpu_s']:.1f} s CPU (target <= 120 s), "
          f"approximate IVF search: {near['approximate']}")
    print(f"  {'ok ' if near['near_rows_found'] >= 0.95 * near['planted'] else 'MISSED'} found "
          f"{near['near_rows_found']} of {near['planted']} planted near copies")
    print(f"  peak RSS {peak_rss_gb():.2f} GB")
    if args.cleanlab_sample:
        compare_cleanlab(near["embeddings"], near["n_train"], args.cleanlab_sample)


if __name__ == "__main__":
    sys.exit(main())
