"""The JAX stack is an optional extra: one clear line when it is missing."""
from __future__ import annotations

from nndoctor.core.errors import UsageError

INSTALL_HINT = "the JAX adapter needs jax, flax and optax: pip install 'nndoctor[jax]'"


def require_jax() -> None:
    try:
        import flax  # noqa: F401
        import jax  # noqa: F401
        import optax  # noqa: F401
    except ImportError as error:
        raise UsageError(f"{INSTALL_HINT} ({error})") from None
