"""`nndoctor run --nproc-per-node N train.py` (and `nndoctor run torchrun … train.py`,
`nndoctor run -m torch.distributed.run … train.py`): PyTorch's own elastic launcher starts
the workers, each running `python -m nndoctor.dist` around the script; once they have all
exited, this process merges their records into one report (no rank waits for another).

The launcher's arguments are torchrun's, parsed by torchrun's own parser; only the worker
command changes. The workers' output passes through untouched.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from nndoctor.core.errors import UsageError
from nndoctor.dist import rundir

LAUNCHER_MODULES = {"torch.distributed.run", "torch.distributed.launch"}
LAUNCHER_COMMANDS = {"torchrun"}
WORKER_MODULE = "nndoctor.dist"


def is_launcher(word: str | None, module: str | None) -> bool:
    if module in LAUNCHER_MODULES:
        return True
    return word is not None and os.path.basename(word) in LAUNCHER_COMMANDS


def torchrun_arguments(nproc_per_node: str | None, launcher_args: list[str] | None, script: str | None,
                       module: str | None, args: list[str]) -> Any:
    """torchrun's parsed arguments with the worker entrypoint put in front of the script.

    Either `nproc_per_node` with the script (a one-node standalone run) or the user's own
    torchrun arguments (`launcher_args`, ending with the script and its arguments)."""
    from torch.distributed.run import parse_args

    if launcher_args is None:
        launcher_args = ["--standalone", "--nproc-per-node", str(nproc_per_node),
                         *(["-m", module] if module else [script]), *args]
    try:
        parsed = parse_args(launcher_args)
    except SystemExit:
        raise UsageError(f"torchrun could not parse its arguments {launcher_args!r} (see torchrun --help)") from None
    if parsed.no_python:
        raise UsageError("--no-python runs a program that is not Python: nndoctor can only watch Python workers")
    if parsed.run_path:
        raise UsageError("--run-path runs the workers inside the agent process: nndoctor needs them as their own "
                         "processes; leave out --run-path")
    target = ["-m", parsed.training_script] if parsed.module else [parsed.training_script]
    parsed.training_script_args = [*target, *parsed.training_script_args]
    parsed.training_script, parsed.module = WORKER_MODULE, True
    return parsed


def launch(parsed: Any, worker_options: list[str]) -> tuple[int, list[dict[str, Any]]]:
    """Run the workers; (the first failed worker's exit code or 0, the rank records)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import run

    parsed.training_script_args = [*worker_options, "--", *parsed.training_script_args]
    directory = Path(tempfile.mkdtemp(prefix="nndoctor-dist-"))
    saved = {name: os.environ.get(name) for name in (rundir.DIR_VARIABLE, rundir.PARENT_MERGES_VARIABLE)}
    os.environ[rundir.DIR_VARIABLE] = str(directory)
    os.environ[rundir.PARENT_MERGES_VARIABLE] = "1"
    exit_code = 0
    try:
        run(parsed)
    except ChildFailedError as error:
        _, failure = error.get_first_failure()
        exit_code = failure.exitcode if failure.exitcode and failure.exitcode > 0 else 1
        print(str(error), file=sys.stderr)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    records = rundir.read_rank_records(directory)
    rundir.remove_run_dir(directory)
    return exit_code, records
