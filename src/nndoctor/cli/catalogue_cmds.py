"""`nndoctor rules` and `nndoctor explain`: the catalogue from the rules' own docstrings."""
from __future__ import annotations

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from nndoctor.cli.common import app, fail
from nndoctor.core.catalogue import AREA_TITLES, rule_markdown
from nndoctor.core.errors import did_you_mean
from nndoctor.core.registry import AREAS, load_rules


@app.command("rules")
def rules_command(
    area: str = typer.Option(None, "--area", help=f"Only this area: {', '.join(AREAS)}."),
) -> None:
    """List every rule nndoctor knows, grouped by area."""
    if area is not None and area not in AREAS:
        fail(f"--area takes one of {', '.join(AREAS)}, got {area!r}{did_you_mean(area, AREAS)}")
    rules = [rule for rule in load_rules() if area is None or rule.area == area]
    console = Console(highlight=False)
    rows = [(rule.id, rule.severity, AREA_TITLES[rule.area], rule.title) for rule in rules]
    if not console.is_terminal:
        # Piped or redirected: plain aligned lines, never cut, easy to grep.
        widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
        for row in rows:
            print("  ".join(value.ljust(width) for value, width in zip(row, widths)) + "  " + row[3])
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    # Rule ids are what users copy into --select and pyproject: never cut or wrapped.
    id_width = max((len(row[0]) for row in rows), default=4)
    table.add_column("rule", no_wrap=True, min_width=id_width)
    table.add_column("severity", no_wrap=True)
    table.add_column("area")
    table.add_column("what it finds", overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


@app.command("explain")
def explain_command(rule_id: str = typer.Argument(..., help="A rule id, e.g. missing-zero-grad.")) -> None:
    """Print what a rule detects, why it matters, its likely causes and fixes."""
    rule = load_rules().get(rule_id)
    Console(highlight=False).print(Markdown(rule_markdown(rule)))
