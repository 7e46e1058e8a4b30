from collections.abc import Mapping

import pytest

from nndoctor.core import Measurements, Registry, Rule, UsageError
from nndoctor.core.config import load_config
from nndoctor.core.engine import run_rules
from nndoctor.core.registry import DuplicateRuleError


class LossTooHigh(Rule):
    """Loss above a limit.

    What it detects:
        A loss above the limit.
    Why it matters:
        Because.
    Likely causes:
        - a bug
        - bad luck
    Fixes:
        - fix it
    Example:
        loss-too-high: loss 5 > 3
    """

    id = "loss-too-high"
    title = "loss too high"
    area = "dynamics"
    requires = ("loss",)

    def check(self, m: Mapping, *, loss_high: float = 3.0) -> list:
        if m["loss"] > loss_high:
            return [self.finding(f"loss {m['loss']} > {loss_high}", evidence={"loss": m["loss"]})]
        return []


class Crashes(LossTooHigh):
    id = "crashes"

    def check(self, m: Mapping) -> list:
        raise RuntimeError("boom")


class OptIn(LossTooHigh):
    id = "opt-in"
    default = False


def fresh():
    return Registry([LossTooHigh, Crashes, OptIn])


def test_duplicate_ids_raise():
    registry = fresh()
    clone = type("Clone", (LossTooHigh,), {})
    with pytest.raises(DuplicateRuleError):
        registry.register(clone)


def test_rule_doc_sections_feed_finding_defaults():
    finding = LossTooHigh().check({"loss": 5.0})[0]
    assert finding.causes == ["a bug", "bad luck"]
    assert finding.fixes == ["fix it"]
    assert LossTooHigh.doc().missing_headings() == []
    assert LossTooHigh.thresholds() == {"loss_high": 3.0}


def test_engine_isolates_crashes_and_reports_skips():
    measurements = Measurements(loss=5.0)
    report = run_rules(measurements, [LossTooHigh, Crashes])
    rules = sorted(f.rule for f in report.findings)
    assert rules == ["internal-error", "loss-too-high"]
    crash = next(f for f in report.findings if f.rule == "internal-error")
    assert "crashes" in crash.message and "RuntimeError" in crash.message
    # The crash costs that rule only: listed as not done, with why.
    assert report.checks_run == ["loss-too-high"]
    assert [s.rule for s in report.checks_skipped] == ["crashes"]
    assert "RuntimeError" in report.checks_skipped[0].reason

    empty = Measurements()
    empty.mark_unavailable("loss", "no loss was seen")
    skipped = run_rules(empty, [LossTooHigh])
    assert skipped.checks_run == []
    assert skipped.checks_skipped[0].reason == "no loss was seen"


def test_threshold_overrides_and_typos():
    report = run_rules({"loss": 5.0}, [LossTooHigh], thresholds={"loss-too-high": {"loss_high": 10}})
    assert report.findings == []
    with pytest.raises(UsageError, match="loss_high"):
        run_rules({"loss": 5.0}, [LossTooHigh], thresholds={"loss-too-high": {"loss_hi": 10}})


def test_select_and_ignore():
    registry = fresh()
    assert [r.id for r in registry.select()] == ["crashes", "loss-too-high"]
    assert [r.id for r in registry.select(select=["opt-in"])] == ["opt-in"]
    assert [r.id for r in registry.select(ignore=["dynamics"])] == []
    with pytest.raises(UsageError, match="unknown rule or area"):
        registry.select(select=["no-such-rule"])


def test_pyproject_config(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.nndoctor]\nfail_on = "warning"\nignore = ["crashes"]\n'
        '[tool.nndoctor.thresholds.loss-too-high]\nloss_high = 7.5\n'
    )
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    config = load_config(nested, registry=fresh())
    assert config.fail_on == "warning"
    assert config.ignore == ["crashes"]
    merged = config.merged_thresholds({"loss-too-high": {"loss_high": 9.0}})
    assert merged == {"loss-too-high": {"loss_high": 9.0}}
    assert config.merged_thresholds(None) == {"loss-too-high": {"loss_high": 7.5}}


def test_pyproject_unknown_key_is_clear(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.nndoctor]\nthreshold = 1\n")
    with pytest.raises(UsageError, match=r"no setting .threshold. \(did you mean .thresholds.\?\)"):
        load_config(tmp_path, registry=fresh())
