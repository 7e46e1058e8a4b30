"""Shared by the rules that judge per-rank DDP wrapper counters (ddp-bypassed, grad-sync-skipped)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def wrappers_over(m: Mapping[str, Any], counter: str, steps_key: str,
                  minimum: int) -> Iterator[tuple[str, list[int], dict, int | None]]:
    """Per DDP wrapper whose `counter` reached `minimum` on some rank: (label, those ranks,
    the record of the rank with the most, the earliest step listed under `steps_key`)."""
    hits: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for rank in m["ddp_wrappers"]:
        for wrapper in rank["wrappers"]:
            if wrapper[counter] >= minimum:
                hits.setdefault(wrapper["wrapper"], []).append((rank["rank"], wrapper))
    for label, members in hits.items():
        worst = max((w for _, w in members), key=lambda w: w[counter])
        first = min((w[steps_key][0] for _, w in members if w[steps_key]), default=None)
        yield label, [rank for rank, _ in members], worst, first
