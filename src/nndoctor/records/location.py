"""Where the records database is: NNDOCTOR_RECORDS, else pyproject's
`[tool.nndoctor] records = "path"`, else `.nndoctor/runs.db` in the project (the nearest
directory up from the working directory with a pyproject.toml or a .git; the working
directory when there is none). `NNDOCTOR_RECORDS=off` or `records = false` turns
recording off, as `--no-record` does for one command.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ENVIRONMENT_VARIABLE = "NNDOCTOR_RECORDS"
OFF_WORDS = {"", "0", "off", "false", "no", "none"}
DEFAULT_RELATIVE = Path(".nndoctor") / "runs.db"


def project_root(start: Path | None = None) -> Path:
    directory = (start or Path.cwd()).resolve()
    for candidate in (directory, *directory.parents):
        if (candidate / "pyproject.toml").is_file() or (candidate / ".git").exists():
            return candidate
    return directory


def records_path(start: Path | None = None, *, config: Any = None) -> Path | None:
    """The database path, or None when recording is turned off."""
    value = os.environ.get(ENVIRONMENT_VARIABLE)
    if value is not None:
        return None if value.strip().lower() in OFF_WORDS else Path(value).expanduser()
    if config is None:
        from nndoctor.core.config import load_config

        config = load_config(start)
    setting = getattr(config, "records", None)
    if setting is False:
        return None
    base = config.source.parent if getattr(config, "source", None) is not None else project_root(start)
    if isinstance(setting, str):
        path = Path(setting).expanduser()
        return path if path.is_absolute() else base / path
    return base / DEFAULT_RELATIVE
