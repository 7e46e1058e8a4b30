from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class Nondeterministic(Rule):
    """Two short training runs from the same weights and the same seed give different results.

    What it detects:
        Two copies trained for a few steps on the same batch, each after seeding torch,
        numpy and python's `random` identically (dropout masks then repeat exactly). Any
        difference in losses or weights beyond float round-off comes from randomness the
        seed does not control (000 §1.2).

    Why it matters:
        Without reproducible runs you cannot tell whether a change helped or the dice
        rolled differently, and a bug seen once may not come back when you look for it.

    Likely causes:
        - The model draws from its own generator or entropy source: `np.random.default_rng()` without a seed, `random.SystemRandom`, a `torch.Generator` seeded from the clock.
        - Non-deterministic kernels (atomic adds on GPU: `index_add_`, `scatter_add_`, some cuDNN convolutions).
        - Global state that changes between calls (a counter, a cache) inside forward.

    Fixes:
        - Seed every generator once at start (`torch.manual_seed(0)`, `np.random.seed(0)`, `random.seed(0)`) and pass seeded generators to your own sampling code.
        - On GPU: `torch.use_deterministic_algorithms(True)` and `torch.backends.cudnn.benchmark = False` while debugging.
        - Move augmentation and noise out of the model into the data pipeline, with a seeded generator.

    Example:
        nondeterministic: two runs with seed 0 differ from step 0: losses 0.6931 vs
        0.7012, relative difference 1.2e-2 (threshold 1e-5).
    """

    id = "nondeterministic"
    title = "same seed, different results"
    severity = "warning"
    area = "code"
    requires = ("determinism",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        relative_difference_max: float = 1e-5,  # GPU atomics differ by ~1e-7 after a few steps; real randomness by far more
    ) -> list[Finding]:
        d = m["determinism"]
        loss_diff, param_diff = d["max_loss_relative_difference"], d["max_parameter_relative_difference"]
        worst = max(loss_diff, param_diff)
        if worst <= relative_difference_max:
            return []
        step = d.get("first_differing_step")
        pair = ""
        if step is not None:
            pair = f": losses {num(d['losses_first'][step], 6)} vs {num(d['losses_second'][step], 6)}"
        return [self.finding(
            f"Two {d['steps']}-step runs with the same seed differ from step {step if step is not None else '?'}{pair}, "
            f"relative difference {num(worst)} (threshold {num(relative_difference_max)}).",
            step=step,
            evidence={"max_loss_relative_difference": loss_diff, "max_parameter_relative_difference": param_diff,
                      "losses_first": d["losses_first"], "losses_second": d["losses_second"]},
        )]
