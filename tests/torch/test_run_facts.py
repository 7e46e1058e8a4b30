"""The facts `nndoctor run` captures for the record, on a real training loop: optimizer and
param groups, scheduler, batch size, clipping, autocast, accumulation, seeds, determinism."""
import random

import numpy as np
import torch
from torch import nn

from nndoctor.core.report import Report
from nndoctor.torch.run_facts import RunFacts
from nndoctor.torch.watch.session import Session

ORIGINALS = (torch.manual_seed, random.seed, np.random.seed, torch.nn.utils.clip_grad_norm_,
             torch.optim.lr_scheduler.LRScheduler.__init__, torch.amp.autocast_mode.autocast.__enter__)


def train(accumulate=1):
    torch.manual_seed(7)
    random.seed(3)
    np.random.seed(5)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    decay, no_decay = [model[0].weight, model[2].weight], [model[0].bias, model[2].bias]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=3e-3, betas=(0.9, 0.98))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=20)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=3)
    x, y = torch.randn(40, 6), torch.randint(0, 3, (40,))
    for step in range(10):
        for micro in range(accumulate):
            batch = slice(micro * 4, micro * 4 + 4)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = nn.functional.cross_entropy(model(x[batch]), y[batch]) / accumulate
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
    plateau.step(loss.item())


def watched(accumulate=1):
    session = Session(live=False)
    facts = RunFacts(session).install()
    session.install()
    try:
        train(accumulate)
    finally:
        report = session.finish()  # patches come off in the reverse order, as `nndoctor run` does
        facts.uninstall()
    facts.describe(report)
    return report


def test_optimizer_groups_scheduler_batch_clipping_and_autocast_are_captured():
    report = watched(accumulate=2)
    hp = report.context["hyperparameters"]
    (optimizer,) = hp["optimizers"]
    assert optimizer["class"] == "AdamW" and optimizer["first_step"] == 0
    first, second = optimizer["param_groups"]
    assert (first["lr"], first["weight_decay"], first["betas"], first["params"]) == (3e-3, 0.01, [0.9, 0.98], 2)
    assert (second["weight_decay"], second["values"]) == (0.0, 16 + 3)
    classes = [s["class"] for s in hp["schedulers"]]
    assert classes == ["CosineAnnealingLR", "ReduceLROnPlateau"]
    assert hp["schedulers"][0]["settings"]["T_max"] == 20 and hp["schedulers"][1]["settings"]["patience"] == 3
    assert hp["batch_size"] == 4
    assert hp["gradient_clipping"] == [{"function": "torch.nn.utils.clip_grad_norm_", "max_norm": 1.0, "calls": 10,
                                        "first_step": 0, "norm_type": 2.0}]
    assert hp["autocast"] == [{"device": "cpu", "dtype": "bfloat16", "enabled": True, "entered": 20}]
    assert hp["backwards_per_step"] == 2
    (model,) = hp["models"]
    assert (model["class"], model["parameters"], model["trainable"], model["dtypes"]) == (
        "Sequential", 6 * 16 + 16 + 16 * 3 + 3, 163, ["float32"])
    batch = report.context["data_fingerprints"]["first_batch"]
    assert batch["inputs"]["argument 0"]["shape"] == [4, 6] and len(batch["inputs"]["argument 0"]["sha256"]) == 16


def test_seeds_and_determinism_switches_are_seen():
    torch.use_deterministic_algorithms(False)
    report = watched()
    seeds = report.context["reproducibility"]["seeds"]
    assert [(s["call"], s["seed"]) for s in seeds] == [("torch.manual_seed", 7), ("random.seed", 3),
                                                        ("numpy.random.seed", 5)]
    assert report.context["reproducibility"]["deterministic_algorithms"] is False


def test_the_same_batches_give_the_same_fingerprint_and_other_batches_another():
    first = watched().context["data_fingerprints"]["first_batch"]
    assert watched().context["data_fingerprints"]["first_batch"] == first
    torch.manual_seed(1)
    session = Session(live=False)
    facts = RunFacts(session).install()
    session.install()
    model = nn.Linear(6, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    nn.functional.cross_entropy(model(torch.randn(4, 6)), torch.tensor([0, 1, 2, 0])).backward()
    optimizer.step()
    report = session.finish()
    facts.uninstall()
    facts.describe(report)
    other = report.context["data_fingerprints"]["first_batch"]["inputs"]["argument 0"]
    assert other["shape"] == [4, 6] and other["sha256"] != first["inputs"]["argument 0"]["sha256"]


def test_uninstall_restores_every_patched_function():
    facts = RunFacts(None).install()
    assert torch.manual_seed is not ORIGINALS[0]
    facts.uninstall()
    current = (torch.manual_seed, random.seed, np.random.seed, torch.nn.utils.clip_grad_norm_,
               torch.optim.lr_scheduler.LRScheduler.__init__, torch.amp.autocast_mode.autocast.__enter__)
    assert all(now is before for now, before in zip(current, ORIGINALS))


def test_a_run_without_an_optimizer_step_reports_empty_facts_not_a_crash():
    report = Report(command="run")
    RunFacts(None).describe(report)
    assert report.context["hyperparameters"]["optimizers"] == [] and "run_facts_faults" not in report.context
