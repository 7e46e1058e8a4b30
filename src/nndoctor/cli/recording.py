"""Starting a command's record (where it goes, or that it goes nowhere; its command line)
and settling one the command never finished.

A command calls `begin_recording` once it has checked its options and `finish(report,
code)` on the recording at the end. If it leaves early instead, `run_cli` settles the
record: exit code 2 (bad usage found after the start: an unreadable file, a missing
column) is no run to remember and is discarded; any other early exit (a crash of nndoctor
itself, Ctrl-C) is recorded as failed or interrupted with its exit code.
"""
from __future__ import annotations

import sys
from typing import Any

from nndoctor.core.report import EXIT_CANNOT_JUDGE
from nndoctor.records.location import records_path
from nndoctor.records.recording import NotRecording, Recording

NO_RECORD_HELP = "Do not record this command in the project's run records (.nndoctor/runs.db)."
_command_line: list[str] = []
_open: list[Any] = []


def set_command_line(argv: list[str] | None) -> None:
    _command_line[:] = ["nndoctor", *argv] if argv is not None else list(sys.argv)


def begin_recording(command: str, no_record: bool, *, script: str | None = None, config: Any = None) -> Any:
    """A started Recording, or a NotRecording when recording is off for this command."""
    if no_record:
        return NotRecording()
    path = records_path(config=config)
    if path is None:
        return NotRecording()
    recording = Recording.start(command, path, command_line=_command_line or list(sys.argv), script=script)
    _open.append(recording)
    return recording


def settle_open_recordings(exit_code: int) -> None:
    while _open:
        recording = _open.pop()
        if recording.writer.finished or not recording.writer.is_alive():
            continue
        if exit_code == EXIT_CANNOT_JUDGE:
            recording.discard()
        else:
            recording.finish(None, exit_code)
