"""nndoctor.torch.predict with real tiny models and DataLoaders, then nndoctor.evaluate."""
import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nndoctor
import nndoctor.torch
from nndoctor.core.errors import UsageError


def classification_loader(n=300, k=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=generator)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return DataLoader(TensorDataset(x, y.clamp(max=k - 1)), batch_size=64), x, y


def test_classifier_outputs_mode_restored_and_ready_for_evaluate():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))
    model.train()
    loader, x, y = classification_loader()
    result = nndoctor.torch.predict(model, loader)
    assert model.training  # restored
    assert result["task"] == "classification" and result["probabilities"].shape == (300, 3)
    with torch.no_grad():
        model.eval()
        expected = torch.softmax(model(x), dim=1).numpy()
    assert np.allclose(result["probabilities"], expected, atol=1e-6)  # eval mode: dropout off
    assert np.allclose(result["losses"], -np.log(expected[np.arange(300), y.numpy()]), atol=1e-5)
    assert list(result["sample_ids"][:3]) == [0, 1, 2]
    report = nndoctor.evaluate(**result)
    assert report.context["evaluation"]["splits"]["val"]["n"] == 300


def test_dict_batches_with_ids_binary_and_regression_and_custom_loss():
    x = torch.randn(200, 4)
    binary = (x[:, 0] > 0).float()
    batches = [{"x": x[i:i + 50], "label": binary[i:i + 50], "id": torch.arange(i, i + 50) + 1000}
               for i in range(0, 200, 50)]
    result = nndoctor.torch.predict(nn.Linear(4, 1), batches)
    assert result["task"] == "classification" and result["probabilities"].shape == (200,)
    assert result["sample_ids"][0] == 1000
    target = x.sum(dim=1, keepdim=True) * 1.37
    model = nn.Linear(4, 1)
    result = nndoctor.torch.predict(model, DataLoader(TensorDataset(x, target), batch_size=32),
                                    loss_fn=nn.L1Loss(reduction="none"))
    assert result["task"] == "regression"
    with torch.no_grad():
        assert np.allclose(result["losses"], (model(x) - target).abs().reshape(-1).numpy(), atol=1e-6)


def test_mode_is_restored_after_an_error_and_bad_batches_are_clear():
    model = nn.Linear(5, 3)
    model.train()
    with pytest.raises(UsageError, match="reduction='none'"):
        nndoctor.torch.predict(model, classification_loader()[0], loss_fn=nn.CrossEntropyLoss())
    assert model.training
    with pytest.raises(UsageError, match="each batch must be"):
        nndoctor.torch.predict(model, [torch.randn(4, 5)])
    with pytest.raises(UsageError, match="no batches"):
        nndoctor.torch.predict(model, [])
