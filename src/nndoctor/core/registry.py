"""Registry of rules: the built-in ones (one module per rule under nndoctor.rules) and
third-party ones from the `nndoctor.rules` entry-point group."""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Iterator

from nndoctor.core.errors import UsageError, did_you_mean
from nndoctor.core.finding import RULE_ID_PATTERN, SEVERITIES
from nndoctor.core.rule import Rule

ENTRY_POINT_GROUP = "nndoctor.rules"
AREAS = ("code", "preflight", "dynamics", "architecture", "data", "evaluation", "tuning", "distributed", "always")


class DuplicateRuleError(ValueError):
    pass


class Registry:
    def __init__(self, rules: Iterable[type[Rule]] = ()) -> None:
        self._rules: dict[str, type[Rule]] = {}
        for rule in rules:
            self.register(rule)

    def register(self, rule: type[Rule]) -> type[Rule]:
        """Add a rule class (usable as a decorator). Duplicate ids raise."""
        _validate(rule)
        if rule.id in self._rules and self._rules[rule.id] is not rule:
            raise DuplicateRuleError(
                f"rule id {rule.id!r} is registered twice: {self._rules[rule.id].__module__} "
                f"and {rule.__module__}"
            )
        self._rules[rule.id] = rule
        return rule

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def __iter__(self) -> Iterator[type[Rule]]:
        return iter(sorted(self._rules.values(), key=lambda r: (AREAS.index(r.area), r.id)))

    def __len__(self) -> int:
        return len(self._rules)

    def get(self, rule_id: str) -> type[Rule]:
        try:
            return self._rules[rule_id]
        except KeyError:
            raise UsageError(f"unknown rule {rule_id!r}{did_you_mean(rule_id, self._rules)}; "
                             "`nndoctor rules` lists them all") from None

    def select(
        self,
        *,
        areas: Iterable[str] | None = None,
        select: Iterable[str] | None = None,
        ignore: Iterable[str] | None = None,
    ) -> list[type[Rule]]:
        """Rules in `areas` (all if None); `select` (ids or areas) replaces the default set,
        `ignore` (ids or areas) removes from it. Unknown names are a UsageError."""
        wanted_areas = set(areas) if areas is not None else set(AREAS)
        pool = [r for r in self if r.area in wanted_areas or r.area == "always"]
        if select:
            chosen = self._expand(select)
            pool = [r for r in pool if r.id in chosen or r.area == "always"]
        else:
            pool = [r for r in pool if r.default]
        if ignore:
            dropped = self._expand(ignore)
            pool = [r for r in pool if r.id not in dropped]
        return pool

    def _expand(self, names: Iterable[str]) -> set[str]:
        ids: set[str] = set()
        for name in names:
            if name in AREAS:
                ids.update(r.id for r in self._rules.values() if r.area == name)
            elif name in self._rules:
                ids.add(name)
            else:
                raise UsageError(
                    f"unknown rule or area {name!r}{did_you_mean(name, [*self._rules, *AREAS])}; "
                    f"areas are {', '.join(AREAS)}, and `nndoctor rules` lists the rule ids"
                )
        return ids

    def copy(self) -> Registry:
        return Registry(self._rules.values())


def _validate(rule: type[Rule]) -> None:
    for attribute in ("id", "title", "area"):
        if not getattr(rule, attribute, None):
            raise TypeError(f"{rule.__name__} must set the class attribute {attribute!r}")
    if not RULE_ID_PATTERN.match(rule.id):
        raise TypeError(f"{rule.__name__}.id must be kebab-case, got {rule.id!r}")
    if rule.severity not in SEVERITIES:
        raise TypeError(f"{rule.__name__}.severity must be one of {SEVERITIES}")
    if rule.area not in AREAS:
        raise TypeError(f"{rule.__name__}.area must be one of {AREAS}, got {rule.area!r}")


default_registry = Registry()
_loaded = False


def register(rule: type[Rule]) -> type[Rule]:
    """Decorator for built-in rules: adds the class to the default registry."""
    return default_registry.register(rule)


def load_rules() -> Registry:
    """Import every built-in rule module and the entry-point plugins, once; returns the
    default registry."""
    global _loaded
    if not _loaded:
        import nndoctor.rules as package

        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
        _load_entry_points()
        _loaded = True
    return default_registry


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        loaded = entry_point.load()
        if isinstance(loaded, type) and issubclass(loaded, Rule):
            default_registry.register(loaded)
