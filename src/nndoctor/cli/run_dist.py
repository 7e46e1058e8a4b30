"""`nndoctor run --nproc-per-node N SCRIPT` and `nndoctor run torchrun … SCRIPT`: the
distributed form of `nndoctor run` (launching: nndoctor.dist.launch; merging:
nndoctor.dist.merge). The exit code follows `nndoctor run`: a failed worker's own code
first, then 1 for findings at --fail-on, 2 when no training step was seen."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from nndoctor.cli.common import fail
from nndoctor.core.errors import UsageError
from nndoctor.core.registry import load_rules
from nndoctor.core.report import EXIT_CANNOT_JUDGE, EXIT_CLEAN

# torchrun's own words for "as many as there are devices" (torch.distributed.run).
NPROC_KEYWORDS = ("auto", "cpu", "gpu", "xpu")
NPROC_HELP = ("Run the script on N worker processes with PyTorch's elastic launcher (as torchrun "
              "--standalone --nproc-per-node N), the doctor on every rank, and merge the ranks' findings.")


def run_distributed(*, nproc_per_node: str | None, script: str | None, module: str | None, args: list[str],
                    json_path: Path | None, every: int, fail_on: str, raw_selection: dict[str, list[str] | None],
                    chosen: Any, ignored: Any, thresholds: dict[str, Any], stop_on: str | None, preflight: bool,
                    quiet: bool, verbose: bool) -> None:
    from nndoctor.dist.launch import is_launcher, launch, torchrun_arguments
    from nndoctor.dist.merge import merge_ranks, print_merged

    if stop_on is not None:
        fail("--stop-on is not available with several processes: stopping one rank would leave the others "
             "waiting at their next collective")
    if nproc_per_node is not None and not (nproc_per_node.isdigit() and int(nproc_per_node) > 0
                                           or nproc_per_node in NPROC_KEYWORDS):
        fail(f"--nproc-per-node takes a number of processes (or {', '.join(NPROC_KEYWORDS)}), got {nproc_per_node!r}")
    try:
        load_rules().select(select=chosen, ignore=ignored)  # a typo fails here, not on every worker
    except UsageError as error:
        fail(str(error))
    launcher_args = args if is_launcher(script, module) else None
    if launcher_args is not None and nproc_per_node is not None:
        fail("give --nproc-per-node to torchrun or to nndoctor run, not both")
    try:
        import torch.distributed  # noqa: F401
    except ImportError:
        fail("running a PyTorch script needs torch: pip install 'nndoctor[torch]'")
    try:
        parsed = torchrun_arguments(nproc_per_node, launcher_args, script, module, args)
    except UsageError as error:
        fail(str(error))
    worker_options = ["--every", str(every), *(["--preflight"] if preflight else []), *(["--quiet"] if quiet else [])]
    for name, values in raw_selection.items():
        if values:
            worker_options += [f"--{name}", ",".join(values)]
    code, records = launch(parsed, worker_options)
    report = merge_ranks(records, select=chosen, ignore=ignored, thresholds=thresholds)
    print_merged(report, quiet=quiet, verbose=verbose, json_path=str(json_path) if json_path else None)
    if code == 0:
        code = report.exit_code(fail_on)
        if code == EXIT_CLEAN and not report.context.get("backwards_observed"):
            code = EXIT_CANNOT_JUDGE
    sys.stderr.flush()
    raise typer.Exit(code)
