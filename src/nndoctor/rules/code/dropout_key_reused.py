from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class DropoutKeyReused(Rule):
    """The same random key drew the dropout mask again and again: dropout drops the same units every step.

    What it detects:
        In frameworks with explicit random keys (JAX/Flax), every dropout mask of a
        training run should come from a fresh key (000 §1.2: every random operation is
        controlled by a `jax.random.PRNGKey` you split). nndoctor counts how many masks
        each key value drew while training; a key that drew the mask of several steps
        was passed in unchanged instead of split.

    Why it matters:
        With one fixed key the "random" mask is a constant: the same units are always
        dropped, so dropout stops regularising and instead removes a fixed part of the
        network for training only, which then behaves differently at evaluation. The loss
        looks normal, so the mistake stays silent.

    Likely causes:
        - `rngs={'dropout': key}` given the same `key` at every step (created once outside the loop and never split).
        - A jitted train step that receives the key as an argument but never returns a new one.
        - An NNX model split once (`nnx.split`) and merged from the same RNG state at every step, so its RNG counter never advances.

    Fixes:
        - Split the key every step: `key, dropout_key = jax.random.split(key)` and pass `rngs={'dropout': dropout_key}`.
        - Fold in the step number: `jax.random.fold_in(key, step)` inside the jitted step.
        - With NNX, keep the model's state updated (`nnx.update(model, state)` or `nnx.jit` on the module) so `nnx.Rngs` advances.

    Example:
        dropout-key-reused: one key drew 300 of the 300 dropout masks of the run (at
        'Dropout_0'); threshold: a key used for more than 2 masks.
    """

    id = "dropout-key-reused"
    title = "dropout key reused every step"
    severity = "error"
    area = "code"
    requires = ("dropout_keys",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # A correctly split key draws one mask; 2 allows a key deliberately shared by the
        # two dropouts of one layer. A reused key draws one per step, far more.
        uses_per_key_max: int = 2,
    ) -> list[Finding]:
        keys = m["dropout_keys"]
        uses = keys["most_uses_of_one_key"]
        if uses <= uses_per_key_max:
            return []
        where = keys.get("where")
        return [self.finding(
            f"One key drew {uses} of the {keys['masks']} dropout masks of the run"
            f"{f' (at {where!r})' if where else ''}; {keys['distinct_keys']} distinct keys in all "
            f"(threshold: a key used for more than {uses_per_key_max} masks).",
            where=where,
            evidence={"masks": keys["masks"], "distinct_keys": keys["distinct_keys"], "most_uses_of_one_key": uses},
        )]
