"""The measurements of a distributed run, one entry per rank, compared after the run by
the distributed rules (written by nndoctor.torch.dist, assembled by nndoctor.dist.merge).
Part of the schema in `nndoctor.core.measurements`.
(No `from __future__ import annotations`: TypedDict needs the NotRequired markers.)"""
import sys
from typing import Any, Union

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # pragma: no cover - Python 3.10
    from typing_extensions import NotRequired, TypedDict

Number = Union[int, float]


class ChecksumSample(TypedDict):
    updates: int  # optimizer updates done when sampled (0: just before the first)
    sums: list[Number]  # per parameter, float64 sum of its values
    scales: list[Number]  # per parameter, float64 sum of absolute values


class OptimizerChecksums(TypedDict):
    optimizer: str
    updates: int
    param_names: list[str]
    samples: list[ChecksumSample]
    sharded: NotRequired[bool]


class RankChecksums(TypedDict):
    rank: int
    optimizer_steps: int | None
    optimizers: list[OptimizerChecksums]  # in the order each optimizer first stepped


class DDPWrapperRecord(TypedDict):
    wrapper: str
    training_steps: int  # optimizer steps over its parameters after a forward and a backward
    wrapped_forwards: int
    bypassed_forwards: int  # training forwards of the inner module outside the wrapper
    bypassed_steps: int  # steps whose last training forward bypassed the wrapper
    bypassed_step_list: list[int]
    unsynced_steps: int  # steps with no forward that armed DDP's gradient all-reduce
    unsynced_step_list: list[int]
    no_sync_forwards: int
    input_fingerprints: list[list[Number]]
    per_rank_batch_size: int | None
    unsynced_batchnorm: list[str]  # BatchNorm layers (not SyncBatchNorm) in training mode


class RankWrappers(TypedDict):
    rank: int
    wrappers: list[DDPWrapperRecord]


class SamplerPass(TypedDict):
    sampler: int  # which DistributedSampler, numbered in the order of their first pass
    epoch: int
    shuffle: bool
    step: int


class RankInputs(TypedDict):
    rank: int
    fingerprints: list[list[Number]]  # the first training batches, one fingerprint each
    sampler_passes: list[SamplerPass]  # each pass over a DistributedSampler


DIST_SCHEMA: dict[str, Any] = {
    "world_size": int,
    "replica_checksums": list[RankChecksums],
    "ddp_wrappers": list[RankWrappers],
    "rank_inputs": list[RankInputs],
}
