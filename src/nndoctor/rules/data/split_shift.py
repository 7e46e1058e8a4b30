from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


_GROUP_HINT = ("; if rows come in groups (patients, photos), pass group= so the check "
               "cross-validates by group")


@register
class SplitShift(Rule):
    """A classifier can tell the training rows from the validation/test rows.

    What it detects:
        Adversarial validation: a quick gradient-boosted classifier is trained, with
        cross-validation on a capped sample, to predict "is this row from train or from the
        other split?" from the features (and "val or test?" when both are given). Its
        out-of-fold ROC AUC should be ~0.5 when the splits come from one distribution; the
        rule fires when the AUC is both above a limit and far above what chance allows at
        this sample size. The features whose shuffling hurts the classifier most are
        reported as the ones giving the split away.

    Why it matters:
        Validation and test data must look like the data the model will serve (003
        §4.5.1). If they come from another lab, instrument, period or preprocessing, the
        validation score says little about deployment, and a good validation score with a
        bad field score (000 §2.4) is the typical outcome. Validation and test that differ
        make the two scores disagree, so choices tuned on validation do not carry (004).

    Likely causes:
        - The splits come from different sources, sites, instruments or time periods.
        - Train and test were preprocessed differently (scaler fitted per split, a
          different unit or encoding, a feature computed only for one split).
        - A column that encodes the split itself (row id, timestamp, file index).
        - A grouped split where groups differ strongly; then pass `group=` so the check
          cross-validates by group.

    Fixes:
        - Look at the reported features first: plot their histograms per split
          (`df.groupby("split")[col].describe()`).
        - Fit every preprocessing step on train only and apply the same fitted object to
          all splits (`scaler.fit(X_train)`, then `scaler.transform(X_val)`).
        - Drop identifier-like or time-stamp columns that cannot be used at prediction time.
        - If the shift is real (new site, new period), say so: evaluate per source, use
          domain adaptation or batch-effect correction, and keep a test set from the
          deployment distribution (000 §2.4).

    Example:
        split-shift: a classifier tells train from test with ROC AUC 0.93 (limit 0.60,
        chance band ±0.03 at 20,000 rows, a sample capped at 20,000); most telling
        features: 'scanner_gain', 'age'.
    """

    id = "split-shift"
    title = "train and evaluation splits differ"
    severity = "warning"
    area = "data"
    requires = ("split_shift",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # Deepchecks' domain-classifier drift alarm is a drift score 2*AUC-1 of 0.25 (AUC
        # 0.625); 0.60 is a little stricter but still far from the noise of a random split.
        auc_min: float = 0.60,
        # Out-of-fold AUC of a no-shift split scatters around 0.5 with `null_sd` (Mann-
        # Whitney null sd x the measured CV scatter factor 1.4); 4 sd keeps false alarms
        # on random splits below 1 in 10,000.
        chance_sd_multiple: float = 4.0,
    ) -> list[Finding]:
        findings = []
        for result in m["split_shift"]:
            auc = float(result["auc"])
            chance_margin = chance_sd_multiple * float(result["null_sd"])
            if auc < auc_min or auc - 0.5 <= chance_margin:
                continue
            top = [entry["feature"] for entry in result.get("top_features", [])[:3]]
            telling = f"; most telling features: {', '.join(map(repr, top))}" if top else ""
            reference = result.get("reference", "train")
            rows = result["n_reference_rows"] + result["n_other_rows"]
            # near-perfect separation without grouped CV is the signature of distinct groups
            grouped = result.get("groups_given") or result.get("grouped_cv")
            hint = _GROUP_HINT if auc >= 0.9 and not grouped else ""
            sample = f", a sample capped at {count(result.get('sample_cap'))}" if result.get("sampled") else ""
            findings.append(
                self.finding(
                    f"a classifier tells {reference} from {result['split']} with ROC AUC {auc:.2f} "
                    f"(limit {auc_min:.2f}, chance band ±{chance_margin:.2f} at {count(rows)} "
                    f"rows{sample}){telling}{hint}.",
                    where=top or result["split"],
                    evidence={
                        "reference": reference,
                        "split": result["split"],
                        "auc": round(auc, 4),
                        "auc_min": auc_min,
                        "chance_margin": round(chance_margin, 4),
                        "n_reference_rows": result["n_reference_rows"],
                        "n_other_rows": result["n_other_rows"],
                        "cv_folds": result.get("cv_folds"),
                        "grouped_cv": result.get("grouped_cv", False),
                        "sample_cap": result.get("sample_cap"),
                        "sampled": bool(result.get("sampled")),
                        "top_features": result.get("top_features", [])[:10],
                    },
                )
            )
        return findings
