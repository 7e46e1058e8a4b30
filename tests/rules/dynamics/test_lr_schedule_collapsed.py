import math

from dynamics_rule_data import series

from nndoctor.rules.dynamics.lr_schedule_collapsed import LrScheduleCollapsed


def groups(lrs, name="SGD"):
    return {"optimizer_groups": [{"optimizer": name, "group": 0, "lr_series": series(lrs), "lr_first": lrs[0],
                                  "lr_last": lrs[-1], "steps": len(lrs)}]}


def step_lr_per_batch(steps, lr=0.1, step_size=2, gamma=0.1):
    return [lr * gamma ** (s // step_size) for s in range(steps)]


def cosine(steps, lr=0.1, warmup=0):
    return [lr * (s + 1) / warmup if s < warmup else
            lr * 0.5 * (1 + math.cos(math.pi * (s - warmup) / (steps - warmup))) for s in range(steps)]


def one_cycle(steps, max_lr=0.1, pct_start=0.3, div=25.0, final_div=1e4):
    up = int(steps * pct_start)
    out = []
    for s in range(steps):
        if s < up:
            out.append(max_lr / div + (max_lr - max_lr / div) * 0.5 * (1 - math.cos(math.pi * s / up)))
        else:
            x = (s - up) / (steps - up)
            low = max_lr / div / final_div
            out.append(low + (max_lr - low) * 0.5 * (1 + math.cos(math.pi * x)))
    return out


def fires_at_any_prefix(lrs, every=10):
    return [n for n in range(every, len(lrs) + 1, every) if LrScheduleCollapsed().check(groups(lrs[:n]))]


def test_epoch_scheduler_stepped_per_batch_fires_early():
    lrs = step_lr_per_batch(200)
    [finding] = LrScheduleCollapsed().check(groups(lrs))
    assert finding.rule == "lr-schedule-collapsed" and finding.severity == "warning"
    assert finding.step == 4 and finding.evidence["peak_lr"] == 0.1 and finding.evidence["steps_collapsed"] == 195
    assert "SGD group 0" in finding.message and LrScheduleCollapsed.retractable
    assert fires_at_any_prefix(lrs)[0] <= 30  # caught within a few dozen steps


def test_schedules_that_reach_zero_at_the_end_never_fire():
    for lrs in (cosine(1000), cosine(1000, warmup=100), one_cycle(1000), one_cycle(5000),
                [0.1 * (1 - s / 600) for s in range(600)],  # linear decay to 0 (HF default)
                [0.0] + [1e-3 * min(1.0, s / 50) for s in range(1, 400)],  # warm-up from 0
                [0.1 * 0.1 ** (s // 300) for s in range(900)]):  # MultiStepLR at 1/3 and 2/3 of the run
        assert fires_at_any_prefix(lrs) == [], lrs[:3]


def test_cycle_that_comes_back_up_does_not_fire():
    period = 200
    restarts = [0.1 * 0.5 * (1 + math.cos(math.pi * (s % period) / period)) for s in range(1000)]
    assert fires_at_any_prefix(restarts) == []


def test_thresholds():
    # 100x drop at step 20, then 20 steps at the low value: exactly at both thresholds
    lrs = [0.1] * 20 + [0.001] * 21
    assert LrScheduleCollapsed().check(groups(lrs))
    assert LrScheduleCollapsed().check(groups(lrs[:-1])) == []  # 19 steps after the drop
    assert LrScheduleCollapsed().check(groups([0.1] * 20 + [0.0011] * 21)) == []  # a 91x drop
    assert LrScheduleCollapsed().check(groups(lrs), drop_factor_min=1000) == []


def test_long_run_uses_history_buckets():
    lrs = step_lr_per_batch(5000, step_size=50)  # 1e-2 per 100 steps: 100x by step 100
    [finding] = LrScheduleCollapsed().check(groups(lrs))
    assert 100 <= finding.step <= 200  # located to within one history bucket (64 steps here)
