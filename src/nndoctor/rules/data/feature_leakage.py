from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class FeatureLeakage(Rule):
    """A single feature, or an id column, predicts the label (almost) perfectly on its own.

    What it detects:
        Feature columns whose one-feature model (a table from the column's value, or its
        quantile bin for numbers, to the label) scores near-perfectly out of fold on train, and id-like columns (a different
        value per row, or integers that only grow down the table) that predict the label at
        all. Scores are rescaled so chance = 0 and perfect = 1.

    Why it matters:
        Real signals are rarely that clean. A feature that alone gives the answer is usually
        the answer in disguise: recorded after the outcome, derived from the label, or an id
        assigned in label order. The model learns that shortcut, scores brilliantly, and fails
        on real inputs where the shortcut is absent (000 §2.1: "could you know this at
        prediction time?"; 000 §1.3: patient ids or dates hinting at the target).

    Likely causes:
        - A column computed from the label or recorded after the outcome (a discharge code,
          a "days in treatment" field, a follow-up measurement).
        - Rows sorted by class before ids or row numbers were assigned.
        - A merge that copied the label (or an encoding of it) into a feature column.

    Fixes:
        - Ask of each listed column: "would I know this value at prediction time?"; drop it if not:
          `X = df.drop(columns=["leaky_column"])`.
        - Drop id and row-number columns from the inputs (`df.drop(columns=["id"])`), and
          shuffle before assigning ids.
        - Check with a model trained without the column: a real signal degrades gracefully.

    Example:
        feature-leakage: column 'discharge_code' alone predicts the label with skill 1.00
        out of fold (threshold 0.98; 0 = chance, 1 = perfect).
    """

    id = "feature-leakage"
    title = "one feature predicts the label on its own"
    severity = "warning"
    area = "data"
    requires = ("feature_leakage",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        feature_skill_min: float = 0.98,  # iris' best feature scores 0.91, breast-cancer's 0.80: real signals fall short
        id_skill_min: float = 0.5,  # an identifier should carry no information about the label at all
    ) -> list[Finding]:
        info = m["feature_leakage"]
        findings = []
        for column in info["columns"]:
            threshold = id_skill_min if column["id_like"] else feature_skill_min
            if column["skill"] < threshold:
                continue
            what = "id-like column" if column["id_like"] else "column"
            findings.append(self.finding(
                f"{what.capitalize()} '{column['column']}' alone predicts the label with skill "
                f"{column['skill']:.2f} out of fold (threshold {threshold:g}; 0 = chance, 1 = perfect).",
                where=column["column"],
                evidence={"column": column["column"], "skill": column["skill"], "id_like": column["id_like"],
                          "model": "quantile bin→label table" if column["kind"] == "numeric" else "category→label table",
                          "metric": info["metric"], "rows_used": info["n_rows"]},
            ))
        return findings
