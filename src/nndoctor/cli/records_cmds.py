"""`nndoctor runs`, `show`, `compare`, `export`: reading the run records.

RUN is a run id, a prefix of one (as git takes commits), `last`, or `last~N` (N runs
before the last).
"""
from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from nndoctor.cli.common import app, fail, write_html_page, write_html_report
from nndoctor.core.errors import UsageError
from nndoctor.core.report import EXIT_CLEAN

DB_HELP = "The records database (default: NNDOCTOR_RECORDS, pyproject's records, else .nndoctor/runs.db)."
RUN_HELP = "A run id, a prefix of one, 'last' or 'last~N'."
RELATIVE_SINCE = re.compile(r"^(\d+)\s*([mhdw])$")
SECONDS_PER = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _records_path(db: Path | None) -> Path:
    from nndoctor.records.location import records_path

    path = db if db is not None else records_path()
    if path is None:
        fail("recording is turned off (NNDOCTOR_RECORDS or pyproject's records = false): give --db PATH")
    return path


def _connection(db: Path | None) -> Any:
    from nndoctor.records import open_records

    return open_records(_records_path(db))


def _run(connection: Any, ref: str) -> Any:
    from nndoctor.records.store import RunNotFound, load_run, resolve

    try:
        return load_run(connection, resolve(connection, ref))
    except RunNotFound as error:
        fail(str(error.args[0]))


def stored_report(run: Any) -> Any:
    """The run's final Report; a clear error when it has none (it did not finish)."""
    from nndoctor.core.report import Report

    if run.report is None:
        fail(f"run {run['id'][:8]} did not finish ({run.get('status')}), so it has no final report to draw; "
             f"`nndoctor show {run['id'][:8]}` lists the findings of its last heartbeat")
    try:
        return Report.from_dict(run.report)
    except UsageError as error:
        fail(f"run {run['id'][:8]}'s stored report cannot be read: {error}")


def parse_since(text: str) -> float:
    """'2026-12-01', '2026-12-01T14:00', or '3d' / '12h' / '30m' / '2w' ago → a timestamp."""
    relative = RELATIVE_SINCE.match(text.strip())
    if relative:
        return time.time() - int(relative.group(1)) * SECONDS_PER[relative.group(2)]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        fail(f"--since takes a date (2026-12-01, 2026-12-01T14:00) or an age (30m, 12h, 3d, 2w), got {text!r}")


def _when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S") if timestamp else "?"


def _duration(run: Any) -> str:
    started, ended = run.get("started_at"), run.get("ended_at") or run.get("heartbeat_at")
    if not started or not ended:
        return ""
    seconds = max(0.0, ended - started)
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _short_when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%m-%d %H:%M") if timestamp else "?"


STATUS_STYLE = {"finished": "green", "failed": "red", "interrupted": "yellow", "running": "cyan", "stopped": "yellow"}


