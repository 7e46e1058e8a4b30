"""Turn what the user has — DataFrames, CSV/Parquet paths, `(X, y)` arrays or tensors, a
torch Dataset — into an `AuditData` of row-aligned splits.

Problems that make an audit meaningless (a missing label column, an empty split, columns
that differ between splits, unreadable files) are a UsageError with one clear line.
Problems that *are* findings (inputs and labels of different length, NaN labels) are
recorded in `AuditData.notes` and reported by the integrity rules, never silently fixed.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nndoctor.core.errors import UsageError
from nndoctor.data.extra import require
from nndoctor.data.view import SPLIT_ORDER, AuditData, AuditOptions, Split

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}
# A numeric label with at most this many distinct integer values is treated as classes.
MAX_CLASSES_FOR_INTEGER_LABELS = 50
# What the user may say about the columns: the keywords of `nndoctor.audit`, whose
# signature and docstring are the one place they are typed and explained.
COLUMN_ROLES = ("label", "group", "source", "annotators", "text", "embeddings", "task")


def load_audit_data(
    inputs: Mapping[str, Any], *, options: AuditOptions | None = None, **column_roles: Any
) -> AuditData:
    """Build the AuditData; `inputs` maps split name → DataFrame, path, (X, y) or Dataset.

    `column_roles` are the `COLUMN_ROLES` keywords of `nndoctor.audit` (label, group,
    source, annotators, text, embeddings, task), with the same meaning and defaults.
    """
    unknown = [name for name in column_roles if name not in COLUMN_ROLES]
    if unknown:
        raise TypeError(f"load_audit_data() got an unexpected keyword argument {unknown[0]!r}")
    label, group, source, annotators, text, embeddings, task = (
        column_roles.get(name) for name in COLUMN_ROLES)
    pd = require("pandas")
    options = options or AuditOptions()
    notes: dict[str, Any] = {}
    given = {name: value for name, value in inputs.items() if value is not None}
    if "train" not in given:
        raise UsageError("a train split is required (audit(train, val=..., test=...))")
    _check_role_types(label, group, source, annotators, text)
    text_columns = [text] if isinstance(text, str) else list(text or [])
    annotator_columns = list(annotators or [])
    tables: dict[str, Any] = {}
    for name in SPLIT_ORDER:
        if name in given:
            tables[name] = _to_frame(name, given[name], label, options, notes, pd)
    label_name = label if label is not None else ("label" if "label" in tables["train"].columns and
                                                   _came_from_arrays(given["train"]) else None)
    _check_columns(tables, label_name, group, source, annotator_columns, text_columns)
    _align_numeric_columns(tables, notes, pd)
    embedding_arrays = _embeddings_per_split(embeddings, tables)
    splits: dict[str, Split] = {}
    for name, frame in tables.items():
        if options.max_rows is not None and len(frame) > options.max_rows:
            keep = np.sort(np.random.default_rng(options.seed).choice(len(frame), options.max_rows, replace=False))
            notes.setdefault("max_rows", {})[name] = f"sampled {options.max_rows} of {len(frame)} rows"
            frame = frame.iloc[keep]
            if name in embedding_arrays:
                embedding_arrays[name] = embedding_arrays[name][keep]
        splits[name] = _split_from_frame(
            name, frame, label_name, group, source, annotator_columns, text_columns,
            embedding_arrays.get(name), notes, pd,
        )
    labels = splits["train"].labels
    resolved_task = _resolve_task(task, labels)
    return AuditData(splits=splits, label=label_name, task=resolved_task, notes=notes)


def _check_role_types(label: Any, group: Any, source: Any, annotators: Any, text: Any) -> None:
    """Each column role has the type its docs promise, or a one-line UsageError says so."""
    if label is not None and not isinstance(label, str):
        raise UsageError(f"label takes a column name (a string), got {label!r}")
    for role, value in (("group", group), ("source", source)):
        if value is not None and not isinstance(value, (str, Mapping)):
            raise UsageError(f"{role} takes a column name, or {{'train': values, ...}} for arrays; got {value!r}")
    for role, value in (("annotators", annotators), ("text", text)):
        names = [value] if isinstance(value, str) and role == "text" else value
        if names is not None and (not isinstance(names, (list, tuple))
                                  or not all(isinstance(v, str) for v in names)):
            raise UsageError(f"{role} takes a list of column names, got {value!r}")


def _came_from_arrays(value: Any) -> bool:
    return not _is_table_like(value) and not isinstance(value, (str, Path))


def _is_table_like(value: Any) -> bool:
    return hasattr(value, "columns") and hasattr(value, "iloc")


def _to_frame(name: str, value: Any, label: str | None, options: AuditOptions, notes: dict, pd: Any) -> Any:
    if _is_table_like(value):
        frame = value
    elif isinstance(value, (str, Path)):
        frame = read_table(Path(value), name)
    elif isinstance(value, tuple) and len(value) == 2:
        frame = _arrays_to_frame(name, value[0], value[1], label or "label", notes, pd)
    elif _is_torch_dataset(value):
        features, targets = _iterate_dataset(name, value, options, notes)
        frame = _arrays_to_frame(name, features, targets, label or "label", notes, pd)
    elif hasattr(value, "shape"):
        frame = _arrays_to_frame(name, value, None, label or "label", notes, pd)
    else:
        raise UsageError(
            f"{name}: cannot audit a {type(value).__name__}; give a pandas DataFrame, a CSV/Parquet "
            "path, an (X, y) tuple of arrays/tensors or a torch Dataset"
        )
    if len(frame) == 0:
        raise UsageError(f"the {name} split is empty (0 rows); an audit needs data in every split given")
    if not frame.columns.is_unique:
        duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise UsageError(f"{name}: duplicated column name(s) {', '.join(duplicated)}")
    if not all(isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)  # a renamed copy: the caller's DataFrame is left alone
    return frame


def read_table(path: Path, name: str = "train") -> Any:
    """Read a CSV or Parquet file; unreadable or unknown files are a one-line UsageError."""
    pd = require("pandas")
    if not path.is_file():
        raise UsageError(f"{name}: no such file {str(path)!r}")
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"{name}: {path.name} is not a .csv, .tsv or .parquet file")
    try:
        if kind == "parquet":
            require("pyarrow")
            return pd.read_parquet(path)
        separator = "\t" if path.suffix.lower() == ".tsv" else ","
        return pd.read_csv(path, sep=separator, low_memory=False)
    except UsageError:
        raise
    except Exception as error:  # noqa: BLE001 — any parser error becomes one line
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(f"{name}: cannot read {path}: {first_line}") from None


def _as_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # torch tensor
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _arrays_to_frame(name: str, features: Any, targets: Any, label: str, notes: dict, pd: Any) -> Any:
    if _is_table_like(features):  # (X_df, y) as in scikit-learn code: keep the column names
        frame = features.copy()
        frame.columns = [str(c) for c in frame.columns]
    else:
        x = _as_numpy(features)
        if x.ndim == 0:
            raise UsageError(f"{name}: inputs must have one row per sample, got a scalar")
        if x.ndim == 1:
            x = x.reshape(-1, 1)
        elif x.ndim > 2:
            notes.setdefault("flattened_inputs", {})[name] = f"inputs of shape {list(x.shape[1:])} flattened per sample"
            x = x.reshape(len(x), -1)
        frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    if targets is None:
        return frame
    y = _as_numpy(targets)
    if y.ndim > 1 and y.shape[1:] != (1,) * (y.ndim - 1):
        raise UsageError(f"{name}: labels must be one value per sample, got shape {list(y.shape)}")
    y = y.reshape(len(y)) if y.ndim else y.reshape(1)
    if len(y) != len(frame):
        # Reported by length-mismatch; the audit continues on the rows that pair up, as
        # zip() or a DataLoader over both would have done silently (000 §2.2).
        notes.setdefault("length_mismatch", {})[name] = {"inputs": len(frame), "labels": len(y)}
        n = min(len(y), len(frame))
        frame, y = frame.iloc[:n], y[:n]
    if label in frame.columns:
        raise UsageError(f"{name}: label name {label!r} clashes with a feature column name")
    frame[label] = y  # by position, as a model would pair them
    return frame


def _is_torch_dataset(value: Any) -> bool:
    return hasattr(value, "__getitem__") and hasattr(value, "__len__") and not isinstance(
        value, (str, bytes, list, tuple, dict)
    ) and not hasattr(value, "shape")


def _iterate_dataset(name: str, dataset: Any, options: AuditOptions, notes: dict) -> tuple[np.ndarray, Any]:
    total = len(dataset)
    if total == 0:
        raise UsageError(f"the {name} split is empty (0 rows); an audit needs data in every split given")
    count = min(total, options.dataset_sample_cap)
    if count < total:
        notes.setdefault("dataset_sample_cap", {})[name] = f"first {count} of {total} samples read"
    features, targets = [], []
    for index in range(count):
        item = dataset[index]
        if isinstance(item, Mapping):
            keys = list(item)
            if len(keys) < 2:
                raise UsageError(f"{name}: dataset items must hold an input and a label, got keys {keys}")
            item = (item[keys[0]], item[keys[1]])
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise UsageError(f"{name}: dataset items must be (input, label) pairs, got {type(item).__name__}")
        features.append(_as_numpy(item[0]).reshape(-1))
        targets.append(_as_numpy(item[1]).reshape(-1)[0] if np.ndim(_as_numpy(item[1])) else _as_numpy(item[1]))
    widths = {len(f) for f in features}
    if len(widths) > 1:
        raise UsageError(f"{name}: dataset inputs have different sizes {sorted(widths)[:5]}; cannot compare rows")
    return np.stack(features), np.asarray(targets)


def _check_columns(tables: dict, label: str | None, group: Any, source: Any,
                   annotators: list[str], text: list[str]) -> None:
    for role, column in (("label", label), ("group", group), ("source", source)):
        if isinstance(column, str):
            for name, frame in tables.items():
                if column not in frame.columns:
                    raise UsageError(
                        f"{role} column {column!r} is not in the {name} split; its columns are: "
                        f"{_column_list(frame.columns)}"
                    )
    for role, columns in (("annotator", annotators), ("text", text)):
        for column in columns:
            for name, frame in tables.items():
                if column not in frame.columns:
                    raise UsageError(f"{role} column {column!r} is not in the {name} split; its columns are: "
                                     f"{_column_list(frame.columns)}")
    reference = list(tables["train"].columns)
    for name, frame in tables.items():
        missing = [c for c in reference if c not in frame.columns]
        extra = [c for c in frame.columns if c not in reference]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {_column_list(missing)}")
            if extra:
                parts.append(f"extra {_column_list(extra)}")
            raise UsageError(f"the {name} split's columns differ from train's: {'; '.join(parts)}")


def _align_numeric_columns(tables: dict, notes: dict, pd: Any) -> None:
    """A column numeric in train is made numeric in every split: values that are not numbers
    there (a stray "?" or "n/a") become missing, and the report notes how many."""
    train = tables["train"]
    for name, frame in tables.items():
        if name == "train":
            continue
        changed = {}
        for column in train.columns:
            if train[column].dtype.kind not in "biuf" or frame[column].dtype.kind in "biuf":
                continue
            converted = pd.to_numeric(frame[column], errors="coerce")
            lost = int(converted.isna().sum() - frame[column].isna().sum())
            changed[column] = converted
            if lost:
                notes.setdefault("non_numeric_values", {})[f"{name}:{column}"] = (
                    f"{lost} value(s) of {name} column {column!r} are not numbers (the column is numeric in "
                    "train) and were treated as missing")
        if changed:
            tables[name] = frame.assign(**changed)


def _column_list(columns: Any, limit: int = 12) -> str:
    names = [str(c) for c in columns]
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")


def _embeddings_per_split(embeddings: Any, tables: dict) -> dict[str, np.ndarray]:
    if embeddings is None:
        return {}
    if isinstance(embeddings, Mapping):
        unknown = sorted(set(embeddings) - set(tables))
        if unknown:
            raise UsageError(f"embeddings given for split(s) {', '.join(unknown)} that were not given")
        given = dict(embeddings)
    elif isinstance(embeddings, (list, tuple)):
        if len(embeddings) != len(tables):
            raise UsageError(f"give one embeddings array per split ({len(tables)}), got {len(embeddings)}")
        given = dict(zip(tables, embeddings))
    elif len(tables) == 1:
        given = {"train": embeddings}
    else:
        raise UsageError("with several splits, give embeddings as {'train': array, 'val': array, ...}")
    arrays = {}
    for name, value in given.items():
        array = _as_numpy(value)
        if array.ndim != 2:
            raise UsageError(f"{name} embeddings must be a 2-D (rows, dims) array, got shape {list(array.shape)}")
        if len(array) != len(tables[name]):
            raise UsageError(f"{name} embeddings have {len(array)} rows but the split has {len(tables[name])}")
        try:
            arrays[name] = np.ascontiguousarray(array, dtype=np.float32)
        except (TypeError, ValueError):
            raise UsageError(f"{name} embeddings must be numbers, got an array of {array.dtype}") from None
    dims = {a.shape[1] for a in arrays.values()}
    if len(dims) > 1:
        raise UsageError(f"embeddings of different splits have different widths {sorted(dims)}")
    return arrays


def _column_or_values(name: str, frame: Any, spec: Any, pd: Any) -> Any:
    if spec is None:
        return None
    if isinstance(spec, str):
        return frame[spec]
    if isinstance(spec, Mapping):
        if name not in spec:
            return None
        values = _as_numpy(spec[name])
        if len(values) != len(frame):
            raise UsageError(f"{name}: {len(values)} group/source values for {len(frame)} rows")
        return pd.Series(values, index=frame.index)
    raise UsageError("group and source take a column name (or {'train': values, ...} for arrays)")


def _split_from_frame(name: str, frame: Any, label: str | None, group: Any, source: Any,
                      annotators: list[str], text: list[str], embeddings: np.ndarray | None,
                      notes: dict, pd: Any) -> Split:
    role_columns = {c for c in (label, group, source) if isinstance(c, str)} | set(annotators) | set(text)
    labels = frame[label] if label is not None else None
    if labels is not None:
        missing = labels.isna().to_numpy()
        if missing.any():
            if missing.all():
                raise UsageError(f"every label in the {name} split is missing (column {label!r} is empty)")
            # Reported by non-finite-data; other checks see the labelled rows only.
            notes.setdefault("missing_labels", {})[name] = {
                "count": int(missing.sum()),
                "rows": np.asarray(frame.index[missing][:100]).tolist(),
            }
            keep = ~missing
            frame = frame.loc[keep]
            labels = labels.loc[keep]
            if embeddings is not None:
                embeddings = embeddings[keep]
    features = frame[[c for c in frame.columns if c not in role_columns]]
    return Split(
        name=name,
        features=features,
        labels=labels,
        groups=_column_or_values(name, frame, group, pd),
        source=_column_or_values(name, frame, source, pd),
        annotations=frame[annotators] if annotators else None,
        embeddings=embeddings,
        text=frame[text] if text else None,
        row_ids=np.asarray(frame.index),
    )


def _resolve_task(task: str | None, labels: Any) -> str:
    if task is not None:
        if task not in ("classification", "regression"):
            raise UsageError(f"task must be 'classification' or 'regression', got {task!r}")
        return task
    if labels is None:
        return "classification"
    return infer_task(labels)


def infer_task(labels: Any) -> str:
    """Classes for non-numeric, boolean or few-valued integer labels; regression otherwise."""
    values = labels.to_numpy() if hasattr(labels, "to_numpy") else np.asarray(labels)
    if values.dtype.kind not in "iuf":
        return "classification"
    finite = values[np.isfinite(values.astype(float))]
    if values.dtype.kind == "f" and not np.all(np.mod(finite, 1) == 0):
        return "regression"
    return "classification" if len(np.unique(finite)) <= MAX_CLASSES_FOR_INTEGER_LABELS else "regression"
