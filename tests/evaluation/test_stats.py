"""The shared interval maths (nndoctor.core.stats) against published values and scipy."""
import math

import numpy as np
from scipy.stats import binomtest

from nndoctor.core.stats import (
    fisher_z_interval, newcombe_difference, rows_for_halfwidth, rows_for_scaled_halfwidth, wilson_halfwidth,
    wilson_interval,
)
from nndoctor.rules.data import eval_set_too_small


def test_wilson_interval_matches_scipy_and_is_vectorised():
    for successes, n in [(0, 20), (3, 50), (150, 300), (999, 1000)]:
        reference = binomtest(successes, n).proportion_ci(method="wilson")
        low, high = wilson_interval(successes, n)
        assert math.isclose(low, reference.low, abs_tol=1e-6) and math.isclose(high, reference.high, abs_tol=1e-6)
    lows, highs = wilson_interval(np.array([0.0, 3.0, 150.0]), np.array([20.0, 50.0, 300.0]))
    assert lows.shape == (3,) and math.isclose(highs[2], wilson_interval(150, 300)[1])


def test_audit_rule_uses_the_shared_implementation():
    assert eval_set_too_small.wilson_halfwidth is wilson_halfwidth
    assert eval_set_too_small.rows_for_halfwidth is rows_for_halfwidth


def test_newcombe_difference_matches_the_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 vs 48/80 -> 0.0524 to 0.3339
    difference, low, high = newcombe_difference(56, 70, 48, 80)
    assert math.isclose(difference, 0.2) and round(low, 4) == 0.0524 and round(high, 4) == 0.3339


def test_fisher_interval_and_scaled_rows():
    low, high = fisher_z_interval(0.5, 103)  # atanh(0.5) ± 1.96 / 10
    assert math.isclose(low, math.tanh(math.atanh(0.5) - 0.1959964))
    assert math.isclose(high, math.tanh(math.atanh(0.5) + 0.1959964))
    assert rows_for_scaled_halfwidth(400, 0.048, 0.02) == 2304
    assert rows_for_scaled_halfwidth(400, 0.01, 0.02) == 400
