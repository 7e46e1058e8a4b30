"""Near copies across splits: nearest neighbours with FAISS on embeddings (or on numeric
features scaled with train statistics, see `feature_scale`), MinHash LSH with datasketch on text columns
(000 §2.1; 004: parts of one photo in several splits).

Caps (AuditOptions): near_dup_index_cap rows of the indexed split, near_dup_query_cap rows
per queried split; above near_dup_exact_cap indexed rows an IVF index (approximate) is used.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from nndoctor.core.rule import Measurements
from nndoctor.data.extra import missing_reason
from nndoctor.data.measures.overlap import ONLY_TRAIN, exact_overlap, split_pairs
from nndoctor.data.rows import content_columns
from nndoctor.data.view import AuditData, AuditOptions, Split

MEASUREMENTS = ("split_overlap_near",)
# Fewer numeric columns than this make "close in feature space" meaningless without embeddings.
MIN_NUMERIC_COLUMNS = 2
# Columns count as pixel-like (one pooled scale) when there are at least this many and the
# median column spans at least this share of the value range of all of them together.
HOMOGENEOUS_MIN_COLUMNS = 8
HOMOGENEOUS_RANGE_SHARE = 0.5
# Tabular columns: the standard deviation, but at least this share of the column's range.
RANGE_FLOOR = 0.1
# Raw inputs wider than this are randomly projected to PROJECTED_DIMS (distances are kept
# within a few percent by Johnson-Lindenstrauss), so 3072-pixel images stay cheap.
PROJECTED_DIMS = 64
# The scale of "near": the distance to the 10th nearest train row — beyond the handful of
# siblings (crops of one photo) a row may have — so clusters of near copies inside train do
# not shrink the yardstick.
FAR_NEIGHBOUR = 10
# IVF index: about sqrt(n) lists, k-means trained on 32 rows per list for 10 iterations
# (cell quality barely matters: a near copy sits in its twin's cell or the next one), and
# 4 cells probed per query.
IVF_TRAINING_ROWS_PER_LIST = 32
IVF_TRAINING_ITERATIONS = 10
IVF_PROBES = 4
# Text: word 3-gram shingles (char 5-grams for texts under 3 words); LSH candidate threshold
# below the rule's default similarity, so the rule's threshold can be raised or lowered a bit.
LSH_THRESHOLD = 0.6


def measure(data: AuditData, m: Measurements, options: AuditOptions) -> None:
    if not data.others:
        m.mark_unavailable("split_overlap_near", ONLY_TRAIN)
        return
    pairs = split_pairs(data)
    near = (_near_vectors(data, pairs, options) or []) + _near_text(data, pairs, options)
    if not near:
        m.mark_unavailable("split_overlap_near", _near_unavailable_reason(data))
    else:
        m["split_overlap_near"] = near


def _near_unavailable_reason(data: AuditData) -> str:
    if missing_reason("faiss"):
        return str(missing_reason("faiss"))
    return ("no embeddings given and fewer than half of the features are numeric; pass embeddings "
            "(--embeddings) or text columns (--text) to look for near copies")


def _vectors(data: AuditData, split: Split, options: AuditOptions) -> np.ndarray | None:
    """Embeddings if given, else numeric content columns scaled with train statistics."""
    if data.train.embeddings is not None:
        return split.embeddings
    if "near_columns" not in data.cache:
        content = content_columns(data)
        train = data.train.features[content]
        numeric = [c for c in train.select_dtypes(include=["number", "bool"]).columns
                   if train[c].nunique(dropna=True) > 1]
        usable = len(numeric) >= MIN_NUMERIC_COLUMNS and len(numeric) * 2 >= len(content)
        values = _as_float(train[numeric]) if usable else None
        if values is not None:
            mean, std = np.nanmean(values, axis=0), feature_scale(values)
            projection = None
            if len(numeric) > options.near_dup_max_features:
                rng = np.random.default_rng(options.seed)
                projection = rng.normal(size=(len(numeric), PROJECTED_DIMS)) / math.sqrt(PROJECTED_DIMS)
            data.cache["near_columns"] = (numeric, mean, std, projection)
        else:
            data.cache["near_columns"] = None
    spec = data.cache["near_columns"]
    if spec is None:
        return None
    numeric, mean, std, projection = spec
    values = _as_float(split.features[numeric])
    values = np.nan_to_num((values - mean) / std, nan=0.0, posinf=0.0, neginf=0.0)
    if projection is not None:
        values = values @ projection
    return np.ascontiguousarray(values, dtype=np.float32)


def _as_float(frame: Any) -> np.ndarray:
    """Numbers as float64, NaN for anything that is not one (another split may hold text, or
    integers beyond float range, in a column that is numeric in train)."""
    import pandas as pd

    with np.errstate(over="ignore", invalid="ignore"):
        columns = [pd.to_numeric(frame.iloc[:, i], errors="coerce") for i in range(frame.shape[1])]
        values = np.column_stack([c.to_numpy(dtype=np.float64, na_value=np.nan) for c in columns]) \
            if columns else np.zeros((len(frame), 0))
    values[~np.isfinite(values)] = np.nan
    return values


def feature_scale(values: np.ndarray) -> np.ndarray:
    """Per-column divisors that keep a near copy near.

    Pixel-like columns (many columns sharing one value range, as 8x8 digits or flattened
    images) get one pooled scale: the raw geometry of an image is the right one, and per-
    column standardising would blow the noise on near-constant border pixels up 10-100x.
    Other (tabular) columns get their own standard deviation, floored at a tenth of their
    range, so a column that is almost constant cannot do the same."""
    with np.errstate(invalid="ignore"):
        std = np.nanstd(values, axis=0)
        spread = np.nanmax(values, axis=0) - np.nanmin(values, axis=0)
    finite = np.isfinite(spread)
    if values.shape[1] >= HOMOGENEOUS_MIN_COLUMNS and finite.all():
        overall = float(np.nanmax(values) - np.nanmin(values))
        if overall > 0 and float(np.median(spread)) >= HOMOGENEOUS_RANGE_SHARE * overall:
            pooled = float(np.nanstd(values))
            return np.full(values.shape[1], pooled if pooled > 0 else 1.0)
    scale = np.maximum(std, RANGE_FLOOR * np.where(finite, spread, 0.0))
    scale[~(scale > 0) | ~np.isfinite(scale)] = 1.0
    return scale


def _sample(n: int, cap: int, seed: int) -> np.ndarray:
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, cap, replace=False))


def _index(vectors: np.ndarray, options: AuditOptions) -> tuple[Any, bool]:
    import faiss

    n, dims = vectors.shape
    if n <= options.near_dup_exact_cap:
        index = faiss.IndexFlatL2(dims)
        index.add(vectors)
        return index, False
    lists = int(min(4096, max(64, math.sqrt(n))))
    kmeans = faiss.Kmeans(dims, lists, niter=IVF_TRAINING_ITERATIONS, seed=options.seed,
                          max_points_per_centroid=IVF_TRAINING_ROWS_PER_LIST, min_points_per_centroid=1)
    kmeans.train(vectors[_sample(n, IVF_TRAINING_ROWS_PER_LIST * lists, options.seed)])
    quantizer = faiss.IndexFlatL2(dims)
    quantizer.add(kmeans.centroids)
    index = faiss.IndexIVFFlat(quantizer, dims, lists)
    index.is_trained = True
    index.add(vectors)
    index.nprobe = IVF_PROBES
    return index, True


def _near_vectors(data: AuditData, pairs: list[tuple[Split, Split]], options: AuditOptions) -> list[dict] | None:
    if missing_reason("faiss"):
        return None
    train_vectors = _vectors(data, data.train, options)
    if train_vectors is None or len(train_vectors) < 3:
        return []
    method = "embeddings" if data.train.embeddings is not None else "numeric features"
    results = []
    indexes: dict[str, Any] = {}
    reference = None
    for a, b in pairs:
        vectors_a = train_vectors if a is data.train else _vectors(data, a, options)
        vectors_b = _vectors(data, b, options)
        if vectors_a is None or vectors_b is None:
            continue
        if a.name not in indexes:
            kept_a = _sample(len(vectors_a), options.near_dup_index_cap, options.seed)
            index, approximate = _index(vectors_a[kept_a], options)
            indexes[a.name] = (index, approximate, kept_a)
        index, approximate, kept_a = indexes[a.name]
        if reference is None:  # distances from train rows to their nearest other train rows
            reference = _reference_distances(index, vectors_a[kept_a], options)
            typical, dimension = _scale(reference)
        queried = _sample(len(vectors_b), options.near_dup_query_cap, options.seed)
        _note_sampling(data, a, b, len(kept_a), len(queried), approximate)
        distances, neighbours = index.search(vectors_b[queried], 1)
        distances = np.sqrt(np.maximum(distances[:, 0], 0.0))
        found = neighbours[:, 0] >= 0
        exact = exact_overlap(data, a, b, options)["exact_mask_b"][queried]
        results.append({
            "a": a.name, "b": b.name, "method": method, "approximate": approximate,
            "n_indexed": len(kept_a), "n_queried": len(queried), "n_b": len(b),
            "typical_distance": typical, "neighbour_rank": FAR_NEIGHBOUR, "dimension_estimate": dimension,
            "distance_ratio": np.where(found, distances / typical if typical > 0 else np.inf, np.inf),
            "baseline_ratio": reference[:, 0] / typical if typical > 0 else np.full(len(reference), np.inf),
            "exact": exact,
            "rows_b": b.row_ids[queried],
            "rows_a": a.row_ids[kept_a[np.where(found, neighbours[:, 0], 0)]],
        })
    return results


def _note_sampling(data: AuditData, a: Split, b: Split, indexed: int, queried: int, approximate: bool) -> None:
    """Say in the report when the near-duplicate search did not compare every row exactly."""
    parts = []
    if indexed < len(a):
        parts.append(f"indexed {indexed} of {len(a)} {a.name} rows (near_dup_index_cap)")
    if queried < len(b):
        parts.append(f"queried {queried} of {len(b)} {b.name} rows (near_dup_query_cap)")
    if approximate:
        parts.append(f"approximate IVF search, {IVF_PROBES} cells probed (above near_dup_exact_cap rows)")
    if parts:
        data.notes.setdefault("near_duplicate_search", {})[f"{b.name} vs {a.name}"] = "; ".join(parts)


def _reference_distances(index: Any, vectors: np.ndarray, options: AuditOptions) -> np.ndarray:
    """For a sample of train rows: distances to the 1st, FAR_NEIGHBOUR-th and 2·FAR_NEIGHBOUR-th
    nearest other train rows (the query itself excluded)."""
    sample = _sample(len(vectors), options.near_dup_reference_sample, options.seed + 1)
    wanted = 2 * FAR_NEIGHBOUR + 1
    distances, neighbours = index.search(vectors[sample], wanted)
    others = (neighbours != sample[:, None]) & (neighbours >= 0)
    result = np.full((len(sample), 3), np.inf)
    for row in range(len(sample)):
        kept = np.sqrt(np.maximum(distances[row][others[row]], 0.0))
        for column, rank in enumerate((1, FAR_NEIGHBOUR, 2 * FAR_NEIGHBOUR)):
            if len(kept) >= rank:
                result[row, column] = kept[rank - 1]
    return result


def _scale(reference: np.ndarray) -> tuple[float, float]:
    """Typical distance of a train row to its FAR_NEIGHBOUR-th neighbour, and the intrinsic
    dimension that the growth from the FAR_NEIGHBOUR-th to the 2·FAR_NEIGHBOUR-th neighbour implies
    (distances grow as rank^(1/D) in D-dimensional data; ln 2 / ln(d_2k / d_k))."""
    far, farther = reference[:, 1], reference[:, 2]
    usable = np.isfinite(far) & (far > 0)
    if not usable.any():
        return 0.0, math.inf
    typical = float(np.median(far[usable]))
    usable &= np.isfinite(farther)
    growth = float(np.median(farther[usable])) / typical if usable.any() else 1.0
    dimension = math.log(2) / math.log(growth) if growth > 1.0 else math.inf
    return typical, float(min(dimension, 1e6))


def _shingles(text: str) -> set[bytes]:
    words = str(text).lower().split()
    if len(words) >= 3:
        return {" ".join(words[i:i + 3]).encode() for i in range(len(words) - 2)}
    joined = " ".join(words)
    return {joined[i:i + 5].encode() for i in range(max(1, len(joined) - 4))}


def _near_text(data: AuditData, pairs: list[tuple[Split, Split]], options: AuditOptions) -> list[dict]:
    if data.train.text is None or missing_reason("datasketch"):
        return []
    from datasketch import MinHash, MinHashLSH

    results = []
    for column in data.train.text.columns:
        signatures: dict[str, tuple[np.ndarray, list]] = {}

        def signatures_of(split: Split) -> tuple[np.ndarray, list]:
            if split.name not in signatures:
                kept = _sample(len(split), options.text_sample_cap, options.seed)
                texts = split.text[column].iloc[kept].fillna("").astype(str).tolist()
                hashes = MinHash.bulk([_shingles(t) for t in texts], num_perm=options.minhash_permutations)
                signatures[split.name] = (kept, hashes)
            return signatures[split.name]

        for a, b in pairs:
            kept_a, hashes_a = signatures_of(a)
            kept_b, hashes_b = signatures_of(b)
            lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=options.minhash_permutations)
            for position, signature in enumerate(hashes_a):
                lsh.insert(position, signature, check_duplication=False)
            similarity, match = _best_matches(lsh, hashes_b, hashes_a)
            if a is data.train and "text_baseline" not in data.cache:
                reference = _sample(len(hashes_a), options.near_dup_reference_sample, options.seed + 1)
                data.cache["text_baseline"] = _best_matches(lsh, [hashes_a[i] for i in reference], hashes_a,
                                                            exclude=reference)[0]
            exact = exact_overlap(data, a, b, options)["exact_mask_b"][kept_b]
            if len(kept_a) < len(a) or len(kept_b) < len(b):
                data.notes.setdefault("text_near_duplicate_sample", {})[f"{b.name} vs {a.name}"] = (
                    f"MinHash of {len(kept_b)} of {len(b)} {b.name} and {len(kept_a)} of {len(a)} {a.name} "
                    "texts (text_sample_cap)")
            results.append({
                "a": a.name, "b": b.name, "method": f"text column '{column}' (MinHash)", "approximate": True,
                "n_indexed": len(kept_a), "n_queried": len(kept_b), "n_b": len(b),
                "similarity": similarity, "baseline_similarity": data.cache.get("text_baseline", np.zeros(0)),
                "exact": exact, "rows_b": b.row_ids[kept_b],
                "rows_a": a.row_ids[kept_a[np.maximum(match, 0)]],
            })
        data.cache.pop("text_baseline", None)
    return results


def _best_matches(lsh: Any, queries: list, indexed: list, exclude: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    similarity = np.zeros(len(queries))
    match = np.full(len(queries), -1)
    for position, signature in enumerate(queries):
        for candidate in lsh.query(signature):
            if exclude is not None and candidate == exclude[position]:
                continue
            value = signature.jaccard(indexed[candidate])
            if value > similarity[position]:
                similarity[position], match[position] = value, candidate
    return similarity, match
