from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class DropoutWithNormalization(Rule):
    """Dropout is used together with normalization layers; dropout before batch norm shifts its statistics.

    What it detects:
        Active dropout (p > 0) in a model that also normalizes activations. Dropout whose
        output flows into a BatchNorm layer (traced through the forward pass) is a warning;
        dropout alongside LayerNorm/GroupNorm, or after the last BatchNorm (a classifier
        head), is a note.

    Why it matters:
        During training dropout changes the variance of what reaches the next batch-norm
        layer; at evaluation it does not, so the running statistics BatchNorm learned no
        longer match and accuracy drops for no visible reason. Dropout also adds noise
        that makes it hard to tell whether poor results come from randomness or from a
        real bug: the debugging checklist says dropout and normalization should not be
        used together — keep the normalization, remove the dropout (003 §4.5.3 #4, 000 §1.1.2).

    Likely causes:
        - Dropout added out of habit to a network that already has batch normalization.
        - A block ordered Dropout → Conv/Linear → BatchNorm (e.g. a copied wide-ResNet block).
        - Regularization switched on from the start, before the model was shown to learn.

    Fixes:
        - Remove the dropout layers (or set `p=0`) while debugging; the normalization already regularizes.
        - If you need dropout, put it only after the last BatchNorm layer (in the classifier head).
        - Add regularization back (weight decay first) only once the model overfits a small batch.

    Example:
        dropout-with-normalization: dropout 'block.1 (Dropout)' (p=0.3) feeds batch norm
        'block.3 (BatchNorm1d)'; dropout should not feed batch normalization (threshold p > 0).
    """

    id = "dropout-with-normalization"
    title = "dropout used together with normalization"
    severity = "warning"
    area = "architecture"
    requires = ("dropout_normalization",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        dropout_p_min: float = 0.0,  # any active dropout changes the variance BatchNorm sees (003 §4.5.3 #4)
    ) -> list[Finding]:
        seen = m["dropout_normalization"]
        counted = {index for index, d in enumerate(seen["dropout"]) if d["p"] > dropout_p_min}
        dropouts = [seen["dropout"][index] for index in sorted(counted)]
        norms = seen["normalization"]
        if not dropouts or not norms:
            return []
        fed = [n for n in norms if n["kind"] == "batch" and counted & set(n["fed_by_dropouts"])]
        evidence = {
            "dropout_layers": _unique(d["where"] for d in dropouts),
            "dropout_p_max": max(d["p"] for d in dropouts),
            "normalization_layers": _unique(n["where"] for n in norms)[:8],
            "normalization_kinds": _unique(n["kind"] for n in norms),
        }
        if fed:
            first_dropout = seen["dropout"][min(counted & set(fed[0]["fed_by_dropouts"]))]
            return [self.finding(
                f"dropout '{first_dropout['where']}' (p={num(first_dropout['p'])}) feeds batch norm "
                f"'{fed[0]['where']}'; dropout should not feed batch normalization (threshold p > {num(dropout_p_min)}).",
                where=_unique([first_dropout["where"], fed[0]["where"]]),
                evidence={**evidence, "batchnorm_after_dropout": _unique(n["where"] for n in fed)[:8]},
            )]
        kinds = " and ".join(f"{kind} normalization" for kind in evidence["normalization_kinds"])
        batch_orders = [n["order"] for n in norms if n["kind"] == "batch" and n.get("order") is not None]
        in_head = bool(batch_orders) and all((d.get("order") or 0) > max(batch_orders) for d in dropouts)
        if in_head:
            place, causes = "after the last batch normalization (in the head), where it does not feed one", [
                "Dropout in the classifier head, after the last BatchNorm: the usual place for it, harmless to "
                "BatchNorm, but it still adds noise while you debug (003 §4.5.3 #4)."]
        elif "batch" in evidence["normalization_kinds"]:
            place, causes = "beside it, without feeding a batch normalization", self.doc().causes[:1]
        else:
            place, causes = "beside it", [
                "Dropout as configured by default in transformer-style blocks (`dropout=0.1`) next to LayerNorm: "
                "common and not harmful to the normalization, but random noise while debugging (003 §4.5.3 #4)."]
        return [self.finding(
            f"{len(evidence['dropout_layers'])} dropout layer(s) (p up to {num(evidence['dropout_p_max'])}) are used "
            f"together with {kinds}, {place}; while debugging, switch dropout off (p > {num(dropout_p_min)} counts).",
            severity="info",
            where=evidence["dropout_layers"][:8],
            evidence={**evidence, "dropout_in_head": in_head},
            causes=causes,
            fixes=[
                "While debugging, build the model with dropout=0 (e.g. `nn.TransformerEncoderLayer(..., dropout=0.0)`) "
                "so that randomness cannot hide a bug; put it back once the model learns.",
                "Keep the normalization layers: they stabilize training and already regularize a little.",
            ],
        )]


def _unique(items) -> list:  # noqa: ANN001
    seen: list = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen
