"""Terminal text for the tuning results: what was measured, the numbers, and the one-line
code change — plain strings, so the CLI only prints them."""
from __future__ import annotations

import math
from typing import Any

from nndoctor.tune import lr_curve

BARS = " ▁▂▃▄▅▆▇█"


def fmt_lr(lr: float | None) -> str:
    if lr is None:
        return "—"
    return f"{lr:.2g}".replace("e-0", "e-").replace("e+0", "e")


def sparkline(values: list[float], ceiling: float | None = None) -> str:
    """One bar per value; values above `ceiling` are drawn at full height (the blow-up at
    the end of a range test would otherwise flatten the valley)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    if ceiling is not None:
        values = [min(v, ceiling) for v in values]
        finite = [min(v, ceiling) for v in finite]
    lo, hi = min(finite), max(finite)
    span = hi - lo or 1.0
    return "".join(BARS[1 + int((len(BARS) - 2) * (v - lo) / span)] if math.isfinite(v) else "×" for v in values)


def _code_change(result: dict[str, Any], lr: float) -> str:
    factors = result["group_factors"]
    name = result["optimizer"]
    if len(factors) == 1 or all(abs(f - 1) < 1e-12 for f in factors):
        return f"optimizer = torch.optim.{name}(model.parameters(), lr={fmt_lr(lr)})"
    shown = ", ".join(f"{fmt_lr(lr * f)}" for f in factors)
    return f"set the param groups' lr to {shown} (your per-group ratios kept)"


def lr_summary(result: dict[str, Any], *, batches: str) -> list[str]:
    lines = [f"Learning rate for {result['optimizer']} (your lr {fmt_lr(result['user_lr'])}), {batches}."]
    lrs, losses = result["range_lrs"], result["range_losses"]
    repeats = len(result["suggestions"])
    if lrs:
        lines += ["",
                  f"Range test: the lr rises from {fmt_lr(result['range_schedule'][0])} to "
                  f"{fmt_lr(result['range_schedule'][-1])} over {len(result['range_schedule'])} steps, one batch each, "
                  f"on {repeats} batch orders (median smoothed loss):",
                  f"  {fmt_lr(lrs[0]):>7s} {sparkline(losses, ceiling=1.2 * losses[0])} {fmt_lr(lrs[-1])}"
                  f"   loss {losses[0]:.4g} → min {min(losses):.4g}"]
    if result["suggestion"] is not None:
        found = [s for s in result["suggestions"] if s is not None]
        lines.append(f"  suggestion {fmt_lr(result['suggestion'])} (a decade below the valley's bottom), spread "
                     f"{result['suggestion_spread']:.2g}× over {len(found)} of {repeats} orders "
                     f"({fmt_lr(min(found))} … {fmt_lr(max(found))})")
    else:
        lines.append(f"  no suggestion: {result['refusal']}")
    if result["sweep"]:
        lines += ["", f"Confirming sweep: each rate trained {result['budget_steps']} steps from your initial "
                      f"weights, scored on held-out batches (loss at start {result['initial_held_out_loss']:.4g}):"]
        finite = [p["held_out_loss"] for p in result["sweep"] if p["held_out_loss"] is not None]
        worst = max(finite) if finite else 1.0
        best = result["best_grid_lr"]
        for point in result["sweep"]:
            held = point["held_out_loss"]
            bar = "█" * max(1, int(20 * held / worst)) if held is not None else "diverged"
            mark = "  ← best" if best is not None and abs(point["lr"] - best) < 1e-12 * best else ""
            spike = "  (spikes early)" if point["early_spike"] and held is not None else ""
            far = point.get("far_off_orders", 0)
            if far and held is not None:
                spike += f"  ({far} batch orders far off: each counted at the rate's median + {lr_curve.FAR_OFF_SCALES:g} robust standard deviations)"
            lines.append(f"  {fmt_lr(point['lr']):>7s}  {'' if held is None else f'{held:.4g}':>7s}  {bar}{mark}{spike}")
    if result["confirmed_lr"] is not None:
        stable = fmt_lr(result["largest_stable_lr"]) + (" (the highest tried)" if result["largest_stable_is_limit"] else "")
        error = result.get("confirmed_lr_error")
        known = f" ×/÷ {error:.2f} (one standard error over the batch orders)" if error else ""
        lines += ["", f"Best lr {fmt_lr(result['confirmed_lr'])}{known} (lowest held-out loss {result['best_held_out_loss']:.4g}, "
                      f"interpolated between grid points); largest usable (no divergence, ≥ half the best's gain): {stable}."]
        if result["user_held_out_loss"] is not None:
            lines.append(f"Your lr {fmt_lr(result['user_lr'])} reaches {result['user_held_out_loss']:.4g}.")
        elif result["user_lr"]:
            lines.append(f"Your lr {fmt_lr(result['user_lr'])} diverged within the budget.")
        if result["suggestion_error"] is not None:
            error = result["suggestion_error"]
            lines.append(f"The range test alone was {max(error, 1 / error):.2g}× {'above' if error > 1 else 'below'} "
                         "the confirmed rate.")
        warm = result.get("warmup")
        if warm and warm["helps"]:
            lines.append(f"Warm-up: lr {fmt_lr(warm['lr'])} trains when warmed up from {fmt_lr(warm['start_lr'])} "
                         f"over {warm['warmup_steps']} steps (held-out {warm['held_out_with']:.4g}).")
        lines += ["", f"Change:  {_code_change(result, result['confirmed_lr'])}",
                  f"For a long run with a decaying schedule, start at {fmt_lr(result['largest_stable_lr'])} and divide "
                  "by 10 at each plateau (003 §4.5.4)."]
    elif result.get("sweep_failure"):
        lines += ["", f"No rate confirmed: {result['sweep_failure']}."]
    return lines


def noise_scale_summary(result: dict[str, Any], *, batches: str) -> list[str]:
    lines = [f"Gradient noise scale at the current weights, {batches}.",
             f"Each batch is cut into micro batches of {result['small_batch']}; the big batch is all "
             f"{result['big_batch']} samples ({result['groups']} batches).",
             f"  tr(Σ) ≈ {result['trace_sigma']:.4g}   |G|² ≈ {result['gradient_norm_squared']:.4g}"]
    if result["b_simple"] is None:
        return [*lines, f"  no estimate: {result['note']}"]
    low, high = result["b_simple_low"], result["b_simple_high"]
    spread = f" (± one standard error: {low:.3g} … {high:.3g})" if low is not None else ""
    return [*lines,
            f"  B_simple = tr(Σ)/|G|² ≈ {result['b_simple']:.3g}{spread}; your batch size is {result['user_batch_size']}.",
            "",
            f"Batches up to ≈ {result['b_simple']:.3g} samples train in proportionally fewer steps (scale the lr with "
            "the batch); beyond it each extra sample buys less. The noise scale grows as the loss falls, so this "
            "start-of-training value is a lower bound for later."]


def weight_decay_summary(result: dict[str, Any], *, batches: str) -> list[str]:
    kind = "decoupled (shrinks the weights)" if result["decoupled"] else "an L2 term added to the gradient"
    lines = [f"Weight decay with {result['optimizer']} — {kind}; {batches}.", "", "Param groups:"]
    for group in result["groups"]:
        lines.append(f"  group {group['index']}: weight_decay {group['weight_decay']:g}, {group['matrices']} matrices, "
                     f"{group['vectors']} vectors ({group['parameters']} parameters)")
    effective = result["effective_decay"]
    if effective and effective.get("ratio") is not None:
        expected = effective.get("expected_ratio")
        lines.append(f"Measured over {effective['steps']} steps: the decay shrank the matrices {effective['ratio']:.3g}× "
                     "as much as decoupled decay of the same value" +
                     (f" (expected {expected:.3g}×)." if expected is not None else "."))
    elif effective:
        lines.append(f"Measured: {effective['reason']}.")
    lines += ["", f"Sweep (003 §4.5.4), {result['budget_steps']} steps each at your lr from your initial weights:",
              "  weight_decay   train loss   held-out loss   |W|"]
    for point in result["sweep"]:
        train = "diverged" if point["train_loss"] is None else f"{point['train_loss']:.5g}"
        held = "diverged" if point["held_out_loss"] is None else f"{point['held_out_loss']:.5g}"
        lines.append(f"  {point['weight_decay']:>12g}   {train:>10s}   {held:>13s}   {point['weight_norm']:.5g}")
    norms = [p["weight_norm"] for p in result["sweep"]]
    if norms and norms[0] > 0:
        lines.append(f"The largest value moved the weight norm by {abs(norms[-1] - norms[0]) / norms[0]:.2%} in this "
                     "budget: over a short run decay acts little; its effect on train and held-out loss shows over a "
                     "full run (more decay: higher train loss, lower held-out loss when the model overfits).")
    return lines
