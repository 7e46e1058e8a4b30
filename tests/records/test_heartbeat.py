"""Heartbeats amend the findings table with what changed since the last one (findings fire
once and stay, so most heartbeats write none), and the table still ends up exactly the
findings fired so far: new ones added, retracted ones removed, repeated rows kept."""
import time

from nndoctor.records import schema, store
from nndoctor.records.writer import RecordWriter


class Progress:
    def __init__(self) -> None:
        self.step = 0
        self.findings: list[tuple] = []
        self.fail = False

    def __call__(self):
        if self.fail:
            self.fail = False
            raise RuntimeError("the session changed size during iteration")
        return self.step, list(self.findings)


def wait_for_beats(writer: RecordWriter, beats: int) -> None:
    deadline = time.monotonic() + 20
    target = writer.heartbeats + beats
    while writer.heartbeats < target and time.monotonic() < deadline:
        time.sleep(0.005)
    assert writer.heartbeats >= target, "the writer wrote no heartbeat"


def table(path, run_id):
    connection = schema.connect(path, readonly=True)
    try:
        return sorted(tuple(f.values()) for f in store.run_findings(connection, run_id))
    finally:
        connection.close()


def test_heartbeats_keep_the_findings_table_equal_to_the_fired_findings(tmp_path):
    path = tmp_path / "runs.db"
    progress = Progress()
    row = {"id": "run-1", "command": "run", "command_line": ["nndoctor", "run"], "status": "running",
           "started_at": time.time(), "heartbeat_at": time.time()}
    writer = RecordWriter(path, row, progress=progress, heartbeat_seconds=0.01)
    writer.start()
    try:
        dead = ("dead-relu", "warning", 10, "layers.0: 97% dead (threshold 90%)")
        spike = ("loss-spike", "warning", 30, "loss rose 40× (threshold 10×)")
        twice = ("nan-loss", "error", None, "the loss is NaN")
        progress.findings = [dead]
        wait_for_beats(writer, 2)
        assert table(path, "run-1") == [dead]

        progress.step, progress.findings = 40, [dead, spike, twice, twice]
        wait_for_beats(writer, 2)
        assert table(path, "run-1") == sorted([dead, spike, twice, twice])

        progress.findings = [spike, twice]  # dead-relu retracted, one duplicate gone
        wait_for_beats(writer, 2)
        assert table(path, "run-1") == sorted([spike, twice])
        connection = schema.connect(path, readonly=True)
        assert store.load_run(connection, "run-1")["steps"] == 40
        connection.close()
    finally:
        assert writer.finish({"status": "finished", "exit_code": 0}, None)
    assert writer.cpu_seconds["heartbeats"] > 0 and writer.heartbeats >= 6


def test_a_heartbeat_after_a_failed_one_rewrites_every_finding(tmp_path):
    """A failed heartbeat leaves the writer unsure what the file holds; the next one
    replaces all the findings, whatever the table held (here: rows deleted behind its back)."""
    path = tmp_path / "runs.db"
    progress = Progress()
    row = {"id": "run-2", "command": "run", "command_line": ["nndoctor", "run"], "status": "running",
           "started_at": time.time(), "heartbeat_at": time.time()}
    writer = RecordWriter(path, row, progress=progress)
    progress.findings = [("dead-relu", "warning", 1, "dead")]
    writer._start()
    writer._heartbeat()
    assert table(path, "run-2") == progress.findings
    progress.fail = True
    writer._heartbeat()
    assert writer.faults == []  # a heartbeat's failure is no fault: the next write retries
    writer._connect().execute("DELETE FROM findings")
    progress.findings.append(("loss-spike", "warning", 2, "spike"))
    writer._heartbeat()
    assert table(path, "run-2") == sorted(progress.findings)
    writer._connection.close()
