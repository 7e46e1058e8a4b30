"""Hooks are removed on close, memory stays bounded, faults never reach the training loop."""
import sys

import torch
from torch import nn
from torch.nn import functional as F

from nndoctor.torch.dynamics import DynamicsMonitor


def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               for m in model.modules())


def deep_size(value) -> int:
    seen, stack, total = set(), [value], 0
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return total


def step_once(model, optimizer, monitor, step, x, y):
    loss = F.cross_entropy(model(x), y)
    monitor.on_loss(loss, step)
    optimizer.zero_grad()
    loss.backward()
    monitor.on_before_update(step)
    optimizer.step()
    monitor.on_after_update(step)


def test_close_removes_every_hook_even_mid_sample():
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    before = hook_count(model)
    monitor = DynamicsMonitor(model, every=2, faults=[])
    assert hook_count(model) > before  # armed for the first sampled step
    optimizer = torch.optim.SGD(model.parameters(), 0.1)
    x, y = torch.randn(16, 8), torch.randint(0, 2, (16,))
    for step in range(5):
        step_once(model, optimizer, monitor, step, x, y)
    monitor.close()
    assert hook_count(model) == before
    monitor.close()  # idempotent


def test_memory_is_bounded_over_20k_steps():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), 0.05)
    monitor = DynamicsMonitor(model, every=10, faults=[])
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    sizes = {}
    for step in range(20_000):
        step_once(model, optimizer, monitor, step, x, y)
        if step + 1 in (2_000, 20_000):
            sizes[step + 1] = deep_size(monitor.measurements())
    measurements = monitor.measurements()
    assert measurements["loss_series"]["count"] == 20_000
    assert len(measurements["loss_series"]["history"]) <= 128
    assert len(measurements["loss_series"]["recent"]) == 256
    assert sizes[20_000] < 1.2 * sizes[2_000]  # ten times the steps, (almost) the same size
    monitor.close()


def test_a_fault_inside_the_monitor_is_recorded_not_raised():
    model = nn.Linear(4, 2)
    faults = []
    monitor = DynamicsMonitor(model, every=1, faults=faults)
    monitor.on_loss("not a tensor", 0)
    monitor.on_loss("not a tensor", 1)
    assert len(faults) == 1 and faults[0]["count"] == 2
    assert faults[0]["source"] == "dynamics monitor (loss)" and faults[0]["exception"] == "AttributeError"


def test_on_loss_after_backward_skips_activations_quietly():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    faults = []
    monitor = DynamicsMonitor(model, every=1, faults=faults)
    loss = model(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    monitor.on_loss(loss, 0)
    assert faults == []
    assert monitor.measurements()["loss_series"]["count"] == 1


def test_huge_but_finite_weights_are_not_reported_as_non_finite():
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    with torch.no_grad():
        model[0].weight.fill_(1e20)  # the L2 norm overflows float32, the values do not
    optimizer = torch.optim.SGD(model.parameters(), 0.0)
    monitor = DynamicsMonitor(model, every=1, faults=[])
    x, y = torch.randn(8, 4) * 1e-30, torch.randint(0, 2, (8,))
    step_once(model, optimizer, monitor, 0, x, y)
    measurements = monitor.measurements()
    assert measurements["non_finite"]["found"] is False
    assert measurements["weight_norm_per_layer"]["0.weight"]["recent"][0][1] == torch.finfo(torch.float32).max
