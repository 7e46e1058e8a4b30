"""The one thread that touches the database for a recording command.

The command's own thread (the training loop, for `run`) never waits on SQLite: it hands
work to a bounded queue and goes on. The writer opens the file, inserts the run row,
refreshes it every `heartbeat_seconds` from a `progress()` callable, and completes it at
the end. Any failure — a locked or read-only file, a full disk, a schema from a newer
nndoctor — is caught here and kept as a fault, for the command to report in one line.

The thread counts its own CPU time (`cpu_seconds`, by phase: start, heartbeats, finish):
it bounds what recording takes from the machine, and the time it can hold the GIL
against the training thread (benchmarks/overhead.py reports it).
"""
from __future__ import annotations

import collections
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nndoctor.records import schema, store

HEARTBEAT_SECONDS = 5.0
QUEUE_SIZE = 16
# The final write waits for the database at most this long (busy timeout included).
FINISH_TIMEOUT_SECONDS = 30.0
_STOP = object()


def describe_error(error: BaseException) -> str:
    """An SQLite or OS error in words a user can act on."""
    text = str(error) or type(error).__name__
    lowered = text.lower()
    if isinstance(error, OSError) and error.filename is not None:
        return f"cannot create {error.filename} ({error.strerror or text})"
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        return f"the file or its directory is not writable ({text})"
    if "locked" in lowered or "busy" in lowered:
        return f"the file stayed locked by another process ({text})"
    if "full" in lowered or getattr(error, "errno", None) == 28:
        return f"the disk is full ({text})"
    if isinstance(error, schema.SchemaTooNew):
        return text
    return f"{type(error).__name__}: {text}"


def ignore_records_directory(directory: Path) -> None:
    """`.nndoctor/` ignores itself in git (as .pytest_cache does): the records are no code
    to commit, and an untracked database would make every work tree look changed."""
    if directory.name != ".nndoctor":
        return
    marker = directory / ".gitignore"
    if not marker.exists():
        try:
            marker.write_text("# Written by nndoctor: its run records are not for version control.\n*\n")
        except OSError:
            pass  # a read-only directory: the records fault is reported on its own


class RecordWriter(threading.Thread):
    def __init__(self, path: Path, row: dict[str, Any], *, start_details: Callable[[], dict[str, Any]] | None = None,
                 progress: Callable[[], tuple[int | None, list[store.FindingRow] | None]] | None = None,
                 heartbeat_seconds: float = HEARTBEAT_SECONDS) -> None:
        super().__init__(name="nndoctor-records", daemon=True)
        self.path = path
        self.row = row
        self.start_details = start_details
        self.progress = progress
        self.heartbeat_seconds = heartbeat_seconds
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_SIZE)
        self.faults: list[str] = []
        self.notes: list[str] = []
        self.inserted = False
        self.finished = False
        # This thread's CPU seconds per phase, and how many heartbeats it wrote.
        self.cpu_seconds = {"start": 0.0, "heartbeats": 0.0, "finish": 0.0}
        self.heartbeats = 0
        # The findings rows the last heartbeat committed (None: not known, rewrite them all).
        # Findings fire once and stay, so a heartbeat usually writes none: its cost does not
        # grow with how many have fired.
        self._written: collections.Counter[store.FindingRow] | None = None
        self._connection: sqlite3.Connection | None = None

    # ------------------------------------------------------------ command thread
    def finish(self, fields: dict[str, Any], report: dict[str, Any] | None, *, discard: bool = False) -> bool:
        """Complete the run (or delete it, `discard`) and wait for the writer; True when the
        record is complete on disk."""
        try:
            self.queue.put(("discard" if discard else "finish", fields, report), timeout=FINISH_TIMEOUT_SECONDS)
            self.queue.put(_STOP, timeout=FINISH_TIMEOUT_SECONDS)
        except queue.Full:
            self.faults.append("the records writer did not keep up")
        self.join(FINISH_TIMEOUT_SECONDS)
        if self.is_alive():
            self.faults.append(f"the records database did not answer within {FINISH_TIMEOUT_SECONDS:.0f} s")
            return False
        return self.finished

    # ------------------------------------------------------------ writer thread
    def run(self) -> None:
        clock = time.thread_time()
        try:
            self._start()
            clock = self._count("start", clock)
            while True:
                try:
                    item = self.queue.get(timeout=self.heartbeat_seconds)
                except queue.Empty:
                    self._heartbeat()
                    self.heartbeats += 1
                    clock = self._count("heartbeats", clock)  # with the wait before it: nothing is left out
                    continue
                if item is _STOP:
                    break
                kind, fields, report = item
                if kind == "discard":
                    self._guarded(self._discard)
                else:
                    self._guarded(lambda: self._finish(fields, report))
                clock = self._count("finish", clock)
        finally:
            if self._connection is not None:
                self._connection.close()
            self._count("finish", clock)

    def _count(self, phase: str, since: float) -> float:
        now = time.thread_time()
        self.cpu_seconds[phase] += now - since
        return now

    def _start(self) -> None:
        if self.start_details is not None:
            try:
                self.row.update(self.start_details())
            except Exception as error:  # noqa: BLE001 — a missing detail is no reason to lose the run
                self.notes.append(f"could not read the environment: {error}")
        # A failure here is retried by the heartbeats and the final write; only theirs count.
        self._guarded(self._insert, final=False)

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = schema.connect(self.path)
            ignore_records_directory(self.path.parent)
        return self._connection

    def _insert(self) -> None:
        store.insert_run(self._connect(), self.row)
        self.inserted = True

    def _heartbeat(self) -> None:
        if not self.inserted:
            # The file was locked or missing at the start: try again (the final write will too).
            self._guarded(self._insert, final=False)
            return
        self._guarded(self._progress, final=False)

    def _progress(self) -> None:
        steps, findings = self.progress() if self.progress is not None else (None, None)
        if findings is None:
            store.heartbeat(self._connect(), self.row["id"], steps)
            return
        now = collections.Counter(findings)
        if self._written is None:
            store.heartbeat(self._connect(), self.row["id"], steps, findings=findings)
        else:
            added, removed = now - self._written, self._written - now
            store.heartbeat(self._connect(), self.row["id"], steps, added=list(added.elements()),
                            removed=list(removed.elements()))
        self._written = now

    def _finish(self, fields: dict[str, Any], report: dict[str, Any] | None) -> None:
        if not self.inserted:
            self._insert()
        self.notes += store.finish_run(self._connect(), self.row["id"], fields, report)
        self.finished = True

    def _discard(self) -> None:
        if self.inserted:
            store.delete_run(self._connect(), self.row["id"])
        self.finished = True

    def _guarded(self, work: Callable[[], None], *, final: bool = True) -> None:
        """Run `work`; a failure is kept as a fault (only the last attempt's matters: a
        heartbeat that met a lock is forgotten once the final write succeeds)."""
        try:
            work()
        except (sqlite3.Error, OSError, ValueError) as error:
            self._written = None  # rolled back: what the file holds is known no more
            if self._connection is not None:
                try:
                    self._connection.close()
                except sqlite3.Error:
                    pass
                self._connection = None
            if final:
                self.faults.append(describe_error(error))
        except Exception as error:  # noqa: BLE001 — nothing here may reach the command
            self._written = None
            if final:
                self.faults.append(f"{type(error).__name__}: {error}"[:300])
