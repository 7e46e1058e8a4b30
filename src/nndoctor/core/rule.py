"""The Rule base class: measurements in, Findings out, no framework imports."""
from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

from nndoctor.core import idioms
from nndoctor.core.finding import Finding
from nndoctor.core.ruledoc import RuleDoc, parse_rule_doc


class Measurements(dict):
    """Named measurements produced by an adapter or experiment (plain Python/numpy values).

    `unavailable` records, for a measurement that could not be taken, the human reason
    (e.g. "no validation loss was logged"); rules needing it are reported as skipped with
    that reason instead of silently passing.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unavailable: dict[str, str] = {}

    def mark_unavailable(self, name: str, reason: str) -> None:
        self.pop(name, None)
        self.unavailable[name] = reason


class Rule:
    """Base class of every check. Subclasses set the class attributes and write `check`.

    * `id`: stable kebab-case name of the problem; `title`: a few words for listings;
      `severity`: the default severity; `area`: code, preflight, dynamics, architecture,
      data or always; `requires`: the measurement names `check` needs (the rule is
      skipped, with the reason, when one is missing); `optional`: the names it also reads
      when present (`m.get(...)`). Both are names of `nndoctor.core.measurements.SCHEMA`.
    * `check(self, m, *, <thresholds>)`: thresholds are keyword-only arguments with
      defaults and units in their names, each with a comment saying why that number.
      Returns a list of Findings; empty means healthy.
    * The docstring carries the sections of `nndoctor.core.ruledoc.HEADINGS`.
    * `default = False` keeps a rule out of the default set (opt-in with --select).
    * `retractable = True`: the finding describes a state that later evidence can contradict; a live judge withdraws it when the rule falls silent.
    """

    id: ClassVar[str]
    title: ClassVar[str]
    severity: ClassVar[str] = "warning"
    area: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    optional: ClassVar[tuple[str, ...]] = ()
    default: ClassVar[bool] = True
    retractable: ClassVar[bool] = False
    # The framework whose measurements are judged (set by the engine from m["framework"]):
    # `finding` words the message, causes and fixes in its idioms (nndoctor.core.idioms).
    framework: str = idioms.DEFAULT_FRAMEWORK

    def check(self, m: Mapping[str, Any], **thresholds: Any) -> list[Finding]:
        raise NotImplementedError(f"{type(self).__name__} must implement check()")

    @classmethod
    def doc(cls) -> RuleDoc:
        return parse_rule_doc(cls.__doc__)

    @classmethod
    def thresholds(cls) -> dict[str, Any]:
        """The keyword-only threshold arguments of `check` with their defaults."""
        signature = inspect.signature(cls.check)
        return {
            name: param.default
            for name, param in signature.parameters.items()
            if param.kind is inspect.Parameter.KEYWORD_ONLY
        }

    def finding(
        self,
        message: str,
        *,
        evidence: dict[str, Any] | None = None,
        where: Any = None,
        step: int | None = None,
        severity: str | None = None,
        causes: list[str] | None = None,
        fixes: list[str] | None = None,
    ) -> Finding:
        """A Finding of this rule; causes and fixes default to the docstring's lists, in the
        idioms of the framework being judged."""
        doc = self.doc()
        return Finding(
            rule=self.id,
            severity=severity or self.severity,
            message=idioms.translate_message(message, self.framework),
            step=step,
            where=where,
            evidence=evidence or {},
            causes=idioms.translate(causes if causes is not None else doc.causes, self.framework),
            fixes=idioms.translate(fixes if fixes is not None else doc.fixes, self.framework),
        )
