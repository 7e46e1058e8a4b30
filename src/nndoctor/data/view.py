"""The shape every data check reads: named splits of one dataset, already separated into
features, labels, groups, sources, annotator labels, embeddings and text.

Loaders (nndoctor.data.load) build an `AuditData` from DataFrames, files, arrays, tensors
or torch Datasets; measures (nndoctor.data.measures.*) read it and never see the user's
original objects.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas is part of the data extra and imported lazily
    import pandas as pd

SPLIT_ORDER = ("train", "val", "test")


@dataclass
class Split:
    """One split (train, val or test) of the audited dataset, row-aligned throughout."""

    name: str
    features: pd.DataFrame  # feature columns only (no label/group/source/annotator/text columns)
    labels: pd.Series | None  # None only when no label was given
    groups: pd.Series | None = None  # e.g. patient_id, photo_id
    source: pd.Series | None = None  # lab / batch / instrument / site id
    annotations: pd.DataFrame | None = None  # one column of labels per annotator
    embeddings: np.ndarray | None = None  # (n, d) float32 per-sample embeddings
    text: pd.DataFrame | None = None  # text columns
    row_ids: np.ndarray | None = None  # ids as the user knows them (index / array position)

    def __post_init__(self) -> None:
        if self.row_ids is None:
            self.row_ids = np.asarray(self.features.index)

    def __len__(self) -> int:
        return len(self.features)

    @property
    def n_rows(self) -> int:
        return len(self.features)


@dataclass
class AuditData:
    """All splits given to `nndoctor.audit`, in the order train, val, test."""

    splits: dict[str, Split]
    label: str | None
    task: str  # "classification" | "regression" (inferred, overridable with task=)
    notes: dict[str, Any] = field(default_factory=dict)  # caps/sampling applied -> report.context
    # Results shared between measures (row hashes, id-like columns); not part of the report.
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def train(self) -> Split:
        return self.splits["train"]

    @property
    def others(self) -> list[Split]:
        """The evaluation splits that were given (val, test)."""
        return [split for name, split in self.splits.items() if name != "train"]

    @property
    def sizes(self) -> dict[str, int]:
        return {name: len(split) for name, split in self.splits.items()}


@dataclass
class AuditOptions:
    """Caps and knobs of the audit. Every cap is reported in the report's context when applied.

    Override any of them with `nndoctor.audit(..., <name>=value)`; unknown names are a
    UsageError listing these.
    """

    seed: int = 0  # every sample drawn by a check uses this seed, so reruns agree
    # Audit at most this many rows per split (seeded random sample); None audits every row.
    max_rows: int | None = None
    # Model-based checks (split-shift, source-predictable, label-issues, feature-leakage)
    # fit small models; above this many rows they use a seeded random sample.
    model_sample_cap: int = 50_000
    # split-shift / source-predictable: rows per quick model (all splits together); never above
    # model_sample_cap.
    shift_sample_cap: int = 20_000
    # label-issues: rows pooled from all labelled splits for confident learning; never above
    # model_sample_cap.
    label_issues_sample_cap: int = 20_000
    # annotator-disagreement: items used for the agreement statistics (seeded sample above it).
    annotator_sample_cap: int = 200_000
    # eval-set-too-small: the accuracy you expect; None = 0.5, the widest (worst-case) interval.
    assumed_accuracy: float | None = None
    # Cross-validation folds for model-based checks (out-of-fold scores, no refit on test rows).
    cv_folds: int = 5
    # Near-duplicate search: up to this many indexed rows FAISS searches exactly (flat index);
    # beyond it an IVF index is used (approximate: about sqrt(n) cells, 4 probed per query).
    near_dup_exact_cap: int = 50_000
    # Rows of train indexed for near-duplicate search at most (seeded sample above it).
    near_dup_index_cap: int = 1_000_000
    # Rows of each evaluation split queried for near duplicates at most.
    near_dup_query_cap: int = 1_000_000
    # Rows of train used to estimate the typical within-train nearest-neighbour distance.
    near_dup_reference_sample: int = 5_000
    # Feature columns used for near duplicates when no embeddings are given (numeric only).
    near_dup_max_features: int = 256
    # Text near duplicates (MinHash LSH): rows per split at most, and the permutations used.
    text_sample_cap: int = 200_000
    minhash_permutations: int = 64
    # Torch Datasets are iterated up to this many samples per split.
    dataset_sample_cap: int = 100_000
    # Row ids listed in a finding at most (the counts are always complete).
    max_listed_rows: int = 20

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


__all__ = ["SPLIT_ORDER", "AuditData", "AuditOptions", "Split"]
