from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class LengthMismatch(Rule):
    """Inputs and labels of a split have different numbers of rows.

    What it detects:
        An `(X, y)` pair (or a Dataset) whose inputs and labels differ in length, e.g.
        inputs of shape (100, 10) with 43 labels. The audit pairs the first rows up, as
        `zip()` or many data pipelines silently do, and reports the mismatch (000 §2.2).

    Why it matters:
        Nothing crashes: the extra rows are dropped or the pairs shift, so the model learns
        from inputs matched to the wrong labels and simply looks "hard to train".

    Likely causes:
        - Inputs and labels filtered, shuffled or sampled separately.
        - A join or merge that dropped or duplicated rows on one side only.
        - Labels loaded from a different version of the file than the inputs.

    Fixes:
        - Keep inputs and labels in one table (a pandas DataFrame) and filter/shuffle it as one.
        - Shuffle with one permutation for both: `idx = rng.permutation(len(X)); X, y = X[idx], y[idx]`.
        - Add `assert len(X) == len(y)` where the arrays are built.

    Example:
        length-mismatch: the train split has 100 inputs but 43 labels; only 43 pairs can be
        matched and nothing says whether they are the right ones.
    """

    id = "length-mismatch"
    title = "inputs and labels differ in length"
    severity = "error"
    area = "data"
    requires = ("length_mismatch",)

    def check(self, m: Mapping[str, Any], *, tolerated_difference_rows: int = 0,  # any difference breaks the pairing
              ) -> list[Finding]:
        findings = []
        for split, sizes in m["length_mismatch"].items():
            difference = abs(sizes["inputs"] - sizes["labels"])
            if difference <= tolerated_difference_rows:
                continue
            findings.append(self.finding(
                f"The {split} split has {sizes['inputs']} inputs but {sizes['labels']} labels "
                f"({difference} apart, tolerated {tolerated_difference_rows}); only "
                f"{min(sizes['inputs'], sizes['labels'])} pairs were audited.",
                where=split,
                evidence={"split": split, "inputs": sizes["inputs"], "labels": sizes["labels"]},
            ))
        return findings
