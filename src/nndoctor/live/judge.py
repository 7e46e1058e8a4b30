"""Turning the session's measurements into findings: rule selection, periodic judging,
live one-line printing of new findings, `--stop-on`, and the final report."""
from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

from nndoctor.core.config import check_thresholds
from nndoctor.core.engine import INTERNAL_ERROR, resolve_thresholds, run_rules
from nndoctor.core.finding import SEVERITIES, Finding
from nndoctor.core.registry import load_rules
from nndoctor.core.report import Report
from nndoctor.core.rule import Measurements, Rule
from nndoctor.live.faults import StopRun

RUN_AREAS = ("code", "preflight", "dynamics")
# Of the preflight experiments only this one is judged from a live run: it needs nothing
# but the first observed loss.
PREFLIGHT_RULES_IN_RUN = {"initial-loss-off"}
# Judge every couple of seconds, and at once after a new event (a stale gradient, an
# evaluation pass in training mode, a described loss call): those events are few and
# bounded in number, so judging on each costs little and reports at the step it happened.
JUDGE_INTERVAL_SECONDS = 2.0


# What a run measures for the code rules. Code rules that need a preflight experiment
# (batch mixing, determinism, …) are left out of a run rather than listed as skipped in
# every report: `nndoctor run --preflight` runs them on the first step.
RUN_CODE_MEASUREMENTS = {
    "loss_calls", "parameter_status", "steps_observed", "stale_grad_updates",
    "no_grad_forwards", "initial_loss", "internal_faults", "train_mode_steps", "step_order",
    "accumulation", "optimizer_groups", "optimizer_coverage", "input_stats", "chance_loss",
    "initial_eval_loss",
}


def select_rules(select: Iterable[str] | None, ignore: Iterable[str] | None) -> list[type[Rule]]:
    registry = load_rules()
    rules = registry.select(areas=RUN_AREAS, select=list(select or []), ignore=list(ignore or []))
    return [
        r for r in rules
        if (r.area != "preflight" or r.id in PREFLIGHT_RULES_IN_RUN)
        and (r.area != "code" or set(r.requires) <= RUN_CODE_MEASUREMENTS)
    ]


def finding_key(finding: Finding) -> tuple[str, str]:
    return finding.rule, repr(finding.where)


class Judge:
    def __init__(
        self,
        *,
        select: Iterable[str] | None = None,
        ignore: Iterable[str] | None = None,
        thresholds: dict[str, dict[str, Any]] | None = None,
        live: bool = True,
        stop_on: str | None = None,
        stream: TextIO | None = None,
        command: str = "run",
    ) -> None:
        if stop_on is not None and stop_on not in SEVERITIES[:2]:
            raise ValueError(f"stop_on must be 'error' or 'warning', got {stop_on!r}")
        self.rules = select_rules(select, ignore)
        self.select, self.ignore = list(select or []) or None, list(ignore or []) or None
        # Checked now, before training starts: a typo found at the final judgement would
        # cost the whole run's diagnosis.
        check_thresholds(thresholds, load_rules())
        self.thresholds = resolve_thresholds(self.rules, thresholds)
        self.live = live
        self.stop_on = stop_on
        self.stream = stream
        self.command = command
        self.fired: dict[tuple[str, str], Finding] = {}
        self.retracted: list[dict[str, Any]] = []
        # Rules describing a state that later evidence can contradict (a gradient seen
        # nonzero after all): their findings are withdrawn when the state changes.
        self.retractable = {r.id for r in self.rules if getattr(r, "retractable", False)}
        self.last_time = 0.0
        self.dirty = True

    def due(self) -> bool:
        return self.dirty or time.monotonic() - self.last_time >= JUDGE_INTERVAL_SECONDS

    def judge(self, parts: list[Measurements]) -> Report:
        """Run the rules on each part (the first carries the run-wide measurements, the
        others one more model each) and merge."""
        self.last_time = time.monotonic()
        self.dirty = False
        report = Report(command=self.command)
        for index, measurements in enumerate(parts):
            partial = run_rules(measurements, self.rules, thresholds=self.thresholds, command=self.command)
            if index == 0:
                report = partial
            else:
                report.extend(partial)
        return report

    def announce(self, report: Report) -> None:
        """Print each finding the first time it fires; stop the run if asked to."""
        stop: Finding | None = None
        self._retract_contradicted(report)
        for finding in report.sorted_findings():
            key = finding_key(finding)
            if key in self.fired:
                continue
            self.fired[key] = finding
            if self.live:
                self._print_live(finding)
            # nndoctor's own faults never end the user's run.
            if (self.stop_on is not None and finding.rank <= SEVERITIES.index(self.stop_on)
                    and finding.rule != INTERNAL_ERROR and stop is None):
                stop = finding
        if stop is not None:
            raise StopRun(stop)

    def _retract_contradicted(self, report: Report) -> None:
        if not self.retractable:
            return
        present = {finding_key(f) for f in report.findings}
        judged = set(report.checks_run)
        for key, finding in list(self.fired.items()):
            if finding.rule in self.retractable and finding.rule in judged and key not in present:
                del self.fired[key]
                self.retracted.append({"rule": finding.rule, "step": finding.step, "message": finding.message})
                if self.live:
                    self._print_live(finding, retracted=True)

    def _print_live(self, finding: Finding, retracted: bool = False) -> None:
        from rich.console import Console

        from nndoctor.report.terminal import live_line

        stream = self.stream or sys.stderr
        console = Console(file=stream, highlight=False, soft_wrap=True)
        console.print(live_line(finding, retracted=retracted))

    def final(self, report: Report) -> Report:
        """The final judgement plus the findings of rules that fired earlier and are silent
        now (a loss spike that recovered is still worth knowing about)."""
        self._retract_contradicted(report)
        present = {f.rule for f in report.findings}
        for finding in self.fired.values():
            if finding.rule not in present and finding.rule not in self.retractable:
                report.findings.append(finding)
        if self.retracted:
            report.context["retracted"] = list(self.retracted)
        return report
