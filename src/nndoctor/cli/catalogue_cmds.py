"""`nndoctor rules` and `nndoctor explain`: the catalogue from the rules' own docstrings."""
from __future__ import annotations

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from nndoctor.cli.common import app
from nndoctor.core.catalogue import AREA_TITLES, rule_markdown
from nndoctor.core.registry import AREAS, load_rules


@app.command("rules")
def rules_command(
    area: str = typer.Option(None, "--area", help=f"Only this area: {', '.join(AREAS)}."),
) -> None:
    """List every rule nndoctor knows, grouped by area."""
    registry = load_rules()
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("rule")
    table.add_column("severity")
    table.add_column("area")
    table.add_column("what it finds")
    for rule in registry:
        if area and rule.area != area:
            continue
        table.add_row(rule.id, rule.severity, AREA_TITLES[rule.area], rule.title)
    Console(highlight=False).print(table)


@app.command("explain")
def explain_command(rule_id: str = typer.Argument(..., help="A rule id, e.g. missing-zero-grad.")) -> None:
    """Print what a rule detects, why it matters, its likely causes and fixes."""
    rule = load_rules().get(rule_id)
    Console(highlight=False).print(Markdown(rule_markdown(rule)))
