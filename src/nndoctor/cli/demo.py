"""`nndoctor demo`: the gallery of broken and healthy models, preflighted (what `make demo` runs)."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from nndoctor.cli.common import app
from nndoctor.core.errors import UsageError
from nndoctor.core.report import EXIT_CLEAN, EXIT_FINDINGS


@app.command("demo")
def demo_command(
    case: str = typer.Option(None, "--case", help="Show only this case (see --list)."),
    list_cases: bool = typer.Option(False, "--list", help="List the cases and exit."),
    html: Path = typer.Option(None, "--html", help="Write the live run's HTML report (with its plots) here."),
) -> None:
    """Preflight a gallery of small broken and healthy models on synthetic data and show the reports."""
    from nndoctor.demo import gallery, show_gallery

    console = Console(highlight=False)
    if list_cases:
        table = Table(box=None, show_header=False)
        for item in gallery.CASES:
            table.add_row(f"[bold]{item.name}[/bold]", "healthy" if item.healthy else "broken", item.title)
        console.print(table)
        raise typer.Exit(EXIT_CLEAN)
    cases = gallery.CASES
    if case is not None and html is not None:
        raise UsageError("--html writes the report of the live run, which runs only without --case")
    if case is not None:
        if case not in gallery.case_names():
            raise UsageError(f"unknown demo case {case!r}; the cases are: {', '.join(gallery.case_names())}")
        cases = (gallery.get_case(case),)
    as_promised = show_gallery(cases, console)
    if case is None:
        from nndoctor.demo.live import show_live_run

        as_promised = show_live_run(console, html) and as_promised
    # The broken cases are broken on purpose; exit 1 only if a case did not show what it promises.
    raise typer.Exit(EXIT_CLEAN if as_promised else EXIT_FINDINGS)
