from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class FeatureLeakage(Rule):
    """A single feature, or an id column, predicts the label (almost) perfectly on its own.

    What it detects:
        Feature columns whose one-feature model (a table from the column's value, or its
        quantile bin for numbers, to the label) scores near-perfectly out of fold on train, or
        almost so while beating every other column by a wide margin, and id-like columns (a
        different value per row, or integers that only grow down the table) that predict the
        label at all. Scores are rescaled so chance = 0 and perfect = 1.

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
        feature-leakage: Column 'discharge_code' alone predicts the label with skill 1 out
        of fold (0 = chance, 1 = perfect); threshold 0.98.
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
        # A column below that but still near-perfect is the leak when it alone beats every
        # other column by a wide margin: a code that matches the outcome for 97% of rows
        # scores 0.94 with the next column at 0.42, while iris' best (0.91) leads by 0.16,
        # breast-cancer's (0.80) by 0.02.
        dominant_skill_min: float = 0.92,
        dominant_lead_min: float = 0.3,
        id_skill_min: float = 0.5,  # an identifier should carry no information about the label at all
    ) -> list[Finding]:
        info = m["feature_leakage"]
        findings = []
        for column, why in leaking_columns(info, feature_skill_min=feature_skill_min, id_skill_min=id_skill_min,
                                           dominant_skill_min=dominant_skill_min,
                                           dominant_lead_min=dominant_lead_min):
            what = "id-like column" if column["id_like"] else "column"
            findings.append(self.finding(
                f"{what.capitalize()} '{column['column']}' alone predicts the label with skill "
                f"{num(column['skill'], 2)} out of fold (0 = chance, 1 = perfect){why}.",
                where=column["column"],
                evidence={"column": column["column"], "skill": column["skill"], "id_like": column["id_like"],
                          "model": "quantile bin→label table" if column["kind"] == "numeric" else "category→label table",
                          "metric": info["metric"], "rows_used": info["n_rows"]},
            ))
        return findings


def leaking_columns(
    info: Mapping[str, Any],
    *,
    feature_skill_min: float = 0.98,
    dominant_skill_min: float = 0.92,
    dominant_lead_min: float = 0.3,
    id_skill_min: float = 0.5,
) -> list[tuple[dict[str, Any], str]]:
    """(column, why) for each column that gives the label away; `why` completes the message
    with the threshold crossed. Also read by label-issues, which must not blame rows for a leak."""
    columns = list(info["columns"])
    found = []
    for column in columns:
        skill = column["skill"]
        if column["id_like"]:
            if skill >= id_skill_min:
                found.append((column, f"; threshold {num(id_skill_min)} for an identifier"))
            continue
        if skill >= feature_skill_min:
            found.append((column, f"; threshold {num(feature_skill_min)}"))
            continue
        others = [c for c in columns if c is not column and not c["id_like"]]
        if not others or skill < dominant_skill_min:
            continue
        runner_up = max(others, key=lambda c: c["skill"])
        if skill - runner_up["skill"] >= dominant_lead_min:
            found.append((column, (
                f", {num(skill - runner_up['skill'], 2)} above the next best column '{runner_up['column']}' "
                f"({num(runner_up['skill'], 2)}): a column this far ahead of all others is the label in disguise "
                f"(thresholds: skill {num(dominant_skill_min)} with a lead of {num(dominant_lead_min)}, "
                f"or {num(feature_skill_min)} alone)")))
    return found
