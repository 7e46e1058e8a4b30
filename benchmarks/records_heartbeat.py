"""The cost of a recording's heartbeat: many findings and a long run.

    .venv/bin/python benchmarks/records_heartbeat.py
    .venv/bin/python benchmarks/records_heartbeat.py --findings 10,1000,10000 --beats 2000

A recording refreshes its run row every 5 s from its writer thread: the step count, and
the findings fired so far (for `nndoctor runs --finding` while the run goes on). This
drives a real Recording over a real SQLite file, following a session whose judge holds N
real findings, and measures the writer thread's own CPU per heartbeat (`cpu_seconds`,
its `time.thread_time`):

* findings — per N: a beat where the findings changed (all N rewritten) and a beat where
  they did not (the common case: findings fire once, early), printed as ms per beat and
  as a share of a training thread busy for the 5 s between beats;
* long run — `--beats` heartbeats back to back against one file with N findings, a new
  finding every 100 beats: the cost of the last beats against the first (a cost that grew
  with the run's length — WAL growth, a findings table that never shrinks — would show).
"""
from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from nndoctor.core.finding import Finding
from nndoctor.records.recording import Recording

HEARTBEAT_SECONDS = 5.0  # nndoctor's


def make_finding(index: int) -> Finding:
    return Finding(rule="dead-relu", severity="warning", step=100 + index, where=[f"layers.{index}.act"],
                   message=f"layers.{index}.act: 97.3% of units output zero on every sample (threshold 90%).",
                   evidence={"dead_fraction": 0.973, "threshold": 0.9, "layer": f"layers.{index}.act"},
                   causes=["a learning rate too high"], fixes=["lower the learning rate"])


def fake_session(findings: int) -> SimpleNamespace:
    fired = {("dead-relu", f"['layers.{i}.act']"): make_finding(i) for i in range(findings)}
    return SimpleNamespace(step=0, judge=SimpleNamespace(fired=fired))


def beat(recording: Recording) -> float:
    """One heartbeat written by the writer thread itself; its CPU seconds."""
    writer = recording.writer
    before, count = writer.cpu_seconds["heartbeats"], writer.heartbeats
    deadline = time.monotonic() + 30
    while writer.heartbeats == count and time.monotonic() < deadline:
        time.sleep(writer.heartbeat_seconds / 4)
    return writer.cpu_seconds["heartbeats"] - before


def start(path: Path, session: SimpleNamespace, heartbeat: float) -> Recording:
    recording = Recording.start("run", path, command_line=["bench"], script="bench.py", stream=io.StringIO(),
                                heartbeat_seconds=heartbeat)
    recording.follow(session)
    return recording


def per_finding_count(counts: list[int], heartbeat: float, tmp: str) -> None:
    print(f"{'findings':>9}{'changed ms/beat':>17}{'unchanged ms/beat':>19}{'share of 5 s':>14}")
    for count in counts:
        session = fake_session(count)
        recording = start(Path(tmp) / f"findings{count}.db", session, heartbeat)
        changed, unchanged = [], []
        for round_index in range(5):
            extra = make_finding(count + round_index)
            session.judge.fired[("dead-relu", f"new {round_index}")] = extra  # one new finding: all rewritten
            changed.append(beat(recording))
            unchanged += [beat(recording), beat(recording)]
        recording.finish(None, 0)
        worst = max(statistics.median(changed), statistics.median(unchanged))
        print(f"{count:>9}{statistics.median(changed) * 1e3:>17.2f}{statistics.median(unchanged) * 1e3:>19.2f}"
              f"{worst / HEARTBEAT_SECONDS:>14.4%}", flush=True)


def long_run(beats: int, findings: int, heartbeat: float, tmp: str) -> None:
    session = fake_session(findings)
    path = Path(tmp) / "long.db"
    recording = start(path, session, heartbeat)
    costs = []
    for index in range(beats):
        session.step += 50
        if index % 100 == 99:
            session.judge.fired[("loss-spike", str(index))] = make_finding(findings + index)
        costs.append(beat(recording))
    recording.finish(None, 0)
    tenth = max(1, beats // 10)
    first, last = statistics.median(costs[:tenth]), statistics.median(costs[-tenth:])
    sizes = sum(p.stat().st_size for p in path.parent.glob("long.db*"))
    print(f"long run: {beats} heartbeats ({beats * HEARTBEAT_SECONDS / 3600:.1f} h at 5 s) with {findings}+ findings: "
          f"first tenth {first * 1e3:.2f} ms/beat, last tenth {last * 1e3:.2f} ms/beat (ratio {last / first:.2f}); "
          f"database + WAL at the end {sizes / 1e6:.2f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", default="0,10,100,1000,10000")
    parser.add_argument("--beats", type=int, default=1000, help="heartbeats of the long run")
    parser.add_argument("--long-findings", type=int, default=200, help="findings of the long run at its start")
    parser.add_argument("--heartbeat", type=float, default=0.005, help="seconds between beats here (nndoctor: 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        per_finding_count([int(n) for n in args.findings.split(",")], args.heartbeat, tmp)
        long_run(args.beats, args.long_findings, args.heartbeat, tmp)


if __name__ == "__main__":
    main()
