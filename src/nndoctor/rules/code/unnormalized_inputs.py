from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class UnnormalizedInputs(Rule):
    """The model's float inputs are far from unit scale, or their features differ in scale by orders of magnitude.

    What it detects:
        From the first training batches of each model (`input_stats`): an input whose RMS
        is `rms_high` or more (raw pixels 0–255 have an RMS of about 100; raw units such as
        prices or years are worse), or features whose standard deviations differ by
        `feature_spread_high`× or more — the widest feature against the median one — while
        the widest is itself above unit scale. It fires only when at least `batches_min`
        batches were described and every one agrees (one batch of heavy-tailed features,
        such as polynomial terms x⁴ of normal draws, can look unscaled by chance). Token ids are not described; [0, 1] images, standardised features and
        one-hot columns mixed with standardised ones stay silent.

    Why it matters:
        Training assumes inputs with zero mean and unit variance per feature (003 §4.5.1:
        subtract the mean and normalise the variance). With raw pixels the first layer's
        pre-activations are ~100× too large: saturated or dead units, huge gradients and a
        learning rate that is wrong by the same factor. A feature on a 10,000× larger scale
        than the others dominates the first layer and the gradients, and the small ones are
        learned only after a long detour.

    Likely causes:
        - Images fed as 0–255 values: `transforms.ToTensor()` omitted, or a uint8 array converted with `.float()`.
        - Tabular features in raw units (income, counts, timestamps) next to standardised or binary ones.
        - The normalisation statistics computed on one split or feature set and applied to another.

    Fixes:
        - Scale images to [0, 1] (`x / 255`) and standardise them (`transforms.Normalize(mean, std)`).
        - Standardise each feature with training-set statistics: `sklearn.preprocessing.StandardScaler().fit(x_train)`, or `(x - mean) / std` per column.
        - Log-transform heavy-tailed positive features (`np.log1p(x)`) before standardising.

    Example:
        unnormalized-inputs: the inputs `x` of Net have RMS 118 (|x| up to 255; threshold
        10) in all 3 described batches: they look like raw pixels or raw units.
    """

    id = "unnormalized-inputs"
    title = "inputs not normalized"
    severity = "warning"
    area = "code"
    requires = ("input_stats",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        rms_high: float = 10.0,  # standardised data has RMS ≈ 1, [0,1] images ≈ 0.5; raw pixels ≈ 100 (init-scale-mismatch uses 0.1–10 too)
        feature_spread_high: float = 100.0,  # two orders of magnitude: a rare one-hot column (std ≈ 0.07) next to a standardised one is 15×
        widest_feature_std_min: float = 1.0,  # a spread among small features (one-hot, [0,1] pixels) is not a raw-unit feature
        batches_min: int = 3,  # the session describes the first 3 training batches; all must agree
    ) -> list[Finding]:
        by_model: dict[str, list[Mapping[str, Any]]] = {}
        for record in m["input_stats"]:
            by_model.setdefault(f"{record.get('model')}\0{record.get('argument')}", []).append(record)
        findings = []
        for records in by_model.values():
            # A model that normalises its own inputs (a BatchNorm/LayerNorm as first layer)
            # is not affected; one that only rescales them (x / 255 in forward) shows it in the
            # RMS its first weight layer receives, when the adapter measures that.
            if any(r.get("normalized_inside") for r in records) or len(records) < batches_min:
                continue
            if all(_input_rms(r) is not None and _input_rms(r) >= rms_high for r in records):
                findings.append(self._scale_finding(records, rms_high))
            elif all(_spread(r) is not None and _spread(r)[0] >= feature_spread_high
                     and _spread(r)[1] >= widest_feature_std_min for r in records):
                findings.append(self._spread_finding(records, feature_spread_high, widest_feature_std_min))
        return findings

    def _scale_finding(self, records: list[Mapping[str, Any]], rms_high: float) -> Finding:
        first = records[0]
        looks = "raw pixels" if 100 <= (first.get("abs_max") or 0) <= 256 else "raw units"
        return self.finding(
            f"the inputs `{first.get('argument')}` of {first.get('model')} have RMS {num(first['rms'])} (|x| up to "
            f"{num(first.get('abs_max', 0), 4)}, mean {num(first.get('mean', 0))}; threshold {num(rms_high)}) in "
            f"{_batches(records)}: they look like {looks}, not standardised values.",
            step=first.get("step"), where=first.get("model"),
            evidence={"model": first.get("model"), "argument": first.get("argument"), "rms": first["rms"],
                      "abs_max": first.get("abs_max"), "mean": first.get("mean"), "batches": len(records)},
        )

    def _spread_finding(self, records: list[Mapping[str, Any]], spread_high: float, widest_min: float) -> Finding:
        first = records[0]
        spread, widest, median = _spread(first)
        largest = first.get("largest_features") or []
        named = ", ".join(f"#{index} (std {num(std)})" for index, std in largest[:3])
        return self.finding(
            f"the features of input `{first.get('argument')}` of {first.get('model')} differ in scale by "
            f"{spread:,.0f}×: the widest has std {num(widest)} against a median feature's {num(median)} (threshold "
            f"{num(spread_high)}× with the widest above {num(widest_min)}) in {_batches(records)}"
            + (f"; widest: {named}." if named else "."),
            step=first.get("step"), where=first.get("model"),
            evidence={"model": first.get("model"), "argument": first.get("argument"), "spread": spread,
                      "widest_std": widest, "median_std": median, "largest_features": largest[:5],
                      "feature_count": first.get("feature_count"), "batches": len(records)},
        )


def _spread(record: Mapping[str, Any]) -> tuple[float, float, float] | None:
    """(widest std / median std, widest std, median std) over the non-constant features."""
    quantiles = record.get("feature_std_quantiles")
    if not quantiles or len(quantiles) != 5 or not quantiles[2] or quantiles[2] <= 0:
        return None
    return quantiles[4] / quantiles[2], quantiles[4], quantiles[2]


def _input_rms(record: Mapping[str, Any]) -> float | None:
    """The RMS the first weight layer sees when measured, else that of the raw input."""
    inside = record.get("first_layer_input_rms")
    return inside if inside is not None else record.get("rms")


def _batches(records: list[Mapping[str, Any]]) -> str:
    return "the one described batch" if len(records) == 1 else f"all {len(records)} described batches"
