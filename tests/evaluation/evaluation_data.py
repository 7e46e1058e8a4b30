"""Synthetic predictions shared by the evaluation tests."""
import numpy as np
import pandas as pd


def classifier_outputs(n, k=4, strength=3.0, seed=0, temperature=1.0):
    """Labels and calibrated probabilities of a healthy classifier: the labels are drawn from
    the predicted probabilities, so confidence matches accuracy by construction."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k)) * strength
    probabilities = np.exp(logits / temperature)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    cumulative = probabilities.cumsum(axis=1)
    y = (rng.random(n)[:, None] > cumulative).sum(axis=1).clip(0, k - 1)
    return y, probabilities


def metadata(n, seed=0):
    rng = np.random.default_rng(seed + 1)
    return pd.DataFrame({"site": rng.choice(list("ABCDE"), n), "age": rng.uniform(18, 90, n),
                         "scanner": rng.choice(["s1", "s2", "s3"], n)})
