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
    EXTEND_SELECT_HELP, FAIL_ON_HELP, HTML_HELP, IGNORE_HELP, JSON_HELP, SELECT_HELP, app, check_fail_on, fail,
    split_names, write_html_report,
)
from nndoctor.cli.recording import NO_RECORD_HELP, begin_recording
from nndoctor.cli.run_dist import NPROC_HELP, run_distributed
from nndoctor.core.capability import Selection
from nndoctor.core.config import load_config
from nndoctor.core.errors import UsageError
from nndoctor.core.report import EXIT_CANNOT_JUDGE, EXIT_CLEAN
from nndoctor.dist.launch import is_launcher

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
    html_path: Path = typer.Option(None, "--html", help=HTML_HELP),
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
    no_record: bool = typer.Option(False, "--no-record", help=NO_RECORD_HELP),
    nproc_per_node: str = typer.Option(None, "--nproc-per-node", "--nproc_per_node", metavar="N", help=NPROC_HELP),
    try_fixes: bool = typer.Option(False, "--try-fixes",
                                   help="Diagnose the first --fix-steps updates, then rerun them once per candidate "
                                        "fix of the findings and show which fix cures them."),
    fix_steps: int = typer.Option(100, "--fix-steps", help="Updates per --try-fixes trial."),
    fix_timeout: float = typer.Option(None, "--fix-timeout",
                                      help="Seconds per --try-fixes trial (default: 4× the baseline, at least 60)."),
    fix_budget: float = typer.Option(600.0, "--fix-budget", help="Seconds for all --try-fixes trials together."),
    only_fixes: list[str] = typer.Option(None, "--fix", help="With --try-fixes: try only these fixes (ids, "
                                         "comma-separated or repeated), e.g. lr-x0.1,warmup."),
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
    config = load_config()
    selection = Selection.resolve(split_names(select), split_names(ignore), split_names(extend_select), config=config)
    fail_on = check_fail_on(fail_on or selection.fail_on)
    chosen, ignored = selection.select, selection.ignore
    if nproc_per_node is not None or is_launcher(script, module_name):
        run_distributed(nproc_per_node=nproc_per_node, script=script, module=module_name, args=args,
                        json_path=json_path, every=every, fail_on=fail_on, chosen=chosen, ignored=ignored,
                        raw_selection={"select": select, "extend-select": extend_select, "ignore": ignore},
                        thresholds=selection.thresholds, stop_on=stop_on, preflight=preflight,
                        quiet=quiet, verbose=verbose)
    if try_fixes:
        from nndoctor.cli.try_fixes import run_try_fixes

        run_try_fixes(script, module_name, args, steps=fix_steps, timeout=fix_timeout, budget=fix_budget,
                      json_path=json_path, every=every, fail_on=fail_on, chosen=chosen, ignored=ignored,
                      thresholds=selection.thresholds, preflight=preflight, quiet=quiet, verbose=verbose,
                      stop_on=stop_on, only_fixes=split_names(only_fixes))
    from nndoctor.jax.detect import script_uses_jax

    recording = begin_recording("run", no_record, script=script or f"-m {module_name}", config=config)
    if script_uses_jax(script, module_name):
        _run_jax(script, module_name, args, (json_path, html_path), every, fail_on, selection, stop_on,
                 preflight, quiet, verbose, recording)
    try:
        import torch  # noqa: F401
    except ImportError:
        fail("running a PyTorch script needs torch: pip install 'nndoctor[torch]'")
    from nndoctor.torch.run_facts import RunFacts
    from nndoctor.torch.watch.preflight_hook import PreflightRequest
    from nndoctor.torch.watch.runner import RunResult, run_target
    from nndoctor.torch.watch.session import Session

    session = Session(every=every, selection=selection, live=not quiet, stop_on=stop_on)
    request = None
    if preflight:
        request = session.preflight_request = PreflightRequest(_print_report if not quiet else _ignore)
    recording.follow(session)
    facts = RunFacts(session).install()
    try:
        result: RunResult = run_target(session, script=script, module=module_name, args=args)
    except UsageError as error:
        fail(str(error))
    finally:
        facts.uninstall()
    report = result.report
    facts.describe(report)
    if request is not None:
        request.merge_into(report)
    if json_path is not None:
        try:
            report.to_json(json_path)
        except OSError as error:
            print(f"nndoctor: error: cannot write {json_path}: {error.strerror or error}", flush=True,
                  file=sys.stderr)
    write_html_report(report, html_path)
    _print_outcome(result, quiet, verbose)
    code = _exit_code(result, fail_on)
    recording.finish(report, code)
    raise typer.Exit(code)


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


def _run_jax(script, module_name, args, paths, every, fail_on, selection, stop_on, preflight, quiet,
             verbose, recording) -> None:
    """A script that imports jax/flax/optax (and not torch) runs under the JAX adapter.
    `paths`: the (--json, --html) paths."""
    from nndoctor.jax._deps import require_jax
    try:
        require_jax()
        from nndoctor.jax.run import preflight_capture, run_jax_script

        capture = preflight_capture(_print_report if not quiet else _ignore) if preflight else None
        result = run_jax_script(script=script, module=module_name, args=args, every=every, selection=selection,
                                live=not quiet, stop_on=stop_on, recording=recording, preflight=capture)
    except UsageError as error:
        fail(str(error))
    json_path, html_path = paths
    if json_path is not None:
        try:
            result.report.to_json(json_path)
        except OSError as error:
            print(f"nndoctor: error: cannot write {json_path}: {error}", flush=True, file=sys.stderr)
    write_html_report(result.report, html_path)
    _print_outcome(result, quiet, verbose)
    code = _exit_code(result, fail_on)
    recording.finish(result.report, code)
    raise typer.Exit(code)


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
    from nndoctor.report.terminal import nothing_judged_line, quiet_lines

    report = result.report
    if result.stopped_by is not None:
        print(f"nndoctor: stopped the run at step {result.stopped_by.step} because of "
              f"[{result.stopped_by.rule}] (--stop-on).", file=sys.stderr)
    if result.interrupted:
        print(f"nndoctor: the run was interrupted at step {report.context.get('steps_observed', 0)}; "
              "the report covers the steps before it.", file=sys.stderr)
    nothing_judged = nothing_judged_line(report, result.script_exit_code)
    if nothing_judged:
        print(nothing_judged, file=sys.stderr)
    if quiet:
        for line in quiet_lines(report):
            print(line, file=sys.stderr)
        return
    _print_report(report, verbose)
