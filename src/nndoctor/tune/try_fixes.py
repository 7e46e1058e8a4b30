"""`nndoctor run --try-fixes`: the counterfactual — rerun the script's first updates with
each candidate fix applied and measure which one cures the symptom.

1. A baseline trial: the script's first N updates, diagnosed (the user sees it as a normal
   `nndoctor run`).
2. For its findings whose cure is a setting (nndoctor.tune.fix_catalogue), one trial per
   candidate fix, each a fresh process (nndoctor.torch.watch.fix_trial) with the same seed,
   the fix intercepted inside the watch session, a timeout each and a budget for all.
3. Each trial is scored against the baseline: did the findings it targets disappear (their
   rules judged and silent), did new problems appear, and the loss over the same updates
   (mean of the last tenth, and the minimum).

This module only starts processes and compares plain results; it imports no framework.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from nndoctor.tune.fix_catalogue import Candidate, candidate_fixes, code_change, warmup_steps

TRIAL_MODULE = "nndoctor.torch.watch.fix_trial"
LOSS_TAIL_FRACTION = 0.1  # "loss at step N": the mean of the last tenth of the updates, less noisy than one batch
LOSS_TAIL_MIN = 3
# Within ±5 % of the baseline's loss over the same updates is "no change": one tenth of a
# short run's mini-batch losses is that noisy. Beyond it the loss is better or worse.
LOSS_WORSE_RATIO = 1.05
LOSS_BETTER_RATIO = 0.95
# Fixes whose cure must show in the training loss. Restoring train/eval mode need not lower
# it (dropout back on raises the training loss): for those the finding alone decides.
LOSS_JUDGED_KINDS = {"lr_scale", "warmup", "clip_grad", "reinit", "zero_grad", "weight_decay_scale", "dropout_off"}
TIMEOUT_FLOOR_SECONDS = 60.0
TIMEOUT_BASELINE_MULTIPLE = 4.0  # a fix may slow the run (clipping, no dropout) but not by 4×
SEVERE = ("error", "warning")


@dataclass
class TrialSettings:
    script: str | None
    module: str | None
    args: list[str]
    steps: int
    seed: int = 0
    every: int = 10
    select: list[str] | None = None
    ignore: list[str] | None = None
    thresholds: dict[str, Any] | None = None
    preflight: bool = False
    timeout_seconds: float | None = None
    budget_seconds: float = 600.0
    only_fixes: list[str] | None = None  # try only these fix ids (when they are candidates)


@dataclass
class TrialRun:
    """What one trial process left: its report (a dict), loss per update, facts, status."""

    status: str  # ok · timeout · crashed · budget
    outcome: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    detail: str = ""

    @property
    def report(self) -> dict[str, Any]:
        return self.outcome.get("report") or {}

    @property
    def losses(self) -> list[float]:
        return [float(v) for v in self.outcome.get("losses") or []]

    def rules(self, severities: tuple[str, ...] = SEVERE) -> set[str]:
        return {f["rule"] for f in self.report.get("findings", []) if f.get("severity") in severities}


def run_trial_process(settings: TrialSettings, fix: dict[str, Any] | None, *, live: bool,
                      timeout: float | None) -> TrialRun:
    """Run one trial in a fresh interpreter. The baseline (live) shares the terminal; a fix
    trial's output goes to a log whose tail explains a crash."""
    with tempfile.TemporaryDirectory(prefix="nndoctor-trial-") as folder:
        spec_path, out_path, log_path = (Path(folder) / name for name in ("spec.json", "out.json", "log.txt"))
        spec = {"script": settings.script, "module": settings.module, "args": settings.args,
                "max_steps": settings.steps, "seed": settings.seed, "fix": fix, "every": settings.every,
                "select": settings.select, "ignore": settings.ignore, "thresholds": settings.thresholds,
                "preflight": settings.preflight, "live": live, "out": str(out_path)}
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        env = dict(os.environ, PYTHONHASHSEED=str(settings.seed))
        package_root = str(Path(__file__).resolve().parents[2])  # the child imports this nndoctor
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        started = time.monotonic()
        with open(log_path, "wb") as log:
            output = None if live else log
            process = subprocess.Popen([sys.executable, "-m", TRIAL_MODULE, str(spec_path)],
                                       stdout=output, stderr=output, env=env)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                return TrialRun("timeout", seconds=time.monotonic() - started,
                                detail=f"stopped after {timeout:.0f} s (--fix-timeout)")
        seconds = time.monotonic() - started
        if not out_path.is_file():
            tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
            return TrialRun("crashed", seconds=seconds,
                            detail=f"the trial process exited with code {process.returncode}: " + " | ".join(tail))
        outcome = json.loads(out_path.read_text(encoding="utf-8"))
        if outcome.get("crashed") and not live:
            tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
            return TrialRun("crashed", outcome, seconds, "the script raised: " + " | ".join(tail))
        return TrialRun("ok", outcome, seconds)


