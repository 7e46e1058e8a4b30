"""Step-time overhead of live diagnosis: the same training run plain and under nndoctor.

    .venv/bin/python benchmarks/overhead.py            # MLP, CNN, small transformer, LSTMCell+LBFGS
    .venv/bin/python benchmarks/overhead.py --steps 300 --rounds 5 --models cnn

For each model the same training (same seed, same batches, a fresh copy of the same
initial weights) runs in one process under several modes, interleaved round by round so
that machine load drifts hit every mode alike:

* plain       — the bare loop;
* monitor     — DynamicsMonitor driven by hand (the dynamics statistics alone);
* watch       — `nndoctor.watch(model, optimizer)`: nndoctor as a whole (interception,
                parameter tracking, dynamics, rules), when nndoctor.watch is available;
* record      — watch plus what `nndoctor run` adds for the run records: the run-facts
                hooks (hyperparameters, seeds, first-batch fingerprint) and a Recording
                into a temporary SQLite file (background writer, heartbeats). Printed
                with its ratio to watch: recording's own cost (target <= 1.01);
* histogram   — the reference users know: TensorBoard's `add_histogram` of every
                parameter at every step (numpy.histogram of every parameter if the
                tensorboard package is missing — said so in the output).

Printed per model: the median step time of each mode and its ratio to plain (the target
for nndoctor at default settings is <= 1.05 on the mean), and the mean ratio, which includes
the sampled steps (every 10th by default) where the costlier statistics are taken.

Recording's cost, accounted where it is spent (RecordingAccount: every run-facts hook and
wrapper call timed on the training thread, the writer thread's own CPU, the one-off start
and end), measured 2026-12-02 on the shared 2-core machine with
`benchmarks/overhead.py --modes watch,record --rounds 20 --steps 30` (heartbeats every
0.25 s here, 20x nndoctor's, so that short blocks write some):

    model           while training (hooks + heartbeats)   once per run (start + end)   A/B median
    mlp             0.31% of training-thread CPU          20.9 ms                      1.036
    cnn             0.20%                                 23.7 ms                      1.020
    transformer     0.18%                                 33.1 ms                      0.959
    lstmcell-lbfgs  0.17%                                 27.9 ms                      0.990

So recording costs <= 1% of the mean step everywhere (at the real 5 s heartbeat the
heartbeats' share is ~0.01%); the fixed ~20-35 ms per run (git, versions, the final
write) is <= 1% of any run longer than ~3.5 s. The A/B ratio (median of per-round
with/without ratios) stays within this machine's +-5% noise and cannot show 1% by itself.

Timing uses the CPU time of the training thread (`time.thread_time`) with one torch
thread by default: on a shared machine, wall-clock step times mostly measure the other
processes. `--clock wall --threads 0` gives wall-clock times with torch's own threading.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import resource
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


class UnrolledLSTMCell(nn.Module):
    """pytorch/examples' time_sequence_prediction: two LSTMCells unrolled in Python over
    the sequence, trained with LBFGS and a closure (default max_iter=20 evaluations per
    step) — thousands of module calls per step, the shape that once made a step 14x slower."""

    def __init__(self, hidden: int = 51) -> None:
        super().__init__()
        self.hidden = hidden
        self.lstm1, self.lstm2 = nn.LSTMCell(1, hidden), nn.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, 1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        h1 = c1 = h2 = c2 = torch.zeros(inputs.shape[0], self.hidden, dtype=inputs.dtype)
        outputs = []
        for x_t in inputs.split(1, dim=1):
            h1, c1 = self.lstm1(x_t, (h1, c1))
            h2, c2 = self.lstm2(h1, (h2, c2))
            outputs.append(self.linear(h2))
        return torch.cat(outputs, dim=1)


def make_lstmcell_lbfgs():
    def batch(generator: torch.Generator):
        shift = torch.randint(-80, 80, (16, 1), generator=generator).double()
        wave = torch.sin((torch.arange(201).double()[None, :] + shift) / 20.0)
        return wave[:, :-1], wave[:, 1:]
    return UnrolledLSTMCell().double(), batch


MODELS = {"mlp": make_mlp, "cnn": make_cnn, "transformer": make_transformer, "lstmcell-lbfgs": make_lstmcell_lbfgs}
# Models trained with LBFGS: one step is up to 20 closure evaluations (the monitor cannot be
# driven by hand inside the optimizer, so only plain and watch are timed for them).
CLOSURE_MODELS = {"lstmcell-lbfgs"}


def loss_of(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if target.is_floating_point():
        return F.mse_loss(output, target)
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
              clock: Callable[[], float], closure_optimizer: bool = False,
              account: RecordingAccount | None = None) -> list[float]:
    if closure_optimizer:
        optimizer = torch.optim.LBFGS(model.parameters(), lr=0.8)
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr)
    times: list[float] = []
    monitor = log = close = watcher = facts = recording = None
    if mode == "monitor":
        from nndoctor.torch.dynamics import DynamicsMonitor

        monitor = DynamicsMonitor(model, every=every, faults=[])
    elif mode == "histogram":
        _, log, close = histogram_logger(tmp)
    elif mode in ("watch", "record"):
        import nndoctor

        watcher = nndoctor.watch(model, optimizer, every=every, live=False)
        watcher.__enter__()
        if mode == "record":
            facts, recording = start_recording(watcher, tmp, account)
    loop_started = time.thread_time()
    try:
        for step, (x, y) in enumerate(batches):
            start = clock()
            if closure_optimizer:
                def closure(x: torch.Tensor = x, y: torch.Tensor = y) -> torch.Tensor:
                    optimizer.zero_grad()
                    loss = loss_of(model(x), y)
                    loss.backward()
                    return loss
                optimizer.step(closure)
                times.append(clock() - start)
                continue
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
        loop_cpu = time.thread_time() - loop_started
        if monitor is not None:
            monitor.close()
        if close is not None:
            close()
        if facts is not None:
            with account.one_off():
                facts.uninstall()
        if watcher is not None:
            watcher.__exit__(None, None, None)
        if recording is not None:
            with account.one_off():
                facts.describe(watcher.report)
                recording.finish(watcher.report, 0)
            account.add_block(loop_cpu, len(batches), recording.writer)
    return times[min(WARMUP_STEPS, len(times) // 2):]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class RecordingAccount:
    """The CPU time recording costs, counted where it is spent (an upper bound on its cost).

    On the training thread: every call of a run-facts hook or wrapper, timed whole with
    `time.thread_time` (the optimizer step pre-hook, the forward pre-hook until the first
    step, the seed, autocast, determinism and scheduler wrappers — a wrapper's time includes
    the original function it wraps); and the one-off work at a run's start and end
    (Recording.start, describing the facts, Recording.finish), kept apart since it does not
    grow with the run. On the writer thread: all its CPU time, as it counts it itself — this
    also bounds how long it can hold the GIL against the training thread."""

    def __init__(self, heartbeat_seconds: float) -> None:
        self.heartbeat_seconds = heartbeat_seconds
        self.hook_times: list[float] = []
        self.one_off_seconds = 0.0
        self.children_seconds = 0.0  # the git subprocesses of the runs' starts
        self._children_before = 0.0
        self.writer_seconds = {"start": 0.0, "heartbeats": 0.0, "finish": 0.0}
        self.heartbeats = 0
        self.training_seconds = 0.0
        self.steps = 0
        self.blocks = 0

    def timed(self, function: Callable) -> Callable:
        @functools.wraps(function)
        def timed(*args, **kwargs):
            started = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.hook_times.append(time.thread_time() - started)
        return timed

    @contextlib.contextmanager
    def one_off(self):
        started = time.thread_time()
        try:
            yield
        finally:
            self.one_off_seconds += time.thread_time() - started

    @property
    def hook_seconds(self) -> float:
        return sum(self.hook_times)

    def begin_block(self) -> None:
        self._children_before = children_cpu()

    def add_block(self, training_seconds: float, steps: int, writer) -> None:
        self.children_seconds += children_cpu() - self._children_before
        self.training_seconds += training_seconds
        self.steps += steps
        self.blocks += 1
        self.heartbeats += writer.heartbeats
        for phase, seconds in writer.cpu_seconds.items():
            self.writer_seconds[phase] += seconds

    def lines(self, name: str, heartbeat_seconds: float) -> list[str]:
        """Recording's CPU as a fraction of the training thread's CPU over the record blocks."""
        train, blocks = self.training_seconds, max(self.blocks, 1)
        hooks, beats = self.hook_seconds, self.writer_seconds["heartbeats"]
        per_run = (self.writer_seconds["start"] + self.writer_seconds["finish"] + self.one_off_seconds
                   + self.children_seconds) / blocks
        per_beat = beats / self.heartbeats if self.heartbeats else 0.0
        steady = statistics.median(self.hook_times) if self.hook_times else 0.0
        return [
            f"{name:<16}accounting over {self.blocks} recorded blocks: {self.steps} steps, "
            f"{train:.2f} s training-thread CPU ({train / max(self.steps, 1) * 1e3:.2f} ms/step)",
            f"{'':<16}  training thread, hooks and wrappers: {len(self.hook_times)} calls, {hooks * 1e3:.2f} ms "
            f"(median call {steady * 1e6:.1f} µs; the largest, a first step's optimizer settings and batch hash, "
            f"{max(self.hook_times, default=0.0) * 1e3:.2f} ms) = {hooks / train:.3%} of training CPU",
            f"{'':<16}  writer thread, heartbeats every {heartbeat_seconds:g} s: {self.heartbeats} x "
            f"{per_beat * 1e3:.2f} ms = {beats / train:.3%} of training CPU "
            f"(at nndoctor's 5 s: {per_beat / 5.0:.4%} of a busy training thread)",
            f"{'':<16}  WHILE TRAINING, hooks + heartbeats: {(hooks + beats) / train:.3%} of training CPU "
            f"(target <= 1%)",
            f"{'':<16}  once per run, start + end: {per_run * 1e3:.1f} ms (writer start "
            f"{self.writer_seconds['start'] / blocks * 1e3:.1f}, writer finish "
            f"{self.writer_seconds['finish'] / blocks * 1e3:.1f}, training thread {self.one_off_seconds / blocks * 1e3:.1f}, "
            f"git {self.children_seconds / blocks * 1e3:.1f}): <= 1% of any run longer than {per_run * 100:.1f} s",
        ]


def start_recording(watcher, tmp: str, account: RecordingAccount):
    """What `nndoctor run` adds to a watched run for its record, with its hooks and
    wrappers timed by `account`."""
    import io
    from pathlib import Path

    from nndoctor.records.recording import Recording
    from nndoctor.torch.run_facts import RunFacts

    session = watcher._session
    facts = RunFacts(session)
    facts._on_step, facts._on_forward = account.timed(facts._on_step), account.timed(facts._on_forward)
    patch = facts._patch
    facts._patch = lambda owner, name, make: patch(owner, name, lambda original: account.timed(make(original)))
    account.begin_block()
    with account.one_off():
        facts.install()
        recording = Recording.start("run", Path(tmp) / "runs.db", command_line=["benchmarks/overhead.py"],
                                    script="benchmarks/overhead.py", stream=io.StringIO(),
                                    heartbeat_seconds=account.heartbeat_seconds)
        recording.follow(session)
    return facts, recording


def watch_available() -> bool:
    try:
        import nndoctor

        return callable(getattr(nndoctor, "watch", None))
    except Exception:  # noqa: BLE001 — the benchmark runs without it
        return False


def benchmark(name: str, steps: int, rounds: int, every: int, modes: list[str],
              clock: Callable[[], float], heartbeat_seconds: float = 5.0) -> tuple[dict[str, list[list[float]]], RecordingAccount]:
    """Per mode, the step times of each round; and the accounting of the record blocks."""
    torch.manual_seed(0)
    model, make_batch = MODELS[name]()
    initial = copy.deepcopy(model.state_dict())
    generator = torch.Generator().manual_seed(0)
    closure = name in CLOSURE_MODELS
    if closure:  # a step is ~20 forward/backward passes over 200 time steps
        modes = [mode for mode in modes if mode in ("plain", "watch", "record")]
        steps, rounds = max(2, steps // 10), max(2, rounds // 2)
    batches = [make_batch(generator) for _ in range(steps + (0 if closure else WARMUP_STEPS))]
    times: dict[str, list[list[float]]] = {mode: [] for mode in modes}
    account = RecordingAccount(heartbeat_seconds)
    with tempfile.TemporaryDirectory() as tmp:
        for round_index in range(rounds):
            order = modes[round_index % len(modes):] + modes[:round_index % len(modes)]
            for mode in order:
                model.load_state_dict(initial)
                torch.manual_seed(round_index)
                times[mode].append(run_block(mode, model, batches, 1e-3, every, tmp, clock, closure, account))
    return times, account


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="mlp,cnn,transformer,lstmcell-lbfgs")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per block")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved blocks per mode (more, shorter blocks average out machine load)")
    parser.add_argument("--modes", default=None, help="only these modes (comma-separated; plain is always run)")
    parser.add_argument("--every", type=int, default=10, help="sampling period (nndoctor's default: 10)")
    parser.add_argument("--heartbeat", type=float, default=0.25,
                        help="seconds between the record's heartbeats (nndoctor's: 5; more often here so that "
                             "short blocks write some and their cost is measured)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: leave as is)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="cpu: CPU time of the training thread (robust to machine load); wall: perf_counter")
    args = parser.parse_args()
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    if args.threads:
        torch.set_num_threads(args.threads)
    modes = ["plain", "monitor"] + (["watch", "record"] if watch_available() else []) + ["histogram"]
    if args.modes:
        modes = ["plain"] + [mode for mode in modes if mode in args.modes.split(",") and mode != "plain"]
    with tempfile.TemporaryDirectory() as tmp:
        reference = histogram_logger(tmp)[0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.clock} clock; every={args.every}; "
          f"{args.rounds} rounds x {args.steps} steps per mode; histogram reference: {reference}")
    if "watch" not in modes:
        print("nndoctor.watch is not available: only the DynamicsMonitor is measured")
    print(f"{'model':<16}{'mode':<11}{'median ms':>10}{'median ratio':>14}{'mean ratio':>12}")
    for name in args.models.split(","):
        rounds, account = benchmark(name, args.steps, args.rounds, args.every, modes, clock, args.heartbeat)
        times = {mode: [t for block in blocks for t in block] for mode, blocks in rounds.items()}
        plain_median, plain_mean = statistics.median(times["plain"]), statistics.fmean(times["plain"])
        for mode in times:
            median, mean = statistics.median(times[mode]), statistics.fmean(times[mode])
            print(f"{name:<16}{mode:<11}{median * 1e3:>10.2f}{median / plain_median:>14.3f}"
                  f"{mean / plain_mean:>12.3f}", flush=True)
        if "record" in times:
            # Each round ran watch and record back to back: their ratio within a round sees the
            # same machine load, and the median over rounds ignores the rounds a burst hit.
            ratios = sorted(statistics.fmean(r) / statistics.fmean(w) for r, w in zip(rounds["record"], rounds["watch"]))
            quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
            print(f"{name:<16}A/B: mean step with recording / without, median of {len(ratios)} rounds = "
                  f"{statistics.median(ratios):.3f} (quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}; "
                  f"machine noise, see the accounting)", flush=True)
            for line in account.lines(name, args.heartbeat):
                print(line, flush=True)

if __name__ == "__main__":
    main()
