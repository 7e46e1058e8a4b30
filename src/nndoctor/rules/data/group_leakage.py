from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count as count_text, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class GroupLeakage(Rule):
    """The same group (patient, photo, user, recording) has rows in more than one split.

    What it detects:
        Values of the group column (`--group`) that occur in two splits, with the number of
        evaluation rows belonging to such shared groups.

    Why it matters:
        Rows of one group resemble each other far more than rows of different groups: crops
        of one photo, scans of one patient, messages of one user. A random row split puts
        siblings on both sides, and the model is graded on groups it has already seen —
        the score is too optimistic for new patients or photos (004, 000 §2.1).

    Likely causes:
        - A random row split (`train_test_split`) of data with several rows per group.
        - Several crops/tiles/frames cut from one source and split independently.
        - Data added later for people/items already in val/test.

    Fixes:
        - Split by group: `sklearn.model_selection.GroupShuffleSplit(test_size=0.2).split(X, y, groups)`
          or `GroupKFold` / `StratifiedGroupKFold` for cross-validation.
        - Move every row of a shared group to a single split.
        - Keep the group id column with the data so every later split can respect it.

    Example:
        group-leakage: 120 of 400 patient_id values in test also occur in train (3,100 of
        10,000 test rows, 31.0%); the threshold is 1 group.
    """

    id = "group-leakage"
    title = "same group in several splits"
    severity = "error"
    area = "data"
    requires = ("group_leakage",)

    def check(self, m: Mapping[str, Any], *, shared_groups_min: int = 1,  # one shared patient/photo already leaks
              ) -> list[Finding]:
        info = m["group_leakage"]
        findings = []
        for pair in info["pairs"]:
            shared = pair["shared_groups"]
            if shared < shared_groups_min:
                continue
            fraction = pair["rows_b"] / max(pair["n_b"], 1)
            findings.append(self.finding(
                f"{shared} of {pair['groups_b']} {info['column']} values in {pair['b']} also occur in "
                f"{pair['a']} ({count_text(pair['rows_b'])} of {count_text(pair['n_b'])} {pair['b']} rows, {percent(fraction)}); "
                f"the threshold is {shared_groups_min} group(s).",
                where=pair["example_rows_b"],
                evidence={"column": info["column"], "splits": [pair["a"], pair["b"]], "shared_groups": shared,
                          "groups_in_split": pair["groups_b"], "rows_in_shared_groups": pair["rows_b"],
                          "fraction_of_rows": fraction, "example_groups": pair["examples"][:10]},
            ))
        return findings
