"""Run a training script unchanged, as `python SCRIPT ARGS` (or `python -m MODULE ARGS`),
while a framework adapter watches it — for any adapter (nothing here imports one).

The watcher is any object with `install()`, `uninstall()` and `finish() -> Report`. The
script runs as `__main__` with `sys.argv = [SCRIPT, *ARGS]` and its directory first on
`sys.path`; its exit code passes through; a crash prints the script's traceback without
nndoctor's frames and exits 1; Ctrl-C exits 130; `--stop-on` (StopRun) exits 1. A report
is produced in every case.

(The torch adapter's nndoctor.torch.watch.runner predates this module and does the same
for its Session; it is to delegate here — DESIGN "phase 2".)
"""
from __future__ import annotations

import importlib.util
import os
import runpy
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nndoctor.core.engine import internal_error_finding
from nndoctor.core.errors import UsageError
from nndoctor.core.report import Report
from nndoctor.live.child_processes import ChildProcesses
from nndoctor.live.faults import StopRun

EXIT_INTERRUPTED = 130
_OWN_DIR = str(Path(__file__).resolve().parents[1])
_HIDDEN_FILES = {runpy.__file__}


class Watcher(Protocol):
    def install(self) -> None: ...
    def uninstall(self) -> None: ...
    def finish(self) -> Report: ...


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


def print_script_traceback(error: BaseException) -> None:
    """The traceback Python would print for the script (nndoctor's frames removed)."""
    exception = traceback.TracebackException.from_exception(error)
    pending, seen = [exception], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.stack = traceback.StackSummary.from_list([
            f for f in current.stack
            if not (f.filename.startswith(_OWN_DIR) or f.filename in _HIDDEN_FILES or f.filename == "<frozen runpy>")])
        pending += [linked for linked in (current.__cause__, current.__context__) if linked is not None]
    sys.stderr.write("".join(exception.format()))
    sys.stderr.flush()


def run_script(watcher: Watcher, *, script: str | None = None, module: str | None = None,
               args: list[str] | None = None, command: str = "run") -> RunResult:
    check_target(script, module)
    args = list(args or [])
    saved_argv, saved_path = sys.argv[:], list(sys.path)
    sys.argv = [script if script is not None else module, *args]
    script_dir = os.path.dirname(os.path.realpath(script)) if script is not None else os.getcwd()
    if sys.path:
        sys.path[0] = script_dir
    else:
        sys.path.insert(0, script_dir)
    exit_code, stopped, interrupted, crashed = 0, None, False, False
    watcher.install()
    children = ChildProcesses()
    try:
        with children:
            if script is not None:
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
        sys.path[:] = saved_path
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 — a closed stream is the script's business
                pass
    try:
        report = watcher.finish()
    except Exception as error:  # noqa: BLE001 — a fault of nndoctor still gives a report
        watcher.uninstall()
        report = Report(command=command)
        report.findings.append(internal_error_finding("final report", error))
    report.context.update({"script": script if script is not None else f"-m {module}", "script_args": args,
                           "script_exit_code": exit_code})
    if children.started:
        report.context["child_processes"] = children.started
    if stopped is not None:
        report.context["stopped_by"] = stopped.rule
    if interrupted:
        report.context["interrupted"] = True
    return RunResult(report=report, script_exit_code=exit_code, stopped_by=stopped,
                     interrupted=interrupted, crashed=crashed)
