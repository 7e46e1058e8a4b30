"""Step-time overhead of `nndoctor.jax.watch` on jit-compiled training steps.

    .venv/bin/python benchmarks/overhead_jax.py                 # MLP and CNN, both modes
    .venv/bin/python benchmarks/overhead_jax.py --steps 400 --rounds 5 --models cnn

For each model one process compiles the same Flax Linen train step around

* plain     — the bare optax.adam(1e-3);
* aux       — nndoctor.jax.watch(optax.adam(1e-3)) at defaults (every=10, mode="aux":
              statistics kept in the optimizer state as one vector and read by
              tx.log(loss=loss, opt_state=state) on sampled steps);
* callback  — the same with mode="callback" (jax.debug.callback from the sampled
              branch), plus tx.log(loss=loss). A jitted function with a callback effect
              leaves jax's C++ fast dispatch path, which costs ~1 ms per step on CPU
              whether or not the branch is taken: use it only where aux cannot be read;

and runs blocks of steps of each, interleaved round by round so that machine load hits
every mode alike. Printed: mean step time per mode and its ratio to plain (target at
defaults: <= 1.05). Steps end with `block_until_ready`, so the time is the step's, not
the dispatch's. The clock is the process CPU time by default (XLA computes on its own
threads; on a shared machine wall-clock mostly measures the other processes);
`--clock wall` gives wall-clock times.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn

import nndoctor.jax


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = x.reshape(x.shape[0], -1)
        for width in (256, 256):
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(10)(x)


class CNN(nn.Module):
    @nn.compact
    def __call__(self, x):
        for channels in (16, 32):
            x = nn.relu(nn.Conv(channels, (3, 3))(x))
            x = nn.max_pool(x, (2, 2), (2, 2))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


TARGET = 1.05  # issue 9: overhead of the wrapper at defaults
MODELS = {"mlp": (MLP, (128, 28, 28, 1)), "cnn": (CNN, (64, 28, 28, 1))}


def make_step(model: nn.Module, tx: optax.GradientTransformation):
    @jax.jit
    def step(params, opt_state, x, y):
        def loss_fn(p):
            return optax.softmax_cross_entropy_with_integer_labels(model.apply(p, x), y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def run_block(mode: str, runner: dict, batches: list, clock) -> float:
    params, opt_state, step, tx = runner["params"], runner["opt_state"], runner["step"], runner["tx"]
    started = clock()
    for x, y in batches:
        params, opt_state, loss = step(params, opt_state, x, y)
        if mode == "callback":
            tx.log(loss=loss)
        elif mode == "aux":
            tx.log(loss=loss, opt_state=opt_state)
        jax.block_until_ready(loss)
    elapsed = clock() - started
    runner["params"], runner["opt_state"] = params, opt_state
    return elapsed / len(batches)


def bench(name: str, steps: int, rounds: int, modes: list[str], clock) -> dict[str, float]:
    """The median per-round ratio of every mode to plain (and prints the details)."""
    module_class, shape = MODELS[name]
    model = module_class()
    rng = np.random.default_rng(0)
    batches = [(jnp.asarray(rng.normal(size=shape), jnp.float32), jnp.asarray(rng.integers(0, 10, shape[0])))
               for _ in range(steps)]
    params = model.init(jax.random.key(0), batches[0][0])
    runners = {}
    for mode in ("plain", *modes):
        tx = optax.adam(1e-3) if mode == "plain" else nndoctor.jax.watch(
            optax.adam(1e-3), mode=mode, live=False)
        runners[mode] = {"tx": tx, "params": params, "opt_state": tx.init(params), "step": make_step(model, tx)}
        run_block(mode, runners[mode], batches, clock)  # compile and warm up
    times: dict[str, list[float]] = {mode: [] for mode in runners}
    order = list(runners)
    for round_index in range(rounds):
        # Forward and backward order in turn, so that a slow spell of the machine at one end
        # of a round does not always land on the same mode.
        for mode in order if round_index % 2 == 0 else order[::-1]:
            times[mode].append(run_block(mode, runners[mode], batches, clock))
    plain = times["plain"]
    print(f"{name}: plain {statistics.mean(plain) * 1e3:.3f} ms/step (median {statistics.median(plain) * 1e3:.3f})")
    medians = {}
    for mode in modes:
        ratios = [t / p for t, p in zip(times[mode], plain)]
        medians[mode] = statistics.median(ratios)
        print(f"  {mode:9s} {statistics.mean(times[mode]) * 1e3:.3f} ms/step  per-round ratio: median "
              f"{medians[mode]:.3f}, mean {statistics.mean(ratios):.3f} (middle half "
              f"{_quantile(ratios, 0.25):.3f}-{_quantile(ratios, 0.75):.3f}); ratio of means "
              f"{statistics.mean(times[mode]) / statistics.mean(plain):.3f}")
        report = runners[mode]["tx"].report()
        assert report.context["backwards_observed"] > 0, f"{mode}: no statistics were recorded"
    return medians


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="steps per block (a multiple of every=10)")
    parser.add_argument("--rounds", type=int, default=30, help="interleaved blocks per mode")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--modes", nargs="+", default=["aux", "callback"], choices=["aux", "callback"])
    parser.add_argument("--clock", choices=("process", "wall"), default="process")
    args = parser.parse_args()
    if args.steps % 10:
        parser.error("--steps must be a multiple of 10, so every block holds as many sampled steps")
    clock = time.process_time if args.clock == "process" else time.perf_counter
    print(f"jax {jax.__version__} on {jax.default_backend()}, clock={args.clock}, "
          f"{args.rounds} rounds x {args.steps} steps per mode, load average {os.getloadavg()[0]:.1f}")
    results = {name: bench(name, args.steps, args.rounds, args.modes, clock) for name in args.models}
    if "aux" in args.modes:
        verdict = ", ".join(f"{name} {ratios['aux']:.3f}" for name, ratios in results.items())
        print(f"aux at defaults, median per-round ratio to plain: {verdict} (target <= {TARGET:.2f})")


if __name__ == "__main__":
    main()
