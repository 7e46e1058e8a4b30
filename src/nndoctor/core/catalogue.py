"""The rule catalogue (docs/rules.md), generated from the rules' docstrings.

Run `python -m nndoctor.core.catalogue > docs/rules.md` (or `make docs`); a test keeps
the committed file in sync.
"""
from __future__ import annotations

import re

from nndoctor.core.registry import AREAS, Registry, load_rules
from nndoctor.core.rule import Rule
from nndoctor.core.ruledoc import HEADINGS

AREA_TITLES = {
    "code": "Code bugs",
    "preflight": "Preflight experiments",
    "dynamics": "Training dynamics",
    "architecture": "Architecture",
    "data": "Data",
    "evaluation": "Evaluation",
    "tuning": "Tuning measurements (nndoctor tune)",
    "distributed": "Distributed training",
    "always": "nndoctor itself",
}

# The texts the rules' facts, thresholds and fixes come from; rules cite them as
# "(003 §4.5.3 #8)": source 003, section 4.5.3, item 8.
SOURCES = {
    "000": "Practical deep-learning debugging tips for biologists — a summary of Ravarani & "
    "Latysheva, *Deep Learning for Biology*, O'Reilly 2025 (simplify, data problems, model problems).",
    "001": "Goodfellow, Bengio & Courville, *Deep Learning*, §11.5 \"Debugging strategies\" "
    "(study notes).",
    "002": "\"The most common neural-net coding mistakes\", after Andrej Karpathy (overfit a batch, "
    "train/eval mode, zero_grad, logits vs probabilities, pretrained models).",
    "003": "Rodriguez, *Deep Learning Systems*, chapter 4 \"Model training\" (study notes: "
    "generalisation, initialisation, optimisers, training and debugging techniques).",
    "004": "A practitioner's essay on building data and models for a two-stage ML system "
    "(annotation errors, leakage between splits, evaluation-set size).",
}
CITATION = re.compile(r"\b(00[0-4])\b")


def cited_sources(text: str) -> list[str]:
    return sorted(set(CITATION.findall(text)) & set(SOURCES))


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
    sources = cited_sources("\n".join(lines))
    if sources:
        lines += ["**Sources cited:** " + " ".join(f"({key}) {SOURCES[key]}" for key in sources), ""]
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
    parts += ["## Sources", "", "Rules cite these texts as (000 §2.1), (003 §4.5.3 #8): source, section, item.", ""]
    parts += [f"* **{key}** — {text}" for key, text in SOURCES.items()]
    return "\n".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    print(catalogue_markdown(), end="")
