from nndoctor.core.measurements import problems
from nndoctor.rules.distributed.rank_data_identical import RankDataIdentical


def batches(seed, count=3):
    return [[64.0, float(seed + i), float(seed * 3 + i)] for i in range(count)]


def passes(epochs, shuffle=True, sampler=0):
    return [{"sampler": sampler, "epoch": e, "shuffle": shuffle, "step": 10 * i} for i, e in enumerate(epochs)]


def measurements(*ranks):
    return {"rank_inputs": [{"rank": r, "fingerprints": f, "sampler_passes": p} for r, (f, p) in enumerate(ranks)]}


def test_every_rank_on_the_same_batches_is_a_warning():
    m = measurements((batches(1), []), (batches(1), []))
    assert problems(m) == []
    [finding] = RankDataIdentical().check(m)
    assert finding.severity == "warning" and finding.evidence["ranks"] == [0, 1]
    assert finding.message.startswith("All 2 ranks trained on identical batches: the first 3")


def test_two_of_three_ranks_identical_are_named():
    [finding] = RankDataIdentical().check(measurements((batches(1), []), (batches(2), []), (batches(1), [])))
    assert finding.message.startswith("Ranks 0 and 2 trained on identical batches")


def test_different_data_and_too_few_batches_are_silent():
    assert RankDataIdentical().check(measurements((batches(1), passes([0, 1, 2])), (batches(2), passes([0, 1, 2])))) == []
    assert RankDataIdentical().check(measurements((batches(1, 1), []), (batches(1, 1), []))) == []  # threshold 2
    assert RankDataIdentical().check(measurements((batches(1, 2), []), (batches(1, 2), [])))


def test_a_shuffling_sampler_stuck_at_one_epoch_means_set_epoch_is_missing():
    m = measurements((batches(1), passes([0, 0, 0])), (batches(2), passes([0, 0, 0])))
    [finding] = RankDataIdentical().check(m)
    assert finding.step == 10 and "iterated 3 times, always with epoch 0" in finding.message
    assert "set_epoch" in finding.fixes[0]
    # one pass, an unshuffled sampler, or another sampler's passes (validation) are fine
    assert RankDataIdentical().check(measurements((batches(1), passes([0])), (batches(2), passes([0])))) == []
    assert RankDataIdentical().check(measurements((batches(1), passes([0, 0], shuffle=False)),
                                                  (batches(2), passes([0, 0], shuffle=False)))) == []
    mixed = passes([0]) + passes([0], sampler=1)
    assert RankDataIdentical().check(measurements((batches(1), mixed), (batches(2), mixed))) == []
