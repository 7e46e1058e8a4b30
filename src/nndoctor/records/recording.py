"""One command's record, from start to end: what a command calls.

    recording = Recording.start("run", path, command_line=argv, script="train.py")
    recording.follow(session)        # heartbeats read session.step and session.judge.fired
    ...
    recording.finish(report, exit_code)

The row is inserted (status `running`) by the writer thread as soon as the command starts,
so a process killed later still leaves its run, shown `interrupted`. `finish` completes it
and says in one line on stderr where it went, or — for a locked, read-only or full
database — that it could not be recorded and why. The command's exit code never changes.
"""
from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from nndoctor.records.environment import git_state, jax_details, torch_details, versions
from nndoctor.records.location import project_root
from nndoctor.records.writer import RecordWriter

INTERRUPTED_EXIT = 130
# Report context keys that get columns of their own (shown and compared without the report).
COLUMN_KEYS = {"hyperparameters": "hyperparameters", "reproducibility": "seeds",
               "data_fingerprints": "data_fingerprints"}


def status_of(report: Any, exit_code: int) -> str:
    context = getattr(report, "context", {}) if report is not None else {}
    if exit_code == INTERRUPTED_EXIT or context.get("interrupted"):
        return "interrupted"
    if context.get("stopped_by"):
        return "stopped"
    if report is None or context.get("script_exit_code", 0) != 0:
        return "failed"
    return "finished"


class Recording:
    def __init__(self, command: str, path: Path, *, command_line: list[str], script: str | None = None,
                 heartbeat_seconds: float | None = None, stream: Any = None) -> None:
        self.command = command
        self.path = path
        self.id = uuid.uuid4().hex
        self.stream = stream
        self.session: Any = None
        self.started = time.time()
        row = {"id": self.id, "command": command, "command_line": list(command_line), "script": script,
               "cwd": os.getcwd(), "status": "running", "started_at": self.started, "heartbeat_at": self.started,
               "pid": os.getpid(), "host": socket.gethostname()}
        options = {} if heartbeat_seconds is None else {"heartbeat_seconds": heartbeat_seconds}
        self.writer = RecordWriter(path, row, start_details=self._start_details, progress=self._progress, **options)

    @classmethod
    def start(cls, command: str, path: Path, **options: Any) -> Recording:
        recording = cls(command, path, **options)
        recording.writer.start()
        return recording

    @property
    def short_id(self) -> str:
        return self.id[:8]

    def follow(self, session: Any) -> None:
        """Heartbeats report this session's step count and the findings fired so far."""
        self.session = session

    # ------------------------------------------------------------ writer thread
    def _start_details(self) -> dict[str, Any]:
        git = git_state(project_root())
        environment = versions()
        # Each DDP rank records its own run: which one it is, as torchrun set it.
        ranks = {name.lower(): os.environ[name] for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE") if name in os.environ}
        if ranks:
            environment["distributed"] = ranks
        return {"git_commit": git["commit"], "git_dirty": None if git["dirty"] is None else int(git["dirty"]),
                "git_diff_hash": git["diff_hash"], "environment": environment}

    def _progress(self) -> tuple[int | None, list[tuple[str, str, int | None, str]] | None]:
        session = self.session
        if session is None:
            return None, None
        fired = getattr(getattr(session, "judge", None), "fired", None)
        # A copy first: the training thread may add a finding while this thread reads.
        findings = [(f.rule, f.severity, f.step, f.message) for f in list(fired.values())] \
            if isinstance(fired, dict) else None
        return getattr(session, "step", None), findings

    # ------------------------------------------------------------ command thread
    def finish(self, report: Any, exit_code: int) -> bool:
        """Complete the record; True when it is on disk. Never raises."""
        try:
            data = report.to_dict() if report is not None else None
            context = data["context"] if data is not None else {}
            environment = dict(self.writer.row.get("environment") or versions())
            if context.get("framework") == "jax":
                environment.update(framework="jax", **jax_details())
            else:
                environment.update(torch_details())
            fields: dict[str, Any] = {
                "status": status_of(report, exit_code), "exit_code": int(exit_code), "ended_at": time.time(),
                "environment": environment, "steps": context.get("steps_observed"),
            }
            if context.get("script"):
                fields["script"] = context["script"]
            for key, column in COLUMN_KEYS.items():
                if context.get(key) is not None:
                    fields[column] = context[key]
            if self.writer.notes:
                fields["notes"] = list(self.writer.notes)
        except Exception as error:  # noqa: BLE001 — a record is never worth a crash
            self.writer.faults.append(f"{type(error).__name__}: {error}")
            fields, data = {"status": status_of(None, exit_code), "exit_code": int(exit_code)}, None
        recorded = self.writer.finish(fields, data)
        self._say(recorded)
        return recorded

    def discard(self) -> None:
        """The command never started (bad usage): no run to remember."""
        self.writer.finish({}, None, discard=True)

    def _say(self, recorded: bool) -> None:
        stream = self.stream or sys.stderr
        try:
            if recorded and not self.writer.faults:
                print(f"nndoctor: recorded as run {self.short_id} (nndoctor show {self.short_id})", file=stream,
                      flush=True)
            else:
                reason = "; ".join(dict.fromkeys(self.writer.faults)) or "unknown reason"
                print(f"nndoctor: note: this run was not recorded in {self.path}: {reason}. The report above "
                      "is complete; --no-record or NNDOCTOR_RECORDS=off turns recording off.", file=stream,
                      flush=True)
        except (OSError, ValueError):
            pass  # a closed stderr: nothing to tell


class NotRecording:
    """`--no-record`, NNDOCTOR_RECORDS=off or `records = false`: the same calls, no file."""

    id = short_id = None
    path = None

    def follow(self, session: Any) -> None:
        return None

    def finish(self, report: Any, exit_code: int) -> bool:
        return False

    def discard(self) -> None:
        return None
