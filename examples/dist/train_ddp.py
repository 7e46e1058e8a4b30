"""A small data-parallel classifier trained with DistributedDataParallel on CPU (gloo).

Run it the way you would run any DDP script, with the doctor attached to every rank:

    nndoctor run --nproc-per-node 2 examples/dist/train_ddp.py
    torchrun --nproc-per-node 2 -m nndoctor.dist examples/dist/train_ddp.py

`--bug NAME` plants one of the silent distributed bugs nndoctor looks for:
  dtype-round-trip  model.double(); model.float() after wrapping: DDP's all-reduce hooks are lost
  bypass            every other step runs model.module(x) instead of the DDP wrapper
  same-data         no DistributedSampler: every rank trains on the same batches
  no-set-epoch      sampler.set_epoch() never called: every epoch repeats the same order
  no-sync           the whole accumulation loop sits inside no_sync(): nothing is averaged
  extra-step        rank 0 takes one extra optimizer step of its own
  small-bn          BatchNorm with 8 samples per rank and no SyncBatchNorm
"""
from __future__ import annotations

import argparse
import contextlib
import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

BUGS = ("dtype-round-trip", "bypass", "same-data", "no-set-epoch", "no-sync", "extra-step", "small-bn")


def make_dataset(samples: int = 2048, features: int = 20, classes: int = 4) -> TensorDataset:
    generator = torch.Generator().manual_seed(0)  # the same dataset on every rank; the sampler splits it
    centers = torch.randn(classes, features, generator=generator) * 0.4
    labels = torch.randint(0, classes, (samples,), generator=generator)
    inputs = centers[labels] + torch.randn(samples, features, generator=generator)
    return TensorDataset(inputs, labels)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64, help="per rank")
    parser.add_argument("--accumulate", type=int, default=2, help="micro-batches per optimizer step")
    parser.add_argument("--bug", choices=BUGS)
    args = parser.parse_args()

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(1234)  # same initial weights everywhere (DDP would broadcast rank 0's anyway)

    dataset = make_dataset()
    batch_size = 8 if args.bug == "small-bn" else args.batch_size
    if args.bug == "same-data":
        sampler = None
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(0))
    else:
        sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=0)
        loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler)

    layers: list[nn.Module] = [nn.Linear(20, 64)]
    if args.bug == "small-bn":
        layers.append(nn.BatchNorm1d(64))
    layers += [nn.ReLU(), nn.Linear(64, 4)]
    model = nn.Sequential(*layers)
    ddp_model = DDP(model)
    if args.bug == "dtype-round-trip":
        model.double()
        model.float()
    optimizer = torch.optim.SGD(ddp_model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    step = 0
    for epoch in range(args.epochs):
        if sampler is not None and args.bug != "no-set-epoch":
            sampler.set_epoch(epoch)
        ddp_model.train()
        for index, (inputs, labels) in enumerate(loader):
            last_micro_batch = (index + 1) % args.accumulate == 0
            synchronise = last_micro_batch and args.bug != "no-sync"
            context = contextlib.nullcontext() if synchronise else ddp_model.no_sync()
            forward = ddp_model.module if args.bug == "bypass" and step % 2 == 1 else ddp_model
            with context:
                loss = loss_fn(forward(inputs), labels) / args.accumulate
                loss.backward()
            if not last_micro_batch:
                continue
            optimizer.step()
            optimizer.zero_grad()
            if args.bug == "extra-step" and rank == 0 and step == 5:
                optimizer.step()  # e.g. a "warm-up" step someone added under `if rank == 0`
            step += 1
        if rank == 0:
            print(f"epoch {epoch}: loss {loss.item() * args.accumulate:.4f}", flush=True)

    ddp_model.eval()
    with torch.no_grad():
        inputs, labels = dataset.tensors
        accuracy = (ddp_model.module(inputs).argmax(1) == labels).float().mean().item()
    if rank == 0:
        print(f"accuracy {accuracy:.3f}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
