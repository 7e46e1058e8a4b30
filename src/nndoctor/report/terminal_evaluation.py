"""The evaluation summary printed above the findings of `nndoctor evaluate`: headline
metrics with their 95% intervals, the baselines, the weakest classes and slices."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nndoctor.rules.evaluation import _wording as w

WORST_SHOWN = 5


def _metric_table(split: str, summary: dict[str, Any]) -> Table:
    table = Table(title=f"{split} · {summary['n']:,} rows", title_justify="left", box=None, pad_edge=False)
    for column in ("metric", "value", "95% interval", "method"):
        table.add_column(column, justify="right" if column in ("value", "95% interval") else "left")
    for metric in summary.get("headline", []):
        table.add_row(w.name(metric["name"]), w.value(metric["name"], metric["value"]),
                      w.interval(metric["name"], metric["low"], metric["high"]), metric["method"])
    return table


def _gain(metric: str, number: float) -> str:
    return f"{100 * number:+.1f}" if metric in w.BOUNDED else f"{number:+.3g}"


def _baseline_table(summary: dict[str, Any]) -> Table:
    table = Table(title="against baselines (gain > 0: the model is better; points for % metrics)",
                  title_justify="left", box=None, pad_edge=False)
    for column in ("baseline", "metric", "model", "baseline", "gain [95% interval]"):
        table.add_column(column, justify="left" if column in ("baseline", "metric") else "right")
    for c in summary.get("baselines", []):
        metric = c["metric"]
        table.add_row(escape(str(c["baseline"])), w.name(metric), w.value(metric, c["model"]),
                      w.value(metric, c["baseline_value"]),
                      f"{_gain(metric, c['improvement'])} [{_gain(metric, c['low'])}, {_gain(metric, c['high'])}]")
    return table


def render_evaluation_summary(context: dict[str, Any], console: Console) -> None:
    if not context:
        return
    console.rule(f"[bold]evaluation[/bold] · {context['task']}")
    for split, summary in context["splits"].items():
        console.print(_metric_table(split, summary))
        if summary.get("baselines"):
            console.print(_baseline_table(summary))
        classes = [row for row in summary.get("per_class", []) if row.get("recall") is not None]
        if len(classes) > 1:
            worst = sorted(classes, key=lambda row: row["recall"])[:WORST_SHOWN]
            console.print("[dim]lowest recall:[/dim] " + escape(", ".join(
                f"{row['class']} {row['recall']:.1%} [{row['recall_low']:.1%}, {row['recall_high']:.1%}] "
                f"(n={row['support']:,})" for row in worst)))
        slices = summary.get("worst_slices", [])[:WORST_SHOWN]
        if slices:
            console.print("[dim]weakest slices (before false-discovery control):[/dim] " + escape("; ".join(
                f"{row['slice']} {row['metric_in_slice']:.3g} vs {row['metric_elsewhere']:.3g} "
                f"(n={row['n']:,}, p={row['p_value']:.2g})" for row in slices)))
        calibration = summary.get("calibration")
        if calibration:
            console.print(f"[dim]calibration:[/dim] ECE {calibration['ece']:.3f} (a calibrated model: ≤ "
                          f"{calibration['ece_noise_95']:.3f} by chance)")
        console.print()
    for row in context.get("comparison", [])[:1]:
        metric = row["metric"]
        console.print(f"[dim]{row['first']} vs {row['second']}:[/dim] {w.name(metric)} "
                      f"{w.value(metric, row['first_value'])} vs {w.value(metric, row['second_value'])} "
                      f"(difference {w.difference(metric, row['difference'])} [{w.difference(metric, row['low'])}, "
                      f"{w.difference(metric, row['high'])}], {row['method']})\n")
    for ceiling in context.get("ceiling", []):
        metric = ceiling["metric"]
        console.print(f"[dim]ceiling from {ceiling['source']}:[/dim] {w.name(metric)} of a perfect model ≈ "
                      f"{w.value(metric, ceiling['ceiling'])}; a repeat measurement reaches "
                      f"{w.value(metric, ceiling['reference'])}; the model {w.value(metric, ceiling['model'])}\n")
