"""The pieces of `run --preflight` that turn an intercepted step into a preflight call:
the recorded model call as preflight inputs, and the loss replayed on the right output."""
import torch
import torch.nn.functional as F

from nndoctor.core.report import Report, SkippedCheck
from nndoctor.torch.preflight.structures import CallArguments
from nndoctor.torch.watch.preflight_hook import PreflightRequest, _batch_inputs, replay_loss


def test_recorded_calls_become_preflight_inputs():
    x, mask = torch.randn(4, 3), torch.ones(4, 3)
    assert _batch_inputs(((x,), {})) is x
    assert _batch_inputs(((x, mask), {})) == (x, mask)
    assert _batch_inputs(((), {"input_ids": x})) == {"input_ids": x}
    both = _batch_inputs(((x,), {"attention_mask": mask}))
    assert isinstance(both, CallArguments) and both.args == (x,) and both.kwargs == {"attention_mask": mask}
    assert _batch_inputs((({"features": x},), {})) == ({"features": x},)  # one dict argument stays positional


def test_replayed_loss_uses_the_output_the_script_used():
    logits, targets = torch.randn(4, 6, 5), torch.randint(0, 5, (24,))
    expected = F.cross_entropy(logits.view(-1, 5), targets)
    loss_fn = replay_loss("cross_entropy", {}, [24, 5])
    # (loss, logits) as a transformers model with return_dict=False returns them: not the scalar
    assert torch.equal(loss_fn((torch.tensor(0.3), logits), targets), expected)
    # on a slice of 2 samples the same output position is reshaped the same way
    assert torch.equal(loss_fn((torch.tensor(0.3), logits[:2]), targets[:12]),
                       F.cross_entropy(logits[:2].reshape(-1, 5), targets[:12]))
    assert torch.equal(replay_loss("cross_entropy", {}, [24, 5])({"loss": torch.tensor(1.0), "logits": logits}, targets),
                       expected)


def test_a_preflight_that_did_not_run_is_the_first_skipped_check():
    request = PreflightRequest(printer=lambda report: None)
    request.message = "preflight is skipped under distributed training: with 2 processes, …"
    report = Report(command="run", checks_skipped=[SkippedCheck("overfitting", "no validation loss was seen")])
    request.merge_into(report)
    assert [s.rule for s in report.checks_skipped] == ["preflight", "overfitting"]
    assert report.checks_skipped[0].reason == request.message


def test_preflight_checks_join_the_run_report():
    request = PreflightRequest(printer=lambda report: None)
    request.report = Report(command="preflight", checks_run=["batch-mixing", "invalid-output"],
                            checks_skipped=[SkippedCheck("ignores-input", "the overfit experiment did not run")])
    report = Report(command="run", checks_run=["invalid-output"])
    request.merge_into(report)
    assert report.checks_run == ["invalid-output", "batch-mixing"]
    assert [s.rule for s in report.checks_skipped] == ["ignores-input"]
