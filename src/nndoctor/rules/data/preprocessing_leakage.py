from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class PreprocessingLeakage(Rule):
    """The splits were standardised with statistics that include val/test rows.

    What it detects:
        Continuous columns that have mean 0 and standard deviation 1 *exactly* (to floating
        point precision) over train plus val/test together — the fingerprint of a scaler
        fitted before the split — while train alone is off by sampling noise. It also
        catches each split standardised with its own statistics. A scaler fitted on train
        alone leaves train exact and the others off, and is not reported.

    Why it matters:
        The scaler has seen the evaluation rows, so their mean and spread leak into the
        training inputs (000 §2.1). With per-split scaling, val/test are scaled with
        statistics a deployed model will never have, one batch at a time. Either way the
        evaluation is not an honest preview of new data.

    Likely causes:
        - `StandardScaler().fit_transform(X)` (or `(X - X.mean()) / X.std()`) before `train_test_split`.
        - Normalisation inside a data-loading function applied to each file separately.
        - Fitting the scaler on train+val "to use more data".
        - A dataset published already standardised over all its rows, then split.

    Fixes:
        - Split first, then fit on train only: `scaler = StandardScaler().fit(X_train)`,
          `X_val = scaler.transform(X_val)`, `X_test = scaler.transform(X_test)`.
        - Put the scaler in a `sklearn.pipeline.Pipeline` so cross-validation refits it per fold.
        - Save the train statistics and reuse them for every later split and at inference.

    Example:
        preprocessing-leakage: 12 of 12 continuous columns have mean 0 and std 1 exactly over
        train+test but not over train alone; the threshold is 2 columns and 50% of them.
    """

    id = "preprocessing-leakage"
    title = "scaling fitted on more than train"
    severity = "warning"
    area = "data"
    requires = ("preprocessing_leakage",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        columns_min: int = 2,  # one exact column can be a coincidence (~1 in 400); two cannot
        column_fraction_min: float = 0.5,  # a scaler is usually applied to most continuous columns
    ) -> list[Finding]:
        info = m["preprocessing_leakage"]
        candidates = info["candidate_columns"]
        for pattern, columns in info["patterns"].items():
            if len(columns) < columns_min or len(columns) < column_fraction_min * candidates:
                continue
            if pattern == "each split on its own":
                what = "have mean 0 and std 1 exactly within every split separately (each split scaled on its own)"
            else:
                what = f"have mean 0 and std 1 exactly over {pattern} but not over train alone"
            return [self.finding(
                f"{len(columns)} of {candidates} continuous columns {what}; the threshold is "
                f"{columns_min} columns and {percent(column_fraction_min, 0)} of them.",
                where=columns[:20],
                evidence={"fitted_on": pattern, "columns": len(columns), "continuous_columns": candidates,
                          "tolerance": info["tolerances"].get(pattern),
                          "train_deviation_from_standard": {c: info["train_deviation"][c]
                                                            for c in columns[:5] if c in info["train_deviation"]}},
            )]
        return []
