from nndoctor.rules.dynamics.grad_clipped_to_nothing import GradClippedToNothing


def clipping(befores, threshold, kind="norm"):
    return {"grad_clipping": {"calls": len(befores), "samples": [
        {"step": step, "kind": kind, "threshold": threshold, "before": before, "after": min(before, threshold)}
        for step, before in enumerate(befores)]}}


def test_max_norm_1e_9_fires_with_the_numbers():
    [finding] = GradClippedToNothing().check(clipping([0.15, 0.2, 0.12, 0.3], 1e-9))
    assert (finding.rule, finding.severity, finding.step, finding.where) == (
        "grad-clipped-to-nothing", "error", 0, "clip_grad_norm_")
    assert finding.evidence["crushed_calls"] == 4 and finding.evidence["median_shrink"] > 1e8
    assert "max_norm=1e-09" in finding.message and "threshold 10,000×" in finding.message


def test_clip_value_is_named_as_such():
    [finding] = GradClippedToNothing().check(clipping([0.5, 0.4, 0.6], 1e-8, kind="value"))
    assert "clip_grad_value_(clip_value=1e-08)" in finding.message and finding.where == "clip_grad_value_"


def test_ordinary_clipping_is_healthy():
    assert GradClippedToNothing().check(clipping([0.8, 3.0, 0.5, 12.0, 0.9], 1.0)) == []  # spikes trimmed
    assert GradClippedToNothing().check(clipping([2e4, 3e4, 5e4], 1.0)) == []  # huge loss, a real threshold
    assert GradClippedToNothing().check(clipping([1e-10, 2e-10, 1e-10], 1e-9)) == []  # nothing to clip


def test_needs_agreeing_samples():
    assert GradClippedToNothing().check(clipping([0.2, 0.3], 1e-9)) == []  # 2 < 3 samples
    mostly_fine = {"grad_clipping": {"calls": 5, "samples": clipping([0.2] * 5, 1.0)["grad_clipping"]["samples"]
                                     + clipping([0.2], 1e-9)["grad_clipping"]["samples"]}}
    assert GradClippedToNothing().check(mostly_fine) == []  # 1 of 6 calls


def test_at_the_thresholds():
    at = clipping([1e-5, 1e-5, 1e-5], 1e-9)  # exactly 10^4 smaller
    assert GradClippedToNothing().check(at)
    assert GradClippedToNothing().check(at, shrink_factor_min=1.0001e4) == []
    assert GradClippedToNothing().check(clipping([10.0] * 3, 1e-3)) == []  # clipped to 1e-3: not below it
    assert GradClippedToNothing().check(clipping([10.0] * 3, 1e-3), clipped_size_max=1.1e-3)
