"""The one capability runner: which rules a command runs, with which thresholds, how its
measurement steps are contained, and how its report is made — the same for preflight,
run/watch (every framework), audit and evaluate.

* A `Capability` is what one command of one adapter measures: the names of the
  measurements it fills (`produces`), and the names it knows it cannot fill with the
  reason users should read (`absent_reasons`). A rule applies to a capability when the
  capability produces everything the rule `requires`; nothing else decides it, so no list
  of which rule runs in which command is kept anywhere.
* A `Selection` is what the user asked for: the project's [tool.nndoctor] table merged
  with the call's own select / ignore / extend_select / thresholds the ruff way
  (nndoctor.core.config), loaded and checked once per command, before any work starts.
* `RuleSet(capability, selection)` is the two together: the rules to run with their
  thresholds, and the rules the call named by id that this command cannot check (listed
  as skipped with what is missing, instead of vanishing). `RuleSet.judge` runs them.
* `measuring(m, provides, ...)` contains one measurement step: a step that cannot run
  marks its measurements unavailable with the reason; a crash inside nndoctor becomes an
  internal fault (reported by the `internal-error` rule), never the user's exception.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from nndoctor.core.config import Config, check_thresholds, load_config, rule_names
from nndoctor.core.engine import resolve_thresholds, run_rules
from nndoctor.core.errors import UsageError
from nndoctor.core.registry import Registry, load_rules
from nndoctor.core.report import Report, SkippedCheck
from nndoctor.core.rule import Measurements, Rule

# Every command contains its own faults (`measuring`, live.faults) and hands them over.
ALWAYS_PRODUCED = frozenset({"internal_faults"})


@dataclass(frozen=True)
class Capability:
    """What one command of one adapter measures (e.g. `torch-preflight`, `jax-run`)."""

    name: str
    command: str  # the Report's command: preflight, run, watch, audit, evaluate
    produces: frozenset[str]
    # Names this command leaves unmeasured, with the reason shown when a rule needs one
    # and the measurements lack it ("the optax wrapper sees gradients, not activations").
    absent_reasons: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        everything = frozenset(self.produces) | ALWAYS_PRODUCED | frozenset(self.absent_reasons)
        object.__setattr__(self, "produces", everything)

    def applies(self, rule: type[Rule]) -> bool:
        return set(rule.requires) <= self.produces

    def missing(self, rule: type[Rule]) -> list[str]:
        return [name for name in rule.requires if name not in self.produces]

    def explain_absent(self, m: Mapping[str, Any]) -> None:
        """Give each absent name of `absent_reasons` its reason (unless the adapter already
        gave a more specific one), so the rules needing it are skipped with that reason."""
        unavailable = getattr(m, "unavailable", None)
        if unavailable is None:
            return
        for name, reason in self.absent_reasons.items():
            if m.get(name) is None and name not in unavailable:
                m.mark_unavailable(name, reason)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Selection:
    """The rules a user asked for and their thresholds, resolved once per command."""

    select: list[str] | None = None  # rule ids and areas for Registry.select (None: the defaults)
    ignore: list[str] | None = None
    named: frozenset[str] = frozenset()  # rule ids the call itself selected by name
    thresholds: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    fail_on: str = "error"

    @classmethod
    def resolve(
        cls,
        select: Any = None,
        ignore: Any = None,
        extend_select: Any = None,
        thresholds: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        config: Config | None = None,
        registry: Registry | None = None,
    ) -> Selection:
        """Merge the call's options into the project's settings (pyproject.toml, read here
        unless `config` is given) and check every name now: a typo found at the end of a
        long run would cost its diagnosis."""
        registry = registry if registry is not None else load_rules()
        config = config if config is not None else load_config(registry=registry)
        check_thresholds(thresholds, registry)
        chosen, ignored = config.rule_selection(select, ignore, extend_select)
        registry.select(select=chosen, ignore=ignored)  # unknown names: a UsageError now
        named = {name for name in (*rule_names(select, "select"), *rule_names(extend_select, "extend_select"))
                 if name in registry}
        return cls(select=chosen, ignore=ignored, named=frozenset(named),
                   thresholds=config.merged_thresholds(_plain_thresholds(thresholds)), fail_on=config.fail_on)


def _plain_thresholds(thresholds: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    return {rule: dict(values) for rule, values in (thresholds or {}).items()}


class RuleSet:
    """The rules one capability runs for one selection, with their checked thresholds."""

    def __init__(self, capability: Capability, selection: Selection | None = None,
                 registry: Registry | None = None) -> None:
        registry = registry if registry is not None else load_rules()
        self.capability = capability
        self.selection = selection if selection is not None else Selection.resolve(registry=registry)
        chosen = registry.select(select=self.selection.select, ignore=self.selection.ignore)
        self.rules = [rule for rule in chosen if capability.applies(rule)]
        # A rule selected by name that this command cannot check is listed, not dropped:
        # the user asked for it. Rules reached through an area or the defaults are not.
        self.not_applicable = [
            SkippedCheck(rule.id, f"{capability.command} ({capability.name}) does not measure "
                                  f"{', '.join(capability.missing(rule))}, which this rule needs")
            for rule in chosen if not capability.applies(rule) and rule.id in self.selection.named]
        self.thresholds = resolve_thresholds(self.rules, self.selection.thresholds)

    @property
    def ids(self) -> list[str]:
        return [rule.id for rule in self.rules]

    def needs(self) -> set[str]:
        """The measurement names the rules read (required or optional): the steps worth running."""
        return {name for rule in self.rules for name in (*rule.requires, *rule.optional)}

    def judge(self, measurements: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
              report: Report | None = None) -> Report:
        """Run the rules on the measurements, or on each part of a list of them (the first
        part carries the run-wide measurements, each other part one more model) and merge."""
        parts = [measurements] if isinstance(measurements, Mapping) else list(measurements)
        report = report if report is not None else Report(command=self.capability.command)
        for index, part in enumerate(parts):
            self.capability.explain_absent(part)
            if index == 0:
                run_rules(part, self.rules, thresholds=self.thresholds, report=report)
            else:
                report.extend(run_rules(part, self.rules, thresholds=self.thresholds, command=report.command))
        known = {skipped.rule for skipped in report.checks_skipped}
        report.checks_skipped.extend(s for s in self.not_applicable if s.rule not in known)
        return report


class MeasurementUnavailable(Exception):
    """A measurement step cannot say anything about this input; the message is the reason
    users read (not a fault of nndoctor's)."""


def fault_record(source: str, error: BaseException, step: int | None = None) -> dict[str, Any]:
    """An `internal_faults` entry (nndoctor.core.measurements.InternalFault)."""
    return {"source": source, "exception": type(error).__name__, "detail": str(error)[:300],
            "step": step, "count": 1}


@contextmanager
def measuring(m: Measurements, provides: Iterable[str], *, source: str, what: str,
              unavailable: tuple[type[BaseException], ...] = (MeasurementUnavailable, UsageError)) -> Iterator[None]:
    """Contain one measurement step that fills `provides` into `m`.

    `unavailable` exceptions (UsageError too: the user's code worked on the real input but
    not in the experiment, e.g. a hard-coded batch size on a slice) mark every provided
    name unavailable with their message. Any other exception is recorded as an internal
    fault of `source`, and the names the step did not fill are marked unavailable, so the
    rules needing them are listed as skipped, never silently passed."""
    provides = tuple(provides)
    try:
        yield
    except unavailable as reason:
        for name in provides:
            m.mark_unavailable(name, str(reason))
    except Exception as error:  # noqa: BLE001 — containment is the point
        m.setdefault("internal_faults", []).append(fault_record(source, error))
        for name in provides:
            if name not in m:
                m.mark_unavailable(name, f"{what} failed ({type(error).__name__}; see internal-error)")


__all__ = ["ALWAYS_PRODUCED", "Capability", "MeasurementUnavailable", "RuleSet", "Selection", "fault_record",
           "measuring"]
