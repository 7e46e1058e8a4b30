"""Naming the ranks of a distributed run in findings: "on all 4 ranks", "on rank 1",
"on ranks 0 and 2"."""
from __future__ import annotations

from collections.abc import Iterable


def ranks_phrase(ranks: Iterable[int], world_size: int) -> str:
    ranks = sorted(set(ranks))
    if world_size > 1 and len(ranks) == world_size:
        return f"on all {world_size} ranks"
    if len(ranks) == 1:
        return f"on rank {ranks[0]}"
    listed = ", ".join(str(r) for r in ranks[:-1]) + f" and {ranks[-1]}"
    return f"on ranks {listed}"
