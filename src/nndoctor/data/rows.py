"""Row-level helpers shared by the integrity and overlap measures: which columns make up a
sample's content, row hashes (cached per split), and how often identical rows would occur
by chance in this feature space."""
from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from nndoctor.data.view import AuditData, Split

# A string column whose values average longer than this, or contain spaces, is content
# (a sentence, a path with meaning), not an identifier.
ID_MAX_MEAN_LENGTH = 40
# Integer ids: named like one ("patient_id", "idx", "Unnamed: 0"), or a range of consecutive
# numbers with at most 10% gaps (row numbers, auto-increment keys).
ID_NAME = re.compile(r"(^|[_\s.-])(id|ids|uid|uuid|key|idx|index|no|num|number)$|^unnamed: ?0$", re.IGNORECASE)
CAMEL_CASE_ID = re.compile(r"[a-z](Id|ID|Key|No)$")
ID_RANGE_SLACK = 1.1
# Id detection needs enough rows for "unique per row" to mean something.
ID_MIN_ROWS = 20
# Rows used to estimate per-column collision probabilities (an unbiased estimate on a sample).
COLLISION_SAMPLE_ROWS = 200_000


def id_like_columns(features: Any) -> list[str]:
    """Columns with a different value in every row that look like identifiers: short strings
    without spaces, or integers that are named like an id or run as a near-contiguous range
    (1, 2, 3, … — row numbers). A unique integer such as an income is a measurement.

    Floats are never ids. Ids are left out of the row content, so the same sample stored
    under two ids still counts as a duplicate.
    """
    n = len(features)
    if n < ID_MIN_ROWS:
        return []
    ids = []
    for column in features.columns:
        values = features[column]
        kind = values.dtype.kind
        if kind not in "iuOU" and str(values.dtype) not in ("string", "category"):
            continue
        if values.nunique(dropna=False) != n:
            continue
        if kind in "OU" or str(values.dtype) in ("string", "category"):
            head = values.iloc[: min(n, 1000)].astype(str)
            if head.str.len().mean() > ID_MAX_MEAN_LENGTH or head.str.contains(" ", regex=False).mean() > 0.1:
                continue
        elif not (ID_NAME.search(str(column)) or CAMEL_CASE_ID.search(str(column)) or values.max() - values.min() + 1 <= ID_RANGE_SLACK * n):
            continue
        ids.append(str(column))
    return ids


def content_columns(data: AuditData) -> list[str]:
    """Feature columns that describe a sample (id-like columns of train excluded), cached."""
    if "content_columns" not in data.cache:
        excluded = set(id_like_columns(data.train.features))
        data.cache["id_like_columns"] = sorted(excluded)
        data.cache["content_columns"] = [c for c in data.train.features.columns if c not in excluded]
    return data.cache["content_columns"]


def content_frame(data: AuditData, split: Split) -> Any:
    """The columns hashed as a sample's content: features minus ids, plus any text columns."""
    import pandas as pd

    parts = [split.features[content_columns(data)]]
    if split.text is not None:
        parts.append(split.text)
    frame = pd.concat(parts, axis=1) if len(parts) > 1 else parts[0]
    return frame


def row_hashes(data: AuditData, split: Split) -> np.ndarray:
    """uint64 hash of each row's content (pandas' hash_pandas_object), cached per split."""
    key = ("row_hashes", split.name)
    if key not in data.cache:
        import pandas as pd

        frame = content_frame(data, split)
        if frame.shape[1] == 0:
            hashes = np.zeros(len(split), dtype=np.uint64)
        else:
            hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        if split.embeddings is not None:
            embedding_hash = pd.util.hash_array(
                np.ascontiguousarray(split.embeddings).view(np.dtype((np.void, split.embeddings.shape[1] * 4))).ravel()
            )
            hashes = hashes * np.uint64(1_000_003) ^ embedding_hash if frame.shape[1] else embedding_hash
        data.cache[key] = hashes
    return data.cache[key]


def log10_collision_probability(data: AuditData, seed: int = 0) -> float:
    """log10 of the chance that two random train rows have identical content by coincidence.

    Each column's collision probability is estimated without bias on a sample
    (sum c(c-1) / n(n-1) over value counts c) and the columns are treated as independent.
    A column of distinct floats gives 0, so any duplicate there is no coincidence; a few
    low-cardinality categorical columns give a high value, and their repeats are expected.
    """
    if "log10_collision" in data.cache:
        return data.cache["log10_collision"]
    frame = content_frame(data, data.train)
    if len(frame) > COLLISION_SAMPLE_ROWS:
        frame = frame.sample(COLLISION_SAMPLE_ROWS, random_state=seed)
    n = len(frame)
    total = 0.0
    if data.train.embeddings is not None or n < 2:
        total = -math.inf
    else:
        for column in frame.columns:
            counts = frame[column].value_counts(dropna=False).to_numpy().astype(np.float64)
            probability = float((counts * (counts - 1)).sum() / (n * (n - 1)))
            if probability <= 0:
                total = -math.inf
                break
            total += math.log10(probability)
    data.cache["log10_collision"] = total
    return total


def expected_coincidences(log10_q: float, pairs: float) -> float:
    """Expected number of identical pairs among `pairs` random pairs of rows."""
    if log10_q == -math.inf or pairs <= 0:
        return 0.0
    return float(min(10.0 ** min(log10_q + math.log10(pairs), 300.0), 1e300))
