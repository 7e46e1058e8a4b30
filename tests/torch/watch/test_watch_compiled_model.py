"""A model wrapped by `torch.compile` is reported under the names its author wrote
(`0.weight`, not `_orig_mod.0.weight`), and its bugs are still caught. The eager backend
keeps the test fast; the wrapper (OptimizedModule) is the same as with inductor."""
import warnings

import torch
import torch.nn.functional as F
from torch import nn

import nndoctor


def train(*, zero_grad: bool, eval_mode: bool = False):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 3))
    compiled = torch.compile(net, backend="eager")
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with nndoctor.watch(live=False) as doctor:
            for _ in range(12):
                x = torch.randn(16, 10, generator=generator)
                y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
                compiled.train(not eval_mode)
                if zero_grad:
                    optimizer.zero_grad()
                F.cross_entropy(compiled(x), y).backward()
                optimizer.step()
    # torch's warning about global module hooks is about nndoctor's hooks, not the user's code
    assert not [w for w in caught if "global hooks" in str(w.message)]
    return doctor.report, doctor._session.measurements()[0]


def test_clean_compiled_model_is_clean_and_named_without_the_wrapper_prefix():
    report, measured = train(zero_grad=True)
    assert [f.rule for f in report.findings if f.severity in ("error", "warning")] == []
    assert set(measured["parameter_kinds"]) == {"0.weight", "0.bias", "3.weight", "3.bias"}


def test_bugs_in_a_compiled_model_are_caught_under_the_users_names():
    report, _ = train(zero_grad=False)
    [finding] = [f for f in report.findings if f.rule == "missing-zero-grad"]
    assert "_orig_mod" not in finding.message
    report, _ = train(zero_grad=True, eval_mode=True)
    [finding] = [f for f in report.findings if f.rule == "train-mode-missing"]
    assert "_orig_mod" not in str(finding.where) and "Sequential" in finding.message
