"""Simulation: weak-slice keeps false discoveries rare on null data and finds a planted slice.

Null: correctness is independent of the metadata, so any reported slice is a false
discovery; over 100 seeds, the share of runs reporting anything must be <= 10%
(Benjamini-Hochberg at 5%). Planted: 5% of rows (one site) lose 20 accuracy points; it
must be reported in >= 80% of 100 seeds.
"""
import numpy as np
import pandas as pd

from nndoctor.evaluation.inputs import prepare_split
from nndoctor.evaluation.slices import slice_results
from nndoctor.rules.evaluation.weak_slice import WeakSlice, benjamini_hochberg

N_ROWS = 2000
ACCURACY = 0.85


def make_split(seed, planted_drop=0.0):
    rng = np.random.default_rng(seed)
    site = rng.choice(["A", "B", "C", "D"], N_ROWS, p=[0.35, 0.3, 0.2, 0.15]).astype(object)
    site[: N_ROWS // 20] = "X"  # the 5% slice
    meta = pd.DataFrame({"site": site, "age": rng.uniform(18, 90, N_ROWS),
                         "scanner": rng.choice(["s1", "s2", "s3"], N_ROWS)})
    accuracy = np.full(N_ROWS, ACCURACY)
    accuracy[meta["site"] == "X"] -= planted_drop
    correct = rng.random(N_ROWS) < accuracy
    y = rng.integers(0, 3, N_ROWS)
    predicted = np.where(correct, y, (y + rng.integers(1, 3, N_ROWS)) % 3)
    return prepare_split("val", y, predicted, slices=meta)


def reported(split):
    measured = slice_results(split, min_rows=30)
    findings = WeakSlice().check({"slices": [{"split": "val", **measured}]})
    return findings[0].where if findings else []


def test_false_discoveries_on_null_data_are_rare():
    runs_with_false_alarm = sum(bool(reported(make_split(seed))) for seed in range(100))
    assert runs_with_false_alarm <= 10


def test_planted_five_percent_slice_with_twenty_point_drop_is_found():
    found = sum("site = X" in reported(make_split(1000 + seed, planted_drop=0.20)) for seed in range(100))
    assert found >= 80


def test_benjamini_hochberg_matches_statsmodels_definition():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    # by hand: sorted 0.005, 0.01, 0.03, 0.04, 0.5 -> x5/rank -> 0.025, 0.025, 0.05, 0.05, 0.5
    assert np.allclose(benjamini_hochberg(p), [0.025, 0.05, 0.05, 0.025, 0.5])
