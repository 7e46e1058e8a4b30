import pytest

pytest.importorskip("jax")
pytest.importorskip("flax")
pytest.importorskip("optax")
