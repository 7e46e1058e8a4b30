"""Bootstrap resampling of evaluation sets, vectorised over the resamples.

Every metric here is a function of a few sums (a confusion matrix, score histograms,
sums of errors), so a resample never touches the rows again:

* classification, rows independent: a stratified bootstrap (rows resampled within each
  true class) draws each confusion-matrix row from Multinomial(n_class, row / n_class) —
  exactly the distribution of resampled counts, at the cost of K x K numbers;
* AUC: positives and negatives are resampled separately over a histogram of their scores
  (exact on up to `MAX_SCORE_BINS` distinct scores, rank-quantile bins beyond, and the
  draws are re-centred on the exact AUC so binning cannot bias the interval);
* regression and multi-label: rows resampled within strata (deciles of the target) as a
  weight matrix times per-row statistics (rows merged into random blocks beyond
  `MAX_UNITS`, see `resampling_units`);
* with `groups` (patients, sites…), whole groups are resampled (cluster bootstrap), since
  rows of one group are not independent evidence.

Intervals are percentile intervals of the draws; the coverage tests in
tests/evaluation/test_coverage.py check them by simulation.
"""
from __future__ import annotations

import numpy as np

N_BOOTSTRAP = 1000
# Above this many independent units (rows or groups), units are merged at random into this
# many blocks and the blocks are resampled: sums of iid rows in random blocks are iid, so
# the bootstrap stays valid while the weight matrix stays small (resamples x blocks).
MAX_UNITS = 5000
MAX_SCORE_BINS = 500
REGRESSION_STRATA = 10


