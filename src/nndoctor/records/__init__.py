"""The run records: every nndoctor command remembered in one SQLite file (no server).

    nndoctor runs                 # what was run, newest first
    nndoctor show last            # a run's report again
    nndoctor compare last~1 last  # what changed between two runs, and what it did
    nndoctor export last --mlflow file:./mlruns

`recording` writes (from a background thread, never on the training path), `store` holds
the SQL, `schema` the file format and its migrations, `compare` and `export` read.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from nndoctor.core.errors import UsageError
from nndoctor.records import schema


def open_records(path: Path) -> sqlite3.Connection:
    """The records for reading: migrated and writable when possible (so that runs found
    dead are marked interrupted), read-only otherwise."""
    if not path.is_file():
        raise UsageError(f"no runs are recorded yet ({path} does not exist): every nndoctor run, audit, "
                         "evaluate and tune records one")
    try:
        return schema.connect(path)
    except schema.SchemaTooNew as error:
        raise UsageError(str(error)) from None
    except sqlite3.Error:
        pass
    try:
        return schema.connect(path, readonly=True)
    except sqlite3.Error as error:
        raise UsageError(f"cannot read the run records in {path}: {error}") from None
