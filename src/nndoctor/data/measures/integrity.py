"""Integrity of each split on its own: inputs vs labels length, NaN/inf values, constant
columns, duplicated rows and identical inputs with different labels (000 §2.2)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from nndoctor.core.rule import Measurements
from nndoctor.data.rows import expected_coincidences, log10_collision_probability, row_hashes
from nndoctor.data.view import AuditData, AuditOptions, Split

MEASUREMENTS = ("length_mismatch", "non_finite_data", "constant_features", "duplicate_samples",
                "conflicting_labels")


def measure(data: AuditData, m: Measurements, options: AuditOptions) -> None:
    m["length_mismatch"] = dict(data.notes.get("length_mismatch", {}))
    m["non_finite_data"] = _non_finite(data, options)
    m["constant_features"] = _constant_features(data)
    log10_q = log10_collision_probability(data, options.seed)
    duplicates, conflicts = {}, {}
    for split in data.splits.values():
        duplicates[split.name], conflicts[split.name] = _repeats(data, split, log10_q, options)
    m["duplicate_samples"] = duplicates
    if data.train.labels is None:
        m.mark_unavailable("conflicting_labels", "no label column given (--label)")
    elif data.task == "regression":
        m.mark_unavailable(
            "conflicting_labels",
            "regression labels: replicates of one input with different measured values are expected",
        )
    else:
        m["conflicting_labels"] = conflicts


def _non_finite(data: AuditData, options: AuditOptions) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for split in data.splits.values():
        numeric = split.features.select_dtypes(include=["number", "bool"])
        values = numeric.to_numpy(dtype=np.float64, na_value=np.nan) if numeric.shape[1] else np.zeros((len(split), 0))
        nan = np.isnan(values)
        inf = np.isinf(values)
        bad_rows = (nan | inf).any(axis=1)
        columns = {}
        for index in np.flatnonzero((nan | inf).any(axis=0)):
            columns[str(numeric.columns[index])] = {"nan": int(nan[:, index].sum()), "inf": int(inf[:, index].sum())}
        if split.embeddings is not None:
            embedding_bad = ~np.isfinite(split.embeddings).all(axis=1)
            if embedding_bad.any():
                columns["<embeddings>"] = {"rows": int(embedding_bad.sum())}
                bad_rows = bad_rows | embedding_bad
        missing_labels = data.notes.get("missing_labels", {}).get(split.name)
        if columns or missing_labels:
            result[split.name] = {
                "n_rows": len(split) + (missing_labels["count"] if missing_labels else 0),
                "rows_with_non_finite_features": int(bad_rows.sum()),
                "columns": columns,
                "rows": split.row_ids[bad_rows][: options.max_listed_rows].tolist(),
                "missing_labels": missing_labels["count"] if missing_labels else 0,
                "missing_label_rows": (missing_labels["rows"][: options.max_listed_rows] if missing_labels else []),
            }
    return result


def _constant_features(data: AuditData) -> dict[str, Any]:
    columns = []
    train = data.train.features
    for column in train.columns:
        values = train[column]
        if values.nunique(dropna=False) > 1:
            continue
        value = values.iloc[0]
        varies_in = [s.name for s in data.others if s.features[column].nunique(dropna=False) > 1
                     or (len(s) and not _same(s.features[column].iloc[0], value))]
        columns.append({"column": str(column), "value": value if _plain_scalar(value) else str(value),
                        "varies_in": varies_in})
    return {"columns": columns, "n_features": int(train.shape[1]), "train_rows": len(train),
            "flattened_inputs": bool(data.notes.get("flattened_inputs"))}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _plain_scalar(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool, np.integer, np.floating, np.bool_))


def _repeats(data: AuditData, split: Split, log10_q: float,
             options: AuditOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """Rows whose content repeats within the split: same label (duplicates) or not (conflicts)."""
    import pandas as pd

    hashes = row_hashes(data, split)
    n = len(split)
    repeated = pd.Series(hashes).duplicated(keep=False).to_numpy()
    base = {"n_rows": n, "expected_by_chance": expected_coincidences(log10_q, n * (n - 1) / 2)}
    positions = np.flatnonzero(repeated)
    frame = pd.DataFrame({"hash": hashes[positions], "position": positions})
    has_labels = split.labels is not None
    frame["label"] = split.labels.to_numpy()[positions] if has_labels else 0
    by_hash = frame.groupby("hash", sort=False)
    sizes = by_hash["position"].transform("size").to_numpy()
    distinct_labels = by_hash["label"].transform("nunique").to_numpy() if len(frame) else sizes
    conflicting = distinct_labels > 1
    # A row is a duplicate when an earlier row has the same content and the same label.
    duplicate_rows = int(frame.duplicated(["hash", "label"]).sum())
    duplicate_groups = _examples(frame[~conflicting], split, options, with_labels=False)
    conflict_groups = _examples(frame[conflicting], split, options, with_labels=True)
    return (
        {**base, "duplicate_rows": duplicate_rows, "groups": duplicate_groups},
        {**base, "conflicting_rows": int(conflicting.sum()), "groups": conflict_groups},
    )


def _examples(frame: Any, split: Split, options: AuditOptions, *, with_labels: bool) -> list[Any]:
    """The first few groups of identical rows, as user-facing row ids (and their labels)."""
    examples: list[Any] = []
    first_hashes = frame["hash"].drop_duplicates().iloc[: options.max_listed_rows]
    for hash_value in first_hashes:
        group = frame[frame["hash"] == hash_value]
        rows = split.row_ids[group["position"].to_numpy()[:10]].tolist()
        examples.append({"rows": rows, "labels": group["label"].iloc[:10].tolist()} if with_labels else rows)
    return examples
