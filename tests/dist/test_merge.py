"""Merging the ranks' records into one report (no processes: hand-written records)."""
import pytest

from nndoctor.core.errors import UsageError
from nndoctor.core.finding import Finding
from nndoctor.core.report import Report, SkippedCheck
from nndoctor.dist.merge import merge_ranks
from nndoctor.dist.worker import parse_worker_args


def record(rank, findings=(), run=("missing-zero-grad",), skipped=(), world=2, **extra):
    report = Report(command="run", findings=list(findings), checks_run=list(run),
                    checks_skipped=[SkippedCheck(rule, "not measured here") for rule in skipped],
                    context={"steps_observed": 10, "backwards_observed": 10, "script": "train.py"})
    return {"rank": rank, "world_size": world, "report": report.to_dict(), "script_exit_code": 0,
            "optimizer_steps": 10, "ddp": [], "checksums": [], "sampler_passes": [], **extra}


def stale(step=1, rank_text=""):
    return Finding(rule="missing-zero-grad", severity="error", message=f"stale gradients{rank_text}", step=step,
                   where="fc.weight")


def test_a_finding_on_every_rank_is_shown_once_on_all_ranks():
    report = merge_ranks([record(0, [stale(2)]), record(1, [stale(1)])])
    [finding] = report.findings
    assert finding.message == "On all 2 ranks: stale gradients" and finding.evidence["ranks"] == [0, 1]
    assert finding.step == 1  # the earliest evidence


def test_a_finding_on_one_rank_names_it():
    [finding] = merge_ranks([record(0), record(1, [stale()])]).findings
    assert finding.message.startswith("On rank 1: ") and finding.evidence["ranks"] == [1]


def test_a_check_skipped_on_one_rank_but_run_on_another_counts_as_run():
    report = merge_ranks([record(0, run=("a-rule",), skipped=("b-rule",)),
                          record(1, run=("b-rule",), skipped=("c-rule",))])
    assert {"a-rule", "b-rule"} <= set(report.checks_run)
    assert "c-rule" in {s.rule for s in report.checks_skipped} and "b-rule" not in {s.rule for s in report.checks_skipped}


def test_missing_ranks_and_failed_scripts_are_in_the_context():
    report = merge_ranks([record(0, world=4), record(2, world=4, script_exit_code=3)])
    distributed = report.context["distributed"]
    assert distributed["ranks_missing"] == [1, 3] and report.context["script_exit_code"] == 3


def test_without_ddp_the_distributed_checks_say_why():
    skipped = {s.rule: s.reason for s in merge_ranks([record(0), record(1)]).checks_skipped}
    assert "no DistributedDataParallel wrapper" in skipped["ddp-bypassed"]
    assert "no optimizer step was seen on every rank" in skipped["replicas-diverged"]


def test_one_process_gets_no_rank_prefix_and_no_distributed_checks():
    report = merge_ranks([record(0, [stale()], world=1)])
    assert report.findings[0].message == "stale gradients"
    assert not any(s.rule == "replicas-diverged" for s in report.checks_skipped)


def test_no_record_at_all_is_said():
    report = merge_ranks([])
    assert report.findings == [] and "no rank left a record" in report.checks_skipped[0].reason


def test_worker_options_then_the_script_and_its_own():
    options = parse_worker_args(["--every", "5", "--select=a,b", "-q", "train.py", "--every", "7"])
    assert (options.every, options.select, options.quiet) == (5, ["a", "b"], True)
    assert (options.script, options.args) == ("train.py", ["--every", "7"])
    module = parse_worker_args(["--", "-m", "pkg.train", "--lr", "1"])
    assert (module.module, module.args) == ("pkg.train", ["--lr", "1"])


@pytest.mark.parametrize("argv, message", [([], "give the training script"), (["--every", "0", "t.py"], "positive"),
                                           (["--bogus", "t.py"], "has no option '--bogus'"), (["-m"], "module name"),
                                           (["--json"], "needs a value")])
def test_worker_usage_errors_are_one_line(argv, message):
    with pytest.raises(UsageError, match=message):
        parse_worker_args(argv)
