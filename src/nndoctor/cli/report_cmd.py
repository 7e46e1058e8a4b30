"""`nndoctor report`: show a saved JSON report again, or turn it into an HTML page."""
from __future__ import annotations

import re
from pathlib import Path

import typer
from rich.console import Console

from nndoctor.cli.common import app, check_fail_on, fail
from nndoctor.core.report import EXIT_CLEAN, Report, ReportFormatError

# What names a recorded run rather than a file: 'last', 'last~N', or a hex id (prefix).
RUN_REFERENCE = re.compile(r"^(last(~\d+)?|[0-9a-f]{4,32})$")


@app.command("report")
def report_command(
    source: str = typer.Argument(..., metavar="RUN_OR_JSON",
                                 help="A report written with --json, or a recorded run: an id, a prefix of one, "
                                      "'last' or 'last~N' (see nndoctor runs)."),
    html: Path = typer.Option(None, "--html", help="Write the report as a self-contained HTML page."),
    db: Path = typer.Option(None, "--db", help="The records database to find a run in (as nndoctor runs --db)."),
    fail_on: str = typer.Option(None, "--fail-on",
                                help="Exit with the report's verdict: 1 on findings of this severity or "
                                     "worse (error or warning). Without it, showing a report exits 0."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every skipped check."),
) -> None:
    """Show a saved JSON report (from any command's --json) or a recorded run's, optionally as HTML.

    Example: nndoctor report run.json --html run.html;  nndoctor report last --html last.html
    """
    if fail_on is not None:
        check_fail_on(fail_on)
    path = Path(source)
    if not path.exists() and RUN_REFERENCE.match(source):
        from nndoctor.cli.records_cmds import _connection, _run, stored_report

        report = stored_report(_run(_connection(db), source))
    else:
        report = _from_file(path)
    from nndoctor.report.terminal import render_report

    render_report(report, Console(highlight=False), verbose=verbose)
    if html is not None:
        from nndoctor.report.html import write_html

        try:
            write_html(report, html)
        except OSError as error:
            fail(f"cannot write {html}: {error.strerror or error}")
    # Showing a report is not judging it again: the verdict only when asked (as in CI).
    raise typer.Exit(report.exit_code(fail_on) if fail_on is not None else EXIT_CLEAN)


def _from_file(path: Path) -> Report:
    try:
        return Report.from_json(path)
    except IsADirectoryError:
        fail(f"cannot read {path}: it is a directory, not a report file")
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror or error}")
    except UnicodeDecodeError:
        fail(f"{path} is not an nndoctor JSON report: it is not UTF-8 text")
    except ReportFormatError as error:
        fail(f"{path} is {error}")
