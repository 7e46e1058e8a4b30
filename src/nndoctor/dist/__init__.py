"""Diagnosing distributed (torchrun / DDP) training: every worker records what it saw to a
per-rank file, and one merged report compares the ranks after the run.

* `python -m nndoctor.dist [OPTIONS] SCRIPT [ARGS]` is the worker entrypoint: under the
  user's own launcher (`torchrun --nproc-per-node 2 -m nndoctor.dist train.py`) rank 0
  waits for the other ranks' files once its own script has ended and prints the merged
  report; under `nndoctor run --nproc-per-node N train.py` the launching process merges
  after the workers exit (no rank waits for another).
* nndoctor itself never communicates between ranks: the comparisons (parameter
  checksums, first-batch fingerprints) are made from the files.

Nothing in this package imports torch at import time; `worker` and `launch` do when run.
"""
