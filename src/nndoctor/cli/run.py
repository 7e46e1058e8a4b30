"""`nndoctor run [OPTIONS] [--] SCRIPT [ARGS...]`: run a training script unchanged and
diagnose it from inside while it trains.

As with `python`, options before SCRIPT (or `-m MODULE`) are nndoctor's and everything
after it belongs to the script. A pasted command line works too: `nndoctor run python
train.py --lr 1`, `nndoctor run -- python -m pkg.train` (the interpreter is dropped).
Findings are printed to stderr, one line each, when they first fire; the full report
follows at the end (also to stderr, so the script's stdout stays the script's).
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import typer

from nndoctor.cli.common import (
    EXTEND_SELECT_HELP, FAIL_ON_HELP, IGNORE_HELP, JSON_HELP, SELECT_HELP, app, check_fail_on, fail, split_names,
)
from nndoctor.core.capability import Selection
from nndoctor.core.errors import UsageError
from nndoctor.core.report import EXIT_CANNOT_JUDGE, EXIT_CLEAN

CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True, "allow_interspersed_args": False}
# python, python3, python3.12, python.exe, pythonw: a pasted interpreter to drop.
PYTHON_NAME = re.compile(r"^python[w]?(\d+(\.\d+)*)?(\.exe)?$")


@app.command("run", context_settings=CONTEXT)
def run_command(
    ctx: typer.Context,
    target: str = typer.Argument(None, metavar="SCRIPT [ARGS]...",
                                 help="The training script (or, with -m, the module) and its arguments."),
    module: bool = typer.Option(False, "-m", "--module", help="Run a module, as `python -m MODULE`."),
    json_path: Path = typer.Option(None, "--json", help=JSON_HELP),
    every: int = typer.Option(10, "--every", help="Sample the costlier statistics every N updates."),
    fail_on: str = typer.Option(None, "--fail-on", help=FAIL_ON_HELP),
    select: list[str] = typer.Option(None, "--select", help=SELECT_HELP),
    extend_select: list[str] = typer.Option(None, "--extend-select", help=EXTEND_SELECT_HELP),
    ignore: list[str] = typer.Option(None, "--ignore", help=IGNORE_HELP),
    stop_on: str = typer.Option(None, "--stop-on",
                                help="End the run at the first finding of this severity: error or warning."),
    preflight: bool = typer.Option(False, "--preflight",
                                   help="Run the preflight checks on the script's first training step."),
    quiet: bool = typer.Option(False, "--quiet", "-q",
                               help="No live lines and no full report: one line per finding and a summary."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every skipped check in the report."),
) -> None:
    """Run a PyTorch or JAX/Flax training script unchanged and diagnose it while it trains.

    Example: nndoctor run --json report.json train.py --epochs 5
    """
    script, module_name, args = parse_target(target, list(ctx.args), module)
    if every < 1:
        fail(f"--every takes a positive number of updates, got {every}")
    if stop_on is not None and stop_on not in ("error", "warning"):
        fail(f"--stop-on takes 'error' or 'warning', got {stop_on!r}")
    # Everything the user wrote is checked before the script starts: a mistake found after
    # a long run would cost its diagnosis.
    selection = Selection.resolve(split_names(select), split_names(ignore), split_names(extend_select))
    fail_on = check_fail_on(fail_on or selection.fail_on)
    from nndoctor.jax.detect import script_uses_jax

    if script_uses_jax(script, module_name):
        _run_jax(script, module_name, args, json_path, every, fail_on, selection, stop_on, preflight, quiet, verbose)
    try:
        import torch  # noqa: F401
    except ImportError:
        fail("running a PyTorch script needs torch: pip install 'nndoctor[torch]'")
    from nndoctor.torch.watch.preflight_hook import PreflightRequest
    from nndoctor.torch.watch.runner import RunResult, run_target
    from nndoctor.torch.watch.session import Session

    session = Session(every=every, selection=selection, live=not quiet, stop_on=stop_on)
    request = None
    if preflight:
        request = session.preflight_request = PreflightRequest(_print_report if not quiet else _ignore)
    try:
        result: RunResult = run_target(session, script=script, module=module_name, args=args)
    except UsageError as error:
        fail(str(error))
    report = result.report
    if request is not None:
        request.merge_into(report)
    if json_path is not None:
        try:
            report.to_json(json_path)
        except OSError as error:
            print(f"nndoctor: error: cannot write {json_path}: {error.strerror or error}", flush=True,
                  file=sys.stderr)
    _print_outcome(result, quiet, verbose)
    raise typer.Exit(_exit_code(result, fail_on))


def parse_target(target: str | None, rest: list[str], module: bool) -> tuple[str | None, str | None, list[str]]:
    """(script, module, script arguments) from what followed nndoctor's own options.

    A leading Python interpreter is dropped (`python train.py`, `python3 -u -m pkg.train`),
    so a pasted command line runs as it would under python."""
    if target is None:
        fail("give the training script to run: nndoctor run [OPTIONS] SCRIPT [ARGS]...")
    words = [target, *rest]
    if module:
        return None, words[0], words[1:]
    if _is_python(words[0]):
        words = words[1:]
        while words and words[0].startswith("-") and words[0] != "-m":
            flag = words.pop(0)
            if flag == "-u":  # unbuffered output, as python -u
                for stream in (sys.stdout, sys.stderr):
                    reconfigure = getattr(stream, "reconfigure", None)
                    if reconfigure is not None:
                        reconfigure(write_through=True)
                continue
            fail(f"nndoctor run runs the script in its own Python; the interpreter option {flag!r} "
                 "is not supported here (only -m MODULE and -u)")
        if not words:
            fail(f"give the training script after {target!r}: nndoctor run {target} SCRIPT [ARGS]...")
    if words[0] == "-m":
        if len(words) < 2:
            fail("-m takes a module name: nndoctor run -m pkg.train [ARGS]...")
        return None, words[1], words[2:]
    if words[0].startswith("-") and not Path(words[0]).is_file():
        fail(f"nndoctor run has no option {words[0]!r}; its options go before the script "
             "(see nndoctor run --help) and everything after the script goes to the script")
    return words[0], None, words[1:]


def _is_python(word: str) -> bool:
    if Path(word).suffix == ".py":
        return False
    if PYTHON_NAME.match(os.path.basename(word)):
        return True
    try:
        return os.path.realpath(word) == os.path.realpath(sys.executable)
    except OSError:
        return False


def _run_jax(script, module_name, args, json_path, every, fail_on, selection, stop_on, preflight, quiet,
             verbose) -> None:
    """A script that imports jax/flax/optax (and not torch) runs under the JAX adapter."""
    from nndoctor.jax._deps import require_jax
    from nndoctor.jax.run import run_jax_script

    try:
        require_jax()
        if preflight:
            fail("--preflight is not available for JAX scripts yet: call nndoctor.jax.preflight(...) in the script")
        result = run_jax_script(script=script, module=module_name, args=args, every=every, selection=selection,
                                live=not quiet, stop_on=stop_on)
    except UsageError as error:
        fail(str(error))
    if json_path is not None:
        try:
            result.report.to_json(json_path)
        except OSError as error:
            print(f"nndoctor: error: cannot write {json_path}: {error}", flush=True, file=sys.stderr)
    _print_outcome(result, quiet, verbose)
    raise typer.Exit(_exit_code(result, fail_on))




def _exit_code(result, fail_on: str) -> int:
    """The script's own failure first; then findings (1); then 2 when no training step was
    seen, since then nothing could be judged (a clean 0 would be a false all-clear)."""
    if result.script_exit_code != 0:
        return result.script_exit_code
    code = result.report.exit_code(fail_on)
    if code == EXIT_CLEAN and not result.report.context.get("backwards_observed"):
        return EXIT_CANNOT_JUDGE
    return code


def _ignore(report) -> None:
    return None


def _print_report(report, verbose: bool = False) -> None:
    from nndoctor.report.terminal import render_report, stderr_console

    render_report(report, stderr_console(), verbose=verbose)


def _print_outcome(result, quiet: bool, verbose: bool) -> None:
    from nndoctor.report.terminal import quiet_lines

    report = result.report
    if result.stopped_by is not None:
        print(f"nndoctor: stopped the run at step {result.stopped_by.step} because of "
              f"[{result.stopped_by.rule}] (--stop-on).", file=sys.stderr)
    if result.interrupted:
        print(f"nndoctor: the run was interrupted at step {report.context.get('steps_observed', 0)}; "
              "the report covers the steps before it.", file=sys.stderr)
    if not report.context.get("backwards_observed"):
        print("nndoctor: no training step was seen (no backward() on a loss), so the training "
              "checks had nothing to look at (exit code 2).", file=sys.stderr)
    if quiet:
        for line in quiet_lines(report):
            print(line, file=sys.stderr)
        return
    _print_report(report, verbose)
