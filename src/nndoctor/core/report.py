"""Report: the findings of one nndoctor command plus what was checked and what was not."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nndoctor.core.errors import UsageError
from nndoctor.core.finding import SEVERITIES, Finding
from nndoctor.core.plain import to_plain

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

    def __str__(self) -> str:
        """The terminal report as plain text: `print(report)` in a script or notebook."""
        from nndoctor.report.terminal import plain_text, report_renderables

        return plain_text(report_renderables(self))

    def __rich__(self) -> Any:
        from rich.console import Group

        from nndoctor.report.terminal import report_renderables

        return Group(*report_renderables(self))

    def _repr_html_(self) -> str:
        """Jupyter's rich display: the HTML report's body, styles scoped to it."""
        from nndoctor.report.html import render_html_fragment

        return render_html_fragment(report=self)

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

    def judged(self) -> bool:
        """Whether any check of the user's work ran (internal-error judges nndoctor itself)."""
        return any(rule != "internal-error" for rule in self.checks_run)

    def exit_code(self, fail_on: str = "error") -> int:
        """0 nothing at or above `fail_on`, 1 something is, 2 nothing could be judged."""
        if fail_on not in SEVERITIES[:2]:
            raise ValueError(f"fail_on must be 'error' or 'warning', got {fail_on!r}")
        worst_allowed = SEVERITIES.index(fail_on)
        if any(f.rank <= worst_allowed for f in self.findings):
            return EXIT_FINDINGS
        if not self.judged():
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
            # Plain JSON types: a NaN or an array in the context must not make the report unwritable.
            "context": to_plain(self.context),
        }

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    def to_html(self, path: str | Path | None = None) -> str:
        """The report as one self-contained HTML page with its plots; written to `path` if given."""
        from nndoctor.report.html import render_html

        text = render_html(self)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_dict(cls, data: Any) -> Report:
        """A Report from `to_dict()` output; anything else is a ReportFormatError naming
        the first part that is not what a report holds."""
        if not isinstance(data, dict):
            raise ReportFormatError(f"expected a JSON object at the top, got {_json_type(data)}")
        command = data.get("command")
        if not isinstance(command, str):
            raise ReportFormatError(f"'command' must be a string, got {_json_type(command)}")
        findings = _list_of(data, "findings", dict)
        parsed = []
        for index, item in enumerate(findings):
            try:
                parsed.append(Finding.from_dict(item))
            except (KeyError, TypeError, ValueError) as error:
                detail = f"missing {error}" if isinstance(error, KeyError) else str(error)
                raise ReportFormatError(f"findings[{index}] is not a finding: {detail}") from None
        skipped = []
        for index, item in enumerate(_list_of(data, "checks_skipped", dict)):
            if not isinstance(item.get("rule"), str) or not isinstance(item.get("reason"), str):
                raise ReportFormatError(f"checks_skipped[{index}] needs a string 'rule' and 'reason'")
            skipped.append(SkippedCheck(item["rule"], item["reason"]))
        context = data.get("context", {})
        if not isinstance(context, dict):
            raise ReportFormatError(f"'context' must be an object, got {_json_type(context)}")
        version = data.get("nndoctor_version", _version())
        return cls(
            command=command,
            findings=parsed,
            checks_run=_list_of(data, "checks_run", str),
            checks_skipped=skipped,
            context=to_plain(dict(context)),
            nndoctor_version=str(version),
        )

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Report:
        """From JSON text (starting with '{') or a path to a file written by `to_json`."""
        text = text_or_path if isinstance(text_or_path, str) and text_or_path.lstrip()[:1] in ("{", "[") else None
        if text is None:
            text = Path(text_or_path).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ReportFormatError(f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
        except RecursionError:
            raise ReportFormatError("not a report: the JSON is nested too deeply") from None
        return cls.from_dict(data)


class ReportFormatError(UsageError):
    """A file or text that is not an nndoctor JSON report; the message says what is wrong."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"not an nndoctor JSON report: {detail}")


def _list_of(data: dict[str, Any], key: str, kind: type) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, kind) for item in value):
        what = "objects" if kind is dict else "strings"
        raise ReportFormatError(f"'{key}' must be a list of {what}")
    return list(value)


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)
