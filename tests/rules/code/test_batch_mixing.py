from nndoctor.rules.code.batch_mixing import BatchMixing


def mixing(ratio):
    probe = {"output_sample": 0, "own_gradient": 1.0, "largest_other_gradient": ratio, "other_sample": 5, "ratio": ratio}
    return {"batch_mixing": {"probes": [probe], "worst_ratio": ratio, "worst_pair": [0, 5],
                             "input_kind": "input", "batch_size": 8}}


def test_positive():
    found = BatchMixing().check(mixing(0.4))
    assert found[0].rule == "batch-mixing" and found[0].severity == "error"
    assert found[0].where == [0, 5] and found[0].evidence["probes"][0]["ratio"] == 0.4


def test_negative_independent_samples_give_exact_zero():
    assert BatchMixing().check(mixing(0.0)) == []


def test_threshold():
    assert BatchMixing().check(mixing(1e-5)) != []
    assert BatchMixing().check(mixing(1e-5), cross_gradient_ratio_max=1e-4) == []


def test_causal_variant_positive_negative_threshold():
    m = mixing(0.0)
    m["batch_mixing"]["causal"] = {"ratio": 0.05, "position": 0, "future_position": 3,
                                   "own_gradient": 1.0, "future_gradient": 0.05}
    found = BatchMixing().check(m)
    assert found[0].severity == "error" and found[0].where == [0, 3] and "read the answer" in found[0].message
    assert BatchMixing().check(m, cross_gradient_ratio_max=0.1) == []
    m["batch_mixing"]["causal"]["ratio"] = 0.0
    assert BatchMixing().check(m) == []
