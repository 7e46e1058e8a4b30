"""Signs that the splits were standardised with statistics that include val/test rows
(000 §2.1: normalising the whole dataset before splitting).

Standardising with a scaler fitted on a set of rows leaves exactly that set with mean 0
and standard deviation 1 in every scaled column, to floating-point precision; any other
set of rows is off by sampling noise. So the set of rows that is *exactly* standardised
tells which rows the scaler saw: train alone (correct), train together with val/test
(leak), or each split by itself (val/test scaled with their own statistics).
"""
from __future__ import annotations

import itertools

from typing import Any

import numpy as np

from nndoctor.core.rule import Measurements
from nndoctor.data.rows import content_columns
from nndoctor.data.view import AuditData, AuditOptions

MEASUREMENTS = ("preprocessing_leakage",)
# "Exactly standardised": |mean| and |std - 1| below this, and below 1/20 of the sampling
# noise a scaler fitted elsewhere would leave (so chance matches are ~1 in 400 per column).
EXACT_TOLERANCE = 1e-4
NOISE_FRACTION = 1 / 20
MIN_ROWS = 20


def measure(data: AuditData, m: Measurements, options: AuditOptions) -> None:
    if not data.others:
        m.mark_unavailable("preprocessing_leakage", "only a train split was given; give --val/--test")
        return
    train = data.train.features[content_columns(data)]
    candidates = [c for c in train.columns if train[c].dtype.kind == "f" and train[c].nunique() > 2]
    if not candidates:
        m.mark_unavailable("preprocessing_leakage", "no continuous (float) feature columns to check")
        return
    sums = {name: _sums(split.features[candidates]) for name, split in data.splits.items()}
    if sums["train"][0].min() < MIN_ROWS:
        m.mark_unavailable("preprocessing_leakage", f"fewer than {MIN_ROWS} train rows with values")
        return
    others = [s.name for s in data.others]
    deviation_train = _deviation(*sums["train"])
    patterns: dict[str, list[str]] = {}
    tolerances: dict[str, float] = {}
    for size in range(len(others), 0, -1):
        for chosen in itertools.combinations(others, size):
            union = ["train", *chosen]
            count, total, squares = (sum(sums[n][i] for n in union) for i in range(3))
            fraction = sums["train"][0] / count
            noise = np.sqrt((1 - fraction) / (fraction * count))
            tolerance = np.minimum(EXACT_TOLERANCE, noise * NOISE_FRACTION)
            fitted = (_deviation(count, total, squares) <= tolerance) & (deviation_train > tolerance)
            name = "+".join(union)
            patterns[name] = [c for c, hit in zip(candidates, fitted) if hit]
            tolerances[name] = float(np.median(tolerance))
    own = np.ones(len(candidates), dtype=bool)
    for name in data.splits:
        count = sums[name][0]
        tolerance = np.minimum(EXACT_TOLERANCE, NOISE_FRACTION / np.sqrt(np.maximum(count, 1)))
        own &= _deviation(*sums[name]) <= tolerance
    patterns["each split on its own"] = [c for c, hit in zip(candidates, own) if hit]
    m["preprocessing_leakage"] = {
        "candidate_columns": len(candidates),
        "patterns": patterns,
        "tolerances": tolerances,
        "train_deviation": {c: float(d) for c, d in list(zip(candidates, deviation_train))[:20]},
    }


def _sums(frame: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(values)
    clean = np.where(finite, values, 0.0)
    return finite.sum(axis=0).astype(np.float64), clean.sum(axis=0), (clean * clean).sum(axis=0)


def _deviation(count: np.ndarray, total: np.ndarray, squares: np.ndarray) -> np.ndarray:
    """max(|mean|, |std - 1|) per column, std with ddof 0 or 1, whichever is closer to 1."""
    count = np.maximum(count, 2.0)
    mean = total / count
    variance = np.maximum(squares / count - mean * mean, 0.0)
    std_population = np.sqrt(variance)
    std_sample = np.sqrt(variance * count / (count - 1))
    std_error = np.minimum(np.abs(std_population - 1), np.abs(std_sample - 1))
    return np.maximum(np.abs(mean), std_error)



