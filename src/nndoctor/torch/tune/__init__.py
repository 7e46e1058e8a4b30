"""Torch measurements behind `nndoctor.tune` (range test, sweeps, noise scale, sharpness)."""
