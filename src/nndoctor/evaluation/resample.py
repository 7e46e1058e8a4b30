"""Bootstrap resampling of evaluation sets, vectorised over the resamples, with BCa intervals.

Every metric here is a function of a few sums (a confusion matrix, score histograms,
sums of errors), so a resample never touches the rows again:

* classification, rows independent: a stratified bootstrap (rows resampled within each
  true class) draws each confusion-matrix row from Multinomial(n_class, row / n_class) —
  exactly the distribution of resampled counts, at the cost of K x K numbers;
* AUC: positives and negatives are resampled separately (stratified), exactly up to
  `EXACT_AUC_MAX_ROWS` rows; beyond, over `MAX_SCORE_BINS` rank-quantile bins (fewer than
  1 in 2,000 pairs share a bin), re-centred on the exact AUC;
* regression, log loss, paired differences, multi-label: rows resampled as a weight
  matrix times per-row statistics. Regression is not stratified on the target: fixing
  the target's spread makes R² intervals far too narrow (85% coverage at n = 50);
* with `groups` (patients, sites…), whole groups are resampled (cluster bootstrap); above
  `MAX_UNITS` units, units are merged into random blocks (see `resampling_units`).

Intervals are bias-corrected and accelerated (BCa, Efron 1987), the acceleration coming
from a jackknife that is cheap for sums (leave one unit out = total minus that unit).
Percentile intervals under-cover at small n (AUC 92.9% at n = 50 in our simulation, BCa
94.5%); tests/evaluation/test_coverage.py checks coverage by simulation.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

N_BOOTSTRAP = 1000
# Above this many independent units (rows or groups), units are merged at random into this
# many blocks and the blocks are resampled: sums of iid rows in random blocks are iid, so
# the bootstrap stays valid while the weight matrix stays small (resamples x blocks).
MAX_UNITS = 5000
MAX_SCORE_BINS = 2000
EXACT_AUC_MAX_ROWS = 20_000
MAX_CELLS_PER_CHUNK = 4_000_000
_NORMAL = NormalDist()


@dataclass
class Resampled:
    """A statistic's value, its bootstrap draws and its jackknife (leave-one-unit-out)
    values with their multiplicities."""

    point: float
    draws: np.ndarray
    jackknife: np.ndarray
    jackknife_weights: np.ndarray | None = None
    units: int | None = None  # independent units resampled (rows or groups), for the small-n expansion

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        return bca_interval(self.point, self.draws, self.jackknife, self.jackknife_weights, level, self.units)


def percentile_interval(draws: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return float(low), float(high)


def expanded_z(quantile: float, units: int | None) -> float:
    """Normal quantile widened for small samples (Hesterberg 2015, "expanded percentile"):
    the bootstrap spread is too narrow by √((n-1)/n) and ignores the t tail, so use
    √(n/(n-1)) · t_{n-1} instead of z; identical to z for large n."""
    if units is None or units > 2000 or units < 3:
        return _NORMAL.inv_cdf(quantile)
    from scipy.stats import t

    return math.sqrt(units / (units - 1)) * float(t.ppf(quantile, units - 1))


def bca_interval(point: float, draws: np.ndarray, jackknife: np.ndarray, weights: np.ndarray | None = None,
                 level: float = 0.95, units: int | None = None) -> tuple[float, float]:
    """Bias-corrected and accelerated bootstrap interval, with the small-sample expansion
    of `expanded_z` when the number of resampled units is known; falls back to the
    percentile interval when the draws or the jackknife are degenerate."""
    finite = draws[np.isfinite(draws)]
    jack_ok = np.isfinite(jackknife)
    if finite.size < 10 or not np.isfinite(point) or jack_ok.sum() < 3:
        return percentile_interval(draws, level)
    below = (np.count_nonzero(finite < point) + 0.5 * np.count_nonzero(finite == point)) / finite.size
    below = min(max(below, 0.5 / finite.size), 1 - 0.5 / finite.size)
    z0 = _NORMAL.inv_cdf(below)
    w = np.ones(int(jack_ok.sum())) if weights is None else np.asarray(weights, dtype=float)[jack_ok]
    values = jackknife[jack_ok]
    spread = np.sum(w * values) / w.sum() - values
    denominator = 6 * np.sum(w * spread ** 2) ** 1.5
    acceleration = float(np.sum(w * spread ** 3) / denominator) if denominator > 0 else 0.0
    tail = (1 - level) / 2
    adjusted = []
    for quantile in (tail, 1 - tail):
        z = expanded_z(quantile, units)
        adjusted.append(min(max(_NORMAL.cdf(z0 + (z0 + z) / (1 - acceleration * (z0 + z))), 0.0), 1.0))
    low, high = np.quantile(finite, adjusted)
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
    """Sums of per-unit statistics over bootstrap resamples of the units (within strata):
    each resample draws as many units, with replacement, as the stratum holds."""
    weights = np.zeros((resamples, len(per_unit)))
    for stratum in np.unique(unit_strata):
        members = np.flatnonzero(unit_strata == stratum)
        size = len(members)
        chunk = max(1, MAX_CELLS_PER_CHUNK // size)
        for start in range(0, resamples, chunk):
            rows = min(chunk, resamples - start)
            picks = rng.integers(0, size, (rows, size)) + (np.arange(rows) * size)[:, None]
            weights[start:start + rows, members] = np.bincount(picks.ravel(), minlength=rows * size).reshape(rows, size)
    return weights @ per_unit


def _independent_units(rows: int, groups: np.ndarray | None) -> int:
    return rows if groups is None else int(groups.max()) + 1


def resample_sums(stats: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], rng: np.random.Generator, *,
                  strata: np.ndarray | None = None, groups: np.ndarray | None = None,
                  resamples: int = N_BOOTSTRAP) -> Resampled:
    """A statistic of the column sums of `stats` (n x k): `statistic` maps an m x k array
    of sums to m values. Rows are resampled within `strata`, or whole `groups`."""
    stats = np.asarray(stats, dtype=float)
    units, unit_strata = resampling_units(len(stats), rng, strata, groups)
    per_unit = unit_sums(stats, units, len(unit_strata))
    total = per_unit.sum(axis=0)
    draws = statistic(resample_units(per_unit, unit_strata, rng, resamples))
    return Resampled(float(statistic(total[None])[0]), draws, statistic(total[None] - per_unit),
                     units=_independent_units(len(stats), groups))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


@dataclass
class ConfusionResamples:
    """Bootstrap confusion matrices (B x K x K) and leave-one-out matrices with weights."""

    matrix: np.ndarray
    draws: np.ndarray
    jackknife: np.ndarray
    jackknife_weights: np.ndarray
    units: int | None = None

    def of(self, statistic: Callable[[np.ndarray], np.ndarray]) -> Resampled:
        return Resampled(float(statistic(self.matrix[None].astype(float))[0]), statistic(self.draws),
                         statistic(self.jackknife), self.jackknife_weights, self.units)


def stratified_confusion(matrix: np.ndarray, rng: np.random.Generator, resamples: int = N_BOOTSTRAP) -> np.ndarray:
    """Confusion matrices of rows resampled within each true class: B x K x K."""
    k = len(matrix)
    draws = np.zeros((resamples, k, k))
    for true_class in range(k):
        total = int(matrix[true_class].sum())
        if total:
            draws[:, true_class] = rng.multinomial(total, matrix[true_class] / total, size=resamples)
    return draws


def confusion_draws(y_true: np.ndarray, y_pred: np.ndarray, k: int, rng: np.random.Generator,
                    groups: np.ndarray | None = None, resamples: int = N_BOOTSTRAP) -> ConfusionResamples:
    """Resampled confusion matrices (rows: true class, columns: predicted)."""
    matrix = confusion_matrix(y_true, y_pred, k)
    if groups is not None:
        units, unit_strata = resampling_units(len(y_true), rng, groups=groups)
        per_unit = unit_histogram(units, y_true * k + y_pred, k * k, len(unit_strata))
        draws = resample_units(per_unit, unit_strata, rng, resamples).reshape(-1, k, k)
        jackknife = (matrix.reshape(1, -1) - per_unit).reshape(-1, k, k)
        return ConfusionResamples(matrix, draws, jackknife, np.ones(len(per_unit)), _independent_units(0, groups))
    draws = stratified_confusion(matrix, rng, resamples)
    cells = np.flatnonzero(matrix.ravel())  # leaving out one row changes one cell: K² distinct cases
    jackknife = np.repeat(matrix.reshape(1, -1).astype(float), len(cells), axis=0)
    jackknife[np.arange(len(cells)), cells] -= 1
    return ConfusionResamples(matrix, draws, jackknife.reshape(-1, k, k), matrix.ravel()[cells].astype(float),
                              len(y_true))


def auc_from_histograms(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """AUC (ties count half) from positive/negative counts per ordered score bin; the
    arrays may carry leading resample dimensions."""
    negatives_below = np.cumsum(negative, axis=-1) - negative
    wins = (positive * (negatives_below + 0.5 * negative)).sum(axis=-1)
    pairs = positive.sum(axis=-1) * negative.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return wins / pairs


def _quantile_bins(inverse: np.ndarray, n_bins: int) -> np.ndarray:
    """Distinct-value codes cut into `n_bins` equal-count, order-preserving bins."""
    counts = np.bincount(inverse)
    below = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return (below[inverse] * n_bins // len(inverse)).astype(np.int64)


def _index_histograms(codes: np.ndarray, width: int, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """Histograms of `codes` resampled with replacement: resamples x width (exact bootstrap)."""
    out = np.empty((resamples, width))
    chunk = max(1, MAX_CELLS_PER_CHUNK // max(len(codes) + width, 1))
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        picks = codes[rng.integers(0, len(codes), (rows, len(codes)))]
        flat = (np.arange(rows)[:, None] * width + picks).ravel()
        out[start:start + rows] = np.bincount(flat, minlength=rows * width).reshape(rows, width)
    return out


def auc_jackknife(codes: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Leave-one-row-out AUC for every row (row order), from exact tie codes."""
    width = int(codes.max()) + 1
    pos_hist = np.bincount(codes[positive], minlength=width).astype(float)
    neg_hist = np.bincount(codes[~positive], minlength=width).astype(float)
    n_pos, n_neg = pos_hist.sum(), neg_hist.sum()
    neg_below = np.cumsum(neg_hist) - neg_hist
    pos_above = n_pos - np.cumsum(pos_hist)
    wins = float((pos_hist * (neg_below + 0.5 * neg_hist)).sum())
    out = np.empty(len(codes))
    with np.errstate(invalid="ignore", divide="ignore"):
        placement = neg_below[codes] + 0.5 * neg_hist[codes]  # negatives beaten by a positive row
        out[positive] = (wins - placement[positive]) / ((n_pos - 1) * n_neg)
        beaten_by = pos_above[codes] + 0.5 * pos_hist[codes]  # positives beating a negative row
        out[~positive] = (wins - beaten_by[~positive]) / (n_pos * (n_neg - 1))
    return out


