"""Issue 8: near copies of image rows (8x8 pixels plus Gaussian noise of 2% of the pixel
range) are found, on pixel-like and on mixed tabular data, and clean splits stay silent."""
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import nndoctor
from nndoctor.data.measures.near_duplicates import feature_scale

RULE = "split-overlap-near"


def near(train, test, label):
    report = nndoctor.audit(train, test=test, label=label, select=[RULE])
    assert RULE in report.checks_run
    return [f for f in report.findings if f.rule == RULE]


def digits_split(seed=0):
    frame = load_digits(as_frame=True).frame
    return train_test_split(frame, test_size=0.25, random_state=seed, stratify=frame["target"])


def noisy_copies(rows, columns, sigma, rng, clip=None):
    copies = rows.copy()
    values = copies[columns].to_numpy(dtype=float) + rng.normal(scale=sigma, size=(len(rows), len(columns)))
    copies[columns] = np.clip(values, *clip) if clip else values
    return copies


@pytest.mark.parametrize("clip", [None, (0, 16)], ids=["float-noise", "clipped-to-pixel-range"])
def test_noisy_copies_of_digit_images_in_test_are_found(clip):
    train, test = digits_split()
    pixels = [c for c in train.columns if c != "target"]
    rng = np.random.default_rng(0)
    copies = noisy_copies(train.iloc[:40], pixels, 0.02 * 16, rng, clip)
    [finding] = near(train, pd.concat([test.iloc[40:], copies]), "target")
    assert finding.evidence["near_rows"] == 40
    assert set(finding.evidence["nearest_train_rows"]) <= set(train.index[:40])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_digits_splits_are_silent(seed):
    train, test = digits_split(seed)
    assert near(train, test, "target") == []


def clinic(n, rng):
    """Mixed tabular rows: integers, a skewed amount, a near-constant reading, a rare flag, a category."""
    return pd.DataFrame({
        "age": rng.integers(18, 90, n),
        "income": np.round(rng.lognormal(10, 0.8, n), 2),
        "systolic": rng.normal(125, 15, n),
        "bmi": rng.normal(26, 4, n),
        "creatinine": rng.gamma(4, 0.25, n),
        "trace_marker": np.where(rng.random(n) < 0.01, rng.uniform(0, 10, n), 0.0),
        "rare_flag": (rng.random(n) < 0.02).astype(int),
        "ward": rng.choice(list("ABCD"), n),
        "y": rng.integers(0, 2, n),
    })


def test_noisy_copies_in_mixed_tabular_data_are_found_and_a_clean_split_is_silent():
    rng = np.random.default_rng(3)
    frame = clinic(3000, rng)
    train, test = train_test_split(frame, test_size=0.25, random_state=0)
    assert near(train, test, "y") == []
    continuous = ["income", "systolic", "bmi", "creatinine", "trace_marker"]
    copies = train.iloc[:30].copy()
    spread = (train[continuous].max() - train[continuous].min()).to_numpy()
    copies[continuous] = copies[continuous].to_numpy() + rng.normal(size=(30, 5)) * 0.002 * spread
    [finding] = near(train, pd.concat([test.iloc[30:], copies]), "y")
    assert 30 <= finding.evidence["near_rows"] <= 31  # the copies (and at most one natural close pair)


def test_scaling_pools_pixel_columns_and_floors_tabular_ones():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 17, size=(500, 16)).astype(float)
    pixels[:, 0] = np.where(rng.random(500) < 0.01, 16.0, 0.0)  # a near-constant border pixel
    scale = feature_scale(pixels)
    assert np.allclose(scale, scale[0]) and scale[0] == pytest.approx(pixels.std())
    flag = np.zeros(2000)
    flag[:4] = 10.0  # 0.2% of the rows: std 0.45
    tabular = np.column_stack([rng.normal(0, 1000, 2000), rng.normal(0, 1, 2000), flag])
    scale = feature_scale(tabular)
    assert scale[0] == pytest.approx(tabular[:, 0].std()) and scale[1] == pytest.approx(tabular[:, 1].std())
    assert scale[2] == pytest.approx(1.0)  # a tenth of its range, not its tiny std
