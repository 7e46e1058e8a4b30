"""The confirmed lr's precision: the standard error of the interpolated minimum (delta
method), the extra batch orders for the three rates it rests on until that error is small
(lr_orders.refine_vertex, on a scripted trainer), and batch orders independent between seeds."""
import math

import numpy as np
import pytest

from nndoctor.torch.tune import lr_orders
from nndoctor.tune import lr_curve
from nndoctor.tune.results import SweepPoint
from test_lr_race import Result, ScriptedTrainer


def test_vertex_error_of_a_symmetric_trio_is_the_closed_form():
    # y = [1, 0, 1]: x* moves by step/4 per unit of y0 - y2, the middle does not move it.
    assert lr_curve.vertex_gradient(0.5, [1.0, 0.0, 1.0]) == pytest.approx([0.125, 0.0, -0.125])
    assert lr_curve.vertex_standard_error(0.5, [1.0, 0.0, 1.0], [0.01, 0.5, 0.01]) == pytest.approx(0.125 * math.sqrt(0.02))
    assert lr_curve.vertex_standard_error(0.5, [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]) == 0.0


def test_vertex_error_matches_the_scatter_of_noisy_vertices():
    rng = np.random.default_rng(0)
    means, sd = np.array([0.30, 0.25, 0.27]), 0.002
    samples = means + sd * rng.standard_normal((3000, 3))
    vertices = [lr_curve.interpolated_minimum([-2.5, -2.0, -1.5], list(y)) for y in samples]
    predicted = lr_curve.vertex_standard_error(0.5, list(means), [sd**2] * 3)
    assert np.std(vertices) == pytest.approx(predicted, rel=0.1)


def test_vertex_error_is_infinite_without_upward_curvature_or_with_a_non_finite_value():
    assert lr_curve.vertex_standard_error(0.5, [1.0, 1.0, 1.0], [0.1] * 3) == math.inf
    assert lr_curve.vertex_standard_error(0.5, [0.0, 1.0, 0.0], [0.1] * 3) == math.inf
    assert lr_curve.vertex_standard_error(0.5, [1.0, 0.0, 1.0], [0.1, math.inf, 0.1]) == math.inf


def noisy_parabola(vertex, curvature, noise):
    """Held-out score of (lr, order): a parabola in log10 lr plus noise fixed per (rate, order),
    of alternating sign (so that three orders already show its scale)."""
    def score(lr, order):
        exponent = math.log10(lr)
        jitter = (-1) ** order * (0.5 + np.random.default_rng([order, int(round(exponent * 100)) + 1000]).random())
        return 0.5 + curvature * (exponent - vertex) ** 2 + noise(exponent) * jitter
    return score


def refine(score, exponents):
    trainer = ScriptedTrainer(score)
    points, scores = {}, {}
    for exponent in exponents:
        scores[exponent] = [score(10**exponent, i) for i in range(lr_orders.ORDERS)]
        mean = float(np.mean(scores[exponent]))
        points[exponent] = SweepPoint(10**exponent, mean, mean, stable=True, early_spike=False)
    lr_orders.refine_vertex(trainer, Result(), points, scores, seed=0)
    return {e: len(scores[e]) for e in exponents}, lr_orders.vertex_terms(Result(), points, scores)


GRID = [-3.0, -2.5, -2.0, -1.5, -1.0]


def test_a_flat_noisy_minimum_gets_orders_on_its_three_rates_until_the_vertex_is_known():
    counts, (trio, values, variances) = refine(noisy_parabola(-2.1, 0.08, lambda e: 0.01), GRID)
    assert trio == [-2.5, -2.0, -1.5]
    assert counts[-3.0] == counts[-1.0] == lr_orders.ORDERS  # the others are not where the vertex is
    assert max(counts[e] for e in trio) > lr_orders.ORDERS
    error = lr_curve.vertex_standard_error(0.5, values, variances)
    assert error <= lr_orders.VERTEX_ERROR_DECADES or max(counts.values()) == lr_orders.VERTEX_MAX_ORDERS


def test_a_sharp_minimum_stops_at_the_minimum_number_of_orders():
    counts, _ = refine(noisy_parabola(-2.1, 0.5, lambda e: 0.001), GRID)
    assert [counts[e] for e in GRID] == [3, 9, 9, 9, 3] and lr_orders.VERTEX_MIN_ORDERS == 9


