"""nndoctor.audit on nasty DataFrames (NaN, inf, empty, duplicate column names, mixed
dtypes, huge integers, unicode names): a Report or one clear UsageError line; never a
traceback and never an internal error (issue 8)."""
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nndoctor
from nndoctor.core.errors import UsageError

FUZZ = settings(max_examples=20, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
NAMES = st.sampled_from(["a", "b", "label", "y", "患者", "naïve col", "<script>", "", " ", "0", "a.b", "Ünï"])
KINDS = ("float", "nan_inf", "int", "huge_int", "bigint_object", "text", "mixed", "bool", "constant",
         "all_nan", "datetime", "category")


def column(kind, n, rng):
    if kind == "float":
        return rng.normal(size=n)
    if kind == "nan_inf":
        values = rng.normal(size=n)
        values[rng.random(n) < 0.3] = np.nan
        values[rng.random(n) < 0.1] = np.inf
        values[rng.random(n) < 0.1] = -np.inf
        return values
    if kind == "int":
        return rng.integers(0, 5, n)
    if kind == "huge_int":
        return rng.choice(np.array([np.iinfo(np.int64).max, np.iinfo(np.int64).min, 0], dtype=np.int64), n)
    if kind == "bigint_object":
        return np.array([10 ** 30 * int(v) for v in rng.integers(-3, 3, n)], dtype=object)
    if kind == "text":
        return rng.choice(["x", "y", "ü", "", "<b>"], n)
    if kind == "mixed":
        return np.array([1, "a", 2.5, None, "b"] * n, dtype=object)[:n]
    if kind == "bool":
        return rng.random(n) < 0.5
    if kind == "constant":
        return np.full(n, 7.0)
    if kind == "all_nan":
        return np.full(n, np.nan)
    if kind == "datetime":
        return pd.date_range("2020-01-01", periods=n, freq="h").to_numpy()
    return pd.Categorical(rng.choice(["p", "q"], n))


@st.composite
def frames(draw):
    n = draw(st.integers(0, 60))
    names = draw(st.lists(NAMES, min_size=1, max_size=5))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=len(names), max_size=len(names)))
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    frame = pd.DataFrame({i: column(kind, n, rng) for i, kind in enumerate(kinds)})
    frame.columns = names  # duplicates allowed on purpose
    return frame


@st.composite
def labelled_splits(draw):
    """Well-formed splits (unique names, a label column) with nasty contents, so the
    measures themselves are exercised, not only the input checks."""
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=5))
    label_kind = draw(st.sampled_from(["int", "text", "bool", "float", "nan_inf", "huge_int", "constant"]))
    names = [f"{draw(NAMES)}_{i}" for i in range(len(kinds))]
    seed = draw(st.integers(0, 1000))
    tables = []
    for n in (draw(st.integers(1, 200)), draw(st.integers(1, 80))):
        rng = np.random.default_rng(seed + n)
        frame = pd.DataFrame({name: column(kind, n, rng) for name, kind in zip(names, kinds)})
        frame["target"] = column(label_kind, n, rng)
        tables.append(frame)
    return tables


def audit_or_usage_error(*args, **kwargs):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = nndoctor.audit(*args, **kwargs)
    except UsageError as error:
        assert "\n" not in str(error), str(error)
        return None
    internal = [f.message for f in report.findings if f.rule == "internal-error"]
    assert internal == []
    report.to_json()
    return report


@FUZZ
@given(frames(), st.one_of(st.none(), NAMES))
def test_train_only(tmp_path, monkeypatch, frame, label):
    monkeypatch.chdir(tmp_path)
    audit_or_usage_error(frame, label=label)
    assert list(tmp_path.iterdir()) == []  # nothing written


@FUZZ
@given(frames(), frames(), st.one_of(st.none(), NAMES))
def test_two_splits(frame, other, label):
    audit_or_usage_error(frame, test=other, label=label)


@FUZZ
@given(frames(), st.sampled_from(["group", "source", "annotators", "text", "task", "max_rows", "embeddings"]),
       st.one_of(NAMES, st.integers(-3, 3), st.none(), st.lists(NAMES, max_size=3)))
def test_options_of_any_type(frame, option, value):
    audit_or_usage_error(frame, label=frame.columns[0], **{option: value})


@FUZZ
@given(labelled_splits())
def test_labelled_splits_with_nasty_contents(splits):
    train, test = splits
    audit_or_usage_error(train, test=test, label="target")


@pytest.mark.parametrize("train", [None, 3, "no_such_file.csv", [1, 2, 3], {"a": [1]}, np.zeros((3, 2))])
def test_not_a_table(train, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as raised:
        nndoctor.audit(train, label="y")
    assert "\n" not in str(raised.value)
