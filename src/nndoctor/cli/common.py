"""What every command shares: the Typer app, report output and the one-line error policy."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

from nndoctor.core.errors import UsageError
from nndoctor.core.report import EXIT_CANNOT_JUDGE, Report

app = typer.Typer(
    name="nndoctor",
    help="Finds out why a deep-learning project is quietly failing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

FAIL_ON_HELP = "Exit 1 on findings of this severity or worse: error or warning."
# Selection as in ruff, the same in every command (see nndoctor.core.config).
SELECT_HELP = "Only these rules or areas (comma-separated); replaces pyproject's select."
EXTEND_SELECT_HELP = "Also these rules or areas (comma-separated), on top of select."
IGNORE_HELP = "Skip these rules or areas (comma-separated); adds to pyproject's ignore."
JSON_HELP = "Also write the report as JSON to this path."
HTML_HELP = "Also write the report as one self-contained HTML page, with its plots, to this path."


def fail(message: str) -> NoReturn:
    """Bad usage: one clear line on stderr, exit code 2."""
    print(f"nndoctor: error: {message}", file=sys.stderr)
    raise typer.Exit(EXIT_CANNOT_JUDGE)


def check_fail_on(fail_on: str) -> str:
    if fail_on not in ("error", "warning"):
        fail(f"--fail-on takes 'error' or 'warning', got {fail_on!r}")
    return fail_on


def split_names(values: list[str] | None) -> list[str]:
    """--select a,b --select c → ['a', 'b', 'c']."""
    names: list[str] = []
    for value in values or []:
        names.extend(part.strip() for part in value.split(",") if part.strip())
    return names


def finish(
    report: Report,
    *,
    json_path: Path | None,
    fail_on: str,
    console: Console | None = None,
    verbose: bool = False,
    recording: Any = None,
    html_path: Path | None = None,
) -> NoReturn:
    """Print the report, write the JSON and HTML if asked, record it, and exit with the report's code."""
    from nndoctor.report.terminal import render_report

    render_report(report, console or Console(highlight=False), verbose=verbose)
    if json_path is not None:
        report.to_json(json_path)
    write_html_report(report, html_path)
    code = report.exit_code(fail_on)
    if recording is not None:
        recording.finish(report, code)
    raise typer.Exit(code)


def write_html_report(report: Report, path: Path | None) -> None:
    """--html: write the report's page (see write_html_page)."""
    if path is None:
        return
    from nndoctor.report.html import render_html

    write_html_page(render_html(report), path)


def write_html_page(page: str, path: Path) -> None:
    """Write an HTML page; a path that cannot be written is one line on stderr (the
    diagnosis itself was printed and keeps its exit code)."""
    try:
        Path(path).write_text(page, encoding="utf-8")
    except OSError as error:
        print(f"nndoctor: error: cannot write {path}: {error.strerror or error}", file=sys.stderr)
        return
    print(f"nndoctor: HTML report written to {path}", file=sys.stderr)


def run_cli(argv: list[str] | None = None) -> int:
    """Invoke the app; a command's record left open by an early exit is settled."""
    from nndoctor.cli.recording import set_command_line, settle_open_recordings

    set_command_line(argv)
    code = 1
    try:
        code = _invoke(argv)
    finally:
        settle_open_recordings(code)
    return code


def _invoke(argv: list[str] | None) -> int:
    """Invoke the app, turning UsageError into one line and exit code 2."""
    try:
        # With standalone_mode=False click returns the code of a typer.Exit instead of raising.
        returned = app(args=argv, standalone_mode=False)
    except typer.Exit as exit_:
        return exit_.exit_code
    except UsageError as error:
        print(f"nndoctor: error: {error}", file=sys.stderr)
        return EXIT_CANNOT_JUDGE
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        # click's own usage errors (typer may vendor click, so recognise them by shape),
        # in one line like every other usage error, with where to look for help.
        message = getattr(error, "format_message", None)
        if callable(message) and isinstance(getattr(error, "exit_code", None), int):
            context = getattr(error, "ctx", None)
            command = getattr(context, "command_path", None) or "nndoctor"
            print(f"nndoctor: error: {' '.join(message().split())} (see `{command} --help`)", file=sys.stderr)
            return EXIT_CANNOT_JUDGE
        if type(error).__name__ == "Abort":
            return 130
        raise
    return returned if isinstance(returned, int) else 0
