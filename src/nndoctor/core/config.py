"""Project settings from the nearest pyproject.toml's [tool.nndoctor] table.

    [tool.nndoctor]
    fail_on = "warning"
    ignore = ["batchnorm-small-batch"]

    [tool.nndoctor.thresholds.update-ratio-high]
    ratio_high = 0.05

The table is checked against the rule registry when it is loaded, before any training
script starts: a misspelt key, rule id or threshold name, or a value of the wrong type, is
a one-line UsageError naming the key and the nearest valid name. (Found at the end of a
long run instead, it would cost the whole run's diagnosis.)

Selection follows ruff: a `select` given on the command line or to an API replaces the
project's `select`; `extend_select` and `ignore` add to the project's lists; a rule named
explicitly in a command-line `select` wins over the project's `ignore`.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nndoctor.core.errors import UsageError, did_you_mean

if TYPE_CHECKING:
    from nndoctor.core.registry import Registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

KNOWN_KEYS = ("thresholds", "select", "extend_select", "ignore", "fail_on", "records")
FAIL_ON_VALUES = ("error", "warning")


@dataclass
class Config:
    thresholds: dict[str, dict[str, Any]] = field(default_factory=dict)
    select: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    fail_on: str = "error"
    # Where runs are recorded (a path, relative to pyproject's directory) or false for nowhere.
    records: str | bool | None = None
    source: Path | None = None

    def merged_thresholds(self, overrides: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
        """Per-call overrides win over pyproject values, threshold by threshold."""
        merged = {rule: dict(values) for rule, values in self.thresholds.items()}
        for rule, values in (overrides or {}).items():
            merged.setdefault(rule, {}).update(values)
        return merged

    def rule_selection(
        self,
        select: Iterable[str] | None = None,
        ignore: Iterable[str] | None = None,
        extend_select: Iterable[str] | None = None,
    ) -> tuple[list[str] | None, list[str] | None]:
        """(select, ignore) for Registry.select from the project's lists and a command's own.

        As in ruff: the command's `select` replaces the project's, `extend_select` and
        `ignore` add to it, and a name the command selects explicitly is no longer ignored by
        the project (the command line is the more specific wish)."""
        select = rule_names(select, "select")
        extend = rule_names(extend_select, "extend_select")
        chosen = [*(select or self.select), *self.extend_select, *extend]
        explicit = set(select) | set(extend)
        ignored = [name for name in self.ignore if name not in explicit]
        ignored += rule_names(ignore, "ignore")
        return (_unique(chosen) or None), (_unique(ignored) or None)


def rule_names(value: Any, option: str) -> list[str]:
    """`select=`/`ignore=` of a command or API: None, "a,b" or a list of names."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise UsageError(f"{option} takes rule ids or areas, as a list of strings or 'a,b', got {value!r}")


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def find_pyproject(start: Path | None = None) -> Path | None:
    directory = (start or Path.cwd()).resolve()
    for candidate in (directory, *directory.parents):
        path = candidate / "pyproject.toml"
        if path.is_file():
            return path
    return None


