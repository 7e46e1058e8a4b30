"""The distributed part of a watch session: what this rank saw, as one plain record that
the launcher (or rank 0) compares with the other ranks' after the run.

Installed next to a `Session` on every worker. It wraps `DistributedDataParallel.__init__`
to put forward hooks on each new wrapper (nndoctor.torch.dist.ddp_forwards), wraps
`DistributedSampler.__iter__` to note the epoch each pass starts with, and adds one global
optimizer step pre/post hook pair: the pre hook closes each wrapper's step, the post hook
takes the sampled parameter checksums (nndoctor.torch.dist.checksums). Nothing here
communicates with other ranks.
"""
from __future__ import annotations

import os
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.optim import optimizer as optimizer_hooks
from torch.utils.data.distributed import DistributedSampler

from nndoctor.torch.dist.checksums import ReplicaChecksums, is_sharded
from nndoctor.torch.dist.ddp_forwards import DDPForwards
from nndoctor.torch.watch.models import MAX_EVENTS


def world_position() -> tuple[int, int]:
    """(rank, world size): from the process group when one exists, else from the
    launcher's environment (torchrun sets RANK and WORLD_SIZE)."""
    distributed = torch.distributed
    if distributed.is_available() and distributed.is_initialized():
        return int(distributed.get_rank()), int(distributed.get_world_size())
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class DistributedWatch:
    """This rank's distributed measurements, next to one watch session (install after it)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.wrappers: list[DDPForwards] = []
        self.checksums: dict[int, ReplicaChecksums] = {}
        self.sampler_passes: list[dict[str, Any]] = []
        self.sampler_pass_count = 0
        self._sampler_numbers: dict[int, int] = {}  # id(sampler) -> its number in order of first pass
        self._optimizer_wrappers: dict[int, tuple[tuple[int, int, int], list[DDPForwards]]] = {}
        self.unmonitored: list[str] = []  # models with sharded parameters, left out of the dynamics monitor
        self.backend: str | None = None
        self.position: tuple[int, int] | None = None  # (rank, world size) while the process group lived
        self._handles: list[Any] = []
        self._originals: dict[str, Any] = {}

    def install(self) -> None:
        watch = self
        ddp_init, sampler_iter = DistributedDataParallel.__init__, DistributedSampler.__iter__
        self._originals = {"ddp_init": ddp_init, "sampler_iter": sampler_iter}

        def init(ddp: DistributedDataParallel, *args: Any, **kwargs: Any) -> None:
            ddp_init(ddp, *args, **kwargs)
            with watch.session.faults.guard("DDP wrapper hooks", watch.session.step):
                label = "DistributedDataParallel" + (f"#{len(watch.wrappers) + 1}" if watch.wrappers else "")
                watch.wrappers.append(DDPForwards(ddp, watch.session, label))

        def iterate(sampler: DistributedSampler) -> Any:
            with watch.session.faults.guard("DistributedSampler hook", watch.session.step):
                watch._note_sampler_pass(sampler)
            return sampler_iter(sampler)

        init.__wrapped__, iterate.__wrapped__ = ddp_init, sampler_iter  # type: ignore[attr-defined]
        DistributedDataParallel.__init__ = init  # type: ignore[method-assign]
        DistributedSampler.__iter__ = iterate  # type: ignore[method-assign]
        self._skip_monitor_on_sharded_models()
        self._handles = [optimizer_hooks.register_optimizer_step_pre_hook(self._on_step_pre),
                         optimizer_hooks.register_optimizer_step_post_hook(self._on_step_post)]

    def _skip_monitor_on_sharded_models(self) -> None:
        """The dynamics monitor reads whole parameters and gradients; on FSDP's DTensor shards
        its operations fail (or would need collectives), so sharded models go without it."""
        monitor_class = self.session._monitor_class
        if monitor_class is None:
            return
        watch = self

        def monitor_unless_sharded(module: torch.nn.Module, **options: Any) -> Any:
            if any(is_sharded(p) for p in module.parameters()):
                watch.unmonitored.append(type(module).__name__)
                return None
            return monitor_class(module, **options)

        self.session._monitor_class = monitor_unless_sharded

    def uninstall(self) -> None:
        if not self._originals:
            return
        DistributedDataParallel.__init__ = self._originals["ddp_init"]  # type: ignore[method-assign]
        DistributedSampler.__iter__ = self._originals["sampler_iter"]  # type: ignore[method-assign]
        self._originals = {}
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        for wrapper in self.wrappers:
            wrapper.remove()

    def _note_sampler_pass(self, sampler: DistributedSampler) -> None:
        self.sampler_pass_count += 1
        if len(self.sampler_passes) < MAX_EVENTS:
            number = self._sampler_numbers.setdefault(id(sampler), len(self._sampler_numbers))
            self.sampler_passes.append({"sampler": number, "epoch": int(sampler.epoch),
                                        "shuffle": bool(sampler.shuffle), "step": self.session.step})

    @staticmethod
    def _params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
        return [p for group in optimizer.param_groups for p in group["params"]]

    def _on_step_pre(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        session = self.session
        if session.suspended or session._step_depth > 1:
            return
        # Inline containment (no context manager): this runs at every step.
        try:
            for wrapper in self._wrappers_of(optimizer):
                wrapper.on_step(session.step, MAX_EVENTS)
            if id(optimizer) not in self.checksums and self._replicated():
                params = self._params(optimizer)
                self.checksums[id(optimizer)] = ReplicaChecksums(
                    type(optimizer).__name__, params, self._param_names(params))
            if self.position is None and torch.distributed.is_initialized():
                self.position = world_position()
                self.backend = str(torch.distributed.get_backend())
        except Exception as error:  # noqa: BLE001 — containment is the point
            session.faults.record("distributed step hook", error, session.step)

    def _wrappers_of(self, optimizer: torch.optim.Optimizer) -> list[DDPForwards]:
        """The DDP wrappers whose parameters this optimizer updates (cached until its
        parameter groups or the wrappers change)."""
        groups = optimizer.param_groups
        key = (len(groups), sum(len(g["params"]) for g in groups), len(self.wrappers))
        cached = self._optimizer_wrappers.get(id(optimizer))
        if cached is None or cached[0] != key:
            ids = {id(p) for p in self._params(optimizer)}
            cached = (key, [w for w in self.wrappers if w.param_ids & ids])
            self._optimizer_wrappers[id(optimizer)] = cached
        return cached[1]

    def _on_step_post(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        session = self.session
        checksums = self.checksums.get(id(optimizer))
        if checksums is None or session.suspended or session._step_depth > 0:
            return
        try:
            checksums.updates += 1
            if checksums.due():
                checksums.sample(self._params(optimizer))
        except Exception as error:  # noqa: BLE001
            session.faults.record("parameter checksums", error, session.step)

    def _replicated(self) -> bool:
        """Whether replicas are expected to agree: several ranks, no sharding wrapper."""
        return world_position()[1] > 1 and not self._sharding_wrappers()

    def _sharding_wrappers(self) -> list[str]:
        names = {type(w.module).__name__ for w in self.session.models.values()}
        return sorted(n for n in names if n == "FullyShardedDataParallel" or n.startswith("FSDP"))

    def _param_names(self, params: list[torch.Tensor]) -> list[str]:
        names: dict[int, str] = {}
        for wrapper in self.wrappers:
            names.update((id(p), name) for name, p in wrapper.ddp.module.named_parameters())
        for watched in self.session.models.values():
            for index, param in enumerate(watched.tracker.params):
                names.setdefault(id(param), watched.tracker.names[index])
        return [names.get(id(p), f"parameter {i}") for i, p in enumerate(params)]

    def record(self) -> dict[str, Any]:
        rank, world_size = self.position or world_position()
        return {
            "rank": rank, "world_size": world_size, "backend": self.backend,
            "local_rank": int(os.environ.get("LOCAL_RANK", rank)),
            "sharding_wrappers": self._sharding_wrappers(), "unmonitored_sharded_models": list(self.unmonitored),
            "ddp": [w.record() for w in self.wrappers],
            "checksums": [c.record() for c in self.checksums.values()],
            "sampler_passes": list(self.sampler_passes), "sampler_pass_count": self.sampler_pass_count,
            "optimizer_steps": self.session.optimizer_steps,
        }
