"""Calibration: does a predicted confidence of 0.9 mean right 90% of the time?

Top-label calibration (the confidence of the predicted class; for multi-label, of each
label's yes/no decision) in `N_BINS` equal-width bins: the reliability curve, the
expected calibration error (ECE, the row-weighted mean |accuracy - confidence| over
bins) and the maximum calibration error. ECE is biased upwards on small sets, so its
noise floor is measured too: the 95th percentile of the ECE of a perfectly calibrated
model with these confidences (each bin's hits drawn from Binomial(n_bin, confidence)).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nndoctor.evaluation.inputs import EvalSplit

N_BINS = 15
NOISE_DRAWS = 500
CONFIDENT = 0.9  # "confident" wrong answers: predicted with at least this confidence


def _confidences(split: EvalSplit) -> tuple[np.ndarray, np.ndarray] | None:
    if split.probabilities is None or split.task == "regression":
        return None
    if split.task == "multilabel":
        p = split.probabilities.ravel()
        confidence = np.maximum(p, 1 - p)
        correct = ((p >= 0.5).astype(np.int64) == split.y_true.ravel()).astype(float)
        return confidence, correct
    confidence = split.probabilities.max(axis=1)
    correct = (split.probabilities.argmax(axis=1) == split.y_true).astype(float)
    return confidence, correct


def calibration_summary(split: EvalSplit, rng: np.random.Generator) -> dict[str, Any] | None:
    pair = _confidences(split)
    if pair is None:
        return None
    confidence, correct = pair
    n = len(confidence)
    bins = np.minimum((confidence * N_BINS).astype(np.int64), N_BINS - 1)
    counts = np.bincount(bins, minlength=N_BINS)
    hits = np.bincount(bins, weights=correct, minlength=N_BINS)
    confidence_sum = np.bincount(bins, weights=confidence, minlength=N_BINS)
    used = counts > 0
    mean_confidence = np.where(used, confidence_sum / np.maximum(counts, 1), np.nan)
    accuracy = np.where(used, hits / np.maximum(counts, 1), np.nan)
    gaps = np.abs(accuracy - mean_confidence)
    ece = float(np.nansum(counts * gaps) / n)
    # ECE of a calibrated model with the same confidences: its sampling-noise floor
    simulated = rng.binomial(counts[used], np.clip(mean_confidence[used], 0, 1), size=(NOISE_DRAWS, int(used.sum())))
    noise = np.abs(simulated / counts[used] - mean_confidence[used]) @ counts[used] / n
    wrong = correct == 0
    curve = [{"bin_low": round(b / N_BINS, 4), "bin_high": round((b + 1) / N_BINS, 4), "n": int(counts[b]),
              "mean_confidence": round(float(mean_confidence[b]), 6), "accuracy": round(float(accuracy[b]), 6)}
             for b in range(N_BINS) if used[b]]
    return {
        "n": n, "unit": "label decisions" if split.task == "multilabel" else "rows",
        "ece": round(ece, 6), "ece_noise_95": round(float(np.quantile(noise, 0.95)), 6),
        "max_calibration_error": round(float(np.nanmax(gaps)), 6),
        "mean_confidence": round(float(confidence.mean()), 6), "accuracy": round(float(correct.mean()), 6),
        "mean_confidence_wrong": round(float(confidence[wrong].mean()), 6) if wrong.any() else None,
        "confident_wrong_share": round(float((confidence[wrong] >= CONFIDENT).mean()), 6) if wrong.any() else None,
        "confident_threshold": CONFIDENT, "n_wrong": int(wrong.sum()), "curve": curve,
    }