def test_the_noisy_neighbour_gets_the_most_orders():
    counts, _ = refine(noisy_parabola(-2.0, 0.08, lambda e: 0.02 if e > -1.8 else 0.0), GRID)
    assert counts[-1.5] > counts[-2.5] >= lr_orders.VERTEX_MIN_ORDERS


def test_a_scatter_small_by_luck_counts_as_the_pooled_one():
    points = {e: SweepPoint(10**e, v, v, stable=True, early_spike=False) for e, v in ((-2.5, 0.6), (-2.0, 0.5), (-1.5, 0.6))}
    scores = {-2.5: [0.6, 0.6, 0.6], -2.0: [0.4, 0.5, 0.6], -1.5: [0.5, 0.6, 0.7]}
    _, _, variances = lr_orders.vertex_terms(Result(), points, scores)
    assert variances == pytest.approx([0.01 * 4 / 6 / 3] + [0.01 / 3] * 2)


def test_pure_noise_stops_at_the_cap_and_a_best_at_the_edge_gets_nothing():
    counts, _ = refine(noisy_parabola(-2.0, 0.0, lambda e: 0.05), GRID)
    # No vertex to be sure of: it gives up when the three rates it ends on have the cap.
    assert max(counts.values()) <= lr_orders.VERTEX_MAX_ORDERS
    assert sorted(counts.values())[-3:] == [lr_orders.VERTEX_MAX_ORDERS] * 3
    counts, terms = refine(noisy_parabola(-3.5, 0.08, lambda e: 0.01), GRID)
    assert terms is None and set(counts.values()) == {lr_orders.ORDERS}


def test_seeds_draw_independent_batch_orders():
    def orders(seed, stream):
        return {lr_orders.order_seed(seed, stream, i) for i in range(50)}
    assert not orders(0, lr_orders.CONFIRM_STREAM) & orders(1, lr_orders.CONFIRM_STREAM)
    assert not orders(0, lr_orders.CONFIRM_STREAM) & orders(0, lr_orders.RANGE_STREAM)
    assert lr_orders.order_seed(3, lr_orders.CONFIRM_STREAM, 7) == lr_orders.order_seed(3, lr_orders.CONFIRM_STREAM, 7)


def test_far_off_orders_are_held_at_the_fence_and_counted():
    typical = [0.25 + 0.01 * ((-1) ** i) * (i % 4) for i in range(20)]
    values, far = lr_curve.fenced(typical + [0.84, 1.2])
    median = float(np.median(typical + [0.84, 1.2]))
    assert far == 2 and max(values) < 0.84 and max(values) > median
    assert values[:20] == typical  # the typical orders are untouched
    assert lr_curve.fenced(typical) == (typical, 0)
    # Fewer orders than a fence needs, no scatter at all, or a low tail (orders escaping a
    # plateau): nothing is changed.
    assert lr_curve.fenced([0.25, 0.26, 0.9]) == ([0.25, 0.26, 0.9], 0)
    assert lr_curve.fenced([0.5] * 9 + [2.0]) == ([0.5] * 9 + [2.0], 0)
    escapes = typical + [0.05, 0.04]
    assert lr_curve.fenced(escapes) == (escapes, 0)


def test_many_far_off_orders_are_how_the_rate_trains_and_the_plain_mean_stands():
    typical = [0.25 + 0.01 * ((-1) ** i) * (i % 4) for i in range(12)]
    bimodal = typical + [0.9] * 5  # 5 of 17 (29%) far off: not a tail
    assert lr_curve.fenced(bimodal) == (bimodal, 0)


def test_a_rate_near_the_edge_gives_the_same_vertex_whether_or_not_a_seed_draws_its_far_off_orders():
    def score_with_tail(every):
        base = noisy_parabola(-1.9, 0.08, lambda e: 0.005)

        def score(lr, order):
            value = base(lr, order)
            # The highest rate sends some orders far off (the LSTM/SGD task at lr 1).
            return value + 0.6 if math.log10(lr) > -1.6 and every and order % every == every - 1 else value
        return score
    vertices = []
    for every in (0, 8, 6):  # no far-off order, one in 8, one in 6
        _, (trio, values, _) = refine(score_with_tail(every), GRID)
        vertices.append(lr_curve.interpolated_minimum(trio, values))
    assert max(vertices) - min(vertices) < 0.05  # decades; a plain mean moves it ~0.2
