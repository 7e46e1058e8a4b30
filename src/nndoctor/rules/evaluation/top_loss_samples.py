from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.evaluation import _wording as w


def _shown(value: Any) -> str:
    return f"{num(value, 4)}" if isinstance(value, float) else repr(value)


@register
class TopLossSamples(Rule):
    """The samples the model gets most wrong, and which of them look mislabelled.

    What it detects:
        The highest-loss samples of each split with their ids, label, prediction and
        confidence. With class probabilities, cleanlab's confident learning marks the rows
        whose given label is much less likely than another class — candidates for label
        errors rather than model errors — and counts them over the whole split.

    Why it matters:
        Looking at the worst predictions is the fastest error analysis there is (003 #10,
        000 §4.2): they show label errors, corrupted inputs, and the cases the model
        systematically misses. Label errors in the evaluation set also make the metric itself
        wrong.

    Likely causes:
        - Wrong labels in the evaluation data (annotation mistakes, a broken join).
        - Corrupted, blank or out-of-distribution inputs.
        - Genuinely hard or ambiguous cases.

    Fixes:
        - Open the listed samples by id and look at them with their labels.
        - Fix confirmed label errors at the source and re-evaluate; review rows flagged by
          cleanlab first (`cleanlab.filter.find_label_issues`).
        - If the worst samples share a trait (a site, a format), check it as a slice (`slices=`).

    Example:
        top-loss-samples: on val the 10 highest-loss samples are ids 4711, 93, 2203, …; the
        worst, id 4711, is labelled 'cat' but predicted 'dog' with confidence 0.998; 41 rows
        (1.4%) look mislabelled (cleanlab).
    """

    id = "top-loss-samples"
    title = "highest-loss samples"
    severity = "info"
    area = "evaluation"
    requires = ("top_loss",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # How many of the worst samples the message names (the evidence keeps all listed).
        samples_shown: int = 5,
    ) -> list[Finding]:
        findings = []
        for entry in m["top_loss"]:
            top = entry["top"]
            wrong = [row for row in top if row["label"] != row["prediction"]]
            if not top or top[0]["loss"] == 0 or (not wrong and "confidence" in top[0]):
                continue  # no mistakes among the worst samples: nothing to look at
            worst = top[0]
            text = (f"On {entry['split']} the {len(top)} highest-loss samples are ids "
                    f"{w.ids([row['sample_id'] for row in top], samples_shown)}; the worst, id {worst['sample_id']}, "
                    f"is labelled {_shown(worst['label'])} but predicted {_shown(worst['prediction'])}")
            if "confidence" in worst:
                text += f" with confidence {worst['confidence']:.3f}"
            text += f" (loss {num(worst['loss'])}, mean loss {num(entry['mean_loss'])})"
            if entry["n_label_issues"] is not None:
                share = entry["n_label_issues"] / entry["n"]
                flagged = sum(1 for row in top if row.get("looks_mislabelled"))
                text += (f"; cleanlab flags {count(entry['n_label_issues'])} rows ({percent(share, 1)}) as likely label errors, "
                         f"{flagged} of them among these")
            findings.append(self.finding(
                text + ". Look at them by id: wrong labels and broken inputs show up here first.",
                where=[row["sample_id"] for row in top],
                evidence={"split": entry["split"], "top": top, "n_label_issues": entry["n_label_issues"],
                          "label_issue_ids": entry["label_issue_ids"][:20],
                          "label_check_skipped": entry["label_check_skipped"]}))
        return findings
