"""The terminal view of `nndoctor run --try-fixes`: which fix cured which finding, the loss
over the same updates, the loss curves side by side as sparklines, and the code change.

It reads `report.context["try_fixes"]` (written by nndoctor.tune.try_fixes):
    steps, seed, budget_seconds, nothing_to_try, reason, recommended (a fix id or None),
    baseline: {loss: [per update], loss_summary: {final, min, first, diverged, updates}, findings, seconds},
    trials: [{fix, title, kind, params, targets, status, verdict, cured, symptoms_left, unjudged,
              new_findings, loss, loss_summary, loss_ratio, code_change, seconds, detail}]
Loss values that were NaN/Inf appear as the strings "nan"/"inf" in JSON.
"""
from __future__ import annotations

import math
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from nndoctor.core.numbers import num

SPARK_CHARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 24
LOG_SCALE_SPAN = 10.0  # losses spanning more than 10× are drawn on a log scale
VERDICT_STYLE = {"cured": "bold green", "symptom gone": "yellow", "not cured": "red", "loss worse": "yellow",
                 "new problem": "yellow", "not judged": "dim", "never applied": "dim", "timeout": "dim",
                 "crashed": "red", "budget": "dim"}
# The "cured" column: did the finding go, and did the run get better for it.
VERDICT_TEXT = {"cured": "yes", "symptom gone": "gone, loss same", "not cured": "no", "loss worse": "gone, loss worse",
                "new problem": "gone, new finding", "not judged": "not judged", "never applied": "never applied",
                "timeout": "timed out", "crashed": "crashed", "budget": "not run"}


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def sparkline(losses: list[Any], low: float, high: float, log_scale: bool, width: int = SPARK_WIDTH) -> str:
    """The curve in `width` characters (bucket means), on the scale shared by every row; a
    bucket holding a NaN/Inf shows as ×."""
    values = [_number(v) for v in losses]
    if not values:
        return ""
    buckets = [values[i * len(values) // width:(i + 1) * len(values) // width] for i in range(width)]
    buckets = [b for b in buckets if b] if len(values) >= width else [[v] for v in values]
    chars = []
    for bucket in buckets:
        if any(not math.isfinite(v) for v in bucket):
            chars.append("×")
            continue
        value = sum(bucket) / len(bucket)
        position = _scaled(value, low, high, log_scale)
        chars.append(SPARK_CHARS[min(len(SPARK_CHARS) - 1, max(0, int(position * len(SPARK_CHARS))))])
    return "".join(chars)


def _scaled(value: float, low: float, high: float, log_scale: bool) -> float:
    if high <= low:
        return 0.5
    if log_scale:
        return (math.log(max(value, low)) - math.log(low)) / (math.log(high) - math.log(low))
    return (value - low) / (high - low)


def _scale(curves: list[list[Any]]) -> tuple[float, float, bool]:
    finite = [v for curve in curves for v in map(_number, curve) if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0, False
    low, high = min(finite), max(finite)
    log_scale = low > 0 and high / low > LOG_SCALE_SPAN
    return low, high, log_scale


def _loss_text(summary: dict[str, Any] | None) -> str:
    if not summary or summary.get("final") is None:
        return "–"
    if summary.get("diverged"):
        return "NaN/Inf"
    return num(summary["final"])


def try_fixes_renderables(record: dict[str, Any]) -> list[RenderableType]:
    title = Text(f"nndoctor --try-fixes: the first {record.get('steps')} updates, seed {record.get('seed')}",
                 style="bold")
    if record.get("nothing_to_try"):
        return [title, Text.assemble(("Nothing to try", "bold green"), f": {record.get('reason', '')}.")]
    baseline = record.get("baseline") or {}
    trials = record.get("trials") or []
    low, high, log_scale = _scale([baseline.get("loss") or []] + [t.get("loss") or [] for t in trials])
    updates = (baseline.get("loss_summary") or {}).get("updates", 0)
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("fix", no_wrap=True)
    table.add_column("cured", no_wrap=True)
    table.add_column(f"loss at {updates}", justify="right")
    table.add_column("vs base", justify="right")
    table.add_column(f"loss curve{' (log)' if log_scale else ''}", no_wrap=True)
    table.add_row("no fix (baseline)", "",
                  _loss_text(baseline.get("loss_summary")), "",
                  sparkline(baseline.get("loss") or [], low, high, log_scale), style="dim")
    for trial in trials:
        verdict = trial.get("verdict", "")
        ratio = trial.get("loss_ratio")
        table.add_row(trial.get("fix"),
                      Text(VERDICT_TEXT.get(verdict, verdict), style=VERDICT_STYLE.get(verdict, "")),
                      _loss_text(trial.get("loss_summary")), "–" if ratio is None else f"{num(ratio)}×",
                      sparkline(trial.get("loss") or [], low, high, log_scale))
    found = ", ".join(baseline.get("findings") or []) or "none"
    parts: list[RenderableType] = [title, Text(f"Found without a fix: {found}.", style="dim"), table, Text("")]
    parts.extend(_details(trials))
    parts.append(_conclusion(record, trials))
    return parts


def _details(trials: list[dict[str, Any]]) -> list[RenderableType]:
    lines: list[RenderableType] = []
    for trial in trials:
        notes = [f"for {', '.join(trial.get('targets') or [])}"]
        if trial.get("symptoms_left"):
            notes.append("still found: " + ", ".join(trial["symptoms_left"]))
        if trial.get("new_findings"):
            notes.append("new: " + ", ".join(trial["new_findings"]))
        if trial.get("unjudged"):
            notes.append("not checked in the trial: " + ", ".join(trial["unjudged"]))
        if trial.get("detail"):
            notes.append(trial["detail"])
        lines.append(Text(f"  {trial.get('fix')} = {trial.get('title')}, " + "; ".join(notes), style="dim"))
    return lines


def _conclusion(record: dict[str, Any], trials: list[dict[str, Any]]) -> RenderableType:
    recommended = next((t for t in trials if t.get("fix") == record.get("recommended")), None)
    if recommended is None:
        silenced = [t["fix"] for t in trials if t.get("verdict") == "symptom gone"]
        extra = (f" ({', '.join(silenced)} silenced the finding without a better loss)" if silenced else "")
        return Text.assemble(("No candidate cured the findings", "bold yellow"),
                             f" within these updates{extra}; the table shows what each changed.")
    others = [t for t in trials if t.get("cured") and t is not recommended]
    lines = [Text.assemble(("Cured by ", "bold green"), (recommended["title"], "bold"),
                           f" ({', '.join(recommended.get('targets') or [])} gone, loss "
                           f"{_loss_text(recommended.get('loss_summary'))} vs "
                           f"{_loss_text((record.get('baseline') or {}).get('loss_summary'))} without it). Change:"),
             Text(f"    {recommended.get('code_change')}")]
    for trial in others:
        lines.append(Text(f"  also cured: {trial['title']} (loss {_loss_text(trial.get('loss_summary'))}): "
                          f"{trial.get('code_change')}", style="dim"))
    return Group(*lines)