def percentile_interval(draws: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return float(low), float(high)


def resampling_units(n: int, rng: np.random.Generator, strata: np.ndarray | None = None,
                     groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The unit each row belongs to (its group, or itself), merged into at most
    `MAX_UNITS` random blocks, and the stratum of each unit. Groups are not stratified."""
    if groups is not None:
        base, base_strata = groups, np.zeros(int(groups.max()) + 1, dtype=np.int64)
    else:
        base = np.arange(n)
        base_strata = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    count = len(base_strata)
    if count <= MAX_UNITS:
        return base, base_strata
    block_of = np.empty(count, dtype=np.int64)
    block_strata, offset = [], 0
    for stratum in np.unique(base_strata):
        members = np.flatnonzero(base_strata == stratum)
        blocks = max(1, round(MAX_UNITS * len(members) / count))
        block_of[members] = offset + rng.permutation(len(members)) % blocks
        block_strata.append(np.full(blocks, stratum))
        offset += blocks
    return block_of[base], np.concatenate(block_strata)


def unit_sums(stats: np.ndarray, units: np.ndarray, n_units: int) -> np.ndarray:
    """Per-unit column sums of an n x k statistics matrix."""
    return np.column_stack([np.bincount(units, weights=stats[:, j], minlength=n_units)
                            for j in range(stats.shape[1])])


def unit_histogram(units: np.ndarray, codes: np.ndarray, width: int, n_units: int) -> np.ndarray:
    """Per-unit counts of integer codes 0..width-1: n_units x width."""
    return np.bincount(units * width + codes, minlength=n_units * width).reshape(n_units, width).astype(float)


def resample_units(per_unit: np.ndarray, unit_strata: np.ndarray, rng: np.random.Generator,
                   resamples: int = N_BOOTSTRAP) -> np.ndarray:
    """Sums of per-unit statistics over bootstrap resamples of the units (within strata)."""
    weights = np.zeros((resamples, len(per_unit)))
    for stratum in np.unique(unit_strata):
        members = np.flatnonzero(unit_strata == stratum)
        weights[:, members] = rng.multinomial(len(members), np.full(len(members), 1.0 / len(members)),
                                              size=resamples)
    return weights @ per_unit


def weighted_sums(stats: np.ndarray, rng: np.random.Generator, *, strata: np.ndarray | None = None,
                  groups: np.ndarray | None = None, resamples: int = N_BOOTSTRAP) -> np.ndarray:
    """Column sums of `stats` (n x k) over bootstrap resamples: B x k. Rows are resampled
    within `strata` when given; with `groups`, whole groups are resampled instead."""
    stats = np.asarray(stats, dtype=float)
    units, unit_strata = resampling_units(len(stats), rng, strata, groups)
    return resample_units(unit_sums(stats, units, len(unit_strata)), unit_strata, rng, resamples)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def confusion_draws(y_true: np.ndarray, y_pred: np.ndarray, k: int, rng: np.random.Generator,
                    groups: np.ndarray | None = None, resamples: int = N_BOOTSTRAP) -> np.ndarray:
    """Bootstrap confusion matrices, B x K x K (rows: true class, columns: predicted)."""
    if groups is not None:
        units, unit_strata = resampling_units(len(y_true), rng, groups=groups)
        per_unit = unit_histogram(units, y_true * k + y_pred, k * k, len(unit_strata))
        return resample_units(per_unit, unit_strata, rng, resamples).reshape(-1, k, k)
    matrix = confusion_matrix(y_true, y_pred, k)
    b = resamples
    draws = np.zeros((b, k, k))
    for true_class in range(k):
        total = int(matrix[true_class].sum())
        if total:
            draws[:, true_class] = rng.multinomial(total, matrix[true_class] / total, size=b)
    return draws


def score_bins(scores: np.ndarray, max_bins: int = MAX_SCORE_BINS) -> np.ndarray:
    """Bin index of each score, order-preserving; tied scores always share a bin."""
    uniques, inverse = np.unique(scores, return_inverse=True)
    if len(uniques) <= max_bins:
        return inverse
    # rank of each distinct value, cut into equal-count bins
    counts = np.bincount(inverse)
    below = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return (below[inverse] * max_bins // len(scores)).astype(np.int64)


def auc_from_histograms(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """AUC (ties count half) from positive/negative counts per ordered score bin; the
    arrays may carry leading resample dimensions."""
    negatives_below = np.cumsum(negative, axis=-1) - negative
    wins = (positive * (negatives_below + 0.5 * negative)).sum(axis=-1)
    pairs = positive.sum(axis=-1) * negative.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return wins / pairs


def exact_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Mann-Whitney AUC with average ranks for ties."""
    from scipy.stats import rankdata

    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc_draws(scores: np.ndarray, positive: np.ndarray, rng: np.random.Generator,
              groups: np.ndarray | None = None, resamples: int = N_BOOTSTRAP) -> tuple[float, np.ndarray]:
    """Exact AUC and its bootstrap draws (positives and negatives resampled separately)."""
    point = exact_auc(scores, positive)
    if not np.isfinite(point):
        return point, np.full(resamples, np.nan)
    # grouped draws multiply a resamples x units matrix by units x bins: fewer bins there
    bins = score_bins(scores, MAX_SCORE_BINS if groups is None else MAX_SCORE_BINS // 5)
    n_bins = int(bins.max()) + 1
    pos_hist = np.bincount(bins[positive], minlength=n_bins)
    neg_hist = np.bincount(bins[~positive], minlength=n_bins)
    if groups is not None:
        units, unit_strata = resampling_units(len(scores), rng, groups=groups)
        per_unit = unit_histogram(units, bins + np.where(positive, 0, n_bins), 2 * n_bins, len(unit_strata))
        sums = resample_units(per_unit, unit_strata, rng, resamples)
        pos_draws, neg_draws = sums[:, :n_bins], sums[:, n_bins:]
    else:
        b = resamples
        pos_draws = rng.multinomial(int(pos_hist.sum()), pos_hist / pos_hist.sum(), size=b)
        neg_draws = rng.multinomial(int(neg_hist.sum()), neg_hist / neg_hist.sum(), size=b)
    binned_point = float(auc_from_histograms(pos_hist, neg_hist))
    return point, auc_from_histograms(pos_draws, neg_draws) + (point - binned_point)


def target_strata(values: np.ndarray, strata: int = REGRESSION_STRATA) -> np.ndarray:
    """Decile of each target value: the strata of a regression bootstrap."""
    if len(values) < 2 * strata:
        return np.zeros(len(values), dtype=np.int64)
    order = np.argsort(values, kind="stable")
    codes = np.empty(len(values), dtype=np.int64)
    codes[order] = np.arange(len(values)) * strata // len(values)
    return codes
