"""The layers of DESIGN.md hold: core/, rules/ and live/ import no framework, and the core
works (rules, CLI) with torch and jax absent."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "nndoctor"
FRAMEWORKS = {"torch", "jax", "jaxlib", "flax", "optax", "keras", "tensorflow"}
# Packages that must stay framework-free, and what they may not import from nndoctor.
# (core.registry imports the rules package to register them: a loader, so core may name it.)
LAYERS = {"core": {"nndoctor.torch", "nndoctor.jax", "nndoctor.live", "nndoctor.cli"},
          "rules": {"nndoctor.torch", "nndoctor.jax", "nndoctor.live", "nndoctor.cli"},
          "live": {"nndoctor.torch", "nndoctor.jax", "nndoctor.cli"},
          "records": {"nndoctor.torch", "nndoctor.jax", "nndoctor.cli"}}
# The one framework module a layer may name: TensorBoard's writer, imported lazily by export.
ALLOWED = {("records", "torch.utils.tensorboard")}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layer_imports_no_framework_and_nothing_above_it(layer):
    offenders = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in _imports(path):
            if (layer, name) in ALLOWED:
                continue
            if name.split(".")[0] in FRAMEWORKS or any(name == up or name.startswith(up + ".") for up in LAYERS[layer]):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offenders == []


def test_core_rules_live_and_cli_work_without_torch_or_jax():
    code = (
        "import sys\n"
        "for name in ('torch', 'jax', 'flax', 'optax'): sys.modules[name] = None  # importing them fails\n"
        "from nndoctor.core.registry import load_rules\n"
        "import nndoctor.live.judge, nndoctor.live.recorder, nndoctor.live.script_runner, nndoctor.jax\n"
        "assert len(load_rules()) > 40\n"
        "from typer.testing import CliRunner\n"
        "from nndoctor.cli.app import _load_commands\n"
        "from nndoctor.cli.common import app\n"
        "_load_commands()\n"
        "result = CliRunner().invoke(app, ['rules'])\n"
        "assert result.exit_code == 0, result.output\n"
        "result = CliRunner().invoke(app, ['explain', 'dropout-key-reused'])\n"
        "assert result.exit_code == 0 and 'split the key' in result.output.lower(), result.output\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_missing_jax_is_one_line():
    code = (
        "import sys\n"
        "sys.modules['jax'] = None\n"
        "import nndoctor.jax\n"
        "from nndoctor.core.errors import UsageError\n"
        "try:\n"
        "    nndoctor.jax.watch(object())\n"
        "except UsageError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "pip install 'nndoctor[jax]'" in done.stdout, done.stderr[-2000:]
