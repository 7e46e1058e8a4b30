"""Project settings from the nearest pyproject.toml's [tool.nndoctor] table.

    [tool.nndoctor]
    fail_on = "warning"
    ignore = ["batchnorm-small-batch"]

    [tool.nndoctor.thresholds.update-ratio-high]
    ratio_high = 0.05
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nndoctor.core.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

KNOWN_KEYS = {"thresholds", "select", "ignore", "fail_on"}


@dataclass
class Config:
    thresholds: dict[str, dict[str, Any]] = field(default_factory=dict)
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    fail_on: str = "error"
    source: Path | None = None

    def merged_thresholds(self, overrides: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
        """Per-call overrides win over pyproject values, threshold by threshold."""
        merged = {rule: dict(values) for rule, values in self.thresholds.items()}
        for rule, values in (overrides or {}).items():
            merged.setdefault(rule, {}).update(values)
        return merged


def find_pyproject(start: Path | None = None) -> Path | None:
    directory = (start or Path.cwd()).resolve()
    for candidate in (directory, *directory.parents):
        path = candidate / "pyproject.toml"
        if path.is_file():
            return path
    return None


def load_config(start: Path | None = None) -> Config:
    path = find_pyproject(start)
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
    table = data.get("tool", {}).get("nndoctor", {})
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise UsageError(
            f"{path}: [tool.nndoctor] has unknown key(s) {', '.join(unknown)}; "
            f"expected {', '.join(sorted(KNOWN_KEYS))}"
        )
    fail_on = table.get("fail_on", "error")
    if fail_on not in ("error", "warning"):
        raise UsageError(f"{path}: fail_on must be 'error' or 'warning', got {fail_on!r}")
    return Config(
        thresholds={str(k): dict(v) for k, v in table.get("thresholds", {}).items()},
        select=list(table.get("select", [])),
        ignore=list(table.get("ignore", [])),
        fail_on=fail_on,
        source=path,
    )
