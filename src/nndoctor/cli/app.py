"""Entry point of the `nndoctor` console script."""
from __future__ import annotations

import importlib
import sys

from nndoctor.cli.common import app, run_cli

# Each module adds its command(s) to `app` when imported.
COMMAND_MODULES = (
    "nndoctor.cli.catalogue_cmds",
    "nndoctor.cli.report_cmd",
    "nndoctor.cli.audit",
    "nndoctor.cli.evaluate",
    "nndoctor.cli.run",
    "nndoctor.cli.demo",
    "nndoctor.cli.tune",
    "nndoctor.cli.records_cmds",
)


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name)


def main(argv: list[str] | None = None) -> int:
    _load_commands()
    code = run_cli(argv if argv is not None else sys.argv[1:])
    sys.exit(code)


if __name__ == "__main__":
    main()
