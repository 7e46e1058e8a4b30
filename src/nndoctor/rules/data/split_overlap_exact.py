from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count as count_text, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class SplitOverlapExact(Rule):
    """The same rows appear in two splits (e.g. test rows that are also in train).

    What it detects:
        Rows of val/test whose content (all feature and text columns, id-like columns
        ignored) is identical to a row of train — or of val, for test — found by hashing
        every row. Overlap that the feature space makes likely by coincidence (a few
        yes/no columns) is not reported.

    Why it matters:
        The model is graded on rows it has already seen, so the metric measures memory, not
        generalisation, and is too optimistic by up to the overlapping fraction (000 §2.1).

    Likely causes:
        - Duplicates in the raw data that ended up on both sides of a random split.
        - New data appended mid-project that was already in val/test (000 §2.1).
        - Augmented or oversampled copies created before the split.
        - Train and test files built from overlapping exports.

    Fixes:
        - Deduplicate before splitting: `df = df.drop_duplicates(subset=feature_cols)`.
        - Drop the listed rows from the evaluation split, or move them to train.
        - Augment/oversample only after the split, inside the training pipeline.
        - When adding data later, hash it against val/test first (`pd.util.hash_pandas_object`).

    Example:
        split-overlap-exact: 1,200 of 20,000 test rows (6.0%) are identical to train rows;
        the threshold is 1 row (about 0 expected by chance).
    """

    id = "split-overlap-exact"
    title = "identical rows in two splits"
    severity = "error"
    area = "data"
    requires = ("split_overlap_exact",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        overlap_rows_min: int = 1,  # a single evaluation row seen in training is already a leak
        error_fraction_min: float = 0.01,  # from 1% of the eval split the metric is visibly inflated
        chance_ratio_min: float = 10.0,  # overlap must exceed 10x the coincidences expected
    ) -> list[Finding]:
        findings = []
        for pair in m["split_overlap_exact"]:
            count, n = pair["overlap_rows"], pair["n_b"]
            if count < overlap_rows_min or count <= chance_ratio_min * pair["expected_by_chance"]:
                continue
            fraction = count / n
            same = pair["same_label_fraction"]
            label_note = f"; {percent(same, 0)} of them carry the same label" if same is not None else ""
            findings.append(self.finding(
                f"{count_text(count)} of {count_text(n)} {pair['b']} rows ({percent(fraction)}) are identical to {pair['a']} rows"
                f"{label_note}; the threshold is {overlap_rows_min} row(s).",
                where=pair["rows_b"],
                severity="error" if fraction >= error_fraction_min else "warning",
                evidence={"splits": [pair["a"], pair["b"]], "overlap_rows": count, "n_rows": n,
                          "fraction": fraction, "same_label_fraction": same,
                          "expected_by_chance": pair["expected_by_chance"],
                          f"{pair['b']}_rows": pair["rows_b"][:10], f"matching_{pair['a']}_rows": pair["rows_a"][:10]},
            ))
        return findings
