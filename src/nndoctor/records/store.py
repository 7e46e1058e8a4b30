"""Reading and writing run rows: the SQL lives here and nowhere else.

A run row is inserted with status `running` when a command starts, refreshed by a
heartbeat (steps so far, findings fired so far) while it runs, and completed at the end
(`finished` or `failed`, the exit code, the whole report). A row still `running` whose
process is gone — killed, out of memory, the machine rebooted — is `interrupted`: readers
decide that from the pid (same host) or a stale heartbeat (another host, or a reused pid),
and write it back when they can.
"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import zlib
from dataclasses import dataclass
from typing import Any

# A run whose heartbeat is this old is no longer running, whatever its pid says (the pid
# may have been reused; another host's pid cannot be checked at all). The heartbeat comes
# every few seconds from a thread that needs no cooperation from the training loop.
STALE_HEARTBEAT_SECONDS = 600.0
# The report is stored compressed; past this size its bulkiest part (the series) is dropped
# so that one pathological run cannot make the file unwieldy (series are bounded already,
# so this is a guard, not the normal case).
MAX_REPORT_BYTES = 4 * 1024 * 1024
# Oldest runs beyond this many are deleted when a run ends: the file stays bounded.
MAX_RUNS = 10_000
JSON_COLUMNS = ("command_line", "environment", "hyperparameters", "seeds", "data_fingerprints", "notes")


class RunNotFound(LookupError):
    pass


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, allow_nan=False, default=str)


def compress_report(report: dict[str, Any]) -> tuple[bytes, list[str]]:
    """The report as zlib-compressed JSON, within MAX_REPORT_BYTES; notes say what was dropped."""
    notes: list[str] = []
    blob = zlib.compress(json.dumps(report, allow_nan=False).encode("utf-8"), 6)
    if len(blob) > MAX_REPORT_BYTES:
        context = dict(report.get("context") or {})
        context.pop("series", None)
        report = dict(report, context=context)
        notes.append("the report's series were too large to keep and were dropped")
        blob = zlib.compress(json.dumps(report, allow_nan=False).encode("utf-8"), 6)
    if len(blob) > MAX_REPORT_BYTES:
        report = dict(report, context={})
        notes.append("the report's context was too large to keep and was dropped")
        blob = zlib.compress(json.dumps(report, allow_nan=False).encode("utf-8"), 6)
    return blob, notes


def insert_run(connection: sqlite3.Connection, row: dict[str, Any]) -> None:
    values = {key: (_dumps(value) if key in JSON_COLUMNS else value) for key, value in row.items()}
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    connection.execute(f"INSERT OR IGNORE INTO runs ({columns}) VALUES ({marks})", tuple(values.values()))


FindingRow = tuple[str, str, "int | None", str]  # (rule, severity, step, message): what the findings table holds


def heartbeat(connection: sqlite3.Connection, run_id: str, steps: int | None, *,
              findings: list[FindingRow] | None = None, added: list[FindingRow] = (),
              removed: list[FindingRow] = ()) -> None:
    """Progress of a running run, in one transaction: `findings` replace the last ones, or
    (the usual heartbeat, whose findings barely change) `added` and `removed` amend them."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute("UPDATE runs SET heartbeat_at = ?, steps = COALESCE(?, steps) WHERE id = ? "
                           "AND status = 'running'", (time.time(), steps, run_id))
        if findings is not None:
            connection.execute("DELETE FROM findings WHERE run_id = ?", (run_id,))
            added = findings
        connection.executemany("DELETE FROM findings WHERE rowid IN (SELECT rowid FROM findings WHERE run_id = ? "
                               "AND rule = ? AND severity = ? AND step IS ? AND message = ? LIMIT 1)",
                               [(run_id, *row) for row in removed])
        connection.executemany("INSERT INTO findings (run_id, rule, severity, step, message) VALUES (?, ?, ?, ?, ?)",
                               [(run_id, *row) for row in added])
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def finish_run(connection: sqlite3.Connection, run_id: str, fields: dict[str, Any],
               report: dict[str, Any] | None, *, max_runs: int = MAX_RUNS) -> list[str]:
    """Complete a run (its row, findings, checks, report) in one transaction; returns notes
    about anything that had to be left out."""
    notes: list[str] = []
    values = {key: (_dumps(value) if key in JSON_COLUMNS else value) for key, value in fields.items()}
    if report is not None:
        values["report"], notes = compress_report(report)
        summary = report.get("summary", {})
        values.update(errors=summary.get("error", 0), warnings=summary.get("warning", 0),
                      infos=summary.get("info", 0))
    assignments = ", ".join(f"{key} = ?" for key in values)
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*values.values(), run_id))
        if report is not None:
            _replace_findings(connection, run_id, report.get("findings", []))
            connection.execute("DELETE FROM checks WHERE run_id = ?", (run_id,))
            connection.executemany("INSERT INTO checks (run_id, rule, ran, reason) VALUES (?, ?, 1, NULL)",
                                   [(run_id, rule) for rule in report.get("checks_run", [])])
            connection.executemany("INSERT INTO checks (run_id, rule, ran, reason) VALUES (?, ?, 0, ?)",
                                   [(run_id, s["rule"], s["reason"]) for s in report.get("checks_skipped", [])])
        _prune(connection, max_runs)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return notes


def delete_run(connection: sqlite3.Connection, run_id: str) -> None:
    connection.execute("DELETE FROM runs WHERE id = ?", (run_id,))


