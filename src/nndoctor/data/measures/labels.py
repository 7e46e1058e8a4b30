"""Likely mislabelled rows by confident learning (cleanlab) on out-of-fold probabilities.

Feeds label-issues (`label_issues`). All labelled splits are pooled (a wrong label in the
test split hurts as much as one in train), a seeded sample of at most
`label_issues_sample_cap` rows (default 20,000, never above `model_sample_cap`) is drawn, a
quick gradient-boosted model gives out-of-fold class probabilities (no row is scored by a
model that saw it), and `cleanlab.filter.find_label_issues` flags the rows whose label the
model confidently rejects.
"""
from __future__ import annotations

import numpy as np

from nndoctor.core.rule import Measurements
from nndoctor.data.measures.shift import (encode, folds_for, limit_features, model_rows_cap, out_of_fold,
                                          sample_positions, single_threaded)
from nndoctor.data.view import AuditData, AuditOptions

MEASUREMENTS = ("label_issues",)
MAX_CLASSES = 50  # beyond this many classes the quick model is neither quick nor calibrated


def measure(data: AuditData, m: Measurements, options: AuditOptions) -> None:
    import pandas as pd

    if data.label is None or data.train.labels is None:
        m.mark_unavailable("label_issues", "no label column was given (label=...)")
        return
    if data.task != "classification":
        m.mark_unavailable("label_issues", f"the task is {data.task}; confident learning needs class labels")
        return
    parts = [split for split in data.splits.values() if split.labels is not None]
    cap = model_rows_cap(options, "label_issues_sample_cap")
    rng = np.random.default_rng(options.seed)
    total = sum(len(split) for split in parts)
    positions = [sample_positions(len(split), max(1, cap * len(split) // total), rng) for split in parts]
    raw = pd.Series(np.concatenate([split.labels.to_numpy()[pos] for split, pos in zip(parts, positions)]))
    counts = raw.dropna().astype(str).value_counts()
    usable = counts.index[(counts >= 2 * options.cv_folds).to_numpy()]
    if len(usable) < 2 or len(usable) > MAX_CLASSES:
        m.mark_unavailable("label_issues", f"{len(usable)} class(es) with at least {2 * options.cv_folds} rows; "
                                           f"the check needs 2 to {MAX_CLASSES}")
        return
    keep = raw.notna().to_numpy() & raw.astype(str).isin(usable).to_numpy()
    x, names, categorical = encode(parts, positions, options.seed)
    if x.shape[1] == 0:
        m.mark_unavailable("label_issues", "no usable feature columns (or embeddings) to fit a model on")
        return
    classes = sorted(usable)
    y = pd.Categorical(raw.astype(str)[keep], categories=classes).codes.astype(int)
    x, names, categorical = limit_features(x[keep], names, categorical, y)
    with single_threaded():
        folds, _ = folds_for(y, None, options.cv_folds, options.seed)
        probabilities, _, _ = out_of_fold(x, y, folds, categorical, options.seed)
    m["label_issues"] = _issues(probabilities, y, classes, parts, positions, keep, options, cap)
    if any(len(pos) < len(split) for split, pos in zip(parts, positions)):
        data.notes["label_issues"] = (
            f"confident learning on {int(keep.sum())} sampled rows "
            f"(cap {cap}: label_issues_sample_cap, at most model_sample_cap)")


def _issues(probabilities: np.ndarray, y: np.ndarray, classes: list[str], parts: list, positions: list,
            keep: np.ndarray, options: AuditOptions, cap: int) -> dict:
    from cleanlab.filter import find_label_issues

    ranked = find_label_issues(y, probabilities, filter_by="prune_by_noise_rate",
                               return_indices_ranked_by="normalized_margin")
    split_names = np.concatenate([[split.name] * len(pos) for split, pos in zip(parts, positions)])[keep]
    row_ids = np.concatenate([np.asarray(split.row_ids)[pos] for split, pos in zip(parts, positions)])[keep]
    self_confidence = probabilities[np.arange(len(y)), y]
    suggested = probabilities.argmax(axis=1)
    names, per_split = np.unique(split_names[ranked], return_counts=True)
    unflagged = np.ones(len(y), dtype=bool)
    unflagged[ranked] = False
    return {
        "n_checked": int(len(y)), "n_issues": int(len(ranked)),
        "model_accuracy": round(float((suggested == y).mean()), 4),
        # accuracy on the rows it did not flag: high when the task is easy and the flagged
        # rows are exceptions, lower when many rows are simply hard
        "model_accuracy_unflagged": round(float((suggested == y)[unflagged].mean()), 4) if unflagged.any() else 0.0,
        "per_split": {str(name): int(count) for name, count in zip(names, per_split)},
        "sampled": any(len(pos) < len(split) for split, pos in zip(parts, positions)), "sample_cap": cap,
        "worst": [
            {"split": str(split_names[i]), "row_id": row_ids[i].item() if hasattr(row_ids[i], "item") else row_ids[i],
             "given": classes[y[i]], "suggested": classes[suggested[i]],
             "self_confidence": round(float(self_confidence[i]), 4)}
            for i in ranked[: options.max_listed_rows]
        ],
    }