def auc_resampled(scores: np.ndarray, positive: np.ndarray, rng: np.random.Generator,
                  groups: np.ndarray | None = None, resamples: int = N_BOOTSTRAP) -> Resampled:
    """Exact AUC, bootstrap draws (positives and negatives resampled separately, or whole
    groups) and its jackknife (per row, or per group)."""
    _, codes = np.unique(scores, return_inverse=True)
    codes = codes.astype(np.int64)
    width = int(codes.max()) + 1
    pos_hist = np.bincount(codes[positive], minlength=width)
    neg_hist = np.bincount(codes[~positive], minlength=width)
    point = float(auc_from_histograms(pos_hist, neg_hist))
    if pos_hist.sum() == 0 or neg_hist.sum() == 0:
        return Resampled(float("nan"), np.full(resamples, np.nan), np.full(1, np.nan))
    bins = codes
    # grouped draws multiply a resamples x units matrix by units x bins: fewer bins there
    limit = MAX_SCORE_BINS if groups is None else MAX_SCORE_BINS // 10
    if width > limit and (groups is not None or len(scores) > EXACT_AUC_MAX_ROWS):
        bins = _quantile_bins(codes, limit)
    n_bins = int(bins.max()) + 1
    binned_pos = np.bincount(bins[positive], minlength=n_bins)
    binned_neg = np.bincount(bins[~positive], minlength=n_bins)
    if groups is not None:
        units, unit_strata = resampling_units(len(scores), rng, groups=groups)
        per_unit = unit_histogram(units, bins + np.where(positive, 0, n_bins), 2 * n_bins, len(unit_strata))
        sums = resample_units(per_unit, unit_strata, rng, resamples)
        draws = auc_from_histograms(sums[:, :n_bins], sums[:, n_bins:])
        left_out = np.concatenate([binned_pos, binned_neg])[None] - per_unit
        jackknife = auc_from_histograms(left_out[:, :n_bins], left_out[:, n_bins:])
    else:
        if n_bins <= MAX_SCORE_BINS:
            pos_draws = rng.multinomial(int(binned_pos.sum()), binned_pos / binned_pos.sum(), size=resamples)
            neg_draws = rng.multinomial(int(binned_neg.sum()), binned_neg / binned_neg.sum(), size=resamples)
        else:
            pos_draws = _index_histograms(bins[positive], n_bins, rng, resamples)
            neg_draws = _index_histograms(bins[~positive], n_bins, rng, resamples)
        draws = auc_from_histograms(pos_draws, neg_draws)
        jackknife = auc_jackknife(codes, positive)
    shift = point - float(auc_from_histograms(binned_pos, binned_neg))  # zero unless binned
    # no small-n expansion: BCa alone covers 94.5% at n = 50 here, expanded it over-covers (97%)
    return Resampled(point, draws + shift, jackknife)


