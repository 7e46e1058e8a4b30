import numpy as np

from nndoctor.rules.code.unnormalized_inputs import UnnormalizedInputs


def describe(x, step=0, **extra):
    """An input_stats record measured from a numpy batch the way the adapter does (feature axis 1)."""
    x = np.asarray(x, dtype=np.float64)
    per_feature = x.reshape(x.shape[0], x.shape[1], -1).transpose(1, 0, 2).reshape(x.shape[1], -1).std(axis=1)
    varying = np.sort(per_feature[per_feature > 0])
    order = np.argsort(per_feature)[::-1][:5]
    quantiles = [float(np.quantile(varying, q)) for q in (0, 0.1, 0.5, 0.9, 1)] if len(varying) else None
    return {"model": "Net", "step": step, "argument": "x", "shape": list(x.shape), "dtype": "float32",
            "rms": float(np.sqrt((x ** 2).mean())), "abs_max": float(np.abs(x).max()), "mean": float(x.mean()),
            "feature_axis": 1, "feature_count": x.shape[1], "constant_features": int((per_feature == 0).sum()),
            "feature_std_quantiles": quantiles, "largest_features": [[int(i), float(per_feature[i])] for i in order],
            **extra}


rng = np.random.default_rng(0)


def batches(make, n=3):
    return {"input_stats": [describe(make(), step=i) for i in range(n)]}


def test_raw_pixels_fire_with_rms_and_max():
    [finding] = UnnormalizedInputs().check(batches(lambda: rng.integers(0, 256, (32, 3, 8, 8))))
    assert finding.rule == "unnormalized-inputs" and finding.severity == "warning"
    assert finding.evidence["rms"] > 100 and finding.evidence["abs_max"] == 255
    assert "raw pixels" in finding.message and "all 3 described batches" in finding.message


def test_raw_unit_feature_among_standardised_ones_fires_on_spread():
    def tabular():
        x = rng.normal(size=(64, 500))
        x[:, 7] = rng.normal(0, 150, 64)  # one raw-unit column: the overall RMS stays ≈ 7 with 500 features
        return x
    [finding] = UnnormalizedInputs().check(batches(tabular))
    assert finding.evidence["widest_std"] > 100 and finding.evidence["spread"] > 100 and finding.evidence["largest_features"][0][0] == 7


def test_normal_inputs_stay_silent():
    standardised = lambda: rng.normal(size=(64, 20))  # noqa: E731
    images01 = lambda: rng.random((32, 3, 16, 16))  # noqa: E731
    mnist_like = lambda: np.where(rng.random((64, 784)) < np.linspace(0.001, 0.5, 784), rng.random((64, 784)), 0)  # noqa: E731

    def onehot_mix():
        x = np.zeros((64, 30))
        x[np.arange(64), rng.integers(0, 25, 64)] = 1
        x[:, 25:] = rng.normal(size=(64, 5))
        return x
    for make in (standardised, images01, mnist_like, onehot_mix):
        assert UnnormalizedInputs().check(batches(make)) == []


def test_model_that_normalises_inside_is_silent():
    records = batches(lambda: rng.integers(0, 256, (8, 3, 4, 4)))
    for r in records["input_stats"]:
        r["first_layer_input_rms"] = r["rms"] / 255
    assert UnnormalizedInputs().check(records) == []
    records = batches(lambda: rng.integers(0, 256, (8, 3, 4, 4)), n=1)
    records["input_stats"][0]["normalized_inside"] = True
    assert UnnormalizedInputs().check(records) == []


def test_thresholds_and_agreement_of_batches():
    at = {"input_stats": [describe(np.full((4, 2), 10.0) + np.array([[0.0, 0.0], [0, 0], [0, 0], [0, 1e-9]]))]}
    assert UnnormalizedInputs().check(at) == []  # one described batch: not yet evidence
    at["input_stats"] *= 3
    assert UnnormalizedInputs().check(at)  # RMS 10 == threshold
    assert UnnormalizedInputs().check(at, rms_high=10.5) == []
    assert UnnormalizedInputs().check({"input_stats": at["input_stats"][:2]}, batches_min=2)
    mixed = {"input_stats": [describe(rng.integers(0, 256, (8, 4))), describe(rng.random((8, 4)), step=1)]}
    assert UnnormalizedInputs().check(mixed) == []  # the batches disagree: no persistent evidence
