from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class BatchNormSmallBatch(Rule):
    """Batch normalization is computed over too few samples to give reliable statistics.

    What it detects:
        BatchNorm layers that normalize with batch statistics while the batch holds fewer
        samples than about 32. The batch size is the training batch size when preflight
        was given one, otherwise the size of the batch BatchNorm received.

    Why it matters:
        BatchNorm divides by the mean and variance of the current batch. With a handful of
        samples those estimates are noisy, every sample's output depends strongly on the
        others in its batch, and the running statistics used at evaluation differ from
        what training saw: training is unstable and evaluation accuracy drops. The usual
        advice is a batch of about 32 when BatchNorm is present, or GroupNorm instead
        (003 §4.5.2, §4.5.3 #5, §4.5.4).

    Likely causes:
        - The batch size was lowered to fit a large model or large inputs into memory.
        - A model designed for big batches is debugged on a tiny batch.

    Fixes:
        - Train with a batch of at least 32 samples (`DataLoader(..., batch_size=32)`).
        - If memory does not allow it, replace `nn.BatchNorm2d(c)` with `nn.GroupNorm(num_groups=8, num_channels=c)` (or LayerNorm), which does not depend on the batch.
        - If only this check's batch is small and training uses 32 or more, check a batch of the training size instead.

    Example:
        batchnorm-small-batch: 3 BatchNorm layer(s), first 'features.1 (BatchNorm2d)',
        normalize over batches of 8 samples, below the 32 that batch statistics need.
    """

    id = "batchnorm-small-batch"
    title = "batch norm with a small batch"
    severity = "warning"
    area = "architecture"
    requires = ("batchnorm_layers",)
    optional = ('training_batch_size',)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        batch_size_min: int = 32,  # "use a batch of about 32 with batch norm" (003 §4.5.3 #5, §4.5.4)
    ) -> list[Finding]:
        layers = m["batchnorm_layers"]
        if not layers:
            return []
        observed = min(n["batch_size"] for n in layers)
        training_batch = m.get("training_batch_size")
        batch = int(training_batch) if training_batch is not None else observed
        if batch >= batch_size_min:
            return []
        names = list(dict.fromkeys(n["where"] for n in layers))
        source = "the training batch size" if batch != observed else "this batch"
        return [self.finding(
            f"{len(names)} BatchNorm layer(s), first '{names[0]}', normalize over batches of {batch} "
            f"samples ({source}), below the {batch_size_min} that batch statistics need.",
            where=names[:8],
            evidence={"batch_size": batch, "batch_size_source": source, "batchnorm_layers": len(names),
                      "values_per_channel_min": min(n["values_per_channel"] for n in layers),
                      "threshold": batch_size_min},
        )]
