"""The framework-free reading of range-test curves and sweeps."""
import math

import numpy as np
import pytest

from nndoctor.tune import lr_curve


def valley(lrs, bottom=1e-2):
    return [2.0 - 1.5 * math.exp(-(math.log10(lr / bottom)) ** 2) + (0 if lr < bottom else 5 * math.log10(lr / bottom) ** 2)
            for lr in lrs]


def test_schedule_is_exponential():
    lrs = lr_curve.exponential_schedule(1e-6, 1.0, 7)
    assert lrs[0] == pytest.approx(1e-6) and lrs[-1] == pytest.approx(1.0)
    assert np.allclose(np.diff(np.log10(lrs)), 1.0)


def test_smooth_matches_a_centred_moving_average_and_stops_at_non_finite():
    values = [1.0, 3.0, 2.0, 5.0, 4.0, float("nan"), 1.0]
    smoothed = lr_curve.smooth(values, 3)
    assert len(smoothed) == 5
    assert smoothed[2] == pytest.approx(np.mean([3.0, 2.0, 5.0]))
    assert smoothed[0] == pytest.approx(np.mean([1.0, 3.0]))


def test_valley_gives_a_suggestion_a_decade_below_the_bottom():
    lrs = lr_curve.exponential_schedule(1e-7, 10, 100)
    reading = lr_curve.read_curve(lrs, valley(lrs))
    assert reading.refusal is None
    assert reading.minimum_lr == pytest.approx(1e-2, rel=0.5)
    assert reading.suggestion == pytest.approx(reading.minimum_lr / 10)


def test_flat_or_rising_curves_are_refused():
    lrs = lr_curve.exponential_schedule(1e-7, 10, 100)
    flat = lr_curve.read_curve(lrs, [2.3 + 0.01 * math.sin(i) for i in range(100)])
    assert flat.suggestion is None and "never fell" in flat.refusal
    rising = lr_curve.read_curve(lrs, [1.0 + 0.05 * i for i in range(100)])
    assert rising.suggestion is None
    blown = lr_curve.read_curve(lrs, [2.0, 2.0, float("inf")])
    assert blown.suggestion is None and "not finite" in blown.refusal


def test_drop_threshold():
    lrs = lr_curve.exponential_schedule(1e-7, 10, 100)
    curve = [2.0] * 40 + [1.88] * 30 + [3.0] * 30  # a 6% dip
    assert lr_curve.read_curve(lrs, curve).suggestion is not None
    assert lr_curve.read_curve(lrs, curve, min_drop_share=0.1).suggestion is None


def test_divergence_stop():
    stop = lr_curve.DivergenceStop()
    assert not any(stop.should_stop(v) for v in [2.0] * 10 + [1.0] * 10)
    assert any(stop.should_stop(v) for v in [5.0, 9.0, 20.0, 50.0])
    assert lr_curve.DivergenceStop().should_stop(float("nan"))


def test_combine_and_grid():
    centre, spread = lr_curve.combine([1e-3, 2e-3, 4e-3])
    assert centre == pytest.approx(2e-3) and spread == pytest.approx(4.0)
    assert lr_curve.grid_exponent(2.5e-3) == -2.5
    assert lr_curve.grid_exponent(1e-12) == lr_curve.GRID_LIMITS[0]


def test_interpolated_minimum_recovers_a_parabola_vertex():
    xs = [-3.0, -2.5, -2.0, -1.5, -1.0]
    ys = [(x + 2.1) ** 2 for x in xs]
    assert lr_curve.interpolated_minimum(xs, ys) == pytest.approx(-2.1)
    assert abs(lr_curve.interpolated_minimum(xs, [3, 2, 0, 0.001, 3]) + 2.0) <= 0.25  # within half a step
    assert lr_curve.interpolated_minimum(xs, [(x + 3.2) ** 2 for x in xs]) is None  # best at the edge
    assert lr_curve.interpolated_minimum(xs, [1, 2, 0.5, math.inf, 3]) is None  # a diverged neighbour
