"""Run a training script unchanged, as `python SCRIPT ARGS` (or `python -m MODULE ARGS`)
would, inside a watch session.

The script runs as `__main__` with `sys.argv = [SCRIPT, *ARGS]` and its own directory
first on `sys.path` (the module's working directory for `-m`). Its exit code passes
through; an exception prints the script's traceback (without nndoctor's frames) and exits
1; Ctrl-C writes the report with the findings so far and exits 130; `--stop-on` ends the
run at the first finding of that severity with exit 1. The report is written in every case.
"""
from __future__ import annotations

from nndoctor.core.report import Report
from nndoctor.live.script_runner import RunResult, run_script
from nndoctor.torch.watch.session import Session

__all__ = ["RunResult", "finish_safely", "run_target"]


class _SessionWatcher:
    """A watch session as the framework-free script runner drives it."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def install(self) -> None:
        self.session.install()

    def uninstall(self) -> None:
        self.session.uninstall()

    def finish(self) -> Report:
        return finish_safely(self.session)


def run_target(session: Session, *, script: str | None = None, module: str | None = None,
               args: list[str] | None = None) -> RunResult:
    """Run the script (or module) as `python` would, watched by `session`."""
    return run_script(_SessionWatcher(session), script=script, module=module, args=args)


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
