from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count
from nndoctor.core.ranks import ranks_phrase
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule

SIGNIFICANT_DIGITS = 12  # fingerprints are float64 sums: equal data gives equal sums to far more digits


def _key(fingerprints: list[list[float]], batches: int) -> tuple:
    return tuple(tuple(float(f"{v:.{SIGNIFICANT_DIGITS}g}") for v in batch) for batch in fingerprints[:batches])


@register
class RankDataIdentical(Rule):
    """Several ranks train on the same batches, or every epoch repeats the same order.

    What it detects:
        Ranks whose first training batches through the DistributedDataParallel wrapper have
        identical fingerprints (per input tensor: element count, sum and sum of squares),
        compared after the run; and a shuffling `DistributedSampler` iterated for several
        epochs always with the same epoch number (`set_epoch` never called).

    Why it matters:
        Data parallelism is worth its cost only when each rank sees a different part of the
        data: ranks that load the same batches compute the same gradient, so N GPUs train
        as fast as one, at N times the price, and an "epoch" covers a fraction of the
        distinct data the schedule assumes. A DistributedSampler whose epoch never changes
        shuffles with the same seed every time, so every epoch replays the same order.

    Likely causes:
        - A plain `DataLoader(dataset, shuffle=True)` under DDP, with the same seed on every rank: no DistributedSampler.
        - A synthetic or streamed dataset that ignores the rank (every rank generates or reads the same stream).
        - `sampler.set_epoch(epoch)` missing at the start of each epoch.

    Fixes:
        - Give the loader a `DistributedSampler(dataset)` (it splits the data by rank), or shard the stream by `torch.distributed.get_rank()`.
        - Call `sampler.set_epoch(epoch)` before iterating each epoch.

    Example:
        rank-data-identical: ranks 0 and 1 trained on identical batches: the first 3 batches
        had the same fingerprint on each of them (threshold 2 batches); each rank computes
        the same gradient, so the extra ranks add no data.
    """

    id = "rank-data-identical"
    title = "ranks train on the same data"
    severity = "warning"
    area = "distributed"
    requires = ("rank_inputs",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        min_batches: int = 2,  # one equal batch can be a coincidence of a tiny set; two in a row is the loader
        min_sampler_passes: int = 2,  # the same epoch seen on a second pass means set_epoch was not called
    ) -> list[Finding]:
        ranks = m["rank_inputs"]
        return [*self._identical_batches(ranks, min_batches), *self._epoch_never_set(ranks, min_sampler_passes)]

    def _identical_batches(self, ranks: list[dict[str, Any]], min_batches: int) -> list[Finding]:
        batches = min((len(r["fingerprints"]) for r in ranks), default=0)
        if batches < min_batches:
            return []
        groups: dict[tuple, list[int]] = {}
        for rank in ranks:
            groups.setdefault(_key(rank["fingerprints"], batches), []).append(rank["rank"])
        same = sorted((g for g in groups.values() if len(g) > 1), key=len, reverse=True)
        if not same:
            return []
        group = same[0]
        world = len(ranks)
        who = f"all {world} ranks" if len(group) == world else ranks_phrase(group, 0)[3:]
        return [self.finding(
            f"{who[0].upper() + who[1:]} trained on identical batches: the first {count(batches)} training batches "
            f"had the same fingerprint on each of them (threshold {count(min_batches)} batches); they compute the "
            "same gradient, so the extra ranks add no data.",
            where="first training batches",
            evidence={"ranks": group, "batches_compared": batches, "groups_of_identical_ranks": same,
                      "threshold": min_batches},
        )]

    def _epoch_never_set(self, ranks: list[dict[str, Any]], min_passes: int) -> list[Finding]:
        hits = []
        for rank in ranks:
            by_sampler: dict[int, list[dict[str, Any]]] = {}
            for sampler_pass in rank["sampler_passes"]:
                if sampler_pass["shuffle"]:
                    by_sampler.setdefault(sampler_pass.get("sampler", 0), []).append(sampler_pass)
            stuck = [p for p in by_sampler.values() if len(p) >= min_passes and len({x["epoch"] for x in p}) == 1]
            if stuck:
                hits.append((rank["rank"], stuck[0]))
        if not hits:
            return []
        passes = hits[0][1]
        return [self.finding(
            f"{ranks_phrase([r for r, _ in hits], len(ranks)).capitalize()}: a shuffling DistributedSampler was "
            f"iterated {count(len(passes))} times, always with epoch {count(passes[0]['epoch'])} (threshold "
            f"{count(min_passes)} passes): set_epoch() was never called, so every epoch repeats the same order.",
            step=passes[1]["step"], where="DistributedSampler",
            evidence={"ranks": [r for r, _ in hits], "sampler_passes": len(passes), "epoch": passes[0]["epoch"],
                      "threshold": min_passes},
            fixes=[self.doc().fixes[1]],
            causes=[self.doc().causes[2]],
        )]
