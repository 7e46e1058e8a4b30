"""`nndoctor run [OPTIONS] [--] SCRIPT [ARGS...]`: run a training script unchanged and
diagnose it from inside while it trains.

Everything after SCRIPT (or after `-m MODULE`) belongs to the script. Findings are printed
to stderr, one line each, when they first fire; the full report follows at the end (also
to stderr, so the script's stdout stays the script's).
"""
from __future__ import annotations

from pathlib import Path

import typer

from nndoctor.cli.common import FAIL_ON_HELP, JSON_HELP, app, check_fail_on, fail, split_names
from nndoctor.core.config import load_config
from nndoctor.core.errors import UsageError
from nndoctor.core.report import EXIT_CANNOT_JUDGE

CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True, "allow_interspersed_args": False}


@app.command("run", context_settings=CONTEXT)
def run_command(
    ctx: typer.Context,
    target: str = typer.Argument(None, metavar="SCRIPT [ARGS]...",
                                 help="The training script (or, with -m, the module) and its arguments."),
    module: bool = typer.Option(False, "-m", "--module", help="Run a module, as `python -m MODULE`."),
    json_path: Path = typer.Option(None, "--json", help=JSON_HELP),
    every: int = typer.Option(10, "--every", help="Sample the costlier statistics every N updates."),
    fail_on: str = typer.Option(None, "--fail-on", help=FAIL_ON_HELP),
    select: list[str] = typer.Option(None, "--select", help="Only these rules or areas (comma-separated)."),
    ignore: list[str] = typer.Option(None, "--ignore", help="Skip these rules or areas (comma-separated)."),
    stop_on: str = typer.Option(None, "--stop-on",
                                help="End the run at the first finding of this severity: error or warning."),
    preflight: bool = typer.Option(False, "--preflight",
                                   help="Run the preflight checks on the script's first training step."),
    quiet: bool = typer.Option(False, "--quiet", "-q",
                               help="No live lines and no report on the terminal, only a summary line."),
) -> None:
    """Run a PyTorch or JAX/Flax training script unchanged and diagnose it while it trains."""
    if target is None:
        fail("give the training script to run: nndoctor run [OPTIONS] SCRIPT [ARGS]...")
    if every < 1:
        fail(f"--every takes a positive number of updates, got {every}")
    if stop_on is not None and stop_on not in ("error", "warning"):
        fail(f"--stop-on takes 'error' or 'warning', got {stop_on!r}")
    config = load_config()
    fail_on = check_fail_on(fail_on or config.fail_on)
    from nndoctor.jax.detect import script_uses_jax

    if script_uses_jax(None if module else target, target if module else None):
        _run_jax(ctx, target, module, json_path, every, fail_on, select, ignore, stop_on, preflight, quiet, config)
    try:
        import torch  # noqa: F401
    except ImportError:
        fail("running a PyTorch script needs torch: pip install 'nndoctor[torch]'")
    from nndoctor.torch.watch.preflight_hook import PreflightRequest
    from nndoctor.torch.watch.runner import RunResult, run_target
    from nndoctor.torch.watch.session import Session

    session = Session(
        every=every,
        select=split_names(select) or config.select,
        ignore=split_names(ignore) or config.ignore,
        thresholds=config.merged_thresholds(None),
        live=not quiet,
        stop_on=stop_on,
    )
    request = None
    if preflight:
        request = session.preflight_request = PreflightRequest(_print_report if not quiet else _ignore)
    try:
        result: RunResult = run_target(session, script=None if module else target,
                                       module=target if module else None, args=list(ctx.args))
    except UsageError as error:
        fail(str(error))
    report = result.report
    if request is not None:
        _merge_preflight(report, request)
    if json_path is not None:
        try:
            report.to_json(json_path)
        except OSError as error:
            print(f"nndoctor: error: cannot write {json_path}: {error}", flush=True, file=_stderr())
    _print_outcome(result, quiet)
    raise typer.Exit(_exit_code(result, fail_on))


def _run_jax(ctx, target, module, json_path, every, fail_on, select, ignore, stop_on, preflight, quiet, config) -> None:
    """A script that imports jax/flax/optax (and not torch) runs under the JAX adapter."""
    from nndoctor.jax._deps import require_jax
    from nndoctor.jax.run import run_jax_script

    try:
        require_jax()
        if preflight:
            fail("--preflight is not available for JAX scripts yet: call nndoctor.jax.preflight(...) in the script")
        result = run_jax_script(script=None if module else target, module=target if module else None,
                                args=list(ctx.args), every=every, select=split_names(select) or config.select,
                                ignore=split_names(ignore) or config.ignore, thresholds=config.merged_thresholds(None),
                                live=not quiet, stop_on=stop_on)
    except UsageError as error:
        fail(str(error))
    if json_path is not None:
        try:
            result.report.to_json(json_path)
        except OSError as error:
            print(f"nndoctor: error: cannot write {json_path}: {error}", flush=True, file=_stderr())
    _print_outcome(result, quiet)
    raise typer.Exit(_exit_code(result, fail_on))


def _merge_preflight(report, request) -> None:
    """The preflight findings join the run's report (once per rule and place)."""
    if request.report is None:
        report.context["preflight"] = request.message or "the first training step was not reached"
        return
    present = {(f.rule, repr(f.where)) for f in report.findings}
    report.findings.extend(f for f in request.report.findings if (f.rule, repr(f.where)) not in present)
    report.context["preflight"] = {"checks_run": request.report.checks_run,
                                   "findings": len(request.report.findings)}


def _exit_code(result, fail_on: str) -> int:
    if result.script_exit_code != 0:
        return result.script_exit_code
    code = result.report.exit_code(fail_on)
    return 0 if code == EXIT_CANNOT_JUDGE else code


def _stderr():
    import sys

    return sys.stderr


def _ignore(report) -> None:
    return None


def _print_report(report) -> None:
    from nndoctor.report.terminal import render_report, stderr_console

    render_report(report, stderr_console())


def _print_outcome(result, quiet: bool) -> None:
    report = result.report
    stderr = _stderr()
    if result.stopped_by is not None:
        print(f"nndoctor: stopped the run at step {result.stopped_by.step} because of "
              f"[{result.stopped_by.rule}] (--stop-on).", file=stderr)
    if not report.context.get("backwards_observed"):
        print("nndoctor: no training step was seen (no backward() on a loss), so the training "
              "checks had nothing to look at.", file=stderr)
    if quiet:
        counts = report.to_dict()["summary"]
        print(f"nndoctor: {counts['error']} errors, {counts['warning']} warnings, "
              f"{counts['info']} notes over {report.context.get('steps_observed', 0)} steps.", file=stderr)
        return
    _print_report(report)
