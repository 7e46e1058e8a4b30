from nndoctor.core.measurements import problems
from nndoctor.rules.distributed.batchnorm_not_synced import BatchNormNotSynced
from nndoctor.rules.distributed.ddp_bypassed import DDPBypassed
from nndoctor.rules.distributed.grad_sync_skipped import GradSyncSkipped


def wrapper(**overrides):
    record = {"wrapper": "DistributedDataParallel", "training_steps": 20, "wrapped_forwards": 40,
              "bypassed_forwards": 0, "bypassed_steps": 0, "bypassed_step_list": [], "unsynced_steps": 0,
              "unsynced_step_list": [], "no_sync_forwards": 20, "input_fingerprints": [],
              "per_rank_batch_size": 64, "unsynced_batchnorm": []}
    record.update(overrides)
    return record


def measurements(*per_rank):
    return {"world_size": len(per_rank), "ddp_wrappers": [{"rank": r, "wrappers": [w]} for r, w in enumerate(per_rank)]}


CLEAN = measurements(wrapper(), wrapper())


def test_clean_wrappers_are_silent_and_conform():
    assert problems(CLEAN) == []
    for rule in (DDPBypassed(), GradSyncSkipped(), BatchNormNotSynced()):
        assert rule.check(CLEAN) == []


def test_bypassed_steps_on_one_rank_name_that_rank_and_the_first_step():
    m = measurements(wrapper(), wrapper(bypassed_steps=3, bypassed_step_list=[5, 7, 9], bypassed_forwards=3))
    [finding] = DDPBypassed().check(m)
    assert finding.severity == "error" and finding.step == 5 and finding.evidence["ranks"] == [1]
    assert finding.message.startswith("On rank 1: 3 of 20 training steps") and "first at step 5" in finding.message
    both = measurements(*[wrapper(bypassed_steps=10, bypassed_step_list=[1, 3]) for _ in range(2)])
    assert DDPBypassed().check(both)[0].message.startswith("On all 2 ranks:")
    assert DDPBypassed().check(m, min_bypassed_steps=4) == []


def test_steps_without_a_synchronising_backward_are_a_warning():
    m = measurements(*[wrapper(unsynced_steps=20, unsynced_step_list=[0, 1], no_sync_forwards=40) for _ in range(2)])
    [finding] = GradSyncSkipped().check(m)
    assert finding.severity == "warning" and finding.step == 0 and finding.evidence["unsynced_steps"] == 20
    assert "On all 2 ranks: 20 of 20 optimizer steps" in finding.message
    assert GradSyncSkipped().check(m, min_unsynced_steps=21) == []


def test_batchnorm_with_small_per_rank_batches_is_a_note_with_the_global_batch():
    layers = ["net.1 (BatchNorm1d)", "net.4 (BatchNorm1d)"]
    m = measurements(*[wrapper(unsynced_batchnorm=layers, per_rank_batch_size=8) for _ in range(4)])
    [finding] = BatchNormNotSynced().check(m)
    assert finding.severity == "info" and finding.evidence["global_batch_size"] == 32
    assert "each rank's 8 samples (threshold 32)" in finding.message and "global 32" in finding.message
    small_world = measurements(*[wrapper(unsynced_batchnorm=layers, per_rank_batch_size=8) for _ in range(2)])
    assert "GroupNorm" in BatchNormNotSynced().check(small_world)[0].message
    at_threshold = measurements(*[wrapper(unsynced_batchnorm=layers, per_rank_batch_size=32) for _ in range(2)])
    assert BatchNormNotSynced().check(at_threshold) == []
