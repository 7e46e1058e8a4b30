"""Step-time overhead of the doctor on DistributedDataParallel training: 2 gloo ranks on CPU.

    .venv/bin/python benchmarks/overhead_ddp.py                 # 2 ranks, 8 rounds of 100 steps
    .venv/bin/python benchmarks/overhead_ddp.py --steps 400 --rounds 5

Both ranks run the same training (an MLP, 64 samples per rank, SGD with momentum) in
blocks, alternating plain and doctored blocks round by round so that load drifts on a
shared machine hit both alike. A doctored block is what every worker of `nndoctor run
--nproc-per-node` runs: a watch session plus its distributed part (DDP forward hooks,
sampled parameter checksums), installed before the model is wrapped; a session block
has the watch session alone, to tell the two costs apart. Rank 0 prints the
mean step time of each mode and their ratio, on the wall clock (what a user waits, gloo's
all-reduce included) and on the training thread's CPU time (less sensitive to other
processes). The target at default settings is a ratio <= 1.05 on the mean.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

WARMUP_STEPS = 5  # per block: allocator and autograd caches settle
# plain: the bare loop; session: the watch session alone (what one process gets from
# `nndoctor run`); doctor: the session plus the distributed part, as every worker runs it.
MODES = ("plain", "session", "doctor")


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


def block(rank: int, steps: int, mode: str) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds of each step after the warm-up."""
    session = distributed = None
    doctored = mode != "plain"
    if doctored:
        from nndoctor.torch.dist import DistributedWatch
        from nndoctor.torch.watch.session import Session

        session = Session(live=False)
        distributed = DistributedWatch(session)
        session.install()
        if mode == "doctor":
            distributed.install()
    model = DDP(make_model())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    generator = torch.Generator().manual_seed(rank)
    walls, cpus = [], []
    for step in range(steps + WARMUP_STEPS):
        x, y = torch.randn(64, 256, generator=generator), torch.randint(0, 10, (64,), generator=generator)
        wall, cpu = time.perf_counter(), time.thread_time()
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step >= WARMUP_STEPS:
            walls.append(time.perf_counter() - wall)
            cpus.append(time.thread_time() - cpu)
    if doctored:
        distributed.uninstall()
        session.finish()
    return walls, cpus


def worker(rank: int, world: int, init_file: str, steps: int, rounds: int) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    # Per round and mode, the mean step time on each clock.
    times: dict[str, dict[str, list[float]]] = {mode: {"wall": [], "cpu": []} for mode in MODES}
    for round_index in range(rounds):
        for mode in MODES if round_index % 2 == 0 else MODES[::-1]:
            walls, cpus = block(rank, steps, mode)
            times[mode]["wall"].append(statistics.fmean(walls))
            times[mode]["cpu"].append(statistics.fmean(cpus))
    if rank == 0:
        print(f"DDP, {world} gloo ranks, {rounds} rounds x {steps} steps per mode (MLP 256-512-512-10, 64 per rank)")
        for clock in ("wall", "cpu"):
            means = {m: statistics.fmean(times[m][clock]) for m in MODES}
            # The ratio within each round, then the median over rounds: load that drifts
            # between rounds cancels out.
            ratios = {m: statistics.median(a / b for a, b in zip(times[m][clock], times["plain"][clock]))
                      for m in MODES[1:]}
            print(f"  {clock:>4}: plain {means['plain'] * 1e3:.3f} ms/step; " + "; ".join(
                f"{m} {means[m] * 1e3:.3f} ms/step, ratio {ratios[m]:.3f}" for m in MODES[1:])
                + "  (ratio: median over rounds of the round's mean step-time ratio; target <= 1.05)")
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--ranks", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as directory:
        mp.spawn(worker, args=(args.ranks, os.path.join(directory, "init"), args.steps, args.rounds),
                 nprocs=args.ranks, join=True)


if __name__ == "__main__":
    main()
