"""The rule catalogue (docs/rules.md), generated from the rules' docstrings.

Run `python -m nndoctor.core.catalogue > docs/rules.md` (or `make docs`); a test keeps
the committed file in sync.
"""
from __future__ import annotations

from nndoctor.core.registry import AREAS, Registry, load_rules
from nndoctor.core.rule import Rule
from nndoctor.core.ruledoc import HEADINGS

AREA_TITLES = {
    "code": "Code bugs",
    "preflight": "Preflight experiments",
    "dynamics": "Training dynamics",
    "architecture": "Architecture",
    "data": "Data",
    "always": "nndoctor itself",
}


def rule_markdown(rule: type[Rule]) -> str:
    doc = rule.doc()
    lines = [f"### `{rule.id}` — {rule.title}", "", f"*default severity: {rule.severity}*", ""]
    if doc.summary:
        lines += [doc.summary, ""]
    for heading in HEADINGS:
        body = doc.sections.get(heading, "").strip()
        if body:
            lines += [f"**{heading}.**", "", body, ""]
    thresholds = rule.thresholds()
    if thresholds:
        values = ", ".join(f"`{name}={value!r}`" for name, value in thresholds.items())
        lines += [f"**Thresholds:** {values}", ""]
    return "\n".join(lines)


def catalogue_markdown(registry: Registry | None = None) -> str:
    registry = registry or load_rules()
    parts = [
        "# nndoctor rule catalogue",
        "",
        "Generated from the rules' docstrings by `make docs`; do not edit by hand.",
        "`nndoctor explain <rule-id>` prints one entry in the terminal.",
        "",
    ]
    for area in AREAS:
        rules = [r for r in registry if r.area == area]
        if not rules:
            continue
        parts += [f"## {AREA_TITLES[area]}", ""]
        parts += [rule_markdown(rule) for rule in rules]
    return "\n".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    print(catalogue_markdown(), end="")