def auc_influence(scores: np.ndarray, positive: np.ndarray) -> tuple[float, np.ndarray]:
    """AUC and each row's first-order influence on it (its placement value minus the AUC,
    scaled by its group size); the influences sum to zero within positives and negatives."""
    _, codes = np.unique(scores, return_inverse=True)
    width = int(codes.max()) + 1
    pos_hist = np.bincount(codes[positive], minlength=width).astype(float)
    neg_hist = np.bincount(codes[~positive], minlength=width).astype(float)
    n_pos, n_neg = pos_hist.sum(), neg_hist.sum()
    auc = float(auc_from_histograms(pos_hist, neg_hist))
    beats = (np.cumsum(neg_hist) - neg_hist + 0.5 * neg_hist)[codes] / n_neg  # share of negatives below
    beaten = (n_pos - np.cumsum(pos_hist) + 0.5 * pos_hist)[codes] / n_pos  # share of positives above
    return auc, np.where(positive, (beats - auc) / n_pos, (beaten - auc) / n_neg)


def macro_auc_resampled(probabilities: np.ndarray, y_true: np.ndarray, columns: list[int],
                        rng: np.random.Generator, groups: np.ndarray | None = None,
                        resamples: int = N_BOOTSTRAP) -> Resampled:
    """Macro one-vs-rest AUC with a linearised bootstrap: every class's AUC shares each
    resample of the rows (stratified by class, or by group), through the rows' summed
    influence on the macro average. Exact joint resampling of K rankings would cost
    resamples x rows x K; the linearisation is the DeLong approximation, bootstrapped."""
    points, influence = [], np.zeros(len(y_true))
    for column in columns:
        auc, rows = auc_influence(probabilities[:, column], y_true == column)
        points.append(auc)
        influence += rows / len(columns)
    point = float(np.mean(points))
    shifted = resample_sums(influence[:, None], lambda sums: point + sums[:, 0], rng,
                            strata=None if groups is not None else y_true, groups=groups, resamples=resamples)
    # leave-one-unit-out, to first order: the point minus the unit's influence
    return Resampled(point, shifted.draws, shifted.jackknife, units=shifted.units)
