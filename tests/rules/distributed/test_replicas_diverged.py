import math

from nndoctor.core.measurements import problems
from nndoctor.rules.distributed.replicas_diverged import ReplicasDiverged


def sample(updates, sums, scales=None):
    return {"updates": updates, "sums": list(sums), "scales": list(scales or [abs(s) + 10.0 for s in sums])}


def rank(number, samples, steps=3, names=("fc.weight", "fc.bias")):
    return {"rank": number, "optimizer_steps": steps,
            "optimizers": [{"optimizer": "SGD", "updates": steps, "param_names": list(names), "samples": samples}]}


def measurements(*ranks):
    return {"replica_checksums": list(ranks), "world_size": len(ranks)}


EQUAL = [sample(0, [1.0, 2.0]), sample(1, [1.5, 2.5]), sample(2, [1.7, 2.6])]


def test_replicas_that_part_after_an_update_are_an_error_at_that_step():
    drifted = [sample(0, [1.0, 2.0]), sample(1, [1.5, 2.5]), sample(2, [1.9, 2.6])]
    m = measurements(rank(0, EQUAL), rank(1, drifted))
    assert problems(m) == []
    [finding] = ReplicasDiverged().check(m)
    assert finding.rule == "replicas-diverged" and finding.severity == "error"
    assert finding.step == 1 and finding.where == ["fc.weight"]
    assert finding.evidence["first_differing_update"] == 2 and finding.evidence["last_equal_update"] == 1
    assert finding.evidence["ranks"] == [0, 1]
    assert "between ranks 0 and 1 after update 2 (step 1)" in finding.message
    assert "1 of 2 parameters" in finding.message and "tolerance 1e-06" in finding.message


def test_equal_replicas_and_summation_noise_are_silent():
    noisy = [sample(u, [s[0] * (1 + 1e-12), s[1]]) for u, s in ((x["updates"], x["sums"]) for x in EQUAL)]
    assert ReplicasDiverged().check(measurements(rank(0, EQUAL), rank(1, EQUAL), rank(2, noisy))) == []


def test_the_threshold_is_relative_to_the_parameter_scale():
    near = [sample(0, [1.0, 2.0], [100.0, 100.0]), sample(1, [1.0 + 5e-5, 2.0], [100.0, 100.0])]
    base = [sample(0, [1.0, 2.0], [100.0, 100.0]), sample(1, [1.0, 2.0], [100.0, 100.0])]
    assert ReplicasDiverged().check(measurements(rank(0, base), rank(1, near))) == []  # 5e-7 of the scale
    assert ReplicasDiverged().check(measurements(rank(0, base), rank(1, near)), relative_difference_max=1e-7)


def test_parameters_changed_before_the_first_update_and_uneven_step_counts_are_named():
    before = [sample(0, [1.0, 9.0]), sample(1, [1.5, 9.5])]
    [finding] = ReplicasDiverged().check(measurements(rank(0, EQUAL[:2], steps=4), rank(1, before, steps=3)))
    assert finding.step == 0 and "before the first update" in finding.message
    assert "rank 0: 4, rank 1: 3" in finding.message


def test_a_non_finite_parameter_on_one_rank_only_is_divergence():
    broken = [sample(0, [1.0, 2.0]), sample(1, [math.nan, 2.5])]
    [finding] = ReplicasDiverged().check(measurements(rank(0, EQUAL[:2]), rank(1, broken)))
    assert finding.evidence["first_differing_update"] == 1
    both_nan = [sample(0, [1.0, 2.0]), sample(1, [math.nan, 2.5])]
    assert ReplicasDiverged().check(measurements(rank(0, both_nan), rank(1, broken))) == []
