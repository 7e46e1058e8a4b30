"""One trial of `nndoctor run --try-fixes`, in a fresh process:

    python -m nndoctor.torch.watch.fix_trial SPEC.json

SPEC names the script and its arguments, the fix to apply (or none: the baseline), the
number of updates, the seed and the rule selection; the trial runs the script's first
updates inside a watch session with the fix intercepted, and writes its report, loss
curve and the facts the fix catalogue needs to `SPEC["out"]` as JSON. A fresh process
per trial: the script's module-level state, its random streams and any CUDA context
start as they would for the user.
"""
from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import torch

from nndoctor.core.capability import Selection
from nndoctor.core.errors import UsageError
from nndoctor.core.report import Report
from nndoctor.live.script_runner import run_script
from nndoctor.torch.watch.fixes import FixInterception
from nndoctor.torch.watch.runner import finish_safely
from nndoctor.torch.watch.session import Session


class _TrialWatcher:
    """The watch session with the fix's interception around it (see fixes.py for the order)."""

    def __init__(self, session: Session, interception: FixInterception) -> None:
        self.session = session
        self.interception = interception
        self.facts: dict[str, Any] = {}

    def install(self) -> None:
        self.interception.install_early()
        self.session.install()
        self.interception.install_late()

    def uninstall(self) -> None:
        self.session.uninstall()
        self.interception.uninstall()

    def finish(self) -> Report:
        report = finish_safely(self.session)  # the session's patches wrap the interception's: off first
        self.interception.uninstall()
        self.facts = self.interception.facts()
        return report


def seed_everything(seed: int) -> None:
    """The same start for every trial; a script that seeds itself reseeds after this."""
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy
    except ImportError:
        return
    numpy.random.seed(seed)


def run_trial(spec: dict[str, Any]) -> dict[str, Any]:
    seed = int(spec.get("seed", 0))
    # The parent resolved the selection with the project's settings: taken as given here.
    selection = Selection(select=spec.get("select"), ignore=spec.get("ignore"), thresholds=spec.get("thresholds") or {})
    session = Session(every=int(spec.get("every", 10)), selection=selection, live=bool(spec.get("live")),
                      stream=sys.stderr)
    request = None
    if spec.get("preflight"):
        from nndoctor.torch.watch.preflight_hook import PreflightRequest

        request = session.preflight_request = PreflightRequest(lambda report: None)
    interception = FixInterception(session, spec.get("fix"), max_steps=spec.get("max_steps"), seed=seed)
    watcher = _TrialWatcher(session, interception)
    seed_everything(seed)
    started = time.monotonic()
    result = run_script(watcher, script=spec.get("script"), module=spec.get("module"), args=spec.get("args"))
    seconds = time.monotonic() - started
    if request is not None:
        request.merge_into(result.report)
    limit_reached = interception.limit_reached
    if limit_reached:  # the trial ended the script on purpose: not the script's failure
        result.report.context.update(script_exit_code=0, ended_after_updates=spec.get("max_steps"))
    return {
        "report": result.report.to_dict(),
        "losses": interception.loss_curve(),
        "facts": watcher.facts,
        "fix_applied": interception.applied,
        "limit_reached": limit_reached,
        "script_exit_code": 0 if limit_reached else result.script_exit_code,
        "crashed": result.crashed,
        "interrupted": result.interrupted,
        "seconds": round(seconds, 3),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m nndoctor.torch.watch.fix_trial SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        outcome = run_trial(spec)
    except UsageError as error:
        outcome = {"usage_error": str(error)}
    Path(spec["out"]).write_text(json.dumps(outcome, allow_nan=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
