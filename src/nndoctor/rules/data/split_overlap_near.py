from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count as count_text
from nndoctor.core.numbers import num, percent, times
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class SplitOverlapNear(Rule):
    """Evaluation rows are near copies of training rows.

    What it detects:
        Val/test rows whose nearest train row (FAISS search on embeddings, or on the numeric
        features scaled with train statistics: one pooled scale for pixel-like columns,
        each column's own otherwise) is far closer than the typical distance
        from a train row to its 10th nearest train row, and text rows whose MinHash
        similarity to a train text is high. How often such close pairs occur by chance is
        worked out from the data's intrinsic dimension (dense low-dimensional data has many),
        and only a clear excess is reported. Exact copies are left to split-overlap-exact.

    Why it matters:
        Crops of one photo, frames of one video, re-sent messages or slightly edited
        records in both splits let the model recognise instead of generalise, so the test
        score is too optimistic (004: "parts of one photo").

    Likely causes:
        - Several samples cut from one source (crops, tiles, windows, frames) split at random.
        - Augmented copies made before the split.
        - Near-identical records (re-scans, resubmissions, templates) in the raw data.

    Fixes:
        - Split by source: `sklearn.model_selection.GroupShuffleSplit` / `GroupKFold` with the
          photo / recording / patient id as `groups`, then audit with `--group`.
        - Deduplicate near copies before splitting (cluster on embeddings, keep one per cluster).
        - Augment only after the split, inside the training pipeline.

    Example:
        split-overlap-near: 800 of 10,000 test rows (8%) lie within 0.15× the typical distance
        to a train row's 10th neighbour (by chance: 0%); the threshold is 0.5% and 5× chance.
    """

    id = "split-overlap-near"
    title = "near-duplicate rows across splits"
    severity = "warning"
    area = "data"
    requires = ("split_overlap_near",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # ~7x closer than the 10th neighbour: a copy, not a neighbour. 8x8 digit images with
        # 2% pixel noise land at 0.08-0.12, while no clean row of iris, wine, breast-cancer,
        # digits or diabetes comes closer than 0.16 (and dense data is caught by chance_ratio_min).
        distance_ratio_max: float = 0.15,
        text_similarity_min: float = 0.8,  # MinHash Jaccard of word 3-grams: the same text, lightly edited
        near_fraction_min: float = 0.005,  # 0.5% of an eval split already moves its metric
        chance_ratio_min: float = 5.0,  # and 5x the rate that dense data of this dimension gives by chance
        near_rows_min: int = 3,  # a pair or two happens in any large dataset
    ) -> list[Finding]:
        findings = []
        for pair in m["split_overlap_near"]:
            if "similarity" in pair:
                near = (pair["similarity"] >= text_similarity_min) & ~pair["exact"]
                baseline = float(np.mean(pair["baseline_similarity"] >= text_similarity_min)) \
                    if len(pair["baseline_similarity"]) else 0.0
                chance = 0.0  # distinct texts practically never share 80% of their word 3-grams
                criterion = f"have a MinHash similarity ≥ {num(text_similarity_min)} to a {pair['a']} text"
            else:
                near = (pair["distance_ratio"] <= distance_ratio_max) & ~pair["exact"]
                reference = pair["baseline_ratio"]
                baseline = float(np.mean(reference <= distance_ratio_max))
                chance = chance_rate(distance_ratio_max, pair["neighbour_rank"], pair["dimension_estimate"])
                criterion = (f"lie within {times(distance_ratio_max)} the typical distance to a {pair['a']} row's "
                             f"{pair['neighbour_rank']}th neighbour")
            count = int(near.sum())
            fraction = count / max(pair["n_queried"], 1)
            if count < near_rows_min or fraction < near_fraction_min or fraction < chance_ratio_min * chance:
                continue
            positions = np.flatnonzero(near)[:20]
            findings.append(self.finding(
                f"{count_text(count)} of "
                f"{count_text(pair['n_queried'])} {pair['b']} rows ({percent(fraction)}) {criterion} "
                f"(by chance: {percent(chance)}; within {pair['a']} itself: {percent(baseline)}); the threshold is "
                f"{percent(near_fraction_min)} and {times(chance_ratio_min)} chance.",
                where=pair["rows_b"][positions].tolist(),
                evidence={"splits": [pair["a"], pair["b"]], "method": pair["method"], "near_rows": count,
                          "rows_checked": pair["n_queried"], "fraction": fraction, "chance_fraction": chance,
                          "fraction_within_" + pair["a"]: baseline,
                          "approximate_search": pair["approximate"],
                          f"{pair['b']}_rows": pair["rows_b"][positions[:10]].tolist(),
                          f"nearest_{pair['a']}_rows": pair["rows_a"][positions[:10]].tolist()},
            ))
        return findings


def chance_rate(ratio: float, rank: int, dimension: float) -> float:
    """Share of rows whose nearest neighbour lies within `ratio` times the typical distance to
    the rank-th neighbour, in locally uniform data of this dimension: about rank·ratio^D
    neighbours fall in that ball on average (Poisson), so P = 1 - exp(-rank·ratio^D)."""
    if not math.isfinite(dimension):
        return 0.0
    return float(1.0 - math.exp(-rank * ratio ** dimension))