def load_config(start: Path | None = None, *, registry: Registry | None = None) -> Config:
    """The nearest pyproject's [tool.nndoctor] settings, checked against `registry` (the
    built-in and plugin rules by default)."""
    path = find_pyproject(start)
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
    table = data.get("tool", {}).get("nndoctor", {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.nndoctor] must be a table, got {_type_name(table)}")
    for key in table:
        if key not in KNOWN_KEYS:
            raise UsageError(f"{path}: [tool.nndoctor] has no setting {key!r}{did_you_mean(key, KNOWN_KEYS)}; "
                             f"the settings are {', '.join(KNOWN_KEYS)}")
    fail_on = table.get("fail_on", "error")
    if fail_on not in FAIL_ON_VALUES:
        raise UsageError(f"{path}: fail_on must be 'error' or 'warning', got {fail_on!r}")
    thresholds = table.get("thresholds", {})
    if not isinstance(thresholds, dict) or not all(isinstance(v, dict) for v in thresholds.values()):
        raise UsageError(f"{path}: thresholds must be tables, one per rule: "
                         "[tool.nndoctor.thresholds.<rule-id>] with name = value lines")
    records = table.get("records")
    if records is not None and not isinstance(records, (str, bool)):
        raise UsageError(f"{path}: records must be a path such as \".nndoctor/runs.db\", or false to record "
                         f"nothing; got {records!r}")
    config = Config(
        records=records,
        thresholds={str(k): dict(v) for k, v in thresholds.items()},
        select=_names(table, "select", path),
        extend_select=_names(table, "extend_select", path),
        ignore=_names(table, "ignore", path),
        fail_on=fail_on,
        source=path,
    )
    if registry is None:
        from nndoctor.core.registry import load_rules

        registry = load_rules()
    for key in ("select", "extend_select", "ignore"):
        check_rule_names(getattr(config, key), registry, f"{path}: [tool.nndoctor] {key}")
    check_thresholds(config.thresholds, registry, f"{path}: [tool.nndoctor.thresholds")
    return config


def _names(table: Mapping[str, Any], key: str, path: Path) -> list[str]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise UsageError(f"{path}: {key} must be a list of rule ids or areas, e.g. {key} = [\"dead-relu\"]; "
                         f"got {value!r}")
    return value


def check_rule_names(names: Iterable[str], registry: Registry, origin: str) -> None:
    """Every name must be a rule id or an area."""
    from nndoctor.core.registry import AREAS

    valid = [rule.id for rule in registry] + list(AREAS)
    for name in names:
        if name not in valid:
            raise UsageError(f"{origin}: unknown rule or area {name!r}{did_you_mean(name, valid)}; "
                             "`nndoctor rules` lists them")


def check_thresholds(thresholds: Mapping[str, Any] | None, registry: Registry, origin: str = "thresholds") -> None:
    """Rule ids, threshold names and value types of {rule-id: {name: value}}.

    `origin` names where the values came from; for pyproject it is the table prefix, so the
    message points at `[tool.nndoctor.thresholds.<rule-id>]`."""
    if thresholds is None:
        return
    if not isinstance(thresholds, Mapping):
        raise UsageError(f"{origin}: expected {{rule-id: {{threshold: value}}}}, got {_type_name(thresholds)}")
    ids = [rule.id for rule in registry]
    table = origin.endswith("[tool.nndoctor.thresholds")
    for rule_id, values in thresholds.items():
        where = f"{origin}.{rule_id}]" if table else f"{origin}[{rule_id!r}]"
        if rule_id not in registry:
            raise UsageError(f"{where}: unknown rule {rule_id!r}{did_you_mean(rule_id, ids)}; "
                             "`nndoctor rules` lists the rule ids")
        if not isinstance(values, Mapping):
            raise UsageError(f"{where}: expected {{threshold: value}}, got {_type_name(values)}")
        known = registry.get(rule_id).thresholds()
        for name, value in values.items():
            if name not in known:
                listed = ", ".join(sorted(known)) or "(none)"
                raise UsageError(f"{where}: {rule_id} has no threshold {name!r}{did_you_mean(name, known)}; "
                                 f"its thresholds are {listed}")
            expected = _expected_type(known[name])
            if expected is not None and not _fits(value, expected):
                raise UsageError(f"{where}: {name} must be {expected}, got {value!r} ({_type_name(value)})")


def _expected_type(default: Any) -> str | None:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "a whole number"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, str):
        return "a string"
    return None  # None or a structure: the rule validates it


def _fits(value: Any, expected: str) -> bool:
    if expected == "true or false":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if expected == "a whole number":
        return isinstance(value, int)
    if expected == "a number":
        return isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value))
    return isinstance(value, str)


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)
