from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.data.feature_leakage import leaking_columns


@register
class LabelIssues(Rule):
    """Some rows look mislabelled: a model trained on the other rows confidently disagrees.

    What it detects:
        Confident learning (cleanlab's `find_label_issues`) on out-of-fold predicted
        probabilities of a quick model (gradient boosting; extremely randomised trees above
        10 classes) fitted on a capped sample: rows whose given label is much less likely
        than another class, beyond the per-class confidence thresholds. The worst rows (the
        given label furthest below the best other class) are listed with their ids, given
        label, suggested label and self-confidence (the out-of-fold probability of the given
        label).

    Why it matters:
        Wrong labels are one of the most common and painful causes of poor models (000
        §2.2): they cap the accuracy you can reach, and in validation/test they make the
        metric itself wrong. Separately stored labels, independent shuffling, a bad
        `merge` or a label-changing augmentation break input-label pairs silently.

    Likely causes:
        - Inputs and labels stored apart and joined or shuffled out of step (`merge`
          without checking keys, shuffling X and y separately).
        - Annotation mistakes or tired annotators (004), ambiguous classes (000 §2.5).
        - An augmentation or preprocessing step that changes the label or breaks the pairing.

    Fixes:
        - Look at the listed rows by hand with their inputs; fix the wrong labels at the
          source (000 §2.2).
        - Check the pipeline that joins inputs and labels: assert keys after every
          `merge`, shuffle `(X, y)` together (`sklearn.utils.shuffle(X, y)`).
        - If many rows are ambiguous rather than wrong, relabel them with several
          annotators or use soft labels / label smoothing
          (`nn.CrossEntropyLoss(label_smoothing=0.1)`).
        - To train through remaining noise, drop the flagged rows
          (`cleanlab.classification.CleanLearning`) or use a noise-robust loss.

    Example:
        label-issues: 512 of 10,000 checked rows (5.1%) look mislabelled (limit 2.0%);
        worst: train row 4711 labelled 'cat', model says 'dog' (self-confidence 0.003).
    """

    id = "label-issues"
    title = "likely mislabelled samples"
    severity = "warning"
    area = "data"
    requires = ("label_issues",)
    # Read when measured: a leaking column explains the model's disagreements (see below).
    optional = ("feature_leakage",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # Curated benchmark test sets carry ~3.4% label errors on average (Northcutt et
        # al. 2021); 2% flagged rows is where a manual review starts paying off, and a
        # well-separated clean dataset flags ~0%.
        flagged_fraction_min: float = 0.02,
        # A handful of flagged rows in a small dataset is not a pattern worth a warning.
        flagged_rows_min: int = 10,
        # Out-of-fold accuracy of the quick model on the rows it did not flag. Below it the
        # task itself is hard, so flagged rows may be ambiguous rather than wrong and the
        # finding is only informative: clean synthetic data of rising difficulty flags
        # 1-10% of rows at 93-94% unflagged accuracy, planted flips on an easy task at >99%.
        model_accuracy_trusted_min: float = 0.95,
        # Beyond this many flagged rows it is no longer "some wrong labels": the labels and
        # inputs may be out of step (separate shuffles, bad merge), or the features are weak.
        flagged_fraction_plausible_max: float = 0.25,
    ) -> list[Finding]:
        result = m["label_issues"]
        checked = int(result["n_checked"])
        flagged = int(result["n_issues"])
        fraction = flagged / checked if checked else 0.0
        if fraction < flagged_fraction_min or flagged < flagged_rows_min:
            return []
        accuracy = float(result.get("model_accuracy_unflagged", result["model_accuracy"]))
        misaligned = fraction > flagged_fraction_plausible_max
        trusted = accuracy >= model_accuracy_trusted_min and not misaligned
        worst = result.get("worst", [])
        worst_text = ""
        if worst:
            first = worst[0]
            worst_text = (
                f"; worst: {first['split']} row {first['row_id']} labelled {first['given']!r}, "
                f"model says {first['suggested']!r} (self-confidence {num(first['self_confidence'])})"
            )
        caveat = ""
        if misaligned:
            caveat = (f" — more than {percent(flagged_fraction_plausible_max, 0)} is beyond ordinary label noise: the "
                      "labels may be out of step with the inputs (shuffled or merged separately), or the "
                      "features carry too little signal for a quick model")
        elif not trusted:
            caveat = (f" — the quick model is only {percent(accuracy)} accurate out of fold even on the other rows, "
                      "so some of these may be hard or ambiguous rather than wrong")
        sampled = "; a capped sample" if result.get("sampled") else ""
        causes = fixes = None
        leaks = leaking_columns(m["feature_leakage"]) if m.get("feature_leakage") else []
        if leaks:
            # The quick model learned the leaking column, so it "disagrees" exactly where that
            # column and the label differ: those rows say nothing about wrong labels.
            names = ", ".join(f"'{column['column']}'" for column, _ in leaks)
            trusted = False
            caveat = (f" — but {names} alone predicts the label (see feature-leakage): the quick model leans on "
                      "it, so these are the rows where it disagrees with the label, not evidence of wrong labels")
            causes = [f"The column {names} gives the label away (a feature-leakage finding): the model used for "
                      "this check learned it, and flags the rows where that column and the label differ.",
                      *self.doc().causes[1:2]]
            fixes = ["Resolve feature-leakage first: drop the column (`X = df.drop(columns=[...])`) and audit "
                     "again; the rows flagged then are worth a look by hand."]
        message = (
            f"{count(flagged)} of {count(checked)} checked rows ({percent(fraction)}{sampled}) look mislabelled "
            f"(limit {percent(flagged_fraction_min)}){worst_text}{caveat}."
        )
        return [
            self.finding(
                message,
                causes=causes,
                fixes=fixes,
                severity=None if trusted else "info",
                where=[f"{row['split']}:{row['row_id']}" for row in worst],
                evidence={
                    "n_checked": checked,
                    "n_issues": flagged,
                    "fraction": round(fraction, 5),
                    "flagged_fraction_min": flagged_fraction_min,
                    "model_accuracy": result["model_accuracy"],
                    "model_accuracy_unflagged": round(accuracy, 4),
                    "model_accuracy_trusted_min": model_accuracy_trusted_min,
                    "flagged_fraction_plausible_max": flagged_fraction_plausible_max,
                    "per_split": result.get("per_split", {}),
                    "sampled": bool(result.get("sampled")),
                    "sample_cap": result.get("sample_cap"),
                    "worst": worst,
                    "leaking_columns": [column["column"] for column, _ in leaks],
                },
            )
        ]
