"""Preflight for Flax models: `nndoctor.jax.experiments(...)` (see api.py)."""
