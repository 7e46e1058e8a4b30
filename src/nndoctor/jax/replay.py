"""Where did the first NaN/Inf come from? Replay that step with `jax_debug_nans` and
`jax_debug_infs` on, outside the training loop, and read the first primitive that
produced it from the FloatingPointError JAX raises (with the user's line and the Flax
module whose `__call__` was running).

Costs nothing until it happens: the step's arguments are copied to the host only when its
loss or gradients are non-finite (see nndoctor.jax.run), and replayed once.
"""
from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flax
import jax
import optax

_LIBRARY_DIRS = tuple(str(Path(module.__file__).resolve().parent) for module in (jax, flax, optax)) + (
    str(Path(__file__).resolve().parents[1]),)
PRIMITIVE = re.compile(r"encountered in (\w+)")


def _module_of(frame: Any) -> str | None:
    owner = frame.f_locals.get("self")
    if isinstance(owner, flax.linen.Module):
        scope = getattr(owner, "scope", None)
        path = "/".join(scope.path) if scope is not None and scope.path else ""
        return f"{path} ({type(owner).__name__})" if path else type(owner).__name__
    if isinstance(owner, flax.nnx.Module):
        return type(owner).__name__
    return None


def describe_error(error: FloatingPointError) -> dict[str, Any]:
    """origin details from the error: the primitive, the user's line, the Flax module."""
    text = str(error)
    match = PRIMITIVE.search(text)
    primitive = match.group(1) if match else None
    user_line, module = None, None
    tb = error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.startswith(_LIBRARY_DIRS):
            user_line = f"{Path(filename).name}:{tb.tb_lineno}"
        module = _module_of(tb.tb_frame) or module
        tb = tb.tb_next
    kind = "NaN" if "nan" in text.lower() else "Inf"
    where = " ".join(part for part in (f"in '{module}'" if module else "", f"at {user_line}" if user_line else "") if part)
    return {
        "origin": "activation" if module else "loss",
        "module": f"{module} at {user_line}" if module and user_line else (module or user_line),
        "primitive": primitive,
        "detail": f"the first {kind} came from `{primitive or 'an operation'}` {where}".strip()
                  + " (replayed with jax_debug_nans)",
    }


def replay(function: Callable[..., Any]) -> dict[str, Any] | None:
    """Run `function()` with NaN/Inf checking on; the origin it names, or None if the replay
    stayed finite (a NaN that depends on state the replay does not have)."""
    saved = (jax.config.jax_debug_nans, jax.config.jax_debug_infs)
    jax.config.update("jax_debug_nans", True)
    jax.config.update("jax_debug_infs", True)
    try:
        function()
    except FloatingPointError as error:
        return describe_error(error)
    except Exception as error:  # noqa: BLE001 — the replay itself could not run
        frames = traceback.extract_tb(error.__traceback__)
        return {"detail": f"the replay under jax_debug_nans failed ({type(error).__name__} at "
                          f"{Path(frames[-1].filename).name if frames else '?'})"}
    finally:
        jax.config.update("jax_debug_nans", saved[0])
        jax.config.update("jax_debug_infs", saved[1])
    return None
