"""Where the ranks of one run leave their records, and waiting for them.

The directory is chosen the same way on every rank without talking to the others:
NNDOCTOR_DIST_DIR when set (by `nndoctor run --nproc-per-node`, or by the user to a
filesystem that all nodes share), else a temporary directory named after what torchrun
gives every worker of one launch (its agent's process id, the rendezvous run id, the
master port and the restart count), so two launches never mix.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

DIR_VARIABLE = "NNDOCTOR_DIST_DIR"
# Set by `nndoctor run --nproc-per-node`: the launching process merges, rank 0 does not wait.
PARENT_MERGES_VARIABLE = "NNDOCTOR_DIST_PARENT_MERGES"
RANK_FILE = "rank-{rank}.json"


def run_dir() -> Path:
    explicit = os.environ.get(DIR_VARIABLE)
    if explicit:
        path = Path(explicit)
    else:
        parts = [str(os.getppid()), os.environ.get("TORCHELASTIC_RUN_ID", "none"),
                 os.environ.get("MASTER_PORT", "0"), os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")]
        safe = "-".join("".join(c if c.isalnum() else "_" for c in part) for part in parts)
        path = Path(tempfile.gettempdir()) / f"nndoctor-dist-{safe}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def expected_ranks(world_size: int) -> int:
    """How many rank files can appear here: all ranks when the directory was given (a shared
    filesystem), else those of this node (torchrun's LOCAL_WORLD_SIZE)."""
    if os.environ.get(DIR_VARIABLE):
        return world_size
    return int(os.environ.get("LOCAL_WORLD_SIZE", world_size))


def write_rank_record(directory: Path, rank: int, record: dict[str, Any]) -> Path:
    """Written to a temporary name and renamed, so a reader never sees half a file."""
    path = directory / RANK_FILE.format(rank=rank)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(record, default=str), encoding="utf-8")
    os.replace(partial, path)
    return path


def read_rank_records(directory: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted(directory.glob("rank-*.json")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue  # a rank killed while writing: the merged report names it as missing
    return sorted(records, key=lambda r: r.get("rank", 0))


def wait_for_ranks(directory: Path, count: int, timeout_seconds: float) -> list[dict[str, Any]]:
    """The rank records once `count` are there, or what there is after the timeout."""
    deadline = time.monotonic() + timeout_seconds
    while len(list(directory.glob("rank-*.json"))) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return read_rank_records(directory)


def remove_run_dir(directory: Path) -> None:
    for path in directory.glob("rank-*"):
        path.unlink(missing_ok=True)
    try:
        directory.rmdir()
    except OSError:
        pass  # something else lives there (a user-given directory)
