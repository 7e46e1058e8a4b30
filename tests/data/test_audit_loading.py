"""Loaders: every input kind becomes row-aligned splits; bad input is one clear UsageError."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

import nndoctor
from nndoctor.core import UsageError
from nndoctor.data.load import infer_task, load_audit_data
from nndoctor.data.view import AuditOptions


def table(n=120, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "pid": rng.integers(0, 30, n),
                         "note": ["some words here"] * n, "y": rng.integers(0, 2, n)})


def test_dataframe_roles_are_separated():
    data = load_audit_data({"train": table(), "test": table(seed=1)}, label="y", group="pid", text="note")
    train = data.train
    assert list(train.features.columns) == ["a", "b"]
    assert train.labels.name == "y" and train.groups.name == "pid"
    assert list(train.text.columns) == ["note"]
    assert [s.name for s in data.others] == ["test"]
    assert data.task == "classification" and data.sizes == {"train": 120, "test": 120}


def test_csv_and_parquet_paths(tmp_path):
    table().to_csv(tmp_path / "train.csv", index=False)
    table(seed=1).to_parquet(tmp_path / "test.parquet")
    data = load_audit_data({"train": str(tmp_path / "train.csv"), "test": tmp_path / "test.parquet"}, label="y")
    assert data.sizes == {"train": 120, "test": 120}
    assert data.train.row_ids[:3].tolist() == [0, 1, 2]


def test_numpy_and_torch_pairs_and_images_are_flattened():
    x = torch.randn(40, 3, 4, 4)
    data = load_audit_data({"train": (x, torch.randint(0, 3, (40,))), "val": (np.zeros((10, 3, 4, 4)), np.arange(10) % 3)})
    assert data.train.features.shape == (40, 48)
    assert data.label == "label" and data.train.labels.name == "label"
    assert "flattened" in data.notes["flattened_inputs"]["train"]


def test_torch_dataset_is_iterated_up_to_the_cap():
    dataset = TensorDataset(torch.randn(500, 6), torch.randint(0, 2, (500,)))
    data = load_audit_data({"train": dataset}, options=AuditOptions(dataset_sample_cap=200))
    assert len(data.train) == 200
    assert "200 of 500" in data.notes["dataset_sample_cap"]["train"]


def test_dict_items_from_a_custom_dataset():
    class Records(Dataset):
        def __len__(self):
            return 30

        def __getitem__(self, index):
            return {"image": torch.full((2, 2), float(index)), "target": index % 2}

    data = load_audit_data({"train": Records()})
    assert data.train.features.shape == (30, 4) and data.train.labels.tolist()[:4] == [0, 1, 0, 1]


def test_mismatched_columns_name_the_difference():
    test = table(seed=1).rename(columns={"b": "B"})
    with pytest.raises(UsageError, match=r"test split's columns differ from train's: missing b; extra B"):
        nndoctor.audit(table(), test=test, label="y")


def test_missing_label_column_lists_the_columns():
    with pytest.raises(UsageError, match=r"label column 'target' is not in the train split; its columns are: a, b"):
        nndoctor.audit(table(), label="target")


def test_empty_split_is_an_error():
    with pytest.raises(UsageError, match="the val split is empty"):
        nndoctor.audit(table(), val=table().iloc[:0], label="y")


def test_all_missing_labels_is_an_error_and_some_missing_is_a_finding():
    frame = table().astype({"y": float})
    frame.loc[:4, "y"] = np.nan
    report = nndoctor.audit(frame, label="y", select=["non-finite-data"])
    assert [f.rule for f in report.findings] == ["non-finite-data"]
    frame["y"] = np.nan
    with pytest.raises(UsageError, match="every label in the train split is missing"):
        nndoctor.audit(frame, label="y")


def test_bad_inputs_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        nndoctor.audit(str(tmp_path / "missing.csv"), label="y")
    (tmp_path / "data.json").write_text("{}")
    with pytest.raises(UsageError, match="not a .csv"):
        nndoctor.audit(tmp_path / "data.json", label="y")
    with pytest.raises(UsageError, match="cannot audit a set"):
        nndoctor.audit({1, 2, 3})
    with pytest.raises(UsageError, match="unknown audit option"):
        nndoctor.audit(table(), label="y", sample_cap=3)
    with pytest.raises(UsageError, match="embeddings have 5 rows"):
        nndoctor.audit(table(), label="y", embeddings=np.zeros((5, 4)))


def test_max_rows_samples_each_split_and_says_so():
    data = load_audit_data({"train": table(), "test": table(seed=1)}, label="y", options=AuditOptions(max_rows=50))
    assert data.sizes == {"train": 50, "test": 50}
    assert data.notes["max_rows"]["train"] == "sampled 50 of 120 rows"


@pytest.mark.parametrize(("values", "task"), [
    (pd.Series(["a", "b"]), "classification"), (pd.Series([0, 1, 2] * 5), "classification"),
    (pd.Series([0.0, 1.0] * 5), "classification"), (pd.Series(np.linspace(0, 1, 20)), "regression"),
    (pd.Series(np.arange(500)), "regression"),
])
def test_task_inference(values, task):
    assert infer_task(values) == task


def test_id_like_columns_are_identifiers_not_unique_measurements():
    from nndoctor.data.rows import id_like_columns

    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame({
        "record_id": rng.permutation(10**6)[:n],  # random unique ids, named as such
        "row": np.arange(n) + 1000,  # consecutive numbers
        "file": [f"img_{i:05d}.png" for i in range(n)],
        "income": rng.permutation(np.arange(20_000, 200_000, 7))[:n],  # unique integers, a measurement
        "sentence": [f"patient {i} was admitted with mild symptoms" for i in range(n)],
        "height": rng.normal(170, 10, n),
    })
    assert id_like_columns(frame) == ["record_id", "row", "file"]


def test_dataframe_and_series_pairs_keep_names_and_pair_by_position():
    frame = table()
    x, y = frame[["a", "b"]], frame["y"].sample(frac=1.0, random_state=0)  # shuffled index, same length
    data = load_audit_data({"train": (x, y)}, label="outcome")
    assert list(data.train.features.columns) == ["a", "b"]
    assert data.train.labels.tolist() == y.tolist()
    report = nndoctor.audit((x, y.iloc[:100]), select=["length-mismatch"])
    assert [f.evidence["labels"] for f in report.findings] == [100]


def test_the_callers_dataframe_is_not_modified():
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 3)))  # integer column names
    frame["y"] = np.arange(50) % 2
    before = list(frame.columns)
    data = load_audit_data({"train": frame}, label="y")
    assert list(frame.columns) == before
    assert list(data.train.features.columns) == ["0", "1", "2"]
