import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, train_test_split
from sklearn.preprocessing import StandardScaler

from nndoctor.core.rule import Measurements
from nndoctor.data.load import load_audit_data
from nndoctor.data.measures import shift
from nndoctor.data.view import AuditOptions
from nndoctor.rules.data.source_predictable import SourcePredictable
from nndoctor.rules.data.split_shift import SplitShift

FEATURES = [f"f{i}" for i in range(6)]


def table(n, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=FEATURES)
    frame["y"] = (frame["f0"] + 0.2 * rng.normal(size=n) > 0).astype(int)
    return frame


def measured(splits, options=None, **columns):
    data = load_audit_data(splits, label="y", **columns)
    m = Measurements()
    shift.measure(data, m, options or AuditOptions(cv_folds=3))
    return m, data


def test_random_split_is_silent():
    train, test = train_test_split(table(3000), test_size=0.3, random_state=0)
    m, _ = measured({"train": train, "test": test})
    result = m["split_shift"][0]
    assert abs(result["auc"] - 0.5) < 0.06
    assert SplitShift().check(m) == []


def test_standardisation_fitted_on_train_is_silent():
    frame = table(3000)
    frame[FEATURES] = frame[FEATURES] * [1, 10, 100, 0.1, 5, 50] + 7
    train, test = train_test_split(frame, test_size=0.3, random_state=1)
    scaler = StandardScaler().fit(train[FEATURES])
    train, test = train.copy(), test.copy()
    train[FEATURES] = scaler.transform(train[FEATURES])
    test[FEATURES] = scaler.transform(test[FEATURES])
    m, _ = measured({"train": train, "val": test})
    assert SplitShift().check(m) == []


def test_planted_shift_fires_and_names_the_feature():
    train, test = train_test_split(table(3000), test_size=0.3, random_state=0)
    test = test.copy()
    test["f3"] += 1.0
    m, _ = measured({"train": train, "test": test})
    finding = SplitShift().check(m)[0]
    assert finding.evidence["auc"] > 0.7
    assert finding.evidence["top_features"][0]["feature"] == "f3"
    assert "'f3'" in finding.message


def test_grouped_split_with_distinct_groups_is_silent_when_group_is_given():
    rng = np.random.default_rng(0)
    patients = np.repeat(np.arange(120), 25)
    signature = rng.normal(scale=2.0, size=(120, len(FEATURES)))  # each patient is a tight cluster
    frame = pd.DataFrame(signature[patients] + 0.2 * rng.normal(size=(len(patients), len(FEATURES))),
                         columns=FEATURES)
    frame["y"] = (frame["f0"] > 0).astype(int)
    frame["patient"] = patients
    train_rows, test_rows = next(GroupShuffleSplit(test_size=0.25, random_state=0).split(frame, groups=patients))
    splits = {"train": frame.iloc[train_rows], "test": frame.iloc[test_rows]}
    m, _ = measured(splits, group="patient")
    assert m["split_shift"][0]["grouped_cv"] is True
    assert SplitShift().check(m) == []


def test_identifier_and_category_columns_do_not_fake_a_shift():
    frame = table(3000)
    frame["record_id"] = [f"rec-{i:06d}" for i in range(len(frame))]  # unique per row
    frame["site"] = np.random.default_rng(0).choice(["a", "b", "c"], len(frame))
    train, test = train_test_split(frame, test_size=0.3, random_state=0)
    m, _ = measured({"train": train, "test": test})
    assert SplitShift().check(m) == []


def test_sample_cap_is_applied_and_noted():
    train, test = train_test_split(table(4000), test_size=0.5, random_state=0)
    m, data = measured({"train": train, "test": test}, options=AuditOptions(cv_folds=3, shift_sample_cap=1000))
    result = m["split_shift"][0]
    assert result["n_reference_rows"] == 500 and result["n_other_rows"] == 500 and result["sampled"]
    assert "cap 1000: shift_sample_cap" in data.notes["split_shift"]["test"]


def lab_table(n, batch_offset, label_mix=False, seed=0):
    rng = np.random.default_rng(seed)
    frame = table(n, seed)
    frame["lab"] = rng.choice(["lab_a", "lab_b", "lab_c"], n)
    frame["f2"] += frame["lab"].map({"lab_a": 0.0, "lab_b": batch_offset, "lab_c": -batch_offset})
    if label_mix:  # lab_a mostly sends positives: the source is predictable through the label only
        positives = frame["y"] == 1
        frame.loc[positives, "lab"] = np.where(rng.random(positives.sum()) < 0.8, "lab_a", "lab_b")
        frame.loc[~positives, "lab"] = np.where(rng.random((~positives).sum()) < 0.8, "lab_c", "lab_b")
    return frame


