"""Rows shared exactly between splits, found by hashing each row's content (000 §2.1).

Near copies are measured in nndoctor.data.measures.near_duplicates.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nndoctor.core.rule import Measurements
from nndoctor.data.rows import expected_coincidences, log10_collision_probability, row_hashes
from nndoctor.data.view import AuditData, AuditOptions, Split

MEASUREMENTS = ("split_overlap_exact",)
ONLY_TRAIN = "only a train split was given; give --val/--test to check overlap between splits"


def measure(data: AuditData, m: Measurements, options: AuditOptions) -> None:
    if not data.others:
        m.mark_unavailable("split_overlap_exact", ONLY_TRAIN)
        return
    m["split_overlap_exact"] = [exact_overlap(data, a, b, options) for a, b in split_pairs(data)]


def split_pairs(data: AuditData) -> list[tuple[Split, Split]]:
    splits = list(data.splits.values())
    return [(splits[i], splits[j]) for i in range(len(splits)) for j in range(i + 1, len(splits))]


def exact_overlap(data: AuditData, a: Split, b: Split, options: AuditOptions) -> dict[str, Any]:
    """Rows of `b` identical to a row of `a` (cached: the near-duplicate measure reuses it)."""
    key = ("exact_overlap", a.name, b.name)
    if key not in data.cache:
        data.cache[key] = _exact_uncached(data, a, b, options)
    return data.cache[key]


def _exact_uncached(data: AuditData, a: Split, b: Split, options: AuditOptions) -> dict[str, Any]:
    import pandas as pd

    hashes_a, hashes_b = row_hashes(data, a), row_hashes(data, b)
    first_in_a = pd.Series(np.arange(len(hashes_a)), index=hashes_a)
    first_in_a = first_in_a[~first_in_a.index.duplicated()]
    shared = pd.Series(hashes_b).isin(first_in_a.index).to_numpy()
    positions_b = np.flatnonzero(shared)
    positions_a = first_in_a.loc[hashes_b[positions_b]].to_numpy() if len(positions_b) else np.array([], int)
    same_label = None
    if len(positions_b) and a.labels is not None and b.labels is not None:
        same_label = float(np.mean(a.labels.to_numpy()[positions_a] == b.labels.to_numpy()[positions_b]))
    listed = options.max_listed_rows
    log10_q = log10_collision_probability(data, options.seed)
    return {
        "a": a.name, "b": b.name, "n_a": len(a), "n_b": len(b),
        "overlap_rows": int(len(positions_b)),
        "expected_by_chance": min(float(len(b)), expected_coincidences(log10_q, float(len(a)) * len(b))),
        "same_label_fraction": same_label,
        "rows_b": b.row_ids[positions_b[:listed]].tolist(),
        "rows_a": a.row_ids[positions_a[:listed]].tolist(),
        "exact_mask_b": shared,
    }


