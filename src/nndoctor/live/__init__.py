"""Framework-free live judging: the recorder of plain numbers per training event, the
bounded series, the judge and the fault log. Nothing here imports torch or jax; the
framework adapters observe training and feed these."""
