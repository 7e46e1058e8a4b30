"""How evaluation rules name and format metrics, so every message reads the same way."""
from __future__ import annotations

from typing import Any

NAMES = {
    "accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "macro_f1": "macro-F1", "f1": "F1",
    "auc": "AUC", "auc_macro_ovr": "macro AUC (one-vs-rest)", "log_loss": "log loss", "r2": "R²",
    "mae": "mean absolute error", "rmse": "RMSE", "mse": "mean squared error", "pearson_r": "Pearson r",
    "subset_accuracy": "exact-match accuracy", "hamming_accuracy": "per-label accuracy",
}
# Shares of rows, shown in percent; their differences are "points".
PERCENT = {"accuracy", "balanced_accuracy", "subset_accuracy", "hamming_accuracy", "macro_f1", "f1"}
# Metrics on a fixed 0..1 scale whose interval half-width is judged in points (x100).
BOUNDED = PERCENT | {"auc", "auc_macro_ovr", "r2", "pearson_r"}


def name(metric: str) -> str:
    return NAMES.get(metric, metric)


def value(metric: str, number: float | None) -> str:
    if number is None:
        return "n/a"
    if not isinstance(number, (int, float)):
        return str(number)  # "nan"/"inf" after a JSON round trip
    if metric in PERCENT:
        return f"{100 * number:.1f}%"
    return f"{number:.3f}" if abs(number) < 100 else f"{number:,.4g}"


def interval(metric: str, low: float, high: float) -> str:
    return f"[{value(metric, low)}, {value(metric, high)}]"


def difference(metric: str, number: float) -> str:
    """A difference: points for bounded metrics, plain units otherwise."""
    if not isinstance(number, (int, float)):
        return str(number)
    if metric in BOUNDED:
        return f"{100 * number:+.1f} points"
    return f"{number:+.3g}"


def ids(values: list[Any], limit: int = 5) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (", …" if len(values) > limit else "")


# A split whose predictions are this concentrated on one class is reported by
# predictions-degenerate; per-class rules stay quiet there instead of restating it.
COLLAPSED_SHARE = 0.95


def collapsed_splits(m: Any) -> set[str]:
    """Splits where one class takes nearly all predictions (see predictions-degenerate)."""
    return {entry["split"] for entry in (m.get("prediction_distribution") or [])
            if entry.get("task") != "regression" and entry.get("top_predicted_share", 0) >= COLLAPSED_SHARE
            and entry["top_predicted_share"] - entry.get("true_share_of_top", 1) >= 0.10}