def test_batch_effect_is_predictable():
    frame = lab_table(3000, batch_offset=2.0)
    m, _ = measured({"train": frame.iloc[:2400], "test": frame.iloc[2400:]}, source="lab")
    finding = SourcePredictable().check(m)[0]
    assert finding.evidence["auc"] > 0.85 and finding.evidence["n_sources"] == 3
    assert finding.evidence["top_features"][0]["feature"] == "f2"


def test_no_batch_effect_is_silent():
    frame = lab_table(3000, batch_offset=0.0)
    m, _ = measured({"train": frame}, source="lab")
    assert abs(m["source_predictability"]["auc"] - 0.5) < 0.06
    assert SourcePredictable().check(m) == []


def test_source_predictable_only_through_its_class_mix_is_silent():
    frame = lab_table(3000, batch_offset=0.0, label_mix=True)
    m, _ = measured({"train": frame}, source="lab")
    result = m["source_predictability"]
    assert result["label_only_auc"] > 0.7
    assert SourcePredictable().check(m) == []


def test_unavailable_reasons():
    m, _ = measured({"train": table(200)})
    assert "only a train split" in m.unavailable["split_shift"]
    assert "no source column" in m.unavailable["source_predictability"]


def test_encoding_handles_mixed_column_types():
    rng = np.random.default_rng(0)
    n = 400
    frame = table(n)
    frame["when"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    frame.loc[::50, "when"] = pd.NaT
    frame["zoned"] = frame["when"].dt.tz_localize("UTC")
    frame["waited"] = pd.to_timedelta(rng.integers(0, 100, n), unit="min")
    frame["flag"] = rng.random(n) < 0.5
    frame["empty"] = np.nan
    frame["wild"] = np.where(rng.random(n) < 0.05, np.inf, rng.normal(size=n))
    frame["kind"] = pd.Categorical(rng.choice(["x", "y", None], n))
    m, _ = measured({"train": frame.iloc[:300], "test": frame.iloc[300:]})
    assert SplitShift().check(m) == []


def test_tiny_evaluation_split_is_skipped_with_reason():
    frame = table(300)
    m, data = measured({"train": frame.iloc[:290], "test": frame.iloc[290:]})
    assert "fewer than 20 rows" in m.unavailable["split_shift"]


def test_validation_and_test_that_differ_are_compared_too():
    frame = table(4000)
    train, val, test = frame.iloc[:2000], frame.iloc[2000:3000], frame.iloc[3000:].copy()
    test["f4"] = test["f4"] * 3.0  # test differs from val (and from train)
    m, _ = measured({"train": train, "val": val, "test": test})
    pairs = [(r["reference"], r["split"]) for r in m["split_shift"]]
    assert pairs == [("train", "val"), ("train", "test"), ("val", "test")]
    fired = {(f.evidence["reference"], f.evidence["split"]) for f in SplitShift().check(m)}
    assert fired == {("train", "test"), ("val", "test")}
    assert "tells val from test" in SplitShift().check(m)[-1].message


def test_model_sample_cap_bounds_the_shift_sample():
    train, test = train_test_split(table(4000), test_size=0.5, random_state=0)
    m, data = measured({"train": train, "test": test}, options=AuditOptions(cv_folds=3, model_sample_cap=800))
    assert m["split_shift"][0]["sample_cap"] == 800
    assert m["split_shift"][0]["n_reference_rows"] + m["split_shift"][0]["n_other_rows"] == 800


def test_embeddings_stand_in_when_there_are_no_feature_columns():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"y": rng.integers(0, 2, 1200)})
    narrow = rng.normal(size=(1200, 32)).astype(np.float32)
    narrow[1000:, 5] += 1.5
    wide = (rng.normal(size=(1200, 300)) * np.linspace(3.0, 0.1, 300)).astype(np.float32)
    wide[1000:, 0] += 4.0  # shift along the direction with the most variance
    for embeddings, telling in [(narrow, "embedding_5"), (wide, "embedding_pc1")]:
        data = load_audit_data({"train": frame.iloc[:1000], "test": frame.iloc[1000:]}, label="y",
                               embeddings={"train": embeddings[:1000], "test": embeddings[1000:]})
        m = Measurements()
        shift.measure(data, m, AuditOptions(cv_folds=3))
        finding = SplitShift().check(m)[0]
        assert finding.evidence["top_features"][0]["feature"] == telling


def test_wide_tables_keep_the_most_separating_columns():
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(rng.normal(size=(1500, 600)), columns=[f"w{i}" for i in range(600)])
    wide["y"] = rng.integers(0, 2, 1500)
    wide.loc[1200:, "w477"] += 1.5
    m, _ = measured({"train": wide.iloc[:1200], "test": wide.iloc[1200:]})
    result = m["split_shift"][0]
    assert result["features_used"] == shift.MAX_MODEL_FEATURES
    assert SplitShift().check(m)[0].evidence["top_features"][0]["feature"] == "w477"
