"""The capability runner: a rule runs where its measurements are produced, selection follows
ruff everywhere, measurement steps are contained."""
from __future__ import annotations

import pytest

from nndoctor.core.capability import Capability, MeasurementUnavailable, RuleSet, Selection, measuring
from nndoctor.core.config import Config
from nndoctor.core.errors import UsageError
from nndoctor.core.registry import Registry, load_rules
from nndoctor.core.rule import Measurements, Rule


def _rule(rule_id: str, area: str, requires: tuple[str, ...], default: bool = True) -> type[Rule]:
    def check(self, m, *, limit: float = 1.0):
        return [self.finding(f"{rule_id}: {m[requires[0]]} > {limit}")] if m[requires[0]] > limit else []

    return type(rule_id.replace("-", "_"), (Rule,), {
        "__doc__": "What it detects\n    x\nWhy it matters\n    x\nLikely causes\n    - x\nFixes\n    - x\n"
                   "Example\n    x\n",
        "id": rule_id, "title": rule_id, "area": area, "requires": requires, "default": default, "check": check})


LOSS_HIGH = _rule("loss-high", "dynamics", ("loss",))
GRAD_HIGH = _rule("grad-high", "dynamics", ("grad",))
OVERFIT = _rule("overfit-failed", "preflight", ("overfit",))
OPT_IN = _rule("opt-in", "dynamics", ("loss",), default=False)
REGISTRY = Registry([LOSS_HIGH, GRAD_HIGH, OVERFIT, OPT_IN])
LIVE = Capability("test-run", "run", frozenset({"loss", "grad"}))
PREFLIGHT = Capability("test-preflight", "preflight", frozenset({"overfit", "loss"}),
                       absent_reasons={"grad": "the preflight of this adapter does not take gradients yet"})


def _selection(config: Config | None = None, **options) -> Selection:
    return Selection.resolve(config=config or Config(), registry=REGISTRY, **options)


def test_a_rule_applies_where_its_measurements_are_produced():
    assert RuleSet(LIVE, _selection(), REGISTRY).ids == ["grad-high", "loss-high"]
    # absent_reasons count as produced: the rule is listed as skipped with the reason.
    assert RuleSet(PREFLIGHT, _selection(), REGISTRY).ids == ["overfit-failed", "grad-high", "loss-high"]


def test_a_rule_named_for_a_command_that_cannot_check_it_is_listed_with_what_is_missing():
    rules = RuleSet(LIVE, _selection(select=["overfit-failed", "loss-high"]), REGISTRY)
    assert rules.ids == ["loss-high"]
    report = rules.judge(Measurements(loss=0.5, grad=0.1))
    assert report.checks_run == ["loss-high"]
    [skipped] = report.checks_skipped
    assert skipped.rule == "overfit-failed" and "does not measure overfit" in skipped.reason
    # Reached through an area (or the defaults), a rule of another command is not listed.
    report = RuleSet(LIVE, _selection(select=["preflight", "dynamics"]), REGISTRY).judge(Measurements(loss=0.5, grad=0.1))
    assert report.checks_skipped == [] and set(report.checks_run) == {"loss-high", "grad-high", "opt-in"}


def test_absent_measurements_are_skipped_with_the_capability_reason_unless_the_adapter_gave_one():
    rules = RuleSet(PREFLIGHT, _selection(), REGISTRY)
    report = rules.judge(Measurements(loss=2.0, overfit=0.0))
    assert {s.rule: s.reason for s in report.checks_skipped} == {
        "grad-high": "the preflight of this adapter does not take gradients yet"}
    assert [f.rule for f in report.findings] == ["loss-high"]
    m = Measurements(loss=2.0, overfit=0.0)
    m.mark_unavailable("grad", "the model has no parameters")
    assert rules.judge(m).checks_skipped[0].reason == "the model has no parameters"


def test_selection_follows_ruff_the_same_for_every_command():
    project = Config(select=["loss-high", "grad-high"], ignore=["grad-high", "loss-high"], extend_select=["opt-in"],
                     thresholds={"loss-high": {"limit": 5.0}})
    # The project's lists alone: its ignore removes from its select.
    assert RuleSet(LIVE, _selection(project), REGISTRY).ids == ["opt-in"]
    # A call's select replaces the project's select and wins over the project's ignore.
    chosen = _selection(project, select=["loss-high"])
    assert RuleSet(LIVE, chosen, REGISTRY).ids == ["loss-high", "opt-in"]
    # A call's ignore adds to the project's.
    assert RuleSet(LIVE, _selection(project, select=["loss-high"], ignore=["opt-in"]), REGISTRY).ids == ["loss-high"]
    # Thresholds: the call's win over the project's, name by name.
    assert RuleSet(LIVE, chosen, REGISTRY).thresholds == {"loss-high": {"limit": 5.0}}
    merged = _selection(project, select="loss-high", thresholds={"loss-high": {"limit": 9.0}})
    findings = RuleSet(LIVE, merged, REGISTRY).judge(Measurements(loss=6.0, grad=0.0)).findings
    assert [f.rule for f in findings] == ["opt-in"]  # loss-high's limit is 9 here, opt-in's the default 1


def test_mistakes_are_usage_errors_when_the_selection_is_resolved():
    with pytest.raises(UsageError, match="did you mean 'loss-high'"):
        _selection(ignore=["loss-hihg"])
    with pytest.raises(UsageError, match="has no threshold"):
        _selection(thresholds={"loss-high": {"limt": 1.0}})
    with pytest.raises(UsageError, match="select takes rule ids"):
        _selection(select=3)


def test_measuring_contains_a_step():
    m = Measurements(internal_faults=[])
    with measuring(m, ("a", "b"), source="test step", what="the test step"):
        raise MeasurementUnavailable("the batch has one sample")
    assert m.unavailable == {"a": "the batch has one sample", "b": "the batch has one sample"}
    m = Measurements(internal_faults=[])
    with measuring(m, ("a", "b"), source="test step", what="the test step"):
        m["a"] = 1.0
        raise RuntimeError("boom")
    assert m["a"] == 1.0 and "the test step failed (RuntimeError" in m.unavailable["b"]
    [fault] = m["internal_faults"]
    assert fault["source"] == "test step" and fault["detail"] == "boom" and fault["count"] == 1


def test_the_judge_merges_parts():
    rules = RuleSet(LIVE, _selection(), REGISTRY)
    report = rules.judge([Measurements(loss=2.0, grad=0.0), Measurements(loss=0.0, grad=3.0)])
    assert sorted(f.rule for f in report.findings) == ["grad-high", "loss-high"]
    assert sorted(report.checks_run) == ["grad-high", "loss-high"]


def test_every_command_runs_the_internal_error_rule():
    nothing = Capability("nothing", "check", frozenset())
    assert RuleSet(nothing, Selection(), load_rules()).ids == ["internal-error"]


def test_the_recorder_declares_what_it_returns():
    from nndoctor.live.recorder import MEASUREMENTS, Recorder

    assert set(Recorder(every=1).measurements()) == set(MEASUREMENTS)