@app.command("runs")
def runs_command(
    script: str = typer.Option(None, "--script", help="Only runs of this script (path or file name)."),
    finding: str = typer.Option(None, "--finding", help="Only runs with a finding of this rule id."),
    since: str = typer.Option(None, "--since", help="Only runs started since: 2026-12-01, or 30m, 12h, 3d, 2w ago."),
    command: str = typer.Option(None, "--command", help="Only this command: run, audit, evaluate, tune lr…"),
    limit: int = typer.Option(30, "--limit", "-n", help="Show at most this many runs (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print the runs as JSON lines instead of a table."),
    db: Path = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """List the recorded runs, newest first.

    Example: nndoctor runs --script train.py --finding loss-diverging --since 3d
    """
    from nndoctor.records.store import list_runs

    if limit < 1:
        fail(f"--limit takes a positive number of runs, got {limit}")
    started = parse_since(since) if since is not None else None
    if not _records_path(db).is_file():
        print(f"no runs are recorded yet (in {_records_path(db)})")
        raise typer.Exit(EXIT_CLEAN)
    connection = _connection(db)
    rows = list_runs(connection, script=script, finding=finding, since=started, command=command, limit=limit)
    if as_json:
        for row in rows:
            print(json.dumps(row.data))
        raise typer.Exit(EXIT_CLEAN)
    console = Console(highlight=False)
    if not rows:
        console.print("no recorded run matches" if any(v is not None for v in (script, finding, since, command))
                      else "no runs are recorded yet")
        raise typer.Exit(EXIT_CLEAN)
    cells = []
    for row in rows:
        counts = " ".join(f"{n}{letter}" for n, letter in ((row.get("errors", 0), "E"), (row.get("warnings", 0), "W"),
                                                           (row.get("infos", 0), "I")) if n)
        commit = (row.get("git_commit") or "")[:7] + ("+" if row.get("git_dirty") else "")
        status = row.get("status", "?")
        exit_code = row.get("exit_code")
        cells.append((row["id"][:8], _short_when(row.get("started_at")), row.get("command", ""),
                      Path(row.get("script") or "").name, status + (f" ({exit_code})" if exit_code else ""),
                      f"{row['steps']:,}" if row.get("steps") is not None else "", counts or "-", commit))
    table = Table(box=None, pad_edge=False, header_style="bold")
    for index, column in enumerate(("run", "started", "command", "script", "status", "steps", "findings", "commit")):
        # Every column keeps its full width except the script's, which shrinks in a narrow terminal.
        widest = max(len(column), *(len(c[index]) for c in cells))
        table.add_column(column, justify="right" if column == "steps" else "left", no_wrap=True,
                         min_width=None if column == "script" else widest, overflow="ellipsis")
    for values in cells:
        status = values[4].split(" ")[0]
        table.add_row(*values[:4], f"[{STATUS_STYLE.get(status, 'white')}]{values[4]}[/]", *values[5:])
    console.print(table)
    raise typer.Exit(EXIT_CLEAN)


def _header(run: Any) -> list[str]:
    environment = run.get("environment", {})
    versions = ", ".join(f"{k} {environment[k]}" for k in ("python", "torch", "cuda", "cudnn", "device", "nndoctor")
                         if environment.get(k) is not None)
    commit = run.get("git_commit")
    code = (f"{commit[:10]}{' with uncommitted changes (' + run['git_diff_hash'] + ')' if run.get('git_dirty') else ''}"
            if commit else "not in a git work tree")
    lines = [
        f"run {run['id']}  ({run.get('status')}, exit code {run.get('exit_code', '?')})",
        f"  command  {' '.join(run.get('command_line', []))}",
        f"  started  {_when(run.get('started_at'))}  {_duration(run)}" + (f"  {run['steps']:,} steps" if run.get('steps')
                                                                          is not None else ""),
        f"  code     {code}",
        f"  on       {versions}",
    ]
    hyperparameters = run.get("hyperparameters")
    if hyperparameters:
        from nndoctor.records.compare import flatten_hyperparameters

        shown = [f"{key}={value}" for key, value in flatten_hyperparameters(hyperparameters).items()
                 if value is not None and not key.endswith(("params", "values", "foreach", "fused", "capturable",
                                                            "differentiable", "maximize"))]
        lines.append(f"  settings {', '.join(shown[:16])}{' …' if len(shown) > 16 else ''}")
    for note in run.get("notes", []) or []:
        lines.append(f"  note     {note}")
    return lines


@app.command("show")
def show_command(
    run_ref: str = typer.Argument(..., metavar="RUN", help=RUN_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the run's JSON report (as --json wrote it)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every skipped check."),
    html: Path = typer.Option(None, "--html", help="Also write the run's report as a self-contained HTML page."),
    db: Path = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Show a recorded run's report again.

    Example: nndoctor show last --html last.html
    """
    from nndoctor.core.report import Report
    from nndoctor.records.store import run_findings

    connection = _connection(db)
    run = _run(connection, run_ref)
    if as_json:
        data = run.report if run.report is not None else {
            key: value for key, value in run.data.items() if key != "report"}
        print(json.dumps(data, indent=2))
        raise typer.Exit(EXIT_CLEAN)
    console = Console(highlight=False)
    for line in _header(run):
        console.print(line, markup=False)
    console.print()
    if run.report is None:
        findings = run_findings(connection, run["id"])
        console.print(f"The run did not finish ({run.get('status')}), so there is no final report. "
                      f"{len(findings)} finding(s) had fired by the last heartbeat"
                      + (f" (step {run['steps']:,})" if run.get("steps") is not None else "") + ":", markup=False)
        for finding in findings:
            step = f" (step {finding['step']})" if finding.get("step") is not None else ""
            console.print(f"  {finding['severity']}: [{finding['rule']}]{step} {finding['message']}", markup=False)
        raise typer.Exit(EXIT_CLEAN)
    from nndoctor.report.terminal import render_report

    report = stored_report(run)
    render_report(report, console, verbose=verbose)
    write_html_report(report, html)
    raise typer.Exit(EXIT_CLEAN)


@app.command("compare")
def compare_command(
    run_a: str = typer.Argument(..., metavar="RUN_A", help=RUN_HELP),
    run_b: str = typer.Argument(..., metavar="RUN_B", help=RUN_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
    html: Path = typer.Option(None, "--html", help="Also write both runs overlaid as a self-contained HTML page."),
    db: Path = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """What changed between two recorded runs, and how their losses and findings differ.

    Example: nndoctor compare last~1 last --html compare.html
    """
    from nndoctor.records.compare import compare_runs

    connection = _connection(db)
    first, second = _run(connection, run_a), _run(connection, run_b)
    comparison = compare_runs(first, second)
    page = None
    if html is not None:
        from nndoctor.report.html_compare import render_compare_html

        page = render_compare_html(stored_report(first), stored_report(second),
                                   labels=(f"A {first['id'][:8]}", f"B {second['id'][:8]}"))
    if as_json:
        print(json.dumps(comparison.to_dict(), indent=2))
    else:
        console = Console(highlight=False)
        console.print("; ".join(comparison.headline) + ".", markup=False, style="bold")
        for title, lines in comparison.sections:
            console.print()
            console.print(title, style="bold")
            for line in lines:
                console.print(f"  • {line}", markup=False)
    if page is not None:
        write_html_page(page, html)
    raise typer.Exit(EXIT_CLEAN)


@app.command("export")
def export_command(
    run_ref: str = typer.Argument(..., metavar="RUN", help=RUN_HELP),
    mlflow: str = typer.Option(None, "--mlflow", help="MLflow tracking URI to log the run to, e.g. file:./mlruns."),
    tensorboard: Path = typer.Option(None, "--tensorboard", help="Directory to write TensorBoard event files in."),
    db: Path = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Export a recorded run to MLflow or TensorBoard (needs the records extra).

    Example: nndoctor export last --tensorboard runs/
    """
    from nndoctor.records.export import export_mlflow, export_tensorboard

    if mlflow is None and tensorboard is None:
        fail("give where to export to: --mlflow URI and/or --tensorboard DIR")
    connection = _connection(db)
    run = _run(connection, run_ref)
    if mlflow is not None:
        try:
            mlflow_id = export_mlflow(run, mlflow)
        except UsageError:
            raise
        except Exception as error:  # noqa: BLE001 — MLflow's own errors, in one line
            fail(f"MLflow refused the export to {mlflow}: {type(error).__name__}: {str(error).splitlines()[0][:600]}")
        print(f"nndoctor: exported run {run['id'][:8]} to MLflow at {mlflow} (MLflow run {mlflow_id})")
    if tensorboard is not None:
        try:
            target = export_tensorboard(run, tensorboard)
        except OSError as error:
            fail(f"cannot write TensorBoard files in {tensorboard}: {error.strerror or error}")
        print(f"nndoctor: exported run {run['id'][:8]} to TensorBoard files in {target} "
              f"(tensorboard --logdir {tensorboard})")
    raise typer.Exit(EXIT_CLEAN)
