"""Adversarial validation (train vs each evaluation split, val vs test) and whether the
source (lab, batch) is predictable from the features.

Feeds split-shift (`split_shift`) and source-predictable (`source_predictability`). Both fit
a quick HistGradientBoostingClassifier with out-of-fold cross-validation on a seeded sample
of at most `shift_sample_cap` rows (default 20,000, never above `model_sample_cap`; enough
to measure an AUC to about ±0.01), with one OpenMP thread, cross-validating by group when
`group=` is given so that a grouped split with distinctive groups is not mistaken for a
shift. The helpers here (encoding, sampling, quick model, permutation importance) are shared
with labels.py.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from nndoctor.core.rule import Measurements
from nndoctor.data.view import AuditData, AuditOptions, Split

MEASUREMENTS = ("split_shift", "source_predictability")
MAX_SOURCES = 20  # most frequent sources kept; rarer ones are left out and noted
MAX_PERMUTED_FEATURES = 20  # features scored by permutation (preselected by univariate drift)
# Embeddings stand in for features when there are none: up to this many dimensions as they
# are, wider ones reduced to their leading principal components (the directions that vary).
MAX_EMBEDDING_DIMS = 128
PCA_COMPONENTS = 64
CATEGORICAL_MAX_LEVELS = 255  # HistGradientBoosting's native categorical limit
TOP_FEATURES = 10
MAX_BOOSTED_CLASSES = 10  # above this many classes the quick model is an ExtraTreesClassifier
# A quick model on more columns than this is no longer quick; the columns that separate the
# classes most on their own are kept (the count used is reported as `features_used`).
MAX_MODEL_FEATURES = 200
MIN_ROWS_PER_SIDE = 20  # fewer rows than this in a split give no usable AUC
# Out-of-fold AUCs pool scores of different fold models, so under "no difference" they
# scatter more than the Mann-Whitney null: measured 1.25-1.4x on random splits of 1,000
# rows (60 repeats each, 50/50 and 90/10). The reported null sd includes this factor.
CV_SCATTER_FACTOR = 1.4


def model_rows_cap(options: AuditOptions, name: str) -> int:
    """Rows for one quick model: the check's own cap (option `name`), never above the
    audit-wide `model_sample_cap`, so lowering that one lowers every model-based check."""
    return int(min(getattr(options, name), options.model_sample_cap))


def sample_positions(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of a seeded sample of at most `cap` of n rows."""
    if n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))


