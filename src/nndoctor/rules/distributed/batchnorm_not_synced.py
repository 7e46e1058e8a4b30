from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count
from nndoctor.core.ranks import ranks_phrase
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class BatchNormNotSynced(Rule):
    """BatchNorm under DistributedDataParallel normalises over each rank's small batch, not the global one.

    What it detects:
        A DistributedDataParallel model with plain BatchNorm layers (not SyncBatchNorm) in
        training mode while each rank's batch holds fewer than about 32 samples. A note,
        not a bug: the training runs, but with the noisy statistics of the per-rank batch.

    Why it matters:
        Each rank's BatchNorm computes mean and variance over its own batch only: with 4
        ranks of 8 samples the statistics come from 8 samples, not 32, so they are noisy,
        each sample's output depends strongly on the 7 others, and the running statistics
        used at evaluation differ from what training saw. Batch statistics want a batch of
        about 32 (003 §4.5.3 #5, §4.5.4); scaling out to more ranks with a smaller per-rank
        batch quietly makes this worse.

    Likely causes:
        - The per-rank batch size was divided by the number of GPUs to keep the global batch, and BatchNorm was left as it was.
        - A model written for one GPU wrapped in DDP unchanged.

    Fixes:
        - Convert before wrapping: `model = nn.SyncBatchNorm.convert_sync_batchnorm(model)`, then `DDP(model)`: statistics over the global batch.
        - Or raise the per-rank batch to 32 or more, or use GroupNorm/LayerNorm, which do not depend on the batch.

    Example:
        batchnorm-not-synced: on all 2 ranks: 2 BatchNorm layer(s), first 'net.1
        (BatchNorm1d)', normalise over each rank's 8 samples (threshold 32); with 2 ranks
        SyncBatchNorm would normalise over the global 16.
    """

    id = "batchnorm-not-synced"
    title = "BatchNorm not synchronised across ranks"
    severity = "info"
    area = "distributed"
    requires = ("ddp_wrappers", "world_size")

    def check(
        self,
        m: Mapping[str, Any],
        *,
        per_rank_batch_min: int = 32,  # "use a batch of about 32 with batch norm" (003 §4.5.3 #5, §4.5.4)
    ) -> list[Finding]:
        world = m["world_size"]
        hits = []
        for rank in m["ddp_wrappers"]:
            for wrapper in rank["wrappers"]:
                batch = wrapper.get("per_rank_batch_size")
                if wrapper["unsynced_batchnorm"] and batch is not None and batch < per_rank_batch_min:
                    hits.append((rank["rank"], wrapper, batch))
        if not hits:
            return []
        ranks = sorted({rank for rank, _, _ in hits})
        layers = hits[0][1]["unsynced_batchnorm"]
        batch = min(b for _, _, b in hits)
        global_batch = batch * world
        reach = (f"; with {count(world)} ranks SyncBatchNorm would normalise over the global {count(global_batch)}"
                 if global_batch >= per_rank_batch_min else
                 f"; even the global batch of {count(global_batch)} over {count(world)} ranks is below it, so "
                 "SyncBatchNorm alone does not reach it: consider GroupNorm")
        return [self.finding(
            f"{ranks_phrase(ranks, world).capitalize()}: {count(len(layers))} BatchNorm layer(s), first "
            f"'{layers[0]}', normalise over each rank's {count(batch)} samples (threshold "
            f"{count(per_rank_batch_min)}){reach}.",
            where=layers[:8],
            evidence={"ranks": ranks, "per_rank_batch_size": batch, "world_size": world,
                      "global_batch_size": global_batch, "batchnorm_layers": len(layers),
                      "threshold": per_rank_batch_min},
        )]