def _replace_findings(connection: sqlite3.Connection, run_id: str, findings: list[dict[str, Any]]) -> None:
    connection.execute("DELETE FROM findings WHERE run_id = ?", (run_id,))
    connection.executemany(
        "INSERT INTO findings (run_id, rule, severity, step, message) VALUES (?, ?, ?, ?, ?)",
        [(run_id, f["rule"], f["severity"], f.get("step"), f.get("message", "")) for f in findings])


def _prune(connection: sqlite3.Connection, max_runs: int) -> None:
    newest = connection.execute("SELECT MAX(seq) FROM runs").fetchone()[0]
    if newest is not None and newest > max_runs:
        connection.execute("DELETE FROM runs WHERE seq <= ? AND status != 'running'", (newest - max_runs,))


# ---------------------------------------------------------------------------- reading
@dataclass
class RunRow:
    """One run as read back: the columns, JSON decoded, and the report when loaded."""

    data: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        value = self.data.get(key)
        return default if value is None else value

    @property
    def report(self) -> dict[str, Any] | None:
        return self.data.get("report")


SUMMARY_COLUMNS = ("seq", "id", "command", "command_line", "script", "status", "exit_code", "started_at",
                   "ended_at", "heartbeat_at", "pid", "host", "steps", "errors", "warnings", "infos", "git_commit",
                   "git_dirty")


def _row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> RunRow:
    data = {}
    for (name, *_), value in zip(cursor.description, values):
        if name in JSON_COLUMNS and value is not None:
            value = json.loads(value)
        elif name == "report" and value is not None:
            value = json.loads(zlib.decompress(value).decode("utf-8"))
        data[name] = value
    return RunRow(data)


def list_runs(connection: sqlite3.Connection, *, script: str | None = None, finding: str | None = None,
              since: float | None = None, command: str | None = None, limit: int = 50) -> list[RunRow]:
    """Newest first."""
    where, params = [], []
    if script is not None:
        where.append("(script = ? OR script LIKE ?)")
        params += [script, f"%{os.sep}{script}"]
    if finding is not None:
        where.append("id IN (SELECT run_id FROM findings WHERE rule = ?)")
        params.append(finding)
    if since is not None:
        where.append("started_at >= ?")
        params.append(since)
    if command is not None:
        where.append("command = ?")
        params.append(command)
    sql = f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM runs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq DESC LIMIT ?"
    cursor = connection.execute(sql, (*params, limit))
    return [settle_status(connection, _row(cursor, values)) for values in cursor.fetchall()]


def resolve(connection: sqlite3.Connection, ref: str) -> str:
    """A run id from `last`, `last~N` (N runs before the last), a full id or an id prefix."""
    ref = ref.strip()
    if ref == "last" or ref.startswith("last~"):
        back = ref[5:] or "0"
        if not back.isdigit():
            raise RunNotFound(f"{ref!r}: after 'last~' give how many runs back, e.g. last~1")
        row = connection.execute("SELECT id FROM runs ORDER BY seq DESC LIMIT 1 OFFSET ?", (int(back),)).fetchone()
        if row is None:
            raise RunNotFound("no run is recorded yet" if back == "0" else f"fewer than {int(back) + 1} runs are recorded")
        return row[0]
    if not ref:
        raise RunNotFound("give a run id, a prefix of one, or 'last'")
    matches = [r[0] for r in connection.execute(
        "SELECT id FROM runs WHERE id LIKE ? ORDER BY seq DESC LIMIT 6", (ref.replace("%", "") + "%",))]
    if not matches:
        raise RunNotFound(f"no recorded run has an id starting with {ref!r} (see `nndoctor runs`)")
    if len(matches) > 1 and ref not in matches:
        raise RunNotFound(f"{ref!r} is the start of several run ids ({', '.join(m[:12] for m in matches[:5])}…): "
                          "give more characters")
    return ref if ref in matches else matches[0]


def load_run(connection: sqlite3.Connection, run_id: str) -> RunRow:
    cursor = connection.execute("SELECT * FROM runs WHERE id = ?", (run_id,))
    values = cursor.fetchone()
    if values is None:
        raise RunNotFound(f"no recorded run has the id {run_id!r}")
    return settle_status(connection, _row(cursor, values))


def run_findings(connection: sqlite3.Connection, run_id: str) -> list[dict[str, Any]]:
    cursor = connection.execute("SELECT rule, severity, step, message FROM findings WHERE run_id = ?", (run_id,))
    return [dict(zip(("rule", "severity", "step", "message"), values)) for values in cursor.fetchall()]


# ---------------------------------------------------------------------------- liveness
def process_alive(pid: int) -> bool:
    """Whether `pid` is a live process here (a zombie — killed, not yet reaped — is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def still_running(row: RunRow, now: float | None = None) -> bool:
    now = time.time() if now is None else now
    last_sign = row.get("heartbeat_at") or row.get("started_at") or 0.0
    if now - last_sign > STALE_HEARTBEAT_SECONDS:
        return False
    pid, host = row.get("pid"), row.get("host")
    if pid is not None and host == socket.gethostname():
        return process_alive(int(pid))
    return True


def settle_status(connection: sqlite3.Connection, row: RunRow) -> RunRow:
    """A `running` row whose process is gone becomes `interrupted` (written back when the
    file is writable; shown so in any case)."""
    if row.get("status") != "running" or still_running(row):
        return row
    row.data["status"] = "interrupted"
    try:
        connection.execute("UPDATE runs SET status = 'interrupted' WHERE id = ? AND status = 'running'",
                           (row["id"],))
    except sqlite3.Error:
        pass  # a read-only file or a busy writer: the status is still shown right
    return row
