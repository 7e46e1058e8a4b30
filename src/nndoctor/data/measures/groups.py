"""Group ids (patient, photo, user, recording) shared between splits (004: parts of one photo)."""
from __future__ import annotations

from typing import Any

import numpy as np

from nndoctor.core.rule import Measurements
from nndoctor.data.view import AuditData, AuditOptions, Split

MEASUREMENTS = ("group_leakage",)


def measure(data: AuditData, m: Measurements, options: AuditOptions) -> None:
    if data.train.groups is None:
        m.mark_unavailable("group_leakage", "no group column given (--group patient_id, photo_id, ...)")
        return
    if not data.others:
        m.mark_unavailable("group_leakage", "only a train split was given; give --val/--test")
        return
    splits = list(data.splits.values())
    pairs = [(splits[i], splits[j]) for i in range(len(splits)) for j in range(i + 1, len(splits))]
    m["group_leakage"] = {
        "column": str(data.train.groups.name) if data.train.groups.name is not None else "group",
        "groups_per_split": {s.name: int(s.groups.nunique(dropna=True)) for s in splits},
        "pairs": [_shared(a, b, options) for a, b in pairs],
    }


def _comparable(a: Any, b: Any) -> tuple[Any, Any]:
    """Compare as text only when the dtypes differ (ids read as int in one file, str in another)."""
    if a.dtype == b.dtype:
        return a, b
    return a.astype(str), b.astype(str)


def _shared(a: Split, b: Split, options: AuditOptions) -> dict[str, Any]:
    groups_a, groups_b = _comparable(a.groups.dropna(), b.groups.dropna())
    unique_a = groups_a.unique()
    in_b = groups_b.isin(unique_a).to_numpy()
    shared_values = np.sort(groups_b[in_b].unique())
    in_a = groups_a.isin(shared_values).to_numpy()
    listed = options.max_listed_rows
    return {
        "a": a.name, "b": b.name,
        "shared_groups": int(len(shared_values)),
        "groups_b": int(groups_b.nunique()),
        "rows_b": int(in_b.sum()), "n_b": len(b),
        "rows_a": int(in_a.sum()), "n_a": len(a),
        "examples": [str(value) if not isinstance(value, (int, float, np.number)) else value
                     for value in shared_values[:listed].tolist()],
        "example_rows_b": np.asarray(groups_b.index[in_b][:listed]).tolist(),
    }
