"""The simple gradient noise scale from gradient norms at two batch sizes (McCandlish,
Kaplan, Amodei et al. 2018, "An empirical model of large-batch training", appendix A).

With G the true gradient and Σ the per-example gradient covariance, a batch of B samples
has E|G_B|² = |G|² + tr(Σ)/B. Measured at a small and a big batch size, the two
unbiased estimates are

    |G|²   ≈ (B_big·|G_big|² − B_small·|G_small|²) / (B_big − B_small)
    tr(Σ)  ≈ (|G_small|² − |G_big|²) / (1/B_small − 1/B_big)

and B_simple = tr(Σ)/|G|² (003 §4.5.4: "the sum of the variances of the gradient
components divided by the global norm of the gradient" — the batch size beyond which a
bigger batch barely reduces the noise of a step).

Here the small batches are M micro batches of b samples and the big batch is all of
them (B_big = M·b), which makes |G|² the mean of g_j·g_k over pairs of different micro
batches: the least noisy choice of the big batch. The micro batches come in groups (the
user's batches); a jackknife that leaves out one group at a time gives the standard
error. Per group only its gradient sum's inner products with the other groups' sums (a
Gram matrix) and its sum of squared micro-batch norms are needed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class NoiseScaleEstimate:
    b_simple: float | None  # None when the signal |G|² is not measurably above 0
    standard_error: float | None
    trace_sigma: float
    gradient_norm_squared: float


def _estimate(gram: np.ndarray, squares: np.ndarray, counts: np.ndarray, b_small: int) -> tuple[float, float]:
    micro = counts.sum()
    small = squares.sum() / micro  # |G_small|²: mean squared norm of one micro batch
    big = gram.sum() / micro**2  # |G_big|²: squared norm of the mean of all of them
    b_big = micro * b_small
    g2 = (b_big * big - b_small * small) / (b_big - b_small)
    trace = (small - big) / (1.0 / b_small - 1.0 / b_big)
    return float(trace), float(g2)


def simple_noise_scale(gram: list[list[float]], squared_norm_sums: list[float], micro_counts: list[int],
                       b_small: int) -> NoiseScaleEstimate:
    """`gram[i][k]`: inner product of the micro-batch gradient sums of groups i and k;
    `squared_norm_sums[i]`: sum of |g_j|² over group i's `micro_counts[i]` micro batches
    of `b_small` samples each."""
    gram_ = np.asarray(gram, dtype=float)
    squares, counts = np.asarray(squared_norm_sums, float), np.asarray(micro_counts, float)
    if gram_.shape != (len(squares), len(squares)) or len(counts) != len(squares) or counts.sum() < 2:
        raise ValueError("one Gram row, one squared-norm sum and one count per group, and ≥ 2 micro batches")
    trace, g2 = _estimate(gram_, squares, counts, b_small)
    if g2 <= 0 or trace <= 0:
        return NoiseScaleEstimate(None, None, trace, g2)
    value = trace / g2
    n = len(squares)
    if n < 3:
        return NoiseScaleEstimate(value, None, trace, g2)
    leave_one_out = []
    for i in range(n):
        keep = np.arange(n) != i
        t, g = _estimate(gram_[np.ix_(keep, keep)], squares[keep], counts[keep], b_small)
        leave_one_out.append(t / g if g > 0 and t > 0 else np.inf)
    values = np.asarray(leave_one_out)
    if not np.isfinite(values).all():
        return NoiseScaleEstimate(value, None, trace, g2)
    error = float(np.sqrt((n - 1) / n * np.sum((values - values.mean()) ** 2)))
    return NoiseScaleEstimate(value, error, trace, g2)
