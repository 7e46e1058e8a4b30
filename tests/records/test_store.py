"""Run rows: resolution of RUN references, filters, the size bounds, and interrupted runs."""
import os
import socket
import subprocess
import sys
import time

import pytest

from nndoctor.records import schema, store


def add_run(connection, run_id, **fields):
    row = {"id": run_id, "command": "run", "command_line": ["nndoctor", "run"], "script": "train.py",
           "status": "running", "started_at": time.time(), "pid": os.getpid(), "host": socket.gethostname()}
    row.update(fields)
    store.insert_run(connection, row)


def report(*rules):
    findings = [{"rule": rule, "severity": "warning", "message": f"{rule} fired", "step": 3} for rule in rules]
    return {"command": "run", "findings": findings, "checks_run": ["dead-relu", *rules],
            "checks_skipped": [{"rule": "overfitting", "reason": "no validation loss"}],
            "summary": {"error": 0, "warning": len(rules), "info": 0}, "context": {"steps_observed": 10}}


@pytest.fixture()
def connection(tmp_path):
    return schema.connect(tmp_path / "runs.db")


def test_references_resolve_by_prefix_last_and_last_n(connection):
    for run_id in ("aaaa1111", "aaaa2222", "bbbb3333"):
        add_run(connection, run_id)
    assert store.resolve(connection, "last") == "bbbb3333"
    assert store.resolve(connection, "last~2") == "aaaa1111"
    assert store.resolve(connection, "aaaa2") == "aaaa2222"
    with pytest.raises(store.RunNotFound, match="several run ids"):
        store.resolve(connection, "aaaa")
    with pytest.raises(store.RunNotFound, match="no recorded run has an id starting with 'cc'"):
        store.resolve(connection, "cc")
    with pytest.raises(store.RunNotFound, match="fewer than 4 runs"):
        store.resolve(connection, "last~3")


def test_finish_stores_findings_checks_and_report_and_filters_find_them(connection):
    add_run(connection, "aaaa1111", script="/project/train.py")
    add_run(connection, "bbbb2222", script="/project/other.py", started_at=time.time() - 86400 * 3)
    store.finish_run(connection, "aaaa1111", {"status": "finished", "exit_code": 0}, report("loss-diverging"))
    store.finish_run(connection, "bbbb2222", {"status": "finished", "exit_code": 0}, report())
    run = store.load_run(connection, "aaaa1111")
    assert run["warnings"] == 1 and run.report["findings"][0]["rule"] == "loss-diverging"
    checks = connection.execute("SELECT rule, ran, reason FROM checks WHERE run_id = 'aaaa1111'").fetchall()
    assert ("overfitting", 0, "no validation loss") in checks and ("dead-relu", 1, None) in checks
    assert [r["id"] for r in store.list_runs(connection, finding="loss-diverging")] == ["aaaa1111"]
    assert [r["id"] for r in store.list_runs(connection, script="other.py")] == ["bbbb2222"]
    assert [r["id"] for r in store.list_runs(connection, since=time.time() - 86400)] == ["aaaa1111"]


def test_the_oldest_finished_runs_are_pruned_past_the_bound(connection):
    for index in range(6):
        add_run(connection, f"run{index:05d}")
        store.finish_run(connection, f"run{index:05d}", {"status": "finished"}, report(), max_runs=4)
    assert [r["id"] for r in store.list_runs(connection)] == [f"run{i:05d}" for i in (5, 4, 3, 2)]


def test_an_oversized_report_loses_its_series_first(monkeypatch):
    monkeypatch.setattr(store, "MAX_REPORT_BYTES", 2000)
    noisy = {"context": {"series": {"loss": {"head": [[i, float(os.urandom(1)[0])] for i in range(3000)]}},
                         "script": "train.py"}, "findings": []}
    blob, notes = store.compress_report(noisy)
    assert len(blob) <= 2000 and notes == ["the report's series were too large to keep and were dropped"]


def test_a_running_row_of_a_dead_process_is_interrupted_and_written_back(connection):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    add_run(connection, "dead0001", pid=dead.pid)
    add_run(connection, "live0001")  # this process: alive
    add_run(connection, "stale001", host="elsewhere", started_at=time.time() - 7200, heartbeat_at=time.time() - 7200)
    add_run(connection, "remote01", host="elsewhere")  # another host, fresh heartbeat: believed running
    statuses = {r["id"]: r["status"] for r in store.list_runs(connection)}
    assert statuses == {"dead0001": "interrupted", "live0001": "running", "stale001": "interrupted",
                        "remote01": "running"}
    stored = dict(connection.execute("SELECT id, status FROM runs").fetchall())
    assert stored["dead0001"] == "interrupted" and stored["live0001"] == "running"
