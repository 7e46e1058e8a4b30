"""What an audit's report keeps for its plots (`report.context["data_summary"]`): the class
counts of every split, the exact overlap of each pair of splits and the adversarial-
validation score of each compared pair. Plain JSON, bounded in size (top classes only,
a few telling features), taken from the measurements the audit already made."""
from __future__ import annotations

from typing import Any

from nndoctor.core.rule import Measurements
from nndoctor.data.measures.balance import class_counts
from nndoctor.data.view import AuditData

# Classes drawn per split; the rest are summed as one "other" entry.
MAX_CLASSES = 30
MAX_FEATURES = 5


def data_summary(data: AuditData, m: Measurements) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    if data.task == "classification" and all(split.labels is not None for split in data.splits.values()):
        counts = {name: class_counts(split.labels) for name, split in data.splits.items()}
        top = list(counts["train"])[:MAX_CLASSES]
        top += [c for name in counts for c in counts[name] if c not in top][:max(0, MAX_CLASSES - len(top))]
        summary["class_counts"] = {}
        for name, per_class in counts.items():
            kept = {c: per_class.get(c, 0) for c in top}
            other = sum(n for c, n in per_class.items() if c not in kept)
            if other:
                kept["other classes"] = other
            summary["class_counts"][name] = kept
    if m.get("split_overlap_exact"):
        summary["overlap"] = [{"a": pair["a"], "b": pair["b"], "n_b": int(pair["n_b"]),
                               "exact_rows": int(pair["overlap_rows"])} for pair in m["split_overlap_exact"]]
    if m.get("split_shift"):
        summary["shift"] = [{"reference": result["reference"], "split": result["split"], "auc": result["auc"],
                             "null_sd": result.get("null_sd"),
                             "top_features": [{"feature": str(f.get("feature")), "auc_drop": f.get("auc_drop")}
                                              for f in result.get("top_features", [])[:MAX_FEATURES]]}
                            for result in m["split_shift"]]
    return summary
