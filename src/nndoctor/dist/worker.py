"""`python -m nndoctor.dist [OPTIONS] SCRIPT|-m MODULE [ARGS]`: one distributed worker,
run exactly as `python SCRIPT ARGS` would run it, with the doctor attached.

Each rank writes its record (its own report and the distributed measurements) to the run
directory (nndoctor.dist.rundir). Unless the launching `nndoctor run` merges, rank 0 then
waits for the other ranks' records (`--wait` seconds at most: they end together with it,
since training keeps ranks in lockstep) and prints the merged report to stderr. Only rank
0 prints findings live. The worker's exit code is the script's, so the launcher sees the
user's outcome; findings never change it here.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from nndoctor.core.errors import UsageError
from nndoctor.dist import rundir

USAGE = ("usage: python -m nndoctor.dist [--every N] [--select IDS] [--extend-select IDS] [--ignore IDS] "
         "[--preflight] [--json PATH] [--quiet] [--verbose] [--wait SECONDS] SCRIPT|-m MODULE [ARGS]...")
VALUE_OPTIONS = {"--every", "--select", "--extend-select", "--ignore", "--json", "--wait"}
FLAG_OPTIONS = {"--preflight", "--quiet", "-q", "--verbose", "-v"}
DEFAULT_WAIT_SECONDS = 120.0


@dataclass
class WorkerOptions:
    every: int = 10
    select: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    json_path: str | None = None
    preflight: bool = False
    quiet: bool = False
    verbose: bool = False
    wait_seconds: float = DEFAULT_WAIT_SECONDS
    script: str | None = None
    module: str | None = None
    args: list[str] = field(default_factory=list)


def parse_worker_args(argv: list[str]) -> WorkerOptions:
    """nndoctor's options first, then the script (or -m MODULE) and its arguments, as with python."""
    options, words = WorkerOptions(), list(argv)
    while words and words[0].startswith("-") and words[0] != "-m":
        name, _, inline = words.pop(0).partition("=")
        if name == "--":
            break
        if name in FLAG_OPTIONS and not inline:
            setattr(options, {"-q": "quiet", "-v": "verbose"}.get(name, name.lstrip("-")), True)
            continue
        if name not in VALUE_OPTIONS:
            raise UsageError(f"python -m nndoctor.dist has no option {name!r}\n{USAGE}")
        if not inline and not words:
            raise UsageError(f"{name} needs a value\n{USAGE}")
        value = inline or words.pop(0)
        _set_value(options, name, value)
    if not words:
        raise UsageError(f"give the training script to run\n{USAGE}")
    if words[0] == "-m":
        if len(words) < 2:
            raise UsageError(f"-m takes a module name\n{USAGE}")
        options.module, options.args = words[1], words[2:]
    else:
        options.script, options.args = words[0], words[1:]
    return options


def _set_value(options: WorkerOptions, name: str, value: str) -> None:
    if name in ("--every", "--wait"):
        try:
            number = int(value) if name == "--every" else float(value)
        except ValueError:
            raise UsageError(f"{name} takes a number, got {value!r}") from None
        if number <= 0:
            raise UsageError(f"{name} takes a positive number, got {value!r}")
        if name == "--every":
            options.every = int(number)
        else:
            options.wait_seconds = float(number)
    elif name == "--json":
        options.json_path = value
    else:
        getattr(options, name.lstrip("-").replace("-", "_")).extend(v for v in value.split(",") if v)


class _DistributedWatcher:
    """The watch session plus its distributed part, as the script runner drives them."""

    def __init__(self, session, distributed) -> None:
        self.session, self.distributed = session, distributed

    def install(self) -> None:
        self.session.install()
        self.distributed.install()

    def uninstall(self) -> None:
        self.distributed.uninstall()
        self.session.uninstall()

    def finish(self):
        from nndoctor.torch.watch.runner import finish_safely

        self.distributed.uninstall()
        return finish_safely(self.session)


def rank_record(distributed, report, *, exit_code: int = 0, crashed: bool = False,
                interrupted: bool = False) -> dict:
    """What this rank leaves for the merge: its distributed measurements and its own report."""
    record = distributed.record()
    record.update({"report": report.to_dict(), "script_exit_code": exit_code, "crashed": crashed,
                   "interrupted": interrupted})
    return record


def run_worker(options: WorkerOptions) -> int:
    from nndoctor.core.capability import Selection
    from nndoctor.live.script_runner import run_script

    selection = Selection.resolve(options.select or None, options.ignore or None, options.extend_select or None)
    try:
        import torch  # noqa: F401
    except ImportError:
        raise UsageError("running a PyTorch script needs torch: pip install 'nndoctor[torch]'") from None
    from nndoctor.torch.dist import DistributedWatch
    from nndoctor.torch.watch.preflight_hook import PreflightRequest
    from nndoctor.torch.watch.session import Session

    rank = int(os.environ.get("RANK", 0))
    session = Session(every=options.every, selection=selection, live=rank == 0 and not options.quiet)
    request = session.preflight_request = PreflightRequest(lambda report: None) if options.preflight else None
    distributed = DistributedWatch(session)
    result = run_script(_DistributedWatcher(session, distributed), script=options.script, module=options.module,
                        args=options.args)
    if request is not None:
        request.merge_into(result.report)
    record = rank_record(distributed, result.report, exit_code=result.script_exit_code, crashed=result.crashed,
                         interrupted=result.interrupted)
    directory = rundir.run_dir()
    rundir.write_rank_record(directory, record["rank"], record)
    if os.environ.get(rundir.PARENT_MERGES_VARIABLE) or record["rank"] != 0:
        return result.script_exit_code
    records = rundir.wait_for_ranks(directory, rundir.expected_ranks(record["world_size"]), options.wait_seconds)
    from nndoctor.dist.merge import merge_ranks, print_merged

    merged = merge_ranks(records, select=selection.select, ignore=selection.ignore, thresholds=selection.thresholds)
    rundir.remove_run_dir(directory)
    print_merged(merged, quiet=options.quiet, verbose=options.verbose, json_path=options.json_path)
    return result.script_exit_code


def main(argv: list[str] | None = None) -> int:
    try:
        return run_worker(parse_worker_args(sys.argv[1:] if argv is None else argv))
    except UsageError as error:
        print(f"nndoctor: error: {error}", file=sys.stderr)
        return 2


__all__ = ["main", "parse_worker_args"]
