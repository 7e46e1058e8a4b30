"""Measure evaluated splits: everything the evaluation rules judge, plus the summary the
terminal and HTML views show (`report.context["evaluation"]`).

Each measurement is a list with one entry per split (named by "split"). A measurement
that cannot be taken is marked unavailable with the reason, so its rules are reported as
skipped instead of passing silently. A crashing measurement becomes an internal fault
(judged by internal-error) and its rules are skipped, never an exception.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nndoctor.core.engine import internal_error_finding
from nndoctor.core.errors import UsageError
from nndoctor.core.rule import Measurements
from nndoctor.evaluation.baselines import linear_baseline, trivial_baselines
from nndoctor.evaluation.calibration import calibration_summary
from nndoctor.evaluation.ceiling import annotator_ceiling, replicate_ceiling
from nndoctor.evaluation.compare import compare_splits
from nndoctor.evaluation.inputs import EvalSplit
from nndoctor.evaluation.metrics import SplitMetrics, split_metrics
from nndoctor.evaluation.slices import slice_results
from nndoctor.evaluation.toploss import top_loss_summary

MAX_CONFUSION_CLASSES = 30  # beyond this the matrix is summarised by its top pairs only
EXAMPLE_IDS = 5
SLICES_SHOWN = 10
# What `measure_splits` fills, one list entry per split (split_comparison: the two splits).
PER_SPLIT_MEASUREMENTS = ("metrics", "baselines", "per_class", "confusion", "slices", "top_loss", "calibration",
                          "prediction_distribution", "ceiling")
MEASUREMENTS = (*PER_SPLIT_MEASUREMENTS, "split_comparison")


def prediction_distribution(split: EvalSplit) -> dict[str, Any]:
    if split.task == "regression":
        return {"split": split.name, "task": "regression", "n": split.n,
                "prediction_std": float(split.y_pred.std()), "target_std": float(split.y_true.std()),
                "distinct_predictions": int(len(np.unique(split.y_pred)))}
    if split.task == "multilabel":
        values, counts = np.unique(split.y_pred, axis=0, return_counts=True)
        top_row = values[counts.argmax()]
        return {"split": split.name, "task": "multilabel", "n": split.n,
                "top_predicted": [split.classes[i] for i in np.flatnonzero(top_row)],
                "top_predicted_share": float(counts.max() / split.n),
                "true_share_of_top": float((split.y_true == top_row).all(axis=1).mean()),
                "distinct_predictions": int(len(values))}
    predicted = np.bincount(split.y_pred, minlength=split.n_classes)
    true = np.bincount(split.y_true, minlength=split.n_classes)
    top = int(predicted.argmax())
    return {"split": split.name, "task": "classification", "n": split.n, "top_predicted": split.classes[top],
            "top_predicted_share": float(predicted[top] / split.n), "true_share_of_top": float(true[top] / split.n),
            "predicted_classes": int((predicted > 0).sum()), "true_classes": int((true > 0).sum()),
            "predicted_shares": {str(split.classes[i]): round(float(predicted[i] / split.n), 6)
                                 for i in np.argsort(-predicted)[:10]}}


def confusion_summary(split: EvalSplit, metrics: SplitMetrics) -> dict[str, Any]:
    matrix = metrics.confusion
    support = matrix.sum(axis=1)
    pairs = []
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    for flat in np.argsort(-off, axis=None)[:20]:
        true_class, predicted_class = divmod(int(flat), matrix.shape[1])
        count = int(off[true_class, predicted_class])
        if count == 0:
            break
        rows = np.flatnonzero((split.y_true == true_class) & (split.y_pred == predicted_class))
        pairs.append({"true": split.classes[true_class], "predicted": split.classes[predicted_class],
                      "count": count, "true_support": int(support[true_class]),
                      "true_errors": int(off[true_class].sum()),
                      "reverse_count": int(off[predicted_class, true_class]),
                      "reverse_support": int(support[predicted_class]),
                      "example_ids": split.sample_ids[rows[:EXAMPLE_IDS]].tolist()})
    return {"split": split.name, "n": split.n, "classes": split.classes, "n_errors": int(off.sum()),
            "pairs": pairs}


class _Faults:
    """Runs one measurement contained; a crash is recorded, its outputs marked unavailable."""

    def __init__(self, m: Measurements) -> None:
        self.m, self.faults = m, []

    def run(self, name: str, produce: Callable[[], Any], outputs: tuple[str, ...]) -> Any:
        try:
            return produce()
        except UsageError:
            raise
        except Exception as error:  # noqa: BLE001 — one broken measure must not hide the others
            finding = internal_error_finding(f"evaluation measure {name!r}", error)
            self.faults.append({"source": f"evaluation measure {name!r}", **finding.evidence})
            for output in outputs:
                self.m.mark_unavailable(output, f"the {name} measure failed ({type(error).__name__})")
            return None


def measure_splits(splits: list[EvalSplit], *, features: Any, train_labels: np.ndarray | None,
                   replicates: Any, annotators: Any, seed: int, slice_min_rows: int
                   ) -> tuple[Measurements, dict[str, Any]]:
    m = Measurements()
    guard = _Faults(m)
    rng = np.random.default_rng(seed)
    collected: dict[str, list[Any]] = {key: [] for key in PER_SPLIT_MEASUREMENTS}
    context: dict[str, Any] = {"task": splits[0].task, "classes": splits[0].classes, "splits": {}}
    computed: dict[str, SplitMetrics] = {}
    for split in splits:
        metrics = guard.run("metrics", lambda s=split: split_metrics(s, rng), ("metrics", "per_class"))
        summary: dict[str, Any] = {"n": split.n}
        collected["prediction_distribution"].append(prediction_distribution(split))
        if metrics is not None:
            computed[split.name] = metrics
            headline = [metric.to_dict() for metric in metrics.headline]
            collected["metrics"].append({"split": split.name, "task": split.task, "n": split.n, "headline": headline})
            summary["headline"] = headline
            if metrics.per_class:
                collected["per_class"].append({"split": split.name, "task": split.task, "rows": metrics.per_class})
                summary["per_class"] = metrics.per_class
            if metrics.confusion is not None:
                confusion = confusion_summary(split, metrics)
                collected["confusion"].append(confusion)
                if split.n_classes <= MAX_CONFUSION_CLASSES:
                    summary["confusion_matrix"] = metrics.confusion.tolist()
                summary["confused_pairs"] = confusion["pairs"][:10]
            found = guard.run("baselines", lambda s=split, mt=metrics: _baselines(
                s, mt, rng, features if s is splits[0] else None, train_labels, seed), ("baselines",))
            if found is not None:
                collected["baselines"].append({"split": split.name, "comparisons": found})
                summary["baselines"] = found
        sliced = guard.run("slices", lambda s=split: slice_results(s, min_rows=slice_min_rows), ("slices",))
        if sliced is not None:
            collected["slices"].append({"split": split.name, **sliced})
            worst = sorted(sliced["tested"], key=lambda row: -row["drop"])[:SLICES_SHOWN]
            summary["worst_slices"] = worst
            summary["slice_metric"] = sliced["metric"]
        top = guard.run("top_loss", lambda s=split: top_loss_summary(s), ("top_loss",))
        if top is not None:
            collected["top_loss"].append({"split": split.name, **top})
            summary["top_loss"] = top["top"]
        calibration = guard.run("calibration", lambda s=split: calibration_summary(s, rng), ("calibration",))
        if calibration is not None:
            collected["calibration"].append({"split": split.name, **calibration})
            summary["calibration"] = calibration
        context["splits"][split.name] = summary
    main = splits[0]
    if main.name in computed and (replicates is not None or annotators is not None):
        if replicates is not None:
            collected["ceiling"].append({"split": main.name, **replicate_ceiling(main, computed[main.name], replicates)})
        if annotators is not None:
            collected["ceiling"].append({"split": main.name, **annotator_ceiling(main, computed[main.name], annotators)})
        context["ceiling"] = collected["ceiling"]
    for key, values in collected.items():
        if values and key not in m.unavailable:
            m[key] = values
    _mark_missing(m, splits, replicates, annotators)
    if len(splits) > 1 and all(s.name in computed for s in splits[:2]):
        comparison = compare_splits(splits[0], computed[splits[0].name], splits[1], computed[splits[1].name])
        m["split_comparison"] = comparison
        context["comparison"] = comparison
    elif len(splits) == 1:
        m.mark_unavailable("split_comparison", "only one split was given; pass test=dict(y_true=..., predictions=...)")
    m["internal_faults"] = guard.faults
    return m, context


def _baselines(split: EvalSplit, metrics: SplitMetrics, rng: np.random.Generator, features: Any,
               train_labels: np.ndarray | None, seed: int) -> list[dict[str, Any]]:
    found = trivial_baselines(split, metrics, rng, train_labels)
    if features is not None:
        linear = linear_baseline(split, features, train_labels, rng, seed)
        if linear is not None:
            found.append(linear)
    return found


def _mark_missing(m: Measurements, splits: list[EvalSplit], replicates: Any, annotators: Any) -> None:
    task = splits[0].task
    reasons = {
        "per_class": "regression has no classes",
        "confusion": "only single-label classification has a confusion matrix",
        "slices": "no slices= metadata columns were given (e.g. site, age, scanner)",
        "calibration": ("regression predictions have no confidence to calibrate" if task == "regression"
                        else "no class probabilities were given (probabilities=...)"),
        "top_loss": "no per-sample losses and no class probabilities were given",
        "ceiling": "no replicates= (repeated measurements) or annotators= (several labellers) were given",
    }
    for key, reason in reasons.items():
        if key not in m and key not in m.unavailable:
            m.mark_unavailable(key, reason)
