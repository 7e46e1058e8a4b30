"""The file format: WAL, migrations from every earlier version, refusal of a newer one."""
import sqlite3
import time

import pytest

from nndoctor.records import schema, store


def make_v1(path):
    """A database as the first schema version wrote it, with one finished run."""
    connection = sqlite3.connect(path, isolation_level=None)
    for statement in schema._statements(schema.MIGRATIONS[0]):
        connection.execute(statement)
    connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    connection.execute("INSERT INTO schema_version VALUES (1)")
    connection.execute(
        "INSERT INTO runs (id, command, command_line, script, status, exit_code, started_at, ended_at, errors) "
        "VALUES ('0123abcd', 'run', '[\"nndoctor\", \"run\", \"train.py\"]', 'train.py', 'finished', 1, ?, ?, 1)",
        (time.time() - 60, time.time()))
    connection.execute("INSERT INTO findings VALUES ('0123abcd', 'non-finite', 'error', 40, 'the loss is NaN')")
    connection.close()


def test_a_v1_database_is_migrated_and_its_runs_stay_readable(tmp_path):
    path = tmp_path / "runs.db"
    make_v1(path)
    connection = schema.connect(path)
    assert schema.current_version(connection) == schema.SCHEMA_VERSION == 2
    run = store.load_run(connection, store.resolve(connection, "0123"))
    assert (run["command"], run["status"], run["exit_code"], run["errors"]) == ("run", "finished", 1, 1)
    assert run["command_line"] == ["nndoctor", "run", "train.py"]
    assert run.get("pid") is None and run.get("seeds") is None  # v2 columns, empty for an old run
    assert [r.data["id"] for r in store.list_runs(connection, finding="non-finite")] == ["0123abcd"]
    connection.execute("INSERT INTO checks VALUES ('0123abcd', 'non-finite', 1, NULL)")  # the v2 table exists


def test_migrating_twice_is_a_no_op_and_the_journal_is_wal(tmp_path):
    path = tmp_path / "runs.db"
    schema.connect(path).close()
    connection = schema.connect(path)
    assert schema.current_version(connection) == schema.SCHEMA_VERSION
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 1


def test_a_newer_schema_is_refused_not_rewritten(tmp_path):
    path = tmp_path / "runs.db"
    schema.connect(path).execute("UPDATE schema_version SET version = 99")
    with pytest.raises(schema.SchemaTooNew, match="schema version 99"):
        schema.connect(path)
    with pytest.raises(schema.SchemaTooNew):
        schema.connect(path, readonly=True)
    assert sqlite3.connect(path).execute("SELECT version FROM schema_version").fetchone()[0] == 99
