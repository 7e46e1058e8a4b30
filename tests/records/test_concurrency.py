"""Many processes recording at once (parallel runs, DDP ranks): no run is lost, none is
half-written, and a process killed mid-run leaves a readable file with its run interrupted."""
import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

from nndoctor.records import schema, store

# One writer process: a real Recording (background writer, heartbeats every 20 ms against
# the other writers), a report at the end.
WRITER = """
    import sys, time
    from pathlib import Path
    from nndoctor.core.report import Report
    from nndoctor.records.recording import Recording

    class Session:
        step = 0
        judge = None

    recording = Recording.start("run", Path(sys.argv[1]), command_line=["nndoctor", "run", sys.argv[2]],
                                script=sys.argv[2], heartbeat_seconds=0.02)
    session = Session()
    recording.follow(session)
    for step in range(int(sys.argv[3])):
        session.step = step
        time.sleep(0.01)
    report = Report(command="run", checks_run=["dead-relu"], context={"steps_observed": session.step})
    print("recorded" if recording.finish(report, 0) else "LOST", recording.id, flush=True)
"""

# Records progress, then waits to be killed.
VICTIM = """
    import sys, time
    from pathlib import Path
    from nndoctor.records.recording import Recording

    class Session:
        step = 0
        judge = None

    recording = Recording.start("run", Path(sys.argv[1]), command_line=["nndoctor", "run", "victim.py"],
                                script="victim.py", heartbeat_seconds=0.05)
    session = Session()
    recording.follow(session)
    while True:
        session.step += 1
        time.sleep(0.01)
"""


def test_twenty_concurrent_writers_lose_no_run(tmp_path):
    path = tmp_path / "runs.db"
    processes = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), str(path), f"script{i}.py", "30"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(20)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert all(p.returncode == 0 for p in processes), [err for _, err in outputs]
    ids = {out.split()[1] for out, _ in outputs if out.startswith("recorded")}
    assert len(ids) == 20, outputs
    connection = schema.connect(path)
    rows = store.list_runs(connection, limit=100)
    assert {r["id"] for r in rows} == ids
    assert {r["status"] for r in rows} == {"finished"}
    assert {r["script"] for r in rows} == {f"script{i}.py" for i in range(20)}
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert connection.execute("SELECT COUNT(*) FROM checks").fetchone()[0] == 20


def test_a_killed_process_leaves_a_readable_database_and_an_interrupted_run(tmp_path):
    path = tmp_path / "runs.db"
    victim = subprocess.Popen([sys.executable, "-c", textwrap.dedent(VICTIM), str(path)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    steps = None
    while time.monotonic() < deadline and not steps:
        time.sleep(0.1)
        try:
            with sqlite3.connect(path) as peek:
                steps = peek.execute("SELECT steps FROM runs").fetchone()
        except sqlite3.Error:
            continue  # not created yet
        steps = steps[0] if steps else None
    assert steps, "the heartbeat never recorded progress"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    connection = schema.connect(path, readonly=True)
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    (run,) = store.list_runs(connection)
    assert run["status"] == "interrupted" and run["steps"] >= 1 and run["exit_code"] is None
    json.dumps(run.data)  # plain data all through
