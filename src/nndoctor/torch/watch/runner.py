"""Run a training script unchanged, as `python SCRIPT ARGS` (or `python -m MODULE ARGS`)
would, inside a watch session.

The script runs as `__main__` with `sys.argv = [SCRIPT, *ARGS]` and its own directory
first on `sys.path` (the module's working directory for `-m`). Its exit code passes
through; an exception prints the script's traceback (without nndoctor's frames) and exits
1; Ctrl-C writes the report with the findings so far and exits 130; `--stop-on` ends the
run at the first finding of that severity with exit 1. The report is written in every case.
"""
from __future__ import annotations

import importlib.util
import os
import runpy
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nndoctor.core.errors import UsageError
from nndoctor.core.report import Report
from nndoctor.live.faults import StopRun
from nndoctor.torch.watch.session import Session

EXIT_INTERRUPTED = 130
_OWN_DIR = str(Path(__file__).resolve().parent)
_HIDDEN_FILES = {runpy.__file__}


@dataclass
class RunResult:
    report: Report
    script_exit_code: int
    stopped_by: Any = None
    interrupted: bool = False
    crashed: bool = False
    notes: list[str] = field(default_factory=list)


def check_target(script: str | None, module: str | None) -> None:
    if (script is None) == (module is None):
        raise UsageError("give either a SCRIPT or -m MODULE to run")
    if script is not None and not Path(script).is_file():
        raise UsageError(f"cannot open script {script!r}: no such file")
    if module is not None:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError) as error:
            raise UsageError(f"cannot find module {module!r}: {error}") from None
        if spec is None:
            raise UsageError(f"cannot find module {module!r}")


def _exit_code(code: Any) -> int:
    """What the interpreter makes of `sys.exit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _visible(frame: traceback.FrameSummary) -> bool:
    name = frame.filename
    return not (name.startswith(_OWN_DIR) or name in _HIDDEN_FILES or name == "<frozen runpy>")


def _strip_own_frames(exception: traceback.TracebackException) -> None:
    seen: set[int] = set()
    current: traceback.TracebackException | None = exception
    pending = [exception]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.stack = traceback.StackSummary.from_list([f for f in current.stack if _visible(f)])
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)


def print_script_traceback(error: BaseException) -> None:
    """The traceback Python would print for the script (nndoctor's frames removed)."""
    exception = traceback.TracebackException.from_exception(error)
    _strip_own_frames(exception)
    sys.stderr.write("".join(exception.format()))
    sys.stderr.flush()


def run_target(session: Session, *, script: str | None = None, module: str | None = None,
               args: list[str] | None = None) -> RunResult:
    check_target(script, module)
    args = list(args or [])
    saved_argv, saved_path0 = sys.argv[:], sys.path[0] if sys.path else None
    if script is not None:
        sys.argv = [script, *args]
        script_dir = os.path.dirname(os.path.realpath(script))
    else:
        sys.argv = [module, *args]  # run_module replaces argv[0] with the module's path
        script_dir = os.getcwd()
    if sys.path:
        sys.path[0] = script_dir
    else:
        sys.path.insert(0, script_dir)
    exit_code, stopped, interrupted, crashed = 0, None, False, False
    session.install()
    try:
        if script is not None:
            # Python gives `__main__.__file__` (and tracebacks) the absolute path.
            runpy.run_path(os.path.abspath(script), run_name="__main__")
        else:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        exit_code = _exit_code(exit_.code)
    except StopRun as stop:
        stopped, exit_code = stop.finding, 1
    except KeyboardInterrupt:
        interrupted, exit_code = True, EXIT_INTERRUPTED
        sys.stderr.write("KeyboardInterrupt\n")
    except BaseException as error:  # noqa: BLE001 — the script's own crash
        crashed, exit_code = True, 1
        print_script_traceback(error)
    finally:
        sys.argv = saved_argv
        if saved_path0 is not None:
            sys.path[0] = saved_path0
        _flush_streams()
    report = finish_safely(session)
    report.context["script"] = script if script is not None else f"-m {module}"
    report.context["script_args"] = args
    report.context["script_exit_code"] = exit_code
    if stopped is not None:
        report.context["stopped_by"] = stopped.rule
    if interrupted:
        report.context["interrupted"] = True
    return RunResult(report=report, script_exit_code=exit_code, stopped_by=stopped,
                     interrupted=interrupted, crashed=crashed)


def finish_safely(session: Session) -> Report:
    """The session's final report; a fault in nndoctor itself still gives a report (with
    the internal error) instead of an exception after the user's program has run."""
    try:
        return session.finish()
    except Exception as error:  # noqa: BLE001
        from nndoctor.core.engine import internal_error_finding

        session.uninstall()
        report = Report(command="run")
        report.findings.append(internal_error_finding("final report", error, session.step))
        report.context.update({"steps_observed": session.step, "backwards_observed": session.backwards})
        return report


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 — a closed stream is the script's business
            pass
