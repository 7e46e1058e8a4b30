"""Two real gloo ranks on CPU: a clean DDP run gives no warning, and each planted bug is
caught on the right rank at the right step, from the ranks' records merged after the run.
The command-line forms (`nndoctor run --nproc-per-node 2`, `torchrun -m nndoctor.dist`)
run the example script as a user would."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import torch.multiprocessing as mp  # noqa: E402

from nndoctor.dist.merge import merge_ranks  # noqa: E402
from nndoctor.dist.rundir import read_rank_records  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import scenarios  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "dist" / "train_ddp.py"
FAILING = Path(__file__).parent / "exit_on_rank_1.py"
DIST_RULES = {"replicas-diverged", "ddp-bypassed", "rank-data-identical", "batchnorm-not-synced", "grad-sync-skipped"}


@pytest.fixture(scope="module")
def merged(tmp_path_factory):
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("this torch build has no gloo backend")
    out = tmp_path_factory.mktemp("ranks")
    mp.spawn(scenarios.run_scenarios, args=(2, str(out / "init"), str(out)), nprocs=2, join=True)
    return {name: merge_ranks(read_rank_records(out / name)) for name in scenarios.SCENARIOS}


def only(report, rule):
    found = [f for f in report.findings if f.rule == rule]
    assert len(found) == 1, [f.message for f in report.findings]
    return found[0]


def test_clean_ddp_training_gives_no_warning_and_runs_every_distributed_check(merged):
    report = merged["clean"]
    assert [f.message for f in report.findings if f.severity != "info"] == []
    assert DIST_RULES <= set(report.checks_run)
    assert report.context["distributed"]["ranks_reported"] == [0, 1]


def test_dtype_round_trip_after_wrapping_diverges_at_the_first_update(merged):
    finding = only(merged["dtype-round-trip"], "replicas-diverged")
    assert finding.severity == "error" and finding.step == 0 and finding.evidence["ranks"] == [0, 1]
    assert finding.evidence["last_equal_update"] == 0


def test_alternating_unwrapped_forward_is_caught_at_step_1_on_both_ranks(merged):
    report = merged["bypass"]
    bypassed = only(report, "ddp-bypassed")
    assert bypassed.step == 1 and bypassed.evidence["ranks"] == [0, 1] and "On all 2 ranks" in bypassed.message
    assert only(report, "replicas-diverged").step == 1


def test_same_data_on_every_rank(merged):
    finding = only(merged["same-data"], "rank-data-identical")
    assert finding.evidence["ranks"] == [0, 1] and finding.evidence["batches_compared"] == 3


def test_no_sync_forever_is_caught_at_step_0(merged):
    report = merged["no-sync"]
    skipped = only(report, "grad-sync-skipped")
    assert skipped.step == 0 and skipped.evidence["unsynced_steps"] == skipped.evidence["training_steps"]
    assert only(report, "replicas-diverged").step == 0


def test_a_rank_0_only_step_is_named_with_the_step_counts(merged):
    finding = only(merged["extra-step"], "replicas-diverged")
    assert finding.step == scenarios.EXTRA_STEP_AT
    steps = finding.evidence["optimizer_steps_per_rank"]
    assert steps["0"] == steps["1"] + 1
    assert {f.rule for f in merged["extra-step"].findings} == {"replicas-diverged"}


def test_small_per_rank_batchnorm_is_a_note(merged):
    finding = only(merged["small-bn"], "batchnorm-not-synced")
    assert finding.severity == "info" and finding.evidence["per_rank_batch_size"] == 8


def test_set_epoch_never_called(merged):
    finding = only(merged["no-set-epoch"], "rank-data-identical")
    assert "set_epoch" in finding.message and finding.evidence["ranks"] == [0, 1]


def test_fsdp_on_gloo_gives_no_warning_and_says_why_replicas_are_not_compared(merged):
    reason = scenarios.fully_shard_or_reason()[1]
    if reason:
        pytest.skip(reason)
    report = merged["fsdp"]
    assert [f.message for f in report.findings] == []
    skipped = {s.rule: s.reason for s in report.checks_skipped}
    assert "sharded across ranks" in skipped["replicas-diverged"] and "sharded" in skipped["dynamics"]


def _start(command):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


@pytest.fixture(scope="module", autouse=True)
def command_lines(tmp_path_factory):
    """Both command-line runs start with the module, in the background: most of their time
    is process start-up and rendezvous, which overlaps with the spawned scenarios."""
    out = tmp_path_factory.mktemp("cli")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    runs = {
        "nproc": (_start([sys.executable, "-m", "nndoctor", "run", "--nproc-per-node", "2", "--preflight", "--json",
                          str(out / "nproc.json"), str(EXAMPLE), "--epochs", "1"]), out / "nproc.json"),
        "failing": (_start([sys.executable, "-m", "nndoctor", "run", "--nproc-per-node", "2", "--quiet",
                            str(FAILING)]), None),
        "torchrun": (_start([*torchrun, "-m", "nndoctor.dist", "--quiet", "--json", str(out / "torchrun.json"),
                             str(EXAMPLE), "--epochs", "1", "--bug", "bypass"]), out / "torchrun.json"),
    }
    yield runs
    for process, _ in runs.values():
        if process.poll() is None:
            process.kill()


def _finish(run):
    process, report_path = run
    stdout, stderr = process.communicate(timeout=240)
    return process.returncode, stdout, stderr, report_path


def test_nndoctor_run_nproc_per_node_on_the_clean_example(command_lines):
    code, stdout, stderr, report_path = _finish(command_lines["nproc"])
    assert code == 0, stderr[-3000:]
    assert "epoch 0: loss" in stdout and "accuracy" in stdout  # the script's own output
    report = json.loads(report_path.read_text())
    assert report["summary"] == {"error": 0, "warning": 0, "info": 0}
    assert report["context"]["distributed"]["world_size"] == 2
    assert DIST_RULES <= set(report["checks_run"])
    [preflight] = [s["reason"] for s in report["checks_skipped"] if s["rule"] == "preflight"]
    assert "skipped under distributed training: with 2 processes" in preflight


def test_a_failing_rank_gives_its_exit_code_and_the_other_ranks_report(command_lines):
    code, stdout, stderr, _ = _finish(command_lines["failing"])
    assert code == 3, stderr[-3000:]
    assert "rank 1 gives up" in stderr and "exitcode  : 3" in stderr  # torchrun's own failure summary
    assert "nndoctor: no training step was seen" in stderr


def test_torchrun_with_the_worker_module_merges_on_rank_0(command_lines):
    code, stdout, stderr, report_path = _finish(command_lines["torchrun"])
    assert code == 0, stderr[-3000:]  # the script's exit code, not the findings'
    assert "nndoctor error [ddp-bypassed] step 1: On all 2 ranks:" in stderr
    report = json.loads(report_path.read_text())
    assert {f["rule"] for f in report["findings"]} == {"ddp-bypassed", "replicas-diverged"}
