"""`nndoctor report`: show a saved JSON report again, or turn it into an HTML page."""
from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from nndoctor.cli.common import FAIL_ON_HELP, app, check_fail_on, fail
from nndoctor.core.report import Report


@app.command("report")
def report_command(
    path: Path = typer.Argument(..., help="A report written with --json."),
    html: Path = typer.Option(None, "--html", help="Write the report as a self-contained HTML page."),
    fail_on: str = typer.Option("error", "--fail-on", help=FAIL_ON_HELP),
    verbose: bool = typer.Option(False, "--verbose", help="List every skipped check."),
) -> None:
    """Show a saved JSON report (from any command's --json), optionally as HTML."""
    check_fail_on(fail_on)
    try:
        report = Report.from_json(path.read_text(encoding="utf-8"))
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror or error}")
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        fail(f"{path} is not an nndoctor JSON report ({type(error).__name__}: {error})")
    from nndoctor.report.terminal import render_report

    render_report(report, Console(highlight=False), verbose=verbose)
    if html is not None:
        from nndoctor.report.html import write_html

        write_html(report, html)
    raise typer.Exit(report.exit_code(fail_on))
