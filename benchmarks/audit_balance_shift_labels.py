"""Benchmark of the balance, shift, label and annotator checks of `nndoctor audit` at scale.

    .venv/bin/python benchmarks/audit_balance_shift_labels.py            # 1M rows
    .venv/bin/python benchmarks/audit_balance_shift_labels.py --rows 200000

Builds train (80%) and test (20%) tables of `--rows` rows x 30 columns (25 float, 5 string)
with planted problems: 8% positives (class imbalance), a shifted feature in test
(`f07`), a batch effect of one lab (`f11`), 3% flipped training labels and a careless
second annotator. Times each measure module (wall and CPU seconds), checks that every
planted problem is found, and compares the label-issue search with cleanlab's own
`CleanLearning` (same model, same folds, same sampled rows), printing the time ratio.
cleanlab's `Datalab` needs the `cleanlab[datalab]` extra (Hugging Face `datasets`) and
deepchecks is not installed in this venv, so neither ratio is printed.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from nndoctor.core.engine import run_rules
from nndoctor.core.registry import load_rules
from nndoctor.core.rule import Measurements
from nndoctor.data.load import load_audit_data
from nndoctor.data.measures import annotators, balance, eval_size, labels, shift
from nndoctor.data.view import AuditOptions

PLANTED = {"class-imbalance", "split-shift", "source-predictable", "label-issues", "annotator-disagreement"}


def build(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 25)).astype(np.float32)
    logit = 1.5 * x[:, 0] - 1.2 * x[:, 1] + x[:, 2] - 3.6
    y = (logit + rng.logistic(size=rows) * 0.3 > 0).astype(np.int8)
    frame = pd.DataFrame(x, columns=[f"f{i:02d}" for i in range(25)])
    for i in range(5):
        frame[f"s{i}"] = pd.Categorical(rng.choice([f"v{j}" for j in range(8 + i)], rows))
    frame["y"] = np.where(y == 1, "positive", "negative")
    frame["lab"] = rng.choice(["lab_a", "lab_b", "lab_c"], rows)
    frame.loc[frame["lab"] == "lab_c", "f11"] += 1.5
    frame["ann1"] = frame["y"]
    frame["ann2"] = np.where(rng.random(rows) < 0.6, frame["y"], rng.choice(["positive", "negative"], rows))
    cut = int(rows * 0.8)
    train, test = frame.iloc[:cut].copy(), frame.iloc[cut:].copy()
    test["f07"] += 0.8
    flipped = rng.choice(train.index.to_numpy(), int(0.03 * len(train)), replace=False)
    train.loc[flipped, "y"] = np.where(train.loc[flipped, "y"] == "positive", "negative", "positive")
    return train, test, flipped


def timed(function, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    train, test, flipped = build(args.rows)
    options = AuditOptions()
    data, wall, cpu = timed(lambda: load_audit_data(
        {"train": train, "test": test}, label="y", source="lab", annotators=["ann1", "ann2"]))
    print(f"{args.rows:,} rows: load {wall:.1f} s wall, {cpu:.1f} s CPU")
    m = Measurements()
    for module in (balance, eval_size, shift, labels, annotators):
        _, wall, cpu = timed(module.measure, data, m, options)
        print(f"  measure {module.__name__.rsplit('.', 1)[-1]:<10} {wall:6.2f} s wall {cpu:6.2f} s CPU")
    m["internal_faults"] = []
    rules = [r for r in load_rules().select(areas=["data"]) if r.id in PLANTED | {"eval-set-too-small",
             "stratification-mismatch"}]
    report = run_rules(m, rules, command="audit")
    for finding in report.findings:
        print(f"  {finding.rule} [{finding.severity}]: {finding.message}")
    missing = PLANTED - report.rules_found()
    print("planted problems found:", "all" if not missing else f"MISSING {sorted(missing)}")
    issues = m["label_issues"]
    listed = {row["row_id"] for row in issues["worst"] if row["split"] == "train"}
    print(f"  worst listed rows that were planted flips: {len(listed & set(flipped))}/{len(listed)}")
    compare_with_cleanlab(data, options)


def compare_with_cleanlab(data, options: AuditOptions) -> None:
    """Same sampled rows, same quick model and folds: nndoctor's measure vs cleanlab's own APIs."""
    from cleanlab.classification import CleanLearning

    from nndoctor.data.measures.shift import encode, quick_classifier, sample_positions, single_threaded

    cap = min(options.label_issues_sample_cap, options.model_sample_cap)
    parts = list(data.splits.values())
    rng = np.random.default_rng(options.seed)
    total = sum(len(split) for split in parts)
    positions = [sample_positions(len(split), max(1, cap * len(split) // total), rng) for split in parts]
    x, _, categorical = encode(parts, positions, options.seed)
    y = pd.factorize(np.concatenate([split.labels.to_numpy()[pos] for split, pos in zip(parts, positions)]),
                     sort=True)[0]
    with single_threaded():
        ours_m = Measurements()
        _, ours, _ = timed(labels.measure, data, ours_m, options)
        learner = CleanLearning(quick_classifier(2, categorical, options.seed), cv_n_folds=options.cv_folds,
                                seed=options.seed)
        found, theirs, _ = timed(learner.find_label_issues, x, y)
    print(f"label issues on {len(y):,} sampled rows: nndoctor {ours:.2f} s (model + cleanlab filter); "
          f"cleanlab CleanLearning {theirs:.2f} s (ratio {theirs / ours:.2f}x, flags "
          f"{int(found['is_label_issue'].sum())} vs ours {ours_m['label_issues']['n_issues']})")


if __name__ == "__main__":
    main()
