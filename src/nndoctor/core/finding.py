"""Finding: the one currency between the layers of nndoctor."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from nndoctor.core.plain import to_plain

# Most severe first; the order is used for sorting and for --fail-on.
SEVERITIES = ("error", "warning", "info")
RULE_ID_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass
class Finding:
    """One diagnosed problem (or observation), with the numbers behind it and what to do.

    `message` is one sentence carrying the measured value and the threshold it crossed;
    `evidence` holds those numbers as plain JSON types; `causes` and `fixes` are short
    lists, most likely first.
    """

    rule: str
    severity: str
    message: str
    step: int | None = None
    where: str | list[Any] | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    causes: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        if not RULE_ID_PATTERN.match(self.rule):
            raise ValueError(f"rule id must be kebab-case, got {self.rule!r}")
        self.evidence = to_plain(dict(self.evidence))
        self.where = to_plain(self.where)
        if self.step is not None:
            self.step = int(self.step)
        self.causes = [str(cause) for cause in self.causes]
        self.fixes = [str(fix) for fix in self.fixes]

    @property
    def rank(self) -> int:
        """0 for error, 1 for warning, 2 for info: sorts the worst first."""
        return SEVERITIES.index(self.severity)

    def __str__(self) -> str:
        """What the terminal shows: `print(finding)` in a script or notebook."""
        from nndoctor.report.terminal import finding_renderables, plain_text

        return plain_text(finding_renderables(self))

    def __rich__(self) -> Any:
        from rich.console import Group

        from nndoctor.report.terminal import finding_renderables

        return Group(*finding_renderables(self))

    def _repr_html_(self) -> str:
        """Jupyter's rich display of a finding (escaped like the HTML report)."""
        from nndoctor.report.html import render_html_fragment

        return render_html_fragment(findings=[self])

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "step": self.step,
            "where": self.where,
            "evidence": self.evidence,
            "causes": list(self.causes),
            "fixes": list(self.fixes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """From `to_dict()` output; a wrong type is a ValueError naming the field."""
        for name, kinds in (("rule", str), ("severity", str), ("message", str)):
            if not isinstance(data.get(name), kinds):
                raise ValueError(f"{name!r} must be a string")
        step = data.get("step")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
            raise ValueError("'step' must be a whole number or null")
        if not isinstance(data.get("evidence") or {}, dict):
            raise ValueError("'evidence' must be an object")
        for name in ("causes", "fixes"):
            value = data.get(name) or []
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ValueError(f"{name!r} must be a list of strings")
        return cls(
            rule=data["rule"],
            severity=data["severity"],
            message=data["message"],
            step=data.get("step"),
            where=data.get("where"),
            evidence=data.get("evidence") or {},
            causes=data.get("causes") or [],
            fixes=data.get("fixes") or [],
        )
