"""`nndoctor run --try-fixes [--fix-steps N] SCRIPT [ARGS...]`: diagnose the script's first N
updates, then rerun them once per candidate fix (applied from inside, never by editing the
script) and show which fix cures which finding (nndoctor.tune.try_fixes)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from nndoctor.cli.common import fail
from nndoctor.core.errors import UsageError
from nndoctor.core.report import Report
from nndoctor.live.script_runner import EXIT_INTERRUPTED, RunResult, check_target

MAX_FIX_STEPS = 100_000


def _say(text: str) -> None:
    print(f"nndoctor: {text}", file=sys.stderr, flush=True)


def run_try_fixes(script: str | None, module_name: str | None, args: list[str], *, steps: int,
                  timeout: float | None, budget: float, json_path: Path | None, every: int, fail_on: str,
                  chosen: Any, ignored: Any, thresholds: Any, preflight: bool, quiet: bool, verbose: bool,
                  stop_on: str | None, only_fixes: list[str] | None = None) -> None:
    from nndoctor.cli.run import _exit_code, _print_outcome
    from nndoctor.jax.detect import script_uses_jax
    from nndoctor.tune.fix_catalogue import FIXES
    from nndoctor.tune.try_fixes import TrialSettings, try_fixes

    if not 1 <= steps <= MAX_FIX_STEPS:
        fail(f"--fix-steps takes a number of updates from 1 to {MAX_FIX_STEPS:,}, got {steps}")
    if budget <= 0:
        fail(f"--fix-budget takes a positive number of seconds, got {budget}")
    if timeout is not None and timeout <= 0:
        fail(f"--fix-timeout takes a positive number of seconds, got {timeout}")
    unknown = [name for name in only_fixes or [] if name not in FIXES]
    if unknown:
        fail(f"--fix has no fix {', '.join(map(repr, unknown))}; the fixes are: {', '.join(FIXES)}")
    if stop_on is not None:
        fail("--stop-on cannot be combined with --try-fixes: every trial runs its --fix-steps updates")
    try:
        check_target(script, module_name)
    except UsageError as error:
        fail(str(error))
    if script_uses_jax(script, module_name):
        fail("--try-fixes is available for PyTorch scripts only")
    settings = TrialSettings(script=script, module=module_name, args=args, steps=steps, every=every,
                             select=chosen, ignore=ignored, thresholds=thresholds, preflight=preflight,
                             timeout_seconds=timeout, budget_seconds=budget, only_fixes=only_fixes or None)
    _say(f"--try-fixes: diagnosing the first {steps:,} updates of {script or '-m ' + str(module_name)} "
         f"(seed {settings.seed}), then one trial per candidate fix …")
    try:
        baseline, record = try_fixes(settings, quiet=quiet, progress=_say)
    except KeyboardInterrupt:
        _say("--try-fixes was interrupted; no table was made.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if "usage_error" in baseline.outcome:
        fail(baseline.outcome["usage_error"])
    if baseline.status != "ok":
        fail(f"the baseline run did not finish: {baseline.detail}")
    report = Report.from_dict(baseline.report)
    report.context["try_fixes"] = record
    outcome = baseline.outcome
    result = RunResult(report=report, script_exit_code=int(outcome.get("script_exit_code", 0)),
                       interrupted=bool(outcome.get("interrupted")), crashed=bool(outcome.get("crashed")))
    if json_path is not None:
        try:
            report.to_json(json_path)
        except OSError as error:
            _say(f"error: cannot write {json_path}: {error.strerror or error}")
    _print_outcome(result, quiet, verbose)
    from rich.console import Group

    from nndoctor.report.terminal import stderr_console
    from nndoctor.report.terminal_try_fixes import try_fixes_renderables

    stderr_console().print(Group(*try_fixes_renderables(record)))
    raise typer.Exit(_exit_code(result, fail_on))
