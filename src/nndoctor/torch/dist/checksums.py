"""Parameter checksums after sampled optimizer steps, written per rank and compared after
the run (nndoctor issues no collective: comparing in the training loop would add a
synchronisation point, and a rank that hangs would take nndoctor's check with it).

Under DistributedDataParallel every rank applies the same averaged gradient to the same
parameters, so the replicas stay bitwise equal; a checksum that differs between ranks at
the same update count means the gradients were not averaged (or one rank stepped more).
Per parameter the float64 sum and absolute sum are kept: the sum tells the values apart,
the absolute sum gives the scale a difference is measured against.
"""
from __future__ import annotations

from typing import Any

import torch

# Every update is sampled at first, when a wiring bug shows at once and the step where
# the replicas parted is worth knowing exactly; then one in LATER_EVERY_UPDATES: replicas
# that parted never meet again, so a later bug is still caught (located to that many
# updates), while a checksum, which reads every parameter, stays out of most steps.
EVERY_UPDATE_UNTIL = 16
LATER_EVERY_UPDATES = 100
# Samples kept: the first ones (where divergence starts) and the most recent ones.
KEPT_FIRST, KEPT_LAST = 32, 16
# Sharded parameter types: each rank holds a different piece by design, and summing a
# DTensor would itself start a collective.
SHARDED_TYPES = ("DTensor", "FlatParameter")


def is_sharded(param: torch.Tensor) -> bool:
    return type(param).__name__ in SHARDED_TYPES or hasattr(param, "_local_tensor")


class ReplicaChecksums:
    """Checksums of one optimizer's parameters, by the number of updates it has made."""

    def __init__(self, name: str, params: list[torch.Tensor], param_names: list[str]) -> None:
        self.name = name
        self.param_names = param_names
        self.updates = 0
        self.first: list[dict[str, Any]] = []
        self.last: list[dict[str, Any]] = []
        self.sharded = any(is_sharded(p) for p in params)
        self.sample(params)  # before the first update: DDP broadcast rank 0's values at wrapping

    def due(self) -> bool:
        return self.updates <= EVERY_UPDATE_UNTIL or self.updates % LATER_EVERY_UPDATES == 0

    def sample(self, params: list[torch.Tensor]) -> None:
        if self.sharded or not params:
            return
        with torch.no_grad():
            detached = [p.detach() for p in params]
            sums = torch.stack([p.sum(dtype=torch.float64) for p in detached])
            # The scale needs no float64: it only sets how large a difference is.
            scales = torch.stack(torch._foreach_norm(detached, 1)).to(torch.float64)
            both = torch.stack([sums, scales]).cpu().tolist()
        entry = {"updates": self.updates, "sums": both[0], "scales": both[1]}
        if len(self.first) < KEPT_FIRST:
            self.first.append(entry)
        else:
            self.last = [*self.last[-(KEPT_LAST - 1):], entry]

    def record(self) -> dict[str, Any]:
        return {"optimizer": self.name, "updates": self.updates, "param_names": list(self.param_names),
                "sharded": self.sharded, "samples": self.first + self.last}
