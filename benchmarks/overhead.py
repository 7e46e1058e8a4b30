"""Step-time overhead of live diagnosis: the same training run plain and under nndoctor.

    .venv/bin/python benchmarks/overhead.py            # MLP, CNN, small transformer
    .venv/bin/python benchmarks/overhead.py --steps 300 --rounds 5 --models cnn

For each model the same training (same seed, same batches, a fresh copy of the same
initial weights) runs in one process under several modes, interleaved round by round so
that machine load drifts hit every mode alike:

* plain       — the bare loop;
* monitor     — DynamicsMonitor driven by hand (the dynamics statistics alone);
* watch       — `nndoctor.watch(model, optimizer)`: nndoctor as a whole (interception,
                parameter tracking, dynamics, rules), when nndoctor.watch is available;
* histogram   — the reference users know: TensorBoard's `add_histogram` of every
                parameter at every step (numpy.histogram of every parameter if the
                tensorboard package is missing — said so in the output).

Printed per model: the median step time of each mode and its ratio to plain (the target
for nndoctor at default settings is <= 1.03), and the mean ratio, which includes the
sampled steps (every 10th by default) where the costlier statistics are taken.

Timing uses the CPU time of the training thread (`time.thread_time`) with one torch
thread by default: on a shared machine, wall-clock step times mostly measure the other
processes. `--clock wall --threads 0` gives wall-clock times with torch's own threading.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

WARMUP_STEPS = 5  # per block: allocator and autograd caches settle


def make_mlp() -> tuple[nn.Module, Callable[[torch.Generator], tuple[torch.Tensor, torch.Tensor]]]:
    model = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))

    def batch(generator: torch.Generator):
        return torch.randn(128, 256, generator=generator), torch.randint(0, 10, (128,), generator=generator)
    return model, batch


class CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def make_cnn():
    def batch(generator: torch.Generator):
        return torch.randn(32, 3, 32, 32, generator=generator), torch.randint(0, 10, (32,), generator=generator)
    return CNN(), batch


class Transformer(nn.Module):
    def __init__(self, vocab: int = 1000, dim: int = 128, length: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.position = nn.Parameter(torch.zeros(1, length, dim))
        layer = nn.TransformerEncoderLayer(dim, 4, 4 * dim, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)
        self.head = nn.Linear(dim, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens) + self.position))


def make_transformer():
    def batch(generator: torch.Generator):
        tokens = torch.randint(0, 1000, (16, 65), generator=generator)
        return tokens[:, :-1], tokens[:, 1:]
    return Transformer(), batch


MODELS = {"mlp": make_mlp, "cnn": make_cnn, "transformer": make_transformer}


def loss_of(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1))


def histogram_logger(tmp: str) -> tuple[str, Callable[[nn.Module, int], None], Callable[[], None]]:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        import numpy as np

        def log(model: nn.Module, step: int) -> None:
            for _, param in model.named_parameters():
                np.histogram(param.detach().cpu().numpy(), bins=30)
        return "numpy.histogram of every parameter (tensorboard not installed)", log, lambda: None
    writer = SummaryWriter(tmp)

    def log(model: nn.Module, step: int) -> None:
        for name, param in model.named_parameters():
            writer.add_histogram(name, param, step)
    return "TensorBoard add_histogram of every parameter", log, writer.close


def run_block(mode: str, model: nn.Module, batches: list, lr: float, every: int, tmp: str,
              clock: Callable[[], float]) -> list[float]:
    optimizer = torch.optim.AdamW(model.parameters(), lr)
    times: list[float] = []
    monitor = log = close = watcher = None
    if mode == "monitor":
        from nndoctor.torch.dynamics import DynamicsMonitor

        monitor = DynamicsMonitor(model, every=every, faults=[])
    elif mode == "histogram":
        _, log, close = histogram_logger(tmp)
    elif mode == "watch":
        import nndoctor

        watcher = nndoctor.watch(model, optimizer, every=every, live=False)
        watcher.__enter__()
    try:
        for step, (x, y) in enumerate(batches):
            start = clock()
            loss = loss_of(model(x), y)
            if monitor is not None:
                monitor.on_loss(loss, step)
            optimizer.zero_grad()
            loss.backward()
            if monitor is not None:
                monitor.on_before_update(step)
            optimizer.step()
            if monitor is not None:
                monitor.on_after_update(step)
            if log is not None:
                log(model, step)
            times.append(clock() - start)
    finally:
        if monitor is not None:
            monitor.close()
        if close is not None:
            close()
        if watcher is not None:
            watcher.__exit__(None, None, None)
    return times[WARMUP_STEPS:]


def watch_available() -> bool:
    try:
        import nndoctor

        return callable(getattr(nndoctor, "watch", None))
    except Exception:  # noqa: BLE001 — the benchmark runs without it
        return False


def benchmark(name: str, steps: int, rounds: int, every: int, modes: list[str],
              clock: Callable[[], float]) -> dict[str, list[float]]:
    torch.manual_seed(0)
    model, make_batch = MODELS[name]()
    initial = copy.deepcopy(model.state_dict())
    generator = torch.Generator().manual_seed(0)
    batches = [make_batch(generator) for _ in range(steps + WARMUP_STEPS)]
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as tmp:
        for round_index in range(rounds):
            order = modes[round_index % len(modes):] + modes[:round_index % len(modes)]
            for mode in order:
                model.load_state_dict(initial)
                torch.manual_seed(round_index)
                times[mode] += run_block(mode, model, batches, 1e-3, every, tmp, clock)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="mlp,cnn,transformer")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per block")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved blocks per mode (more, shorter blocks average out machine load)")
    parser.add_argument("--every", type=int, default=10, help="sampling period (nndoctor's default: 10)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: leave as is)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="cpu: CPU time of the training thread (robust to machine load); wall: perf_counter")
    args = parser.parse_args()
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    if args.threads:
        torch.set_num_threads(args.threads)
    modes = ["plain", "monitor"] + (["watch"] if watch_available() else []) + ["histogram"]
    with tempfile.TemporaryDirectory() as tmp:
        reference = histogram_logger(tmp)[0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.clock} clock; every={args.every}; "
          f"{args.rounds} rounds x {args.steps} steps per mode; histogram reference: {reference}")
    if "watch" not in modes:
        print("nndoctor.watch is not available: only the DynamicsMonitor is measured")
    print(f"{'model':<12}{'mode':<11}{'median ms':>10}{'median ratio':>14}{'mean ratio':>12}")
    for name in args.models.split(","):
        times = benchmark(name, args.steps, args.rounds, args.every, modes, clock)
        plain_median, plain_mean = statistics.median(times["plain"]), statistics.fmean(times["plain"])
        for mode in modes:
            median, mean = statistics.median(times[mode]), statistics.fmean(times[mode])
            print(f"{name:<12}{mode:<11}{median * 1e3:>10.2f}{median / plain_median:>14.3f}"
                  f"{mean / plain_mean:>12.3f}", flush=True)


if __name__ == "__main__":
    main()
