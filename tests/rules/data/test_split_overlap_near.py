import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, train_test_split

import nndoctor

RULE = "split-overlap-near"


def findings(report):
    return [f for f in report.findings if f.rule == RULE]


def photo_crops(photos=400, crops=5, dims=32, seed=0):
    """Embeddings of several crops per photo: crops of one photo sit close together."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(photos, dims))
    embeddings = np.repeat(centres, crops, axis=0) + rng.normal(scale=0.05, size=(photos * crops, dims))
    frame = pd.DataFrame({"photo": np.repeat(np.arange(photos), crops), "y": np.repeat(rng.integers(0, 2, photos), crops)})
    return frame, embeddings.astype(np.float32)


def test_crops_of_one_photo_in_both_splits_are_found_on_embeddings():
    frame, embeddings = photo_crops()
    train_rows, test_rows = train_test_split(np.arange(len(frame)), test_size=0.2, random_state=0)
    report = nndoctor.audit(frame.iloc[train_rows], test=frame.iloc[test_rows], label="y", select=[RULE],
                            embeddings={"train": embeddings[train_rows], "test": embeddings[test_rows]})
    [finding] = findings(report)
    assert finding.severity == "warning"
    assert finding.evidence["method"] == "embeddings"
    assert finding.evidence["fraction"] > 0.9
    test_photo = frame["photo"].loc[finding.evidence["test_rows"]].to_numpy()
    train_photo = frame["photo"].loc[finding.evidence["nearest_train_rows"]].to_numpy()
    assert (test_photo == train_photo).all()  # the nearest train row is a crop of the same photo


def test_grouped_split_of_the_same_crops_is_silent():
    frame, embeddings = photo_crops()
    train_rows, test_rows = next(GroupShuffleSplit(test_size=0.2, random_state=0).split(frame, groups=frame["photo"]))
    report = nndoctor.audit(frame.iloc[train_rows], test=frame.iloc[test_rows], label="y", select=[RULE],
                            embeddings={"train": embeddings[train_rows], "test": embeddings[test_rows]})
    assert findings(report) == [] and RULE in report.checks_run


def test_jittered_copies_in_numeric_features_are_found():
    rng = np.random.default_rng(1)
    train = pd.DataFrame(rng.normal(size=(2000, 6)), columns=list("abcdef")).assign(y=rng.integers(0, 2, 2000))
    test = pd.DataFrame(rng.normal(size=(500, 6)), columns=list("abcdef")).assign(y=rng.integers(0, 2, 500))
    test.iloc[:40, :6] = train.iloc[:40, :6].to_numpy() + rng.normal(scale=0.01, size=(40, 6))
    [finding] = findings(nndoctor.audit(train, test=test, label="y", select=[RULE]))
    assert finding.evidence["method"] == "numeric features"
    assert finding.evidence["near_rows"] == 40 and finding.where == list(range(20))


def test_dense_low_dimensional_data_is_silent():
    rng = np.random.default_rng(2)
    data = pd.DataFrame(rng.normal(size=(5000, 2)), columns=["x1", "x2"]).assign(y=rng.integers(0, 2, 5000))
    train, test = train_test_split(data, test_size=0.2, random_state=0)
    assert findings(nndoctor.audit(train, test=test, label="y", select=[RULE])) == []


def test_lightly_edited_texts_are_found_and_distinct_texts_are_silent():
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(3000)]

    def sentence():
        return " ".join(rng.choice(words, 25))

    train = pd.DataFrame({"text": [sentence() for _ in range(600)], "y": rng.integers(0, 2, 600)})
    test = pd.DataFrame({"text": [sentence() for _ in range(200)], "y": rng.integers(0, 2, 200)})
    clean = nndoctor.audit(train, test=test, label="y", text="text", select=[RULE])
    assert findings(clean) == []
    edited = [t + " extra" for t in train["text"].iloc[:30]]
    test.loc[:29, "text"] = edited
    [finding] = findings(nndoctor.audit(train, test=test, label="y", text="text", select=[RULE]))
    assert "MinHash" in finding.evidence["method"]
    assert finding.evidence["near_rows"] == 30
    assert finding.evidence["nearest_train_rows"] == list(range(10))


def test_distance_threshold():
    rng = np.random.default_rng(4)
    train = pd.DataFrame(rng.normal(size=(2000, 8)), columns=list("abcdefgh")).assign(y=0)
    test = pd.DataFrame(rng.normal(size=(400, 8)), columns=list("abcdefgh")).assign(y=0)
    test.iloc[:20, :8] = train.iloc[:20, :8].to_numpy() + rng.normal(scale=0.05, size=(20, 8))
    assert len(findings(nndoctor.audit(train, test=test, label="y", select=[RULE]))) == 1
    tight = nndoctor.audit(train, test=test, label="y", select=[RULE], thresholds={RULE: {"distance_ratio_max": 0.01}})
    assert findings(tight) == []
