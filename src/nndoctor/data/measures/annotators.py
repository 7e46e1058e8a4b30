"""Agreement between annotators and the label ceiling it implies.

Feeds annotator-disagreement (`annotator_agreement`). Needs two or more annotator columns
(`annotators=`); all splits are pooled, since agreement is a property of the annotation
process. Items are capped at `annotator_sample_cap` (default 200,000, seeded sample).

Krippendorff's alpha (nominal, missing ratings allowed) and Fleiss' kappa are implemented
here from their definitions (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability";
Fleiss 1971) and checked in the tests against the published worked examples.
"""
from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from nndoctor.core.rule import Measurements
from nndoctor.data.view import AuditData, AuditOptions

MEASUREMENTS = ("annotator_agreement",)
MAX_FLEISS_CATEGORIES = 200  # Fleiss' kappa builds an items x categories count table


def krippendorff_alpha_nominal(codes: np.ndarray) -> float | None:
    """Krippendorff's alpha for nominal data; `codes` is items x annotators, -1 = missing.

    Coincidence matrix o_ck: every ordered pair of values within an item adds 1/(m_u - 1),
    m_u being the number of values in that item (items with fewer than 2 are unpairable).
    alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c n_k.
    """
    k = int(codes.max()) + 1 if codes.size else 0
    rated = (codes >= 0).sum(axis=1)
    weight = np.where(rated >= 2, 1.0 / np.maximum(rated - 1, 1), 0.0)
    coincidence = np.zeros((k, k))
    for a in range(codes.shape[1]):
        for b in range(codes.shape[1]):
            both = (codes[:, a] >= 0) & (codes[:, b] >= 0) & (a != b)
            np.add.at(coincidence, (codes[both, a], codes[both, b]), weight[both])
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    expected = n * n - (n_c ** 2).sum()
    if n <= 1 or expected <= 0:
        return None
    observed = coincidence.sum() - np.trace(coincidence)
    return float(1.0 - (n - 1) * observed / expected)


def fleiss_kappa(counts: np.ndarray) -> float | None:
    """Fleiss' kappa from an items x categories table of how many raters chose each category
    (every item rated by the same number of raters)."""
    counts = np.asarray(counts, dtype=float)
    raters = counts.sum(axis=1)
    if len(counts) == 0 or raters[0] < 2 or not np.all(raters == raters[0]):
        return None
    n = raters[0]
    per_item = ((counts ** 2).sum(axis=1) - n) / (n * (n - 1))
    shares = counts.sum(axis=0) / counts.sum()
    chance = float((shares ** 2).sum())
    if chance >= 1.0:
        return None
    return float((per_item.mean() - chance) / (1.0 - chance))


def _codes(frame: Any) -> tuple[np.ndarray, list[str]]:
    """Annotations as integer codes (-1 missing); 1 and 1.0 count as the same label."""
    import pandas as pd

    values = frame.to_numpy(dtype=object)
    text = np.array([[_label_text(v) for v in row] for row in values], dtype=object).ravel()
    codes, uniques = pd.factorize(pd.Series(text), sort=True)
    return codes.reshape(values.shape), [str(u) for u in uniques]


