"""`nndoctor demo`: preflight a gallery of small broken and healthy models and show the reports.

Each case says in one line what is broken, shows the offending code, then the report
`nndoctor.preflight(model, (inputs, targets), loss_fn, optimizer)` produced for it. A
summary table at the end maps every case to the problems found, so a newcomer sees in a
minute what the tool catches and that healthy code comes out clean.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nndoctor.core.report import Report
from nndoctor.demo.gallery import CASES, Case, missing_expectations, run_case
from nndoctor.report.terminal import render_report

INTRO = (
    "[bold]nndoctor demo[/bold] — {count} small training setups, each checked by "
    "[bold]nndoctor.preflight(model, (inputs, targets), loss_fn, optimizer)[/bold] before any training.\n"
    "Preflight runs experiments on copies of your model (one forward/backward pass, overfitting the batch, "
    "perturbing the inputs, …)\nand lints the architecture; your model, optimizer and data are left untouched.\n"
    "[dim]Synthetic data, CPU only. `nndoctor demo --list` lists the cases; "
    "`nndoctor demo --case NAME` shows one.[/dim]\n"
)


def show_case(case: Case, console: Console, *, number: int = 1, total: int = 1) -> tuple[list[str], Report]:
    """Preflight one case and print its report; returns what the case promised but
    lacked, and the report."""
    label = "healthy" if case.healthy else "broken"
    console.rule(f"[bold]Case {number}/{total} · {case.name}[/bold] ({label})", align="left")
    style = "green" if case.healthy else "red"
    console.print(f"[{style}]{'OK' if case.healthy else 'Bug'}:[/{style}] {escape(case.title)}")
    console.print(f"[dim]code:[/dim] [cyan]{escape(case.bug)}[/cyan]")
    expected = ", ".join(case.expect) if case.expect else "no errors or warnings"
    console.print(f"[dim]nndoctor should report:[/dim] {expected}\n")
    report = run_case(case)
    render_report(report, console)
    console.print()
    return missing_expectations(case, report), report


def show_gallery(cases: Sequence[Case] = CASES, console: Console | None = None) -> bool:
    """Show the cases (and, for several, a summary); True when each showed what it promises."""
    console = console or Console(highlight=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models run fastest on one thread; keeps the demo quick
    started = time.perf_counter()
    rows = []
    try:
        if len(cases) > 1:
            console.print(INTRO.format(count=len(cases)))
        for number, case in enumerate(cases, start=1):
            missing, report = show_case(case, console, number=number, total=len(cases))
            rows.append((case, report, missing))
    finally:
        torch.set_num_threads(threads)
    if len(cases) > 1:
        _summary(rows, console, time.perf_counter() - started)
    return all(not missing for _, _, missing in rows)


def _summary(rows: list, console: Console, seconds: float) -> None:
    table = Table(title="What nndoctor found", title_justify="left", box=None, header_style="bold")
    table.add_column("case")
    table.add_column("problem found (worst first)")
    table.add_column("as expected")
    for case, report, missing in rows:
        found = ", ".join(dict.fromkeys(
            f.rule for f in report.sorted_findings() if f.severity != "info")) or "[green]nothing to fix[/green]"
        verdict = "[green]yes[/green]" if not missing else f"[red]no: {escape('; '.join(missing))}[/red]"
        table.add_row(case.name, found, verdict)
    console.print(table)
    console.print(
        f"[dim]{len(rows)} cases in {seconds:.0f} s. Notes (infos) are tips and are left out of this table. "
        "`nndoctor explain <rule>` explains any rule; `nndoctor rules` lists them all.[/dim]"
    )


__all__ = ["CASES", "Case", "show_case", "show_gallery"]