def loss_summary(losses: list[float]) -> dict[str, Any]:
    """The loss over a trial's updates: `final` (mean of the last tenth, inf when any of them
    is NaN/Inf), `min` (lowest finite), `first`, `diverged`."""
    if not losses:
        return {"updates": 0, "final": None, "min": None, "first": None, "diverged": False}
    tail = losses[-min(len(losses), max(LOSS_TAIL_MIN, math.ceil(LOSS_TAIL_FRACTION * len(losses)))):]
    diverged = any(not math.isfinite(v) for v in tail)
    finite = [v for v in losses if math.isfinite(v)]
    return {"updates": len(losses), "final": math.inf if diverged else sum(tail) / len(tail),
            "min": min(finite) if finite else None, "first": losses[0], "diverged": diverged}


def score_trial(candidate: Candidate, trial: TrialRun, baseline: TrialRun,
                baseline_loss: dict[str, Any]) -> dict[str, Any]:
    """The trial's row: status, whether the targeted findings are gone, new problems, loss."""
    row: dict[str, Any] = {"fix": candidate.fix.id, "title": candidate.fix.title, "kind": candidate.fix.kind,
                           "params": dict(candidate.fix.params), "targets": list(candidate.targets),
                           "status": trial.status, "seconds": round(trial.seconds, 2), "detail": trial.detail}
    if trial.status != "ok":
        row.update(verdict=trial.status, cured=False, loss=[])
        return row
    found = trial.rules(("error", "warning", "info"))
    checked = set(trial.report.get("checks_run", []))
    left = [rule for rule in candidate.targets if rule in found]
    unjudged = [rule for rule in candidate.targets if rule not in checked and rule not in found]
    new = sorted(trial.rules() - baseline.rules())
    summary = loss_summary(trial.losses)
    row.update(symptoms_left=left, unjudged=unjudged, new_findings=new, loss_summary=summary, loss=trial.losses,
               fix_applied=trial.outcome.get("fix_applied", 0), updates=summary["updates"])
    row["loss_ratio"] = _ratio(summary["final"], baseline_loss["final"])
    symptom_gone = not left and not unjudged
    judged_by_loss = candidate.fix.kind in LOSS_JUDGED_KINDS
    if not row["fix_applied"]:
        verdict = "never applied"  # e.g. no evaluation pass in the first updates for the eval-mode fix
    elif not symptom_gone:
        verdict = "not judged" if unjudged and not left else "not cured"
    elif new:
        verdict = "new problem"
    elif judged_by_loss and _loss_worse(summary, baseline_loss):
        verdict = "loss worse"
    elif judged_by_loss and not _loss_better(summary, baseline_loss):
        verdict = "symptom gone"  # the finding is silent but the run learns no better
    else:
        verdict = "cured"
    row["verdict"] = verdict
    row["cured"] = verdict == "cured"
    return row


def _ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None:
        return None
    if not math.isfinite(reference) or reference <= 0 or not math.isfinite(value):
        return None
    return value / reference


