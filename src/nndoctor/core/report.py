"""Report: the findings of one nndoctor command plus what was checked and what was not."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nndoctor.core.finding import SEVERITIES, Finding

EXIT_CLEAN, EXIT_FINDINGS, EXIT_CANNOT_JUDGE = 0, 1, 2


def _version() -> str:
    from nndoctor import __version__

    return __version__


@dataclass
class SkippedCheck:
    """A check that did not run, and why ("nothing found" must never hide "nothing checked")."""

    rule: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "reason": self.reason}


@dataclass
class Report:
    command: str
    findings: list[Finding] = field(default_factory=list)
    checks_run: list[str] = field(default_factory=list)
    checks_skipped: list[SkippedCheck] = field(default_factory=list)
    # Context a reader needs to trust the report: the model summary, the script, sample caps…
    context: dict[str, Any] = field(default_factory=dict)
    nndoctor_version: str = field(default_factory=_version)

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    def extend(self, other: Report) -> None:
        """Merge another report's results into this one (checks are de-duplicated)."""
        self.findings.extend(other.findings)
        for rule_id in other.checks_run:
            if rule_id not in self.checks_run:
                self.checks_run.append(rule_id)
        known = {skipped.rule for skipped in self.checks_skipped}
        self.checks_skipped.extend(s for s in other.checks_skipped if s.rule not in known)
        self.checks_skipped = [s for s in self.checks_skipped if s.rule not in self.checks_run]
        self.context.update(other.context)

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (f.rank, f.step if f.step is not None else -1))

    def by_severity(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if f.severity == severity]

    def rules_found(self) -> set[str]:
        return {f.rule for f in self.findings}

    def exit_code(self, fail_on: str = "error") -> int:
        """0 nothing at or above `fail_on`, 1 something is, 2 nothing could be judged."""
        if fail_on not in SEVERITIES[:2]:
            raise ValueError(f"fail_on must be 'error' or 'warning', got {fail_on!r}")
        worst_allowed = SEVERITIES.index(fail_on)
        if any(f.rank <= worst_allowed for f in self.findings):
            return EXIT_FINDINGS
        if not self.checks_run:
            return EXIT_CANNOT_JUDGE
        return EXIT_CLEAN

    def to_dict(self) -> dict[str, Any]:
        return {
            "nndoctor_version": self.nndoctor_version,
            "command": self.command,
            "findings": [f.to_dict() for f in self.sorted_findings()],
            "checks_run": list(self.checks_run),
            "checks_skipped": [s.to_dict() for s in self.checks_skipped],
            "summary": {sev: len(self.by_severity(sev)) for sev in SEVERITIES},
            "context": self.context,
        }

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        return cls(
            command=data["command"],
            findings=[Finding.from_dict(f) for f in data.get("findings", [])],
            checks_run=list(data.get("checks_run", [])),
            checks_skipped=[SkippedCheck(**s) for s in data.get("checks_skipped", [])],
            context=dict(data.get("context", {})),
            nndoctor_version=data.get("nndoctor_version", _version()),
        )

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Report:
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text_or_path).read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))
