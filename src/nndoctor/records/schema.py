"""The records database: one SQLite file, opened the same way by every writer and reader.

* WAL journal: readers never block the writer and several processes (runs started at
  once, DDP ranks) append without corrupting each other; a process killed mid-write
  leaves the last committed state readable.
* A busy timeout instead of an immediate "database is locked": concurrent writers wait
  their turn for a few seconds.
* Schema versions: `schema_version` holds the version the file is at; `MIGRATIONS[v]`
  takes a file from version v to v + 1, each in one transaction. A file from a newer
  nndoctor is read-only to this one (it cannot know what the new columns mean).
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

# A writer waits this long for another process's transaction before giving up (a record
# lost after 10 s of contention is a reported fault, never a stalled run).
BUSY_TIMEOUT_MS = 10_000


class SchemaTooNew(sqlite3.DatabaseError):
    """The file was written by a newer nndoctor: its schema is unknown here."""


# Version 1: runs with their report, and one row per finding (for `runs --finding`).
_V1 = """
CREATE TABLE runs (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    command      TEXT NOT NULL,
    command_line TEXT NOT NULL,
    script       TEXT,
    cwd          TEXT,
    status       TEXT NOT NULL,
    exit_code    INTEGER,
    started_at   REAL NOT NULL,
    ended_at     REAL,
    git_commit   TEXT,
    git_dirty    INTEGER,
    environment  TEXT,
    hyperparameters TEXT,
    errors       INTEGER NOT NULL DEFAULT 0,
    warnings     INTEGER NOT NULL DEFAULT 0,
    infos        INTEGER NOT NULL DEFAULT 0,
    report       BLOB
);
CREATE INDEX runs_started ON runs (started_at);
CREATE TABLE findings (
    run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    rule     TEXT NOT NULL,
    severity TEXT NOT NULL,
    step     INTEGER,
    message  TEXT NOT NULL
);
CREATE INDEX findings_rule ON findings (rule);
"""

# Version 2: liveness (pid, host, heartbeat: a killed run is told from a running one), the
# dirty diff's hash, seeds, data fingerprints, steps, and the checks run or skipped.
_V2 = """
ALTER TABLE runs ADD COLUMN pid INTEGER;
ALTER TABLE runs ADD COLUMN host TEXT;
ALTER TABLE runs ADD COLUMN heartbeat_at REAL;
ALTER TABLE runs ADD COLUMN git_diff_hash TEXT;
ALTER TABLE runs ADD COLUMN seeds TEXT;
ALTER TABLE runs ADD COLUMN data_fingerprints TEXT;
ALTER TABLE runs ADD COLUMN steps INTEGER;
ALTER TABLE runs ADD COLUMN notes TEXT;
CREATE INDEX runs_script ON runs (script);
CREATE TABLE checks (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    rule   TEXT NOT NULL,
    ran    INTEGER NOT NULL,
    reason TEXT
);
CREATE INDEX checks_run ON checks (run_id);
CREATE INDEX findings_run ON findings (run_id);
"""

# MIGRATIONS[v] upgrades a file at version v; version 0 is an empty file.
MIGRATIONS = {0: _V1, 1: _V2}
SCHEMA_VERSION = max(MIGRATIONS) + 1


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with WAL, the busy timeout and foreign keys on; the schema migrated to
    the current version (unless `readonly`, which never creates or changes the file)."""
    if readonly:
        connection = _connect_readonly(path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            # Journal mode is a property of the file: set once, every later opener sees it.
            connection.execute("PRAGMA journal_mode = WAL")
            # NORMAL under WAL: a power cut may lose the last commits, never corrupts the file.
            connection.execute("PRAGMA synchronous = NORMAL")
            migrate(connection)
        else:
            check_version(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """Read-only, even where the WAL's shared-memory file cannot be created (a read-only
    directory): then the file is opened as immutable, which is what it is to this reader."""
    uri = path.resolve().as_uri()
    try:
        connection = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                                     isolation_level=None)
        connection.execute("SELECT 1 FROM sqlite_master LIMIT 1")
        return connection
    except sqlite3.OperationalError:
        return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)


def current_version(connection: sqlite3.Connection) -> int:
    exists = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if not exists:
        return 0
    row = connection.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def check_version(connection: sqlite3.Connection) -> int:
    version = current_version(connection)
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(f"the records database is at schema version {version}, newer than this nndoctor's "
                           f"{SCHEMA_VERSION}: upgrade nndoctor to write to it")
    return version


def migrate(connection: sqlite3.Connection) -> int:
    """Bring the file to SCHEMA_VERSION, one migration per transaction. Concurrent openers
    serialise on BEGIN IMMEDIATE; each re-reads the version inside its transaction, so a
    migration runs exactly once."""
    if check_version(connection) == SCHEMA_VERSION:
        return SCHEMA_VERSION
    while True:
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = check_version(connection)
            if version == SCHEMA_VERSION:
                connection.execute("COMMIT")
                return version
            for statement in _statements(MIGRATIONS[version]):
                connection.execute(statement)
            connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            connection.execute("DELETE FROM schema_version")
            connection.execute("INSERT INTO schema_version (version) VALUES (?)", (version + 1,))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
