"""Parse a rule's docstring into its fixed sections.

Every rule documents itself with the same headings, in this order:
What it detects / Why it matters / Likely causes / Fixes / Example. `nndoctor explain`,
the catalogue in docs/rules.md and the default causes/fixes of a Finding all read them
from here, so the documentation has exactly one source.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

HEADINGS = ("What it detects", "Why it matters", "Likely causes", "Fixes", "Example")


@dataclass(frozen=True)
class RuleDoc:
    summary: str
    sections: dict[str, str]

    @property
    def causes(self) -> list[str]:
        return bullets(self.sections.get("Likely causes", ""))

    @property
    def fixes(self) -> list[str]:
        return bullets(self.sections.get("Fixes", ""))

    def missing_headings(self) -> list[str]:
        return [h for h in HEADINGS if not self.sections.get(h, "").strip()]


def parse_rule_doc(docstring: str | None) -> RuleDoc:
    text = inspect.cleandoc(docstring or "")
    lines = text.splitlines()
    summary_lines: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        heading = line.strip().rstrip(":")
        if line.strip().endswith(":") and heading in HEADINGS:
            current = sections.setdefault(heading, [])
        elif current is None:
            summary_lines.append(line)
        else:
            current.append(line)
    return RuleDoc(
        summary=" ".join(s.strip() for s in summary_lines if s.strip()),
        sections={name: inspect.cleandoc("\n".join(body)) for name, body in sections.items()},
    )


def bullets(section: str) -> list[str]:
    """Items of a '- ' list; continuation lines are joined to their item."""
    items: list[str] = []
    for line in section.splitlines():
        stripped = line.strip()
        if stripped.startswith("- "):
            items.append(stripped[2:].strip())
        elif stripped and items:
            items[-1] += " " + stripped
    return items
