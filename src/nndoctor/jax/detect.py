"""Which adapter does a script need? Read without importing jax (the CLI asks for every run)."""
from __future__ import annotations

from pathlib import Path


def script_uses_jax(path: str | None, module: str | None) -> bool:
    """Does the script import jax/flax/optax and not torch? (decides the adapter for `run`)"""
    source = ""
    try:
        if path is not None:
            source = Path(path).read_text(errors="replace")
        elif module is not None:
            import importlib.util

            spec = importlib.util.find_spec(module)
            if spec is not None and spec.origin and spec.origin.endswith(".py"):
                source = Path(spec.origin).read_text(errors="replace")
    except (OSError, ImportError, ValueError):
        return False
    imports = set()
    for line in source.splitlines():
        words = line.strip().replace(",", " ").split()
        if len(words) >= 2 and words[0] in ("import", "from"):
            imports.add(words[1].split(".")[0])
    return bool(imports & {"jax", "flax", "optax"}) and "torch" not in imports
