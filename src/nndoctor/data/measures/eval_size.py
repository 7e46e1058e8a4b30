"""Sizes of the evaluation splits, for the confidence interval of the headline metric.

Feeds the rule eval-set-too-small (`eval_sizes`). The interval itself is computed by the
rule, so its thresholds and the rows-needed answer stay consistent.
"""
from __future__ import annotations

from nndoctor.core.rule import Measurements
from nndoctor.data.measures.balance import class_counts
from nndoctor.data.view import AuditData, AuditOptions

MEASUREMENTS = ("eval_sizes",)
# Without predictions the accuracy is unknown; 0.5 gives the widest interval, so the
# reported half-width is an upper bound. `assumed_accuracy=` narrows it.
WORST_CASE_ACCURACY = 0.5


def measure(data: AuditData, m: Measurements, options: AuditOptions) -> None:
    if data.label is None or data.train.labels is None:
        m.mark_unavailable("eval_sizes", "no label column was given (label=...)")
        return
    others = [split for split in data.others if split.labels is not None]
    if not others:
        m.mark_unavailable("eval_sizes", "only a train split was given; pass val= or test= to size them")
        return
    assumed = options.assumed_accuracy
    sizes = []
    for split in others:
        labelled = int(split.labels.notna().sum())
        entry = {"split": split.name, "n": labelled, "task": data.task,
                 "assumed_accuracy": WORST_CASE_ACCURACY if assumed is None else float(assumed),
                 "accuracy_given": assumed is not None, "smallest_class": None, "smallest_class_n": None}
        if data.task == "classification":
            counts = class_counts(split.labels)
            if counts:
                smallest = min(counts, key=counts.get)
                entry.update(smallest_class=smallest, smallest_class_n=counts[smallest])
        sizes.append(entry)
    m["eval_sizes"] = sizes
