"""The highest-loss samples, and which of them look mislabelled rather than mispredicted.

With class probabilities, cleanlab's confident learning (`cleanlab.filter.find_label_issues`)
marks the rows whose given label is much less likely than another class beyond the
per-class confidence thresholds, and `cleanlab.rank.get_label_quality_scores` gives each
row its label quality (self-confidence): low = likely wrong label (003 #10, 000 §4.2).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nndoctor.evaluation.inputs import EvalSplit

TOP_SAMPLES = 10


def _label_issues(split: EvalSplit) -> tuple[np.ndarray | None, str | None]:
    """Boolean mask of likely label errors, or None and the reason it was not computed."""
    if split.task != "classification" or split.probabilities is None:
        return None, "label-error check needs class probabilities of a single-label classifier"
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        return None, "cleanlab is not installed (pip install 'nndoctor[data]')"
    present = np.bincount(split.y_true, minlength=split.n_classes) > 0
    if present.sum() < 2:
        return None, "only one class among the labels"
    # cleanlab needs every probability column to be a class seen in the labels
    columns = np.flatnonzero(present)
    remap = np.full(split.n_classes, -1)
    remap[columns] = np.arange(len(columns))
    probabilities = split.probabilities[:, columns]
    probabilities = probabilities / np.maximum(probabilities.sum(axis=1, keepdims=True), 1e-12)
    try:
        mask = find_label_issues(remap[split.y_true], probabilities, n_jobs=1)
    except (ValueError, IndexError) as error:
        return None, f"cleanlab could not rank these labels ({error})"
    return np.asarray(mask, dtype=bool), None


def _label_text(split: EvalSplit, value: Any) -> Any:
    if split.task == "classification":
        return split.classes[int(value)]
    if split.task == "multilabel":
        return [split.classes[i] for i in np.flatnonzero(value)]
    return round(float(value), 6)


def top_loss_summary(split: EvalSplit, top: int = TOP_SAMPLES) -> dict[str, Any] | None:
    if split.losses is None:
        return None
    order = np.argsort(-split.losses, kind="stable")[:top]
    issues, reason = _label_issues(split)
    rows = []
    for index in order:
        row: dict[str, Any] = {"sample_id": split.sample_ids[index], "loss": round(float(split.losses[index]), 6),
                               "label": _label_text(split, split.y_true[index]),
                               "prediction": _label_text(split, split.y_pred[index])}
        if split.task == "classification" and split.probabilities is not None:
            row["confidence"] = round(float(split.probabilities[index].max()), 6)
            row["probability_of_label"] = round(float(split.probabilities[index, split.y_true[index]]), 6)
        if issues is not None:
            row["looks_mislabelled"] = bool(issues[index])
        rows.append(row)
    return {
        "n": split.n, "top": rows, "loss": "given" if split.losses is not None else None,
        "mean_loss": round(float(split.losses.mean()), 6),
        "n_label_issues": None if issues is None else int(issues.sum()),
        "label_issue_ids": [] if issues is None else split.sample_ids[np.flatnonzero(issues)][:50].tolist(),
        "label_check_skipped": reason,
    }
