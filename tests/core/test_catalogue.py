"""Every registered rule documents itself, and docs/rules.md is in sync with the code."""
from pathlib import Path

import pytest

from nndoctor.core.catalogue import catalogue_markdown
from nndoctor.core.registry import load_rules

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = load_rules()


@pytest.mark.parametrize("rule", list(REGISTRY), ids=lambda r: r.id)
def test_rule_has_every_docstring_heading(rule):
    doc = rule.doc()
    assert doc.summary, f"{rule.id} needs a one-line summary"
    assert doc.missing_headings() == [], f"{rule.id} docstring lacks {doc.missing_headings()}"
    assert doc.fixes, f"{rule.id} must list fixes as '- ' bullets"
    assert doc.causes, f"{rule.id} must list likely causes as '- ' bullets"


def test_docs_rules_md_is_generated_from_docstrings():
    committed = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert committed == catalogue_markdown(REGISTRY), "run `make docs` to regenerate docs/rules.md"
