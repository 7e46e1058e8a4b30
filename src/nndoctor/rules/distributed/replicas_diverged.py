from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num
from nndoctor.core.ranks import ranks_phrase
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


def _relative_differences(a: dict[str, Any], b: dict[str, Any]) -> list[float]:
    """Per parameter, |sum_a - sum_b| over its scale (sum of absolute values)."""
    out = []
    for sum_a, sum_b, scale_a, scale_b in zip(a["sums"], b["sums"], a["scales"], b["scales"]):
        if not all(math.isfinite(v) for v in (sum_a, sum_b, scale_a, scale_b)):
            out.append(0.0 if (sum_a == sum_b or (math.isnan(sum_a) and math.isnan(sum_b))) else math.inf)
            continue
        out.append(abs(sum_a - sum_b) / max(scale_a, scale_b, 1e-30))
    return out


@register
class ReplicasDiverged(Rule):
    """The model's replicas on different ranks hold different parameters after the same number of updates.

    What it detects:
        Parameter checksums (per parameter, the float64 sum of its values) taken on every
        rank after the same number of optimizer updates — each of the first 16 updates, then
        one in 100 — that differ between ranks by more than a relative 1e-6 of the
        parameter's scale. nndoctor compares the ranks' records after the run; it adds no
        communication to training. Sharded parameters (FSDP) are not compared.

    Why it matters:
        Data-parallel training is one model trained on the union of the ranks' batches only
        while every rank applies the same averaged gradient, which keeps the replicas
        bitwise equal. Once they differ, each rank trains its own model on its own shard of
        the data: the checkpoint saved by rank 0 has seen a fraction of the data, the other
        ranks' work is lost, and the loss curve printed by rank 0 looks normal.

    Likely causes:
        - The module was converted in place after wrapping (`model.double()`, `.half()`, `.to(other dtype)` and back): its parameters got new gradient accumulators and DDP's all-reduce hooks no longer fire.
        - `no_sync()` left on for every backward, or the forward run on `model.module` instead of the DDP wrapper.
        - A step, a learning-rate change or a parameter edit made on some ranks only (`if rank == 0: optimizer.step()`).
        - Parameters replaced or re-initialised on each rank after `DistributedDataParallel(model)` broadcast rank 0's values.

    Fixes:
        - Finish every change to the model (dtype, device, parameter surgery, loading a checkpoint) before wrapping it in DistributedDataParallel.
        - Forward through the DDP wrapper (`ddp_model(x)`), and leave `no_sync()` for all but the last micro-batch of an accumulation.
        - Make every rank run the same optimizer steps and schedule; keep rank-specific code to logging and saving.

    Example:
        replicas-diverged: parameter checksums differ between ranks 0 and 1 after update 1
        (step 0): 4 of 4 parameters differ, largest relative difference 0.031 (tolerance
        1e-06); they were equal before it.
    """

    id = "replicas-diverged"
    title = "replicas diverged across ranks"
    severity = "error"
    area = "distributed"
    requires = ("replica_checksums",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # Averaged updates keep the replicas bitwise equal: this only absorbs summation-order noise.
        relative_difference_max: float = 1e-6,
    ) -> list[Finding]:
        ranks = sorted(m["replica_checksums"], key=lambda r: r["rank"])
        reference = ranks[0]
        findings = []
        for index, optimizer in enumerate(reference["optimizers"]):
            peers = [(r["rank"], r["optimizers"][index]) for r in ranks[1:] if len(r["optimizers"]) > index]
            found = self._first_divergence(reference["rank"], optimizer, peers, relative_difference_max)
            if found is not None:
                findings.append(self._finding(found, optimizer, ranks, relative_difference_max))
        return findings

    @staticmethod
    def _first_divergence(reference_rank: int, optimizer: dict[str, Any], peers: list[tuple[int, dict[str, Any]]],
                          tolerance: float) -> dict[str, Any] | None:
        samples = {s["updates"]: s for s in optimizer["samples"]}
        by_rank = {rank: {s["updates"]: s for s in other["samples"]} for rank, other in peers}
        common = sorted(set(samples).intersection(*by_rank.values())) if by_rank else []
        last_equal = None
        for updates in common:
            worst, differing, ranks = 0.0, set(), set()
            for rank, rank_samples in by_rank.items():
                diffs = _relative_differences(samples[updates], rank_samples[updates])
                bad = {i for i, d in enumerate(diffs) if d > tolerance}
                if bad:
                    ranks.add(rank)
                    differing |= bad
                    worst = max(worst, max(diffs))
            if ranks:
                return {"updates": updates, "last_equal": last_equal, "params": sorted(differing),
                        "ranks": sorted(ranks | {reference_rank}), "worst": worst,
                        "total": len(samples[updates]["sums"])}
            last_equal = updates
        return None

    def _finding(self, found: dict[str, Any], optimizer: dict[str, Any], ranks: list[dict[str, Any]],
                 tolerance: float) -> Finding:
        updates, names = found["updates"], optimizer["param_names"]
        when = (f"after update {count(updates)} (step {count(updates - 1)})" if updates else
                "before the first update (DDP copies rank 0's parameters to every rank when it wraps the model)")
        since = (f"; they were equal after update {count(found['last_equal'])}" if found["last_equal"] else
                 "; they were equal before it" if found["last_equal"] == 0 else "")
        who = "between " + ranks_phrase(found["ranks"], 0)[3:]
        steps = {r["rank"]: r.get("optimizer_steps") for r in ranks}
        uneven = ""
        if len(set(steps.values())) > 1:
            uneven = "; the ranks made different numbers of optimizer steps (" + ", ".join(
                f"rank {rank}: {count(n)}" for rank, n in sorted(steps.items())) + "), so some rank stepped on its own"
        message = (f"Parameter checksums of {optimizer['optimizer']} differ {who} {when}: "
                   f"{count(len(found['params']))} of {count(found['total'])} parameters differ, largest relative "
                   f"difference {num(found['worst'])} (tolerance {num(tolerance)}){since}{uneven}; the replicas "
                   "no longer agree, so each rank now trains its own model.")
        return self.finding(
            message, step=max(updates - 1, 0), where=[names[i] for i in found["params"][:8]],
            evidence={"ranks": found["ranks"], "first_differing_update": updates,
                      "last_equal_update": found["last_equal"], "parameters_differing": len(found["params"]),
                      "parameters": found["total"], "relative_difference": found["worst"],
                      "tolerance": tolerance, "optimizer_steps_per_rank": {str(k): v for k, v in steps.items()}},
        )
