"""The numpy loss expectations give the same numbers through the torch shim (tensors of
every dtype, long labels, on the same data) as on the arrays directly."""
from __future__ import annotations

import numpy as np
import pytest

from nndoctor.core.loss_expectations import initial_loss_record, loss_floor

torch = pytest.importorskip("torch")
from nndoctor.torch.expectations import initial_loss_record as torch_record  # noqa: E402
from nndoctor.torch.expectations import loss_floor as torch_floor  # noqa: E402

rng = np.random.default_rng(0)
CASES = [
    ("cross_entropy", rng.normal(size=(17, 5)), rng.integers(0, 5, 17), {}),
    ("cross_entropy", rng.normal(size=(17, 5)), rng.integers(0, 2, 17), {"label_smoothing": 0.1}),
    ("cross_entropy", rng.normal(size=(9, 4)), rng.dirichlet(np.ones(4), 9), {}),
    ("cross_entropy", rng.normal(size=(9, 4)), rng.integers(0, 4, 9), {"reduction": "sum"}),
    ("bce_with_logits", rng.normal(size=(15, 3)), (rng.random((15, 3)) < 0.2).astype(np.float64), {}),
    ("bce", rng.random((15,)), rng.random(15), {}),
    ("mse", rng.normal(size=(21, 2)), rng.normal(3.0, 2.0, (21, 2)), {}),
    ("l1", rng.normal(size=(21,)), rng.normal(1.0, 2.0, 21), {}),
    ("huber", rng.normal(size=(21,)), rng.normal(1.0, 2.0, 21), {"delta": 0.5}),
    ("smooth_l1", rng.normal(size=(21,)), rng.normal(1.0, 2.0, 21), {"beta": 2.0}),
]


@pytest.mark.parametrize("kind,prediction,target,options", CASES, ids=[c[0] for c in CASES])
def test_initial_loss_and_floor_match_torch(kind, prediction, target, options):
    t_pred = torch.tensor(prediction, dtype=torch.float32)
    t_target = torch.tensor(target, dtype=torch.float32 if target.dtype.kind == "f" else torch.long)
    ours = initial_loss_record(kind, 1.0, prediction, target, 0, options)
    theirs = torch_record(kind, 1.0, t_pred, t_target, 0, options)
    for key in ("expected", "expected_low", "n_classes", "target_mean", "target_std"):
        if theirs.get(key) is None:
            assert ours.get(key) is None, key
        else:
            assert ours.get(key) == pytest.approx(theirs[key], rel=1e-5, abs=1e-6), key
    groups = [[0, 3, 5], [1, 2]]
    assert loss_floor(kind, prediction, target, options, groups) == pytest.approx(
        torch_floor(kind, t_pred, t_target, options, groups), rel=1e-5, abs=1e-6)


def test_scale_option_multiplies_the_expectation():
    y = rng.normal(2.0, 1.0, 11)
    plain = initial_loss_record("mse", 1.0, np.zeros(11), y, 0)
    halved = initial_loss_record("mse", 1.0, np.zeros(11), y, 0, {"scale": 0.5})
    assert halved["expected"] == pytest.approx(plain["expected"] / 2)
    assert halved["expected"] == pytest.approx(0.5 * float(np.mean(y ** 2)))
