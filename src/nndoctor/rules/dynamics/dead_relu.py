from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._series import all_points, rounded


@register
class DeadRelu(Rule):
    """Most units of a ReLU layer never activate: they output 0 for every input.

    What it detects:
        For every hidden ReLU (module or `F.relu`), the share of its units (features of a
        linear layer, channels of a convolution) that were never positive in a window of
        sampled batches (seed 001: the share of negative ReLU inputs). A dead unit has
        zero gradient, so nothing can revive it. A few dead units are normal; this fires
        when at least `dead_share_min` of a layer is dead in the latest window(s). Layers
        of any width count, and per-sample (unbatched) activations too; a layer narrower
        than `narrow_units` needs `narrow_confirm_windows` agreeing windows, since there one
        unit that happened not to fire in a window of single samples is a third of the layer.
        Where windows fill slowly (fewer than `windowless_rows_per_sample` rows per sampled
        batch: per-sample SGD needs 640 steps per window), each unit's inactive streak is
        judged instead: a unit silent on the last `streak_rows_min` sampled inputs in a row
        is dead, and a narrow layer needs all its units dead.

    Why it matters:
        A layer with most of its units dead has lost most of its capacity for good, and
        the layers before it receive almost no gradient through it.

    Likely causes:
        - Learning rate too high: one big step pushed the pre-activations negative for every input.
        - Large negative biases, or an initialisation that is too large or badly centred.
        - Inputs not normalised (all features with a large common offset).

    Fixes:
        - Replace `nn.ReLU` with `nn.LeakyReLU(0.01)` or `nn.GELU` (003 §4.5.3 #14).
        - Lower the learning rate or add warm-up; clip gradients.
        - Initialise with `nn.init.kaiming_normal_(w, nonlinearity="relu")` and zero (or small positive) biases (003 §4.2); add `nn.BatchNorm1d` before the ReLU.

    Example:
        dead-relu: 94% of the 64 units of 'relu after fc1' never activated in the last window
        of 8 sampled batches (threshold 50%).
    """

    id = "dead-relu"
    title = "Dead ReLU units"
    severity = "warning"
    area = "dynamics"
    requires = ("activation_stats",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        dead_share_min: float = 0.5,  # a handful of dead units is normal; half the layer gone is lost capacity (001)
        min_units: int = 1,  # a dead unit is dead however narrow the layer: a 3-unit layer with 3 dead has no capacity left
        confirm_windows: int = 2,  # the last two windows must agree when two exist (no single-window fluke)
        narrow_units: int = 4,  # below this width one unit is a third or more of the layer...
        narrow_confirm_windows: int = 3,  # ...so one more window must agree: a live unit that missed a window of batches of 1 is not dead
        windowless_rows_per_sample: float = 8.0,  # under 8 rows per sampled batch a 64-row window takes ≥ 8 samples' time
        streak_rows_min: int = 40,  # a unit active on ≥ 10 % of inputs misses 40 in a row 1.5 % of the time; all 3 of a layer, 3e-6
        streak_samples_min: int = 8,  # and as many sampled batches as a window spans
    ) -> list[Finding]:
        findings = []
        for key, stats in m["activation_stats"].items():
            if stats.get("kind") != "relu" or not stats.get("hidden") or not stats.get("dead_share"):
                continue
            units = stats.get("units") or 0
            if units < min_units:
                continue
            streaks = stats.get("inactive_streaks")
            if streaks and streaks["rows_seen"] < windowless_rows_per_sample * streaks["samples_seen"]:
                finding = self._streak_finding(key, stats, streaks, units < narrow_units, dead_share_min,
                                               streak_rows_min, streak_samples_min)
                findings.extend([finding] if finding else [])
                continue
            points = all_points(stats["dead_share"])
            needed = narrow_confirm_windows if units < narrow_units else confirm_windows
            last = points[-needed:]
            # A narrow layer is judged only once it has the windows to confirm it.
            if not last or (units < narrow_units and len(last) < needed) or any(s < dead_share_min for _, s in last):
                continue
            first = next((s for s, v in points if v >= dead_share_min), last[0][0])
            share = last[-1][1]
            findings.append(self.finding(
                f"{percent(share, 0)} of the {stats['units']} units of '{key}' never activated in the latest "
                f"window of sampled batches (threshold {percent(dead_share_min, 0)}).",
                step=first,
                where=stats.get("after") or key,
                evidence={"dead_share": rounded(share), "units": stats["units"],
                          "windows": [[s, rounded(v)] for s, v in points[-5:]]},
            ))
        return findings

    def _streak_finding(self, key: str, stats: Mapping[str, Any], streaks: Mapping[str, Any], narrow: bool,
                        share_min: float, rows_min: int, samples_min: int) -> Finding | None:
        units = len(streaks["rows"])
        dead = [i for i, (rows, samples) in enumerate(zip(streaks["rows"], streaks["samples"]))
                if rows >= rows_min and samples >= samples_min]
        share = len(dead) / units if units else 0.0
        if not dead or share < (1.0 if narrow else share_min):
            return None
        since = max(streaks["since"][i] for i in dead)  # when the last of them fell silent
        shortest = min(streaks["rows"][i] for i in dead)
        need = "every unit, the layer being this narrow" if narrow else f"{percent(share_min, 0)} of the layer"
        return self.finding(
            f"{percent(share, 0)} of the {units} units of '{key}' were inactive on each of the last {shortest} sampled "
            f"inputs (since step {since}; threshold {rows_min} inputs in a row for {need}).",
            step=since,
            where=stats.get("after") or key,
            evidence={"dead_share": rounded(share), "units": units, "inactive_rows_min": shortest,
                      "dead_since_step": since, "rows_sampled": streaks["rows_seen"]},
        )
