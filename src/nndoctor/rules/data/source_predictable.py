from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class SourcePredictable(Rule):
    """The lab / batch / instrument a sample came from can be predicted from its features.

    What it detects:
        A quick gradient-boosted classifier, cross-validated on a capped sample, predicts
        the source column (`source=`) from the features. The rule fires when its macro
        one-vs-rest ROC AUC is high, clearly above chance at this sample size, and clearly
        above what the label alone explains (sources can legitimately differ in class mix;
        that part is not a batch effect).

    Why it matters:
        If the source is written all over the features, a model can learn the source
        instead of the biology: it shortcuts through "samples from lab B are mostly
        positive" and fails on a new lab. Batch effects are often stronger than the real
        signal (000 §2.4, §2.5).

    Likely causes:
        - Batch effects: different reagent lots, instruments, protocols or operators.
        - Per-source preprocessing (normalised per batch, different units, read counts vs TPM).
        - A feature that directly encodes the source (file path, plate position, scanner id).

    Fixes:
        - Plot a PCA/UMAP of the features coloured by source; clusters by source confirm a
          batch effect (000 §2.4).
        - Correct batch effects (ComBat, Harmony, per-batch standardisation of controls)
          or use domain adaptation; remove features that encode the source.
        - Evaluate with leave-one-source-out splits (`LeaveOneGroupOut` with
          groups=source) to measure generalisation to a new lab honestly.
        - Balance the class mix across sources, so the source cannot stand in for the label.

    Example:
        source-predictable: the source 'lab' is predicted from the features with macro
        AUC 0.97 (limit 0.70; the label alone gives 0.55; balanced accuracy 0.88 vs
        chance 0.33; 9,000 rows).
    """

    id = "source-predictable"
    title = "batch / source effects"
    severity = "warning"
    area = "data"
    requires = ("source_predictability",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # 0.70 is "acceptable discrimination" in the usual AUC scale; below it a source
        # signal is too weak to be the shortcut a network prefers over the real one.
        auc_min: float = 0.70,
        # The features must beat the label-only predictor of the source by this much,
        # otherwise the source is predictable only through its class mix.
        auc_over_label_only_min: float = 0.10,
        # Same chance band as split-shift: 4 Mann-Whitney null sd.
        chance_sd_multiple: float = 4.0,
    ) -> list[Finding]:
        result = m["source_predictability"]
        auc = float(result["auc"])
        label_only = result.get("label_only_auc")
        reference = max(0.5, float(label_only)) if label_only is not None else 0.5
        chance_margin = chance_sd_multiple * float(result["null_sd"])
        if auc < auc_min or auc - reference < auc_over_label_only_min or auc - 0.5 <= chance_margin:
            return []
        top = [entry["feature"] for entry in result.get("top_features", [])[:3]]
        label_text = f"; the label alone gives {label_only:.2f}" if label_only is not None else ""
        telling = f"; most telling features: {', '.join(map(repr, top))}" if top else ""
        message = (
            f"the source {result.get('source_name', 'source')!r} ({result['n_sources']} values) is "
            f"predicted from the features with macro AUC {auc:.2f} (limit {auc_min:.2f}{label_text}; "
            f"balanced accuracy {result['balanced_accuracy']:.2f} vs chance "
            f"{result['chance_accuracy']:.2f}; {count(result['n_rows'])} rows"
            f"{', a capped sample' if result.get('sampled') else ''}){telling}."
        )
        return [
            self.finding(
                message,
                where=top or result.get("source_name"),
                evidence={
                    "auc": round(auc, 4),
                    "auc_min": auc_min,
                    "label_only_auc": label_only,
                    "auc_over_label_only_min": auc_over_label_only_min,
                    "balanced_accuracy": result["balanced_accuracy"],
                    "chance_accuracy": result["chance_accuracy"],
                    "n_sources": result["n_sources"],
                    "n_rows": result["n_rows"],
                    "chance_margin": round(chance_margin, 4),
                    "sample_cap": result.get("sample_cap"),
                    "sampled": bool(result.get("sampled")),
                    "top_features": result.get("top_features", [])[:10],
                },
            )
        ]
