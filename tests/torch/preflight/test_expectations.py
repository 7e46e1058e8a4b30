"""Initial-loss expectations and loss floors against direct computations."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import entropy

from nndoctor.torch.expectations import initial_loss_record, loss_floor


def test_cross_entropy_expects_ln_c_and_label_entropy():
    logits = torch.zeros(8, 5)
    labels = torch.tensor([0, 0, 0, 0, 0, 0, 1, 2])
    record = initial_loss_record("cross_entropy", 1.6, logits, labels, 0)
    assert record["expected"] == pytest.approx(float(F.cross_entropy(logits, labels)))  # uniform logits give ln C
    assert record["n_classes"] == 5
    assert record["expected_low"] == pytest.approx(entropy([6, 1, 1]))
    summed = initial_loss_record("cross_entropy", 12.0, logits, labels, 0, {"reduction": "sum"})
    assert summed["expected"] == pytest.approx(8 * math.log(5))  # 003 §4.5.3 #8: ≈ 2.3·N for 10 classes


def test_cross_entropy_ignores_ignore_index_and_handles_sequences():
    logits = torch.zeros(2, 7, 3)  # (N, C, T)
    labels = torch.tensor([[0, 1, 2], [0, -100, -100]])
    record = initial_loss_record("cross_entropy", 2.0, logits, labels, 0, {"ignore_index": -100})
    assert record["n_classes"] == 7 and record["expected_low"] == pytest.approx(entropy([2, 1, 1]))


def test_bce_expects_ln2_with_pos_weight():
    logits, targets = torch.zeros(10, 3), (torch.rand(10, 3) > 0.7).float()
    record = initial_loss_record("bce_with_logits", 0.7, logits, targets, 0)
    assert record["expected"] == pytest.approx(float(F.binary_cross_entropy_with_logits(logits, targets)))
    weight = torch.tensor([1.0, 2.0, 3.0])
    record = initial_loss_record("bce_with_logits", 0.7, logits, targets, 0, {"pos_weight": weight})
    assert record["expected"] == pytest.approx(float(F.binary_cross_entropy_with_logits(logits, targets, pos_weight=weight)))
    assert record["pos_weight"] == [1.0, 2.0, 3.0]
    scale = torch.rand(10, 3)
    record = initial_loss_record("bce_with_logits", 0.7, logits, targets, 0, {"pos_weight": weight, "weight": scale})
    assert record["expected"] == pytest.approx(float(F.binary_cross_entropy_with_logits(
        logits, targets, pos_weight=weight, weight=scale)), rel=1e-5)
    half = initial_loss_record("bce_with_logits", 0.7, logits.half(), targets.bfloat16(), 0)
    assert half["expected"] == pytest.approx(math.log(2))


def test_regression_expects_loss_at_zero_and_target_variance():
    targets = torch.randn(64, 1) * 3 + 5
    record = initial_loss_record("mse", 30.0, torch.zeros(64, 1), targets, 0)
    assert record["expected"] == pytest.approx(float((targets**2).mean()), rel=1e-5)
    assert record["expected_low"] == pytest.approx(float(np.var(targets.numpy())), rel=1e-4)
    l1 = initial_loss_record("l1", 5.0, torch.zeros(64, 1), targets, 0)
    assert l1["expected"] == pytest.approx(float(targets.abs().mean()), rel=1e-5)


def test_unknown_loss_has_no_expectation():
    record = initial_loss_record("gaussian_nll", 1.0, torch.zeros(4, 1), torch.zeros(4, 1), 0)
    assert record["expected"] is None and record["value"] == 1.0


def test_label_smoothing_floor_is_the_loss_at_the_optimum():
    classes, smoothing = 4, 0.1
    labels = torch.tensor([0, 1, 2, 3])
    target_distribution = torch.full((4, classes), smoothing / classes) + torch.eye(classes) * (1 - smoothing)
    optimum = F.cross_entropy(target_distribution.log(), labels, label_smoothing=smoothing)
    floor = loss_floor("cross_entropy", torch.zeros(4, classes), labels, {"label_smoothing": smoothing})
    assert floor == pytest.approx(float(optimum), rel=1e-5)


def test_duplicate_inputs_floor():
    targets = torch.tensor([[1.0], [3.0], [5.0], [5.0]])
    groups = [[0, 1], [2, 3]]  # samples 0/1 share an input but differ in target
    assert loss_floor("mse", torch.zeros(4, 1), targets, {}, groups) == pytest.approx(1.0 * 2 / 4)
    labels = torch.tensor([0, 1, 2, 2])
    floor = loss_floor("cross_entropy", torch.zeros(4, 3), labels, {}, groups)
    assert floor == pytest.approx(2 * math.log(2) / 4)
    assert loss_floor("cross_entropy", torch.zeros(4, 3), labels, {}, []) == 0.0
