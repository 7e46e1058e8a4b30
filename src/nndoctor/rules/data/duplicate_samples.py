from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count as count_text, num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class DuplicateSamples(Rule):
    """Rows repeated within one split (same content, same label) far more often than chance.

    What it detects:
        Rows whose feature values (id-like columns ignored) and label repeat an earlier row
        of the same split. Repeats are only reported when they are far more frequent than
        the feature space makes likely by coincidence: a table of a few yes/no columns
        repeats rows naturally, a table of measurements does not.

    Why it matters:
        Copies weigh those samples more in the loss, make the dataset look bigger than it
        is, and in val/test they count the same answer several times. Copies often come
        from a pipeline that appended a file twice — the same bug may have leaked rows
        into other splits too.

    Likely causes:
        - A file or batch concatenated twice (`pd.concat` of overlapping exports).
        - Oversampling applied before the split, or a join that multiplied rows.
        - The same image/record stored under two file names or ids.

    Fixes:
        - Drop exact copies before splitting: `df = df.drop_duplicates(subset=feature_cols + [label])`.
        - Oversample (if wanted) only inside the training loop, after the split.
        - Check the joins: `df.merge(..., validate="one_to_one")` raises on multiplied rows.

    Example:
        duplicate-samples: 5,000 of 100,000 train rows (5.0%) repeat an earlier row; the
        threshold is 1.0% and about 0 repeats are expected by chance.
    """

    id = "duplicate-samples"
    title = "duplicated rows within a split"
    severity = "warning"
    area = "data"
    requires = ("duplicate_samples",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        duplicate_fraction_min: float = 0.01,  # below 1% copies barely reweight the loss
        chance_ratio_min: float = 10.0,  # must exceed 10x the repeats expected by coincidence
    ) -> list[Finding]:
        findings = []
        for split, info in m["duplicate_samples"].items():
            count, n = info["duplicate_rows"], info["n_rows"]
            if n == 0 or count == 0 or count / n < duplicate_fraction_min:
                continue
            expected = info["expected_by_chance"]
            if count <= chance_ratio_min * expected:
                continue
            rows = [row for group in info["groups"] for row in group][:20]
            findings.append(self.finding(
                f"{count_text(count)} of {count_text(n)} {split} rows ({percent(count / n)}) repeat an earlier row with the same label; "
                f"the threshold is {percent(duplicate_fraction_min)} and about {num(expected)} repeats are expected by chance.",
                where=rows,
                evidence={"split": split, "duplicate_rows": count, "n_rows": n, "fraction": count / n,
                          "expected_by_chance": expected, "example_groups": info["groups"][:5]},
            ))
        return findings