def encode(parts: list[Split], positions: list[np.ndarray], seed: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Float matrix of the sampled rows of several splits, encoded the same way for all.

    Numbers and booleans as they are, datetimes as integers, low-cardinality categories as
    codes (marked categorical for the model), high-cardinality ones as their frequency —
    never as first-seen order, which would tell the splits apart by construction.
    Embeddings stand in when there are no feature columns.
    """
    import pandas as pd

    frames = [split.features.iloc[pos] for split, pos in zip(parts, positions)]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    columns, names, categorical = [], [], []
    for name in frame.columns:
        values, is_categorical = _encode_column(frame[name], pd)
        if values is not None:
            values = np.where(np.isinf(values), np.nan, values)
        if values is not None and np.isfinite(values).any():
            columns.append(values)
            names.append(str(name))
            categorical.append(is_categorical)
    if not columns and all(split.embeddings is not None for split in parts):
        embedded = np.concatenate([split.embeddings[pos] for split, pos in zip(parts, positions)]).astype(np.float64)
        names = [f"embedding_{i}" for i in range(embedded.shape[1])]
        if embedded.shape[1] > MAX_EMBEDDING_DIMS:
            from sklearn.decomposition import PCA

            components = PCA(n_components=PCA_COMPONENTS, svd_solver="randomized", random_state=seed)
            embedded = components.fit_transform(np.nan_to_num(embedded))
            names = [f"embedding_pc{i + 1}" for i in range(embedded.shape[1])]
        return embedded, names, np.zeros(embedded.shape[1], dtype=bool)
    matrix = np.column_stack(columns) if columns else np.empty((len(frame), 0))
    return matrix, names, np.array(categorical, dtype=bool)


def _encode_column(column: Any, pd: Any) -> tuple[np.ndarray | None, bool]:
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return pd.to_numeric(column, errors="coerce").astype(float).to_numpy(), False
    if pd.api.types.is_datetime64_any_dtype(column):
        naive = column.dt.tz_convert(None) if getattr(column.dt, "tz", None) is not None else column
        stamps = naive.to_numpy(dtype="datetime64[ns]").view("int64").astype(float)
        return np.where(column.isna().to_numpy(), np.nan, stamps), False
    if pd.api.types.is_timedelta64_dtype(column):
        return column.dt.total_seconds().to_numpy(dtype=float), False
    codes, uniques = pd.factorize(column.astype("object"), sort=True)
    if len(uniques) == 0:
        return None, False
    if len(uniques) <= CATEGORICAL_MAX_LEVELS:
        values = codes.astype(float)
        values[codes < 0] = np.nan
        return values, True
    frequency = np.bincount(codes[codes >= 0], minlength=len(uniques)) / len(codes)
    values = np.where(codes >= 0, frequency[np.maximum(codes, 0)], np.nan)
    return values, False


def quick_classifier(n_classes: int, categorical: np.ndarray, seed: int) -> Any:
    """A fast classifier: gradient boosting up to MAX_BOOSTED_CLASSES classes; beyond, boosting
    (one tree per class per round) gets slow or underfits, and extremely randomised trees
    (one tree for all classes) keep their accuracy: 0.97 vs 0.51 out of fold on a clean
    40-class problem at the same CPU budget."""
    from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    if n_classes > MAX_BOOSTED_CLASSES:  # median imputation: older scikit-learn trees reject NaN
        return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                             ExtraTreesClassifier(n_estimators=40, min_samples_leaf=3, n_jobs=1, random_state=seed))
    rounds = int(max(10, 120 // n_classes)) if n_classes > 2 else 40
    return HistGradientBoostingClassifier(
        max_iter=rounds, learning_rate=0.2, max_leaf_nodes=15, early_stopping=False, random_state=seed,
        categorical_features=categorical if categorical.any() else None,
    )


def folds_for(y: np.ndarray, groups: np.ndarray | None, wanted: int, seed: int) -> tuple[list, bool]:
    """Stratified (and, with groups, group-respecting) CV folds; (folds, grouped)."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    smallest = int(np.bincount(y).min())
    k = max(2, min(wanted, smallest))
    if groups is not None and len(np.unique(groups)) >= k:
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(y)), y, groups)), True
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y)), False


def out_of_fold(x: np.ndarray, y: np.ndarray, folds: list, categorical: np.ndarray, seed: int,
                ) -> tuple[np.ndarray, Any, np.ndarray]:
    """Out-of-fold class probabilities; also the last fold's model and its held-out rows."""
    n_classes = int(y.max()) + 1
    probabilities = np.zeros((len(y), n_classes))
    model = held_out = None
    for train_rows, test_rows in folds:
        model = quick_classifier(n_classes, categorical, seed).fit(x[train_rows], y[train_rows])
        probabilities[np.ix_(test_rows, model.classes_)] = model.predict_proba(x[test_rows])
        held_out = test_rows
    return probabilities, model, held_out


def auc_score(y: np.ndarray, probabilities: np.ndarray) -> float:
    """ROC AUC for two classes, macro one-vs-rest AUC for more."""
    from sklearn.metrics import roc_auc_score

    if probabilities.shape[1] == 2:
        return float(roc_auc_score(y, probabilities[:, 1]))
    present = np.unique(y)
    scores = probabilities[:, present] / np.clip(probabilities[:, present].sum(axis=1, keepdims=True), 1e-12, None)
    return float(roc_auc_score(np.searchsorted(present, y), scores, multi_class="ovr", average="macro"))


def null_auc_sd(y: np.ndarray) -> float:
    """Sd of an out-of-fold AUC when the features carry no information: the Mann-Whitney
    null sd (averaged over classes) times CV_SCATTER_FACTOR."""
    counts = np.bincount(y).astype(float)
    counts = counts[counts > 0]
    n = counts.sum()
    sds = [math.sqrt((n + 1) / (12 * c * (n - c))) for c in counts]
    return CV_SCATTER_FACTOR * (float(np.mean(sds)) if len(counts) > 2 else float(sds[0]))


