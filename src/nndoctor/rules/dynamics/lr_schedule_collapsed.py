from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._lr import lr_points


@register
class LrScheduleCollapsed(Rule):
    """The learning rate fell to a hundredth of its peak early in the run, and training goes on at ~0.

    What it detects:
        Each param group's learning rate at every optimizer step (`optimizer_groups`). It
        fires when the lr dropped to `1 / drop_factor_min` of its peak so far and has
        stayed there for at least as many steps as it took to get there (so the collapse
        came in the first half of the run seen so far), and for at least
        `min_collapsed_steps` steps. Schedules that reach ~0 at the end of training
        (cosine, OneCycle, linear decay) spend only their last few percent of steps that
        low, and a warm-up starting from 0 is a rise, not a drop: neither fires.

    Why it matters:
        With the lr 100× below its intended value the optimizer barely moves: the rest of
        the run is spent at a standstill, the loss plateaus early, and nothing reports an
        error. The most common cause is a scheduler written for epochs stepped every batch:
        `StepLR(step_size=2, gamma=0.1)` stepped per batch divides the lr by 10 every 2
        batches, reaching 1e-10 within 20 steps. The lr is the most important
        hyperparameter to get right (003 §4.5.4).

    Likely causes:
        - `scheduler.step()` inside the batch loop for a scheduler whose `step_size` / `milestones` / `T_max` count epochs.
        - A decay computed with the wrong total (`total_steps` = epochs instead of epochs × batches per epoch).
        - `gamma` or `factor` far too small, or ReduceLROnPlateau with `patience=0` on a noisy per-batch loss.

    Fixes:
        - Step epoch-based schedulers once per epoch (after the batch loop), or express `step_size` / `T_max` in batches: `T_max = epochs * len(loader)`.
        - Print `[g['lr'] for g in optimizer.param_groups]` every few steps to see the schedule you actually get.
        - For per-batch schedules use ones built for it: `OneCycleLR(optimizer, max_lr, total_steps=epochs * len(loader))`.

    Example:
        lr-schedule-collapsed: the learning rate of SGD group 0 fell from 0.1 to 1e-09 (1e+08×
        lower, threshold 100×) by step 16 and has stayed there for 184 steps.
    """

    id = "lr-schedule-collapsed"
    title = "learning rate collapsed early"
    severity = "warning"
    area = "dynamics"
    requires = ("optimizer_groups",)
    # A state: a schedule that restarts (warm restarts, cyclic) and raises the lr again contradicts it.
    retractable = True

    def check(
        self,
        m: Mapping[str, Any],
        *,
        drop_factor_min: float = 100.0,  # 100× below its peak the lr moves nothing (003 §4.5.4: lr decays are steps of 10×)
        min_collapsed_steps: int = 20,  # a handful of low-lr steps costs nothing; a stretch of them wastes the run
        collapsed_to_elapsed_min: float = 1.0,  # as long at ~0 as before it: decays that end the run spend ≤ 7 % there
    ) -> list[Finding]:
        findings = []
        for group in m["optimizer_groups"]:
            series = group.get("lr_series")
            if not series or not series.get("count"):
                continue
            points = lr_points(series)
            # The start of the final stretch at or below peak / drop_factor_min: a schedule that
            # rises again (warm restarts, cycles) starts a new stretch when it next falls.
            peak, peak_step, collapse_step = 0.0, None, None
            for step, low, high in points:
                if high > peak:
                    peak, peak_step = high, step
                limit = peak / drop_factor_min * (1 + 1e-9)  # 0.1 * 0.1**2 is 0.0010000000000000002
                if high > limit:
                    collapse_step = None
                elif collapse_step is None and peak > 0:
                    collapse_step = step
            if collapse_step is None:
                continue
            last_step, lr_now = points[-1][0], points[-1][2]
            collapsed = last_step - collapse_step
            if collapsed < min_collapsed_steps or collapsed < collapsed_to_elapsed_min * max(collapse_step, 1):
                continue
            fold = peak / lr_now if lr_now > 0 else float("inf")
            name = f"{group.get('optimizer', 'optimizer')} group {group.get('group', 0)}"
            findings.append(self.finding(
                f"the learning rate of {name} fell from {num(peak)} (step {peak_step}) to {num(lr_now)} "
                f"({num(fold)}× lower, threshold {num(drop_factor_min)}×) by step {collapse_step} and has stayed there for "
                f"{count(collapsed)} steps (threshold {min_collapsed_steps} steps and as long as before the drop).",
                step=collapse_step,
                where=name,
                evidence={"optimizer": group.get("optimizer"), "group": group.get("group"), "peak_lr": peak,
                          "peak_step": peak_step, "lr_now": lr_now, "collapse_step": collapse_step,
                          "steps_collapsed": collapsed, "drop_factor": fold if lr_now > 0 else None},
            ))
        return findings