def _loss_worse(summary: dict[str, Any], baseline: dict[str, Any]) -> bool:
    if summary["final"] is None or baseline["final"] is None:
        return False
    if summary["diverged"]:
        return True
    if baseline["diverged"]:
        return False
    return summary["final"] > baseline["final"] * LOSS_WORSE_RATIO + 1e-12


def _loss_better(summary: dict[str, Any], baseline: dict[str, Any]) -> bool:
    if summary["final"] is None or baseline["final"] is None:
        return True  # no loss to compare: the finding decides
    if summary["diverged"]:
        return False
    if baseline["diverged"]:
        return True
    return summary["final"] < baseline["final"] * LOSS_BETTER_RATIO


def try_fixes(settings: TrialSettings, *, quiet: bool = False,
              progress: Callable[[str], None] = lambda text: None) -> tuple[TrialRun, dict[str, Any]]:
    """The baseline trial and every candidate's; returns the baseline and the
    `report.context["try_fixes"]` record (see docs in report/terminal_try_fixes.py)."""
    baseline = run_trial_process(settings, None, live=not quiet, timeout=None)
    record: dict[str, Any] = {"steps": settings.steps, "seed": settings.seed, "budget_seconds": settings.budget_seconds,
                              "trials": [], "recommended": None}
    if baseline.status != "ok" or "usage_error" in baseline.outcome:
        record["nothing_to_try"] = True
        record["reason"] = baseline.outcome.get("usage_error") or f"the baseline run failed: {baseline.detail}"
        return baseline, record
    facts = baseline.outcome.get("facts") or {}
    baseline_loss = loss_summary(baseline.losses)
    record["baseline"] = {"loss": baseline.losses, "loss_summary": baseline_loss, "seconds": round(baseline.seconds, 2),
                          "findings": sorted(baseline.rules(("error", "warning", "info"))),
                          "updates": facts.get("steps", 0)}
    candidates = candidate_fixes(baseline.report.get("findings", []), facts)
    if settings.only_fixes:
        candidates = [c for c in candidates if c.fix.id in settings.only_fixes]
    if not candidates:
        record["nothing_to_try"] = True
        if not baseline.rules(("error", "warning")):
            record["reason"] = "no warning or error in these updates"
        elif settings.only_fixes:
            record["reason"] = f"none of --fix {', '.join(settings.only_fixes)} is a candidate for these findings"
        else:
            record["reason"] = "no finding of the run is cured by a setting nndoctor can change from outside"
        return baseline, record
    record["nothing_to_try"] = False
    timeout = settings.timeout_seconds or max(TIMEOUT_FLOOR_SECONDS, TIMEOUT_BASELINE_MULTIPLE * baseline.seconds)
    deadline = time.monotonic() + settings.budget_seconds
    for index, candidate in enumerate(candidates, 1):
        if candidate.fix.kind == "warmup":
            steps = warmup_steps(facts.get("steps", settings.steps))
            candidate.fix = dataclasses.replace(candidate.fix, params={**candidate.fix.params, "steps": steps})
        remaining = deadline - time.monotonic()
        if remaining <= 1:
            trial = TrialRun("budget", detail=f"not run: the --fix-budget of {settings.budget_seconds:.0f} s was spent")
        else:
            progress(f"trial {index}/{len(candidates)}: {candidate.fix.title} (for {', '.join(candidate.targets)}) …")
            trial = run_trial_process(settings, candidate.fix.to_dict(), live=False, timeout=min(timeout, remaining))
        row = score_trial(candidate, trial, baseline, baseline_loss)
        row["code_change"] = code_change(candidate.fix, facts)
        record["trials"].append(row)
    cured = [row for row in record["trials"] if row["cured"]]
    if cured:
        best = min(cured, key=lambda row: _sort_loss(row["loss_summary"]["final"]))
        record["recommended"] = best["fix"]
    return baseline, record


def _sort_loss(value: float | None) -> float:
    return math.inf if value is None else value