def univariate_drift(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per feature, how far a one-feature ranking separates class 0 from the rest: |2*AUC-1|."""
    from scipy.stats import rankdata

    positive = y != 0
    n_pos, n_neg = positive.sum(), (~positive).sum()
    filled = np.where(np.isnan(x), np.nanmin(np.where(np.isnan(x), np.inf, x), axis=0) - 1, x)
    ranks = rankdata(filled, axis=0)
    auc = (ranks[positive].sum(axis=0) - n_pos * (n_pos + 1) / 2) / max(n_pos * n_neg, 1)
    return np.abs(2 * auc - 1)


def limit_features(x: np.ndarray, names: list[str], categorical: np.ndarray, y: np.ndarray,
                   ) -> tuple[np.ndarray, list[str], np.ndarray]:
    """At most MAX_MODEL_FEATURES columns, the most univariately separating ones first."""
    if x.shape[1] <= MAX_MODEL_FEATURES:
        return x, names, categorical
    keep = np.sort(np.argsort(-univariate_drift(x, y))[:MAX_MODEL_FEATURES])
    return x[:, keep], [names[i] for i in keep], categorical[keep]


def telling_features(model: Any, x: np.ndarray, y: np.ndarray, names: list[str], seed: int) -> list[dict]:
    """Features ranked by the AUC lost when shuffled on held-out rows (permutation importance),
    on at most MAX_PERMUTED_FEATURES features preselected by univariate drift."""
    if not names or len(np.unique(y)) < 2:
        return []
    rng = np.random.default_rng(seed)
    drift = univariate_drift(x, y)
    candidates = np.argsort(-drift)[:MAX_PERMUTED_FEATURES]
    full = _model_auc(model, x, y)
    scored = []
    for column in candidates:
        shuffled = x.copy()
        shuffled[:, column] = rng.permutation(shuffled[:, column])
        scored.append({"feature": names[column], "auc_drop": round(full - _model_auc(model, shuffled, y), 4),
                       "univariate_drift": round(float(drift[column]), 4)})
    scored.sort(key=lambda entry: (-entry["auc_drop"], -entry["univariate_drift"]))
    return [entry for entry in scored if entry["auc_drop"] > 0.005 or entry["univariate_drift"] > 0.1][:TOP_FEATURES]


def _model_auc(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    probabilities = np.zeros((len(y), int(max(y.max(), model.classes_.max())) + 1))
    probabilities[:, model.classes_] = model.predict_proba(x)
    return auc_score(y, probabilities)


def single_threaded() -> Any:
    """One OpenMP thread for the quick models: on a few thousand rows threads gain little,
    and on a busy machine oversubscribed OpenMP threads make each tree 10-50x slower."""
    import sklearn.ensemble  # noqa: F401 — load its OpenMP runtime first: only loaded ones are limited
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def measure(data: AuditData, m: Measurements, options: AuditOptions) -> None:
    cap = model_rows_cap(options, "shift_sample_cap")
    with single_threaded():
        _measure_split_shift(data, m, options, cap)
        _measure_source(data, m, options, cap)


def _measure_split_shift(data: AuditData, m: Measurements, options: AuditOptions, cap: int) -> None:
    if not data.others:
        m.mark_unavailable("split_shift", "only a train split was given; pass val= or test= to compare")
        return
    # train against each evaluation split; and val against test, which should agree too (004)
    pairs = [(data.train, other) for other in data.others]
    if "val" in data.splits and "test" in data.splits:
        pairs.append((data.splits["val"], data.splits["test"]))
    results = []
    for index, (reference, other) in enumerate(pairs):
        key = other.name if reference is data.train else f"{reference.name}-vs-{other.name}"
        if min(len(reference), len(other)) < MIN_ROWS_PER_SIDE:
            data.notes.setdefault("split_shift", {})[key] = f"skipped: fewer than {MIN_ROWS_PER_SIDE} rows"
            continue
        rng = np.random.default_rng(options.seed + index)
        positions = [sample_positions(len(split), cap // 2, rng) for split in (reference, other)]
        x, names, categorical = encode([reference, other], positions, options.seed)
        if x.shape[1] == 0:
            m.mark_unavailable("split_shift", "no usable feature columns (or embeddings) to compare")
            return
        y = np.repeat([0, 1], [len(positions[0]), len(positions[1])])
        x, names, categorical = limit_features(x, names, categorical, y)
        groups = _groups([reference, other], positions)
        folds, grouped = folds_for(y, groups, options.cv_folds, options.seed)
        probabilities, model, held_out = out_of_fold(x, y, folds, categorical, options.seed)
        results.append({
            "reference": reference.name, "split": other.name, "auc": round(auc_score(y, probabilities), 4),
            "null_sd": round(null_auc_sd(y), 5), "n_reference_rows": len(positions[0]),
            "n_other_rows": len(positions[1]), "cv_folds": len(folds), "grouped_cv": grouped,
            "groups_given": groups is not None, "sample_cap": cap, "features_used": len(names),
            "sampled": len(positions[0]) < len(reference) or len(positions[1]) < len(other),
            "top_features": telling_features(model, x[held_out], y[held_out], names, options.seed),
        })
        if results[-1]["sampled"]:
            data.notes.setdefault("split_shift", {})[key] = (
                f"adversarial validation on {len(positions[0])} {reference.name} + {len(positions[1])} "
                f"{other.name} rows (cap {cap}: shift_sample_cap, at most model_sample_cap)")
    if not results:
        m.mark_unavailable("split_shift", f"every evaluation split has fewer than {MIN_ROWS_PER_SIDE} rows")
        return
    m["split_shift"] = results


def _groups(parts: list[Split], positions: list[np.ndarray]) -> np.ndarray | None:
    if any(split.groups is None for split in parts):
        return None
    values = np.concatenate([split.groups.to_numpy()[pos] for split, pos in zip(parts, positions)])
    import pandas as pd

    return pd.factorize(values.astype(str))[0]


def _measure_source(data: AuditData, m: Measurements, options: AuditOptions, cap: int) -> None:
    import pandas as pd

    parts = [split for split in data.splits.values() if split.source is not None]
    if not parts:
        m.mark_unavailable("source_predictability", "no source column was given (source=...)")
        return
    rng = np.random.default_rng(options.seed)
    total = sum(len(split) for split in parts)
    positions = [sample_positions(len(split), max(1, cap * len(split) // total), rng) for split in parts]
    raw = pd.Series(np.concatenate([split.source.to_numpy()[pos] for split, pos in zip(parts, positions)]))
    counts = raw.dropna().astype(str).value_counts()
    top = counts.iloc[:MAX_SOURCES]
    kept = list(top.index[(top >= 2 * options.cv_folds).to_numpy()])
    if len(kept) < 2:
        m.mark_unavailable("source_predictability", "fewer than two sources with enough rows to compare")
        return
    keep = raw.astype(str).isin(kept).to_numpy() & raw.notna().to_numpy()
    x, names, categorical = encode(parts, positions, options.seed)
    if x.shape[1] == 0:
        m.mark_unavailable("source_predictability", "no usable feature columns (or embeddings)")
        return
    y = pd.Categorical(raw.astype(str)[keep], categories=list(kept)).codes.astype(int)
    x, names, categorical = limit_features(x[keep], names, categorical, y)
    groups = _groups(parts, positions)
    folds, grouped = folds_for(y, None if groups is None else groups[keep], options.cv_folds, options.seed)
    probabilities, model, held_out = out_of_fold(x, y, folds, categorical, options.seed)
    if sum(map(len, positions)) < total:
        data.notes["source_predictability"] = (
            f"source classifier on {sum(map(len, positions))} of {total} rows "
            f"(cap {cap}: shift_sample_cap, at most model_sample_cap)")
    m["source_predictability"] = {
        "source_name": str(parts[0].source.name), "auc": round(auc_score(y, probabilities), 4),
        "null_sd": round(null_auc_sd(y), 5), "balanced_accuracy": round(_balanced_accuracy(y, probabilities), 4),
        "chance_accuracy": round(1 / len(kept), 4),
        "label_only_auc": _label_only_auc(data, parts, positions, keep, y),
        "n_sources": len(kept), "n_rows": int(keep.sum()), "cv_folds": len(folds), "grouped_cv": grouped,
        "sample_cap": cap, "sampled": sum(map(len, positions)) < total,
        "sources_left_out": int(len(counts) - len(kept)),
        "features_used": len(names),
        "top_features": telling_features(model, x[held_out], y[held_out], names, options.seed),
    }


def _balanced_accuracy(y: np.ndarray, probabilities: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y, probabilities.argmax(axis=1)))


def _label_only_auc(data: AuditData, parts: list[Split], positions: list[np.ndarray], keep: np.ndarray,
                    y: np.ndarray) -> float | None:
    """AUC of predicting the source from the label alone (its class mix per source)."""
    import pandas as pd

    if any(split.labels is None for split in parts):
        return None
    labels = pd.Series(np.concatenate([split.labels.to_numpy()[pos] for split, pos in zip(parts, positions)]))[keep]
    if data.task == "regression":
        labels = pd.qcut(pd.to_numeric(labels, errors="coerce"), 10, duplicates="drop")
    codes = pd.factorize(labels.astype(str))[0]
    table = np.zeros((codes.max() + 1, int(y.max()) + 1))
    np.add.at(table, (codes, y), 1)
    probabilities = table[codes] / table[codes].sum(axis=1, keepdims=True)
    return round(auc_score(y, probabilities), 4)
