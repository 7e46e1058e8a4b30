"""Benchmark of `nndoctor.evaluate` at scale, with a planted weak slice.

    python benchmarks/evaluate.py                       # 100k predictions x 10 classes, 3 slice columns
    python benchmarks/evaluate.py --deepchecks-python /tmp/dc/bin/python

Builds 100,000 test predictions of a 10-class model (probabilities drawn so that the
model is ~80% accurate), three metadata columns (site, age, scanner) with one site where
accuracy drops by ~25 points, and 50,000 training predictions for the baselines. Times a
full evaluation (every evaluation rule: intervals with 1,000 bootstrap resamples, baselines,
per-class results, 3 single + 3 pair slice families, calibration, cleanlab label issues)
in CPU seconds; target <= 5 s. With --deepchecks-python (a separate venv with deepchecks;
it is not a dependency), runs deepchecks' SimpleModelComparison, WeakSegmentsPerformance
and ConfusionMatrixReport on the same predictions and prints the time ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

import nndoctor

CLASSES = 10


def make_predictions(rows: int, seed: int, weak_site: bool = True) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    meta = pd.DataFrame({"site": rng.choice([f"site_{i}" for i in range(8)], rows),
                         "age": rng.uniform(18, 90, rows).round(1),
                         "scanner": rng.choice(["s1", "s2", "s3", "s4"], rows)})
    y = rng.integers(0, CLASSES, rows)
    strength = np.full(rows, 3.2)
    if weak_site:
        strength[meta["site"].to_numpy() == "site_7"] = 1.6
    logits = rng.normal(size=(rows, CLASSES))
    logits[np.arange(rows), y] += strength
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return y, probabilities, meta


DEEPCHECKS_SCRIPT = r"""
import sys, time, json, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
from deepchecks.tabular import Dataset
from deepchecks.tabular.checks import SimpleModelComparison, WeakSegmentsPerformance, ConfusionMatrixReport
train = pd.read_csv(sys.argv[1]); test = pd.read_csv(sys.argv[2])
probs = [c for c in train.columns if c.startswith("prob_")]
features = ["site", "age", "scanner"]
def dataset(frame):
    return Dataset(frame[features + ["y"]], label="y", cat_features=["site", "scanner"])
train_ds, test_ds = dataset(train), dataset(test)
classes = list(range(len(probs)))
p_train, p_test = train[probs].to_numpy(), test[probs].to_numpy()
times = {}
runs = [("SimpleModelComparison", lambda: SimpleModelComparison().run(
            train_ds, test_ds, y_pred_train=p_train.argmax(1), y_pred_test=p_test.argmax(1),
            y_proba_train=p_train, y_proba_test=p_test, model_classes=classes, with_display=False)),
        ("WeakSegmentsPerformance", lambda: WeakSegmentsPerformance().run(
            test_ds, y_pred=p_test.argmax(1), y_proba=p_test, model_classes=classes, with_display=False)),
        ("ConfusionMatrixReport", lambda: ConfusionMatrixReport().run(
            test_ds, y_pred=p_test.argmax(1), y_proba=p_test, model_classes=classes, with_display=False))]
for name, run in runs:
    start = time.perf_counter(); result = run(); times[name] = time.perf_counter() - start
weak = WeakSegmentsPerformance().run(test_ds, y_pred=p_test.argmax(1), y_proba=p_test, model_classes=classes,
                                     with_display=False).value
print(json.dumps({"times": times, "weak_segments": str(weak["weak_segments_list"].head(3).to_dict("records"))[:400]}))
"""


def compare_deepchecks(python: str, train: tuple, test: tuple, ours_seconds: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for name, (y, probabilities, meta) in (("train", train), ("test", test)):
            frame = meta.copy()
            frame["y"] = y
            for column in range(CLASSES):
                frame[f"prob_{column}"] = probabilities[:, column]
            paths.append(os.path.join(folder, f"{name}.csv"))
            frame.to_csv(paths[-1], index=False)
        script = os.path.join(folder, "dc.py")
        with open(script, "w") as handle:
            handle.write(DEEPCHECKS_SCRIPT)
        result = subprocess.run([python, script, *paths], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"  deepchecks could not run: {result.stderr.strip().splitlines()[-1:]}")
        return
    theirs = json.loads(result.stdout.strip().splitlines()[-1])
    for check, seconds in theirs["times"].items():
        print(f"  deepchecks {check}: {seconds:.1f} s")
    total = sum(theirs["times"].values())
    print(f"  deepchecks, the three checks: {total:.1f} s wall; nndoctor full evaluate: {ours_seconds:.1f} s wall "
          f"-> deepchecks/nndoctor = {total / ours_seconds:.1f}x (nndoctor also computes intervals, calibration, "
          "label issues and per-slice tests with false-discovery control; WeakSegmentsPerformance samples 10,000 rows)")
    print(f"  deepchecks' weakest segments: {theirs['weak_segments']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--deepchecks-python", default=None,
                        help="python of a separate venv with deepchecks installed (it is not a dependency)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start (other work slows wall times)")
    test = make_predictions(args.rows, seed=0)
    train = make_predictions(args.rows // 2, seed=1, weak_site=False)

    def run() -> nndoctor.Report:
        y, probabilities, meta = test
        return nndoctor.evaluate(y, probabilities.argmax(1), probabilities=probabilities, slices=meta,
                                 train_labels=train[0], split="test")

    start_cpu, start = time.process_time(), time.perf_counter()
    run()
    cold_cpu, cold = time.process_time() - start_cpu, time.perf_counter() - start
    start_cpu, start = time.process_time(), time.perf_counter()
    report = run()
    cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start
    print(f"full evaluate of {args.rows:,} predictions x {CLASSES} classes, 3 slice columns:")
    print(f"  first call (imports included): {cold_cpu:.2f} s CPU, {cold:.2f} s wall")
    print(f"  warm call: {cpu:.2f} s CPU (target <= 5 s), {wall:.2f} s wall")
    weak = next((f for f in report.findings if f.rule == "weak-slice"), None)
    found = weak is not None and "site = site_7" in weak.where
    print(f"  {'ok ' if found else 'MISSED'} weak-slice finds site_7: {weak.message[:160] if weak else None}")
    print(f"  findings: {sorted(report.rules_found())}")
    if args.deepchecks_python:
        compare_deepchecks(args.deepchecks_python, train, test, wall)
    else:
        print("  deepchecks: not compared (pass --deepchecks-python PATH of a venv that has it)")


if __name__ == "__main__":
    sys.exit(main())
