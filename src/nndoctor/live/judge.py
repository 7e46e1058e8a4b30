"""Turning a live run's measurements into findings: periodic judging, live one-line
printing of new findings, `--stop-on`, and the final report. Which rules run is the
adapter's capability (nndoctor.core.capability.RuleSet), not decided here."""
from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from nndoctor.core.capability import RuleSet
from nndoctor.core.engine import INTERNAL_ERROR
from nndoctor.core.finding import SEVERITIES, Finding
from nndoctor.core.report import Report
from nndoctor.core.rule import Measurements
from nndoctor.live.faults import StopRun

# Judge every couple of seconds, and at once after a new event (a stale gradient, an
# evaluation pass in training mode, a described loss call): those events are few and
# bounded in number, so judging on each costs little and reports at the step it happened.
JUDGE_INTERVAL_SECONDS = 2.0


def finding_key(finding: Finding) -> tuple[str, str]:
    return finding.rule, repr(finding.where)


class Judge:
    def __init__(
        self,
        rules: RuleSet,
        *,
        live: bool = True,
        stop_on: str | None = None,
        stream: TextIO | None = None,
        command: str = "run",
    ) -> None:
        if stop_on is not None and stop_on not in SEVERITIES[:2]:
            raise ValueError(f"stop_on must be 'error' or 'warning', got {stop_on!r}")
        self.rule_set = rules
        self.rules = rules.rules
        self.select, self.ignore = rules.selection.select, rules.selection.ignore
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
        return self.rule_set.judge(parts, report=Report(command=self.command))

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
