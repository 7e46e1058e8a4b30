"""Real two-rank DDP training (gloo, CPU) for the distributed tests: each scenario trains a
tiny model for a few steps under its own watch session on every rank, in lockstep, and
leaves the rank records in `out_dir/<scenario>/` for the test to merge.

Run by torch.multiprocessing.spawn from test_dist_runs.py; one process group serves every
scenario, so the cost of starting processes and importing torch is paid once."""
from __future__ import annotations

import contextlib
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

EXTRA_STEP_AT = 3  # the rank-0-only step comes after this many shared updates


def dataset(samples=256):
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(samples, 10, generator=generator)
    return TensorDataset(inputs, (inputs[:, 0] > 0).long())


def model(batchnorm=False):
    torch.manual_seed(0)
    layers = [nn.Linear(10, 16)] + ([nn.BatchNorm1d(16)] if batchnorm else []) + [nn.ReLU(), nn.Linear(16, 2)]
    return nn.Sequential(*layers)


def train(rank, world, bug=None, epochs=2, batch=32, accumulate=2):
    data = dataset()
    sampler = None if bug == "same-data" else DistributedSampler(data, num_replicas=world, rank=rank, seed=0)
    loader = (DataLoader(data, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0))
              if sampler is None else DataLoader(data, batch_size=batch, sampler=sampler))
    net = model(batchnorm=bug in ("small-bn", None))
    ddp = DDP(net)
    if bug == "dtype-round-trip":
        net.double()
        net.float()
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1)
    step = 0
    for epoch in range(epochs):
        if sampler is not None and bug != "no-set-epoch":
            sampler.set_epoch(epoch)
        for index, (x, y) in enumerate(loader):
            last = (index + 1) % accumulate == 0
            context = contextlib.nullcontext() if last and bug != "no-sync" else ddp.no_sync()
            forward = ddp.module if bug == "bypass" and step % 2 == 1 else ddp
            with context:
                (nn.functional.cross_entropy(forward(x), y) / accumulate).backward()
            if not last:
                continue
            optimizer.step()
            optimizer.zero_grad()
            if bug == "extra-step" and rank == 0 and step == EXTRA_STEP_AT - 1:
                optimizer.step()
            step += 1
            if bug is None and step == 2:
                net(x)  # a forward with gradients on but no backward (a careless check): no training step
        with torch.no_grad():
            ddp.module(data.tensors[0][:64])  # evaluation on the inner module is legitimate


def fully_shard_or_reason():
    """torch's FSDP2 entry point, or why it cannot run here."""
    try:
        from torch.distributed.fsdp import fully_shard
    except ImportError as error:
        return None, f"this torch has no torch.distributed.fsdp.fully_shard ({error})"
    return fully_shard, None


def train_fsdp(rank, world, steps=6):
    fully_shard, _ = fully_shard_or_reason()
    net = model()
    for layer in net:
        if isinstance(layer, nn.Linear):
            fully_shard(layer)
    fully_shard(net)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    data = dataset()
    for step in range(steps):
        x, y = data.tensors[0][rank * 32 + step * 64:][:32], data.tensors[1][rank * 32 + step * 64:][:32]
        nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()
        optimizer.zero_grad()


SCENARIOS = {"clean": dict(bug=None), "dtype-round-trip": dict(bug="dtype-round-trip"), "bypass": dict(bug="bypass"),
             "same-data": dict(bug="same-data"), "no-sync": dict(bug="no-sync"), "extra-step": dict(bug="extra-step"),
             "small-bn": dict(bug="small-bn", batch=8), "no-set-epoch": dict(bug="no-set-epoch", epochs=3)}
if fully_shard_or_reason()[0] is not None:
    SCENARIOS["fsdp"] = {}


def run_scenarios(rank, world, init_file, out_dir):
    from nndoctor.dist.rundir import write_rank_record
    from nndoctor.dist.worker import rank_record
    from nndoctor.torch.dist import DistributedWatch
    from nndoctor.torch.watch.runner import finish_safely
    from nndoctor.torch.watch.session import Session

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        for name, options in SCENARIOS.items():
            session = Session(live=False)
            distributed = DistributedWatch(session)
            session.install()
            distributed.install()
            try:
                if name == "fsdp":
                    train_fsdp(rank, world)
                else:
                    train(rank, world, **options)
            finally:
                distributed.uninstall()
                report = finish_safely(session)
            directory = Path(out_dir) / name
            directory.mkdir(parents=True, exist_ok=True)
            write_rank_record(directory, rank, rank_record(distributed, report))
    finally:
        dist.destroy_process_group()
