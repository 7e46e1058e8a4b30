"""Where the first NaN began, from the model's state when the loss went bad (localise)."""
import math

import torch
from torch import nn

from nndoctor.torch.dynamics.nonfinite import localise


def model_with_bn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))


def test_only_batchnorm_buffers_damaged_after_finite_steps_is_the_statistics_origin():
    model = model_with_bn()
    model[1].running_var[3] = math.inf
    found = localise(model, None, list(model.named_parameters()), seen_finite_loss=True)
    assert found["origin"] == "statistics" and found["module"] == "1"
    assert found["parameters"] == ["buffer 1.running_var"]


def test_a_damaged_parameter_after_finite_steps_is_the_update():
    model = model_with_bn()
    with torch.no_grad():
        model[0].weight[0, 0] = math.nan
    found = localise(model, None, list(model.named_parameters()), seen_finite_loss=True)
    assert found["origin"] == "gradient" and found["module"] == "0"


def test_damage_before_any_finite_loss_is_the_initial_parameters():
    model = model_with_bn()
    model[1].running_var[3] = math.inf
    found = localise(model, None, list(model.named_parameters()), seen_finite_loss=False)
    assert found["origin"] == "parameter"