def _label_text(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def measure(data: AuditData, m: Measurements, options: AuditOptions) -> None:
    import pandas as pd

    frames = [split.annotations for split in data.splits.values() if split.annotations is not None]
    if not frames or frames[0].shape[1] < 2:
        m.mark_unavailable("annotator_agreement", "fewer than two annotator columns were given (annotators=[...])")
        return
    annotations = pd.concat(frames, ignore_index=True)
    labels = None
    if all(split.labels is not None for split in data.splits.values() if split.annotations is not None):
        labels = pd.concat([split.labels for split in data.splits.values() if split.annotations is not None],
                           ignore_index=True)
    cap = int(options.annotator_sample_cap)
    if len(annotations) > cap:
        keep = np.sort(np.random.default_rng(options.seed).choice(len(annotations), cap, replace=False))
        annotations = annotations.iloc[keep]
        labels = labels.iloc[keep] if labels is not None else None
        data.notes["annotator_agreement"] = f"agreement on {cap} sampled items (annotator_sample_cap={cap})"
    names = [str(c) for c in annotations.columns]
    if labels is not None:
        codes, categories = _codes(pd.concat([annotations, labels.rename("__label__")], axis=1))
        codes, label_codes = codes[:, :-1], codes[:, -1]
    else:
        codes, categories = _codes(annotations)
        label_codes = None
    m["annotator_agreement"] = agreement_summary(codes, names, len(categories), label_codes)


def agreement_summary(codes: np.ndarray, names: list[str], n_categories: int,
                      label_codes: np.ndarray | None = None) -> dict[str, Any]:
    """All agreement statistics of an items x annotators code matrix (-1 = missing)."""
    from sklearn.metrics import cohen_kappa_score

    pairwise = []
    for a, b in combinations(range(len(names)), 2):
        both = (codes[:, a] >= 0) & (codes[:, b] >= 0)
        if both.sum() < 2:
            continue
        same = float((codes[both, a] == codes[both, b]).mean())
        varied = len(np.unique(codes[both][:, [a, b]])) > 1  # one shared value: perfect agreement
        kappa = cohen_kappa_score(codes[both, a], codes[both, b]) if varied else 1.0
        pairwise.append({"a": names[a], "b": names[b], "items": int(both.sum()),
                         "agreement": round(same, 4), "cohen_kappa": round(float(kappa), 4)})
    full = (codes >= 0).all(axis=1)
    fleiss = None
    if full.any() and n_categories <= MAX_FLEISS_CATEGORIES:
        counts = np.zeros((int(full.sum()), n_categories))
        for column in range(codes.shape[1]):
            np.add.at(counts, (np.arange(len(counts)), codes[full, column]), 1)
        fleiss = fleiss_kappa(counts)
    alpha = krippendorff_alpha_nominal(codes)
    mean_kappa = {name: np.mean([p["cohen_kappa"] for p in pairwise if name in (p["a"], p["b"])] or [np.nan])
                  for name in names}
    return {
        "annotators": names, "n_annotators": len(names), "n_items": int(((codes >= 0).sum(axis=1) >= 2).sum()),
        "n_items_fully_rated": int(full.sum()),
        "krippendorff_alpha": None if alpha is None else round(alpha, 4),
        "fleiss_kappa": None if fleiss is None else round(fleiss, 4),
        "cohen_kappa": pairwise[0]["cohen_kappa"] if len(names) == 2 and pairwise else None,
        "mean_pairwise_cohen_kappa": (round(float(np.mean([p["cohen_kappa"] for p in pairwise])), 4)
                                      if pairwise else None),
        "mean_pairwise_agreement": round(float(np.mean([p["agreement"] for p in pairwise])), 4) if pairwise else None,
        "majority_vote_agreement": _leave_one_out_majority(codes),
        "label_agreement_with_annotators": _label_agreement(codes, label_codes),
        "least_agreeing_annotator": (min(mean_kappa, key=lambda n: np.nan_to_num(mean_kappa[n], nan=2.0))
                                     if len(names) > 2 else None),
        "pairwise": pairwise[:45],
    }


def _leave_one_out_majority(codes: np.ndarray) -> float | None:
    """Mean agreement of each annotator with the strict majority vote of the others: the
    accuracy a single careful human reaches against the consensus."""
    scores = []
    if codes.size == 0 or codes.max() < 0:
        return None
    for column in range(codes.shape[1]):
        others = np.delete(codes, column, axis=1)
        votes = np.zeros((len(codes), int(codes.max()) + 1))
        for other in range(others.shape[1]):
            present = others[:, other] >= 0
            np.add.at(votes, (np.nonzero(present)[0], others[present, other]), 1)
        top = np.sort(votes, axis=1)
        decided = (top[:, -1] > top[:, -2] if votes.shape[1] > 1 else top[:, -1] > 0) & (codes[:, column] >= 0)
        if decided.any():
            scores.append(float((votes[decided].argmax(axis=1) == codes[decided, column]).mean()))
    return round(float(np.mean(scores)), 4) if scores else None


def _label_agreement(codes: np.ndarray, label_codes: np.ndarray | None) -> float | None:
    if label_codes is None:
        return None
    scores = [float((codes[ok, c] == label_codes[ok]).mean())
              for c in range(codes.shape[1]) if (ok := (codes[:, c] >= 0) & (label_codes >= 0)).any()]
    return round(float(np.mean(scores)), 4) if scores else None
