"""Simulation: the 95% intervals of nndoctor evaluate cover the true value 93-97% of the time,
for n from 50 to 10,000 (Wilson for proportions, the stratified BCa bootstrap otherwise).

Each case draws many evaluation sets from a known population, computes the interval on
each with the library's own functions and counts how often the population value falls
inside. The seeds are fixed, so the tests are deterministic; the number of repetitions
keeps the standard error of each coverage estimate at about 1 point (0.8-1.1).
"""
import numpy as np
import pytest
from scipy.stats import norm

from nndoctor.core.stats import wilson_interval
from nndoctor.evaluation import resample
from nndoctor.evaluation.metrics import _confusion_metrics, _regression_from_sums

SIZES = [50, 200, 1000, 10_000]
LOW, HIGH = 0.93, 0.97


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("p", [0.5, 0.8, 0.95])
def test_wilson_coverage(n, p):
    rng = np.random.default_rng(n)
    successes = rng.binomial(n, p, size=20_000).astype(float)
    low, high = wilson_interval(successes, float(n))
    coverage = np.mean((low <= p) & (p <= high))
    assert LOW <= coverage <= HIGH, coverage


PRIOR = np.array([0.5, 0.3, 0.2])
ROWS = np.array([[0.8, 0.15, 0.05], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]])  # P(predicted | true)


@pytest.mark.parametrize("n", SIZES)
def test_stratified_bootstrap_coverage_macro_f1_and_balanced_accuracy(n):
    rng = np.random.default_rng(10 + n)
    joint = PRIOR[:, None] * ROWS
    active = np.ones(3, dtype=bool)
    truth = _confusion_metrics(joint[None], active)
    hits = {"macro_f1": 0, "balanced_accuracy": 0}
    repetitions = 600
    for _ in range(repetitions):
        matrix = rng.multinomial(n, joint.ravel()).reshape(3, 3)
        if (matrix.sum(axis=1) == 0).any():
            continue
        cells = np.flatnonzero(matrix.ravel())
        jackknife = np.repeat(matrix.reshape(1, -1).astype(float), len(cells), axis=0)
        jackknife[np.arange(len(cells)), cells] -= 1
        result = resample.ConfusionResamples(matrix, resample.stratified_confusion(matrix, rng, 500),
                                             jackknife.reshape(-1, 3, 3), matrix.ravel()[cells].astype(float), n)
        for key in hits:
            low, high = result.of(lambda m, key=key: _confusion_metrics(m, active)[key]).interval()
            hits[key] += low <= truth[key][0] <= high
    for key, count in hits.items():
        assert LOW <= count / repetitions <= HIGH, (key, count / repetitions)


@pytest.mark.parametrize("n", SIZES)
def test_stratified_bootstrap_coverage_auc(n):
    # binormal scores rounded to 0.1 (ties are part of the test); prevalence 30%
    rng = np.random.default_rng(20 + n)
    separation, step = 1.0, 0.1
    grid = np.arange(-6, 7 + step, step)
    edges = np.concatenate([[-np.inf], grid[:-1] + step / 2, [np.inf]])
    p_neg, p_pos = np.diff(norm.cdf(edges)), np.diff(norm.cdf(edges - separation))
    truth = float(np.sum(p_pos * (np.cumsum(p_neg) - p_neg)) + 0.5 * np.sum(p_pos * p_neg))
    hits, repetitions = 0, 700 if n <= 200 else 450
    for _ in range(repetitions):
        positive = rng.random(n) < 0.3
        scores = np.round((rng.normal(size=n) + separation * positive) / step) * step
        low, high = resample.auc_resampled(scores, positive, rng, resamples=1000 if n <= 200 else 500).interval()
        hits += low <= truth <= high
    assert LOW <= hits / repetitions <= HIGH, hits / repetitions


@pytest.mark.parametrize("n", SIZES)
def test_bootstrap_coverage_r2(n):
    # y = x + noise, the model predicts x: population R² = 1 - 1 / 2 = 0.5
    rng = np.random.default_rng(30 + n)
    # the default 1,000 resamples at small n; fewer where the draws are near normal
    resamples, repetitions = {50: (1000, 700), 200: (1000, 700), 1000: (500, 450), 10_000: (300, 400)}[n]
    hits = 0
    for _ in range(repetitions):
        x = rng.normal(size=n)
        y = x + rng.normal(size=n)
        error = x - y
        stats = np.column_stack([np.ones(n), error ** 2, np.abs(error), y, y ** 2, x, x ** 2, x * y])
        result = resample.resample_sums(stats, lambda s: _regression_from_sums(s)["r2"], rng,
                                         resamples=resamples)
        low, high = result.interval()
        hits += low <= 0.5 <= high
    assert LOW <= hits / repetitions <= HIGH, hits / repetitions
