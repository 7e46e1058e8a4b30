"""Step-time overhead of `nndoctor.jax.watch` on jit-compiled training steps.

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/overhead_jax.py --rounds 40
    .venv/bin/python benchmarks/overhead_jax.py --models cnn --modes aux

For each model one process compiles the same Flax Linen train step around

* plain     — the bare optax.adam(1e-3);
* aux       — nndoctor.jax.watch(optax.adam(1e-3)) at defaults (every=20, mode="aux":
              the last 16 samples kept in the optimizer state as one array, found by
              tx.log(loss=loss, opt_state=state) every 20th call and copied to the host
              every 16 samples or 2 s);
* callback  — the same with mode="callback" (jax.debug.callback from the sampled
              branch), plus tx.log(loss=loss). A jitted function with a callback effect
              leaves jax's C++ fast dispatch path, which costs ~1 ms per step on CPU
              whether or not the branch is taken: use it only where aux cannot be read;

and runs blocks of 20 steps of each, interleaved round by round (forward and backward
order in turn) so that machine load hits every mode alike. Steps end with
`block_until_ready`, so the time is the step's, not the dispatch's. Each block is timed
on the process CPU clock (XLA computes on its own threads; robust to other processes)
and on the wall clock; printed per clock: mean step time per mode and the median and
mean of the per-round ratios to plain (target at defaults: <= 1.05).

At every=20 (the default since; 2026-12-02): `--models mlp --steps 100 --rounds 40` gave aux
median 1.037 process / 1.037 wall (A/A control 0.980 / 0.987), ratio of means 1.031 / 1.035;
60 rounds of 20 steps 1.047 / 1.024 (control 0.983 / 0.973, middle half of the control
0.92-1.07), and 1.059 while another benchmark ran on the other core; CNN 1.000-1.012. In
process, every=1 costs +32% of a step (+24% the recomputed Adam update, +7% the norms) and
every=1000 nothing measurable (0.996 against a control of 0.990).
Before, at every=10:
Measured again with the A/A control (a second plain step), 80 rounds, MLP, 2026-12-02,
another job on the other core: aux median 1.045 process / 1.022 wall, control 0.989 /
0.967 (middle half of the control 0.95-1.04: two identical programs differ by ±4% per
round here); 40 rounds under heavier load gave 1.089 / 1.073. In-process variants of the
wrapper (benchmarks kept out of the tree) put the unsampled cost at ~2% (every=1000) and
the sampled step at ~+45% of a step (the recomputed optimizer update): 1.03 at every=20.
Earlier (jax 0.10.2, CPU, 2 cores shared with other jobs, 40 rounds, 2026-12-02):
MLP (128x784 -> 256 -> 256 -> 10, ~2-3 ms/step): aux median 1.046 process / 1.054 wall,
mean 1.054 / 1.061; a run a few minutes earlier gave 1.105 process (middle half of the
rounds 1.04-1.16) — on this machine the MLP ratio moves by ±0.05 between runs. CNN
(~45 ms/step): 1.020 / 1.002. Per step, timed one by one (wall, median): an unsampled
watched step costs the same as a plain one; a sampled step ~+450 us (the optimizer update
recomputed and three norms per leaf: ~2% at every=10); tx.log ~13 us median.
Before this round of changes (statistics after the update, one host copy per sample)
the MLP measured 1.15 on the same setup.
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
from nndoctor.jax.optax_watch import DEFAULT_EVERY


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


CLOCKS = {"process": time.process_time, "wall": time.perf_counter}


def run_block(mode: str, runner: dict, batches: list) -> dict[str, float]:
    """Seconds per step on each clock."""
    params, opt_state, step, tx = runner["params"], runner["opt_state"], runner["step"], runner["tx"]
    started = {name: clock() for name, clock in CLOCKS.items()}
    for x, y in batches:
        params, opt_state, loss = step(params, opt_state, x, y)
        if mode == "callback":
            tx.log(loss=loss)
        elif mode == "aux":
            tx.log(loss=loss, opt_state=opt_state)
        jax.block_until_ready(loss)
    elapsed = {name: (clock() - started[name]) / len(batches) for name, clock in CLOCKS.items()}
    runner["params"], runner["opt_state"] = params, opt_state
    return elapsed


def bench(name: str, steps: int, rounds: int, modes: list[str]) -> dict[str, dict[str, float]]:
    """clock → mode → the median per-round ratio to plain (and prints the details)."""
    module_class, shape = MODELS[name]
    model = module_class()
    rng = np.random.default_rng(0)
    batches = [(jnp.asarray(rng.normal(size=shape), jnp.float32), jnp.asarray(rng.integers(0, 10, shape[0])))
               for _ in range(steps)]
    params = model.init(jax.random.key(0), batches[0][0])
    runners = {}
    # "control" is a second, identical plain step: its ratio to plain is what the machine
    # alone makes of two equal programs (A/A), the noise floor the other ratios sit on.
    for mode in ("plain", "control", *modes):
        tx = optax.adam(1e-3) if mode in ("plain", "control") else nndoctor.jax.watch(
            optax.adam(1e-3), mode=mode, live=False)
        runners[mode] = {"tx": tx, "params": params, "opt_state": tx.init(params), "step": make_step(model, tx)}
        run_block(mode, runners[mode], batches)  # compile and warm up
    times: dict[str, list[dict[str, float]]] = {mode: [] for mode in runners}
    order = list(runners)
    for round_index in range(rounds):
        # Forward and backward order in turn, so that a slow spell of the machine at one end
        # of a round does not always land on the same mode.
        for mode in order if round_index % 2 == 0 else order[::-1]:
            times[mode].append(run_block(mode, runners[mode], batches))
    medians: dict[str, dict[str, float]] = {}
    for clock in CLOCKS:
        plain = [t[clock] for t in times["plain"]]
        print(f"{name}, {clock} clock: plain {statistics.mean(plain) * 1e3:.3f} ms/step")
        for mode in ("control", *modes):
            spent = [t[clock] for t in times[mode]]
            ratios = [t / p for t, p in zip(spent, plain)]
            medians.setdefault(clock, {})[mode] = statistics.median(ratios)
            print(f"  {mode:9s} {statistics.mean(spent) * 1e3:.3f} ms/step  per-round ratio: median "
                  f"{statistics.median(ratios):.3f}, mean {statistics.mean(ratios):.3f} (middle half "
                  f"{_quantile(ratios, 0.25):.3f}-{_quantile(ratios, 0.75):.3f}); ratio of means "
                  f"{statistics.mean(spent) / statistics.mean(plain):.3f}")
    for mode in modes:
        report = runners[mode]["tx"].report()  # the wrapper really measured
        assert report.context["backwards_observed"] > 0, f"{mode}: no statistics were recorded"
    return medians


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="steps per block (a multiple of every=20)")
    parser.add_argument("--rounds", type=int, default=30, help="interleaved blocks per mode")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--modes", nargs="+", default=["aux", "callback"], choices=["aux", "callback"])
    args = parser.parse_args()
    if args.steps % DEFAULT_EVERY:
        parser.error(f"--steps must be a multiple of {DEFAULT_EVERY}, so every block holds as many sampled steps")
    print(f"jax {jax.__version__} on {jax.default_backend()}, "
          f"{args.rounds} rounds x {args.steps} steps per mode, load average {os.getloadavg()[0]:.1f}")
    results = {name: bench(name, args.steps, args.rounds, args.modes) for name in args.models}
    if "aux" in args.modes:
        for clock in CLOCKS:
            verdict = ", ".join(f"{name} {ratios[clock]['aux']:.3f} (A/A control {ratios[clock]['control']:.3f})"
                                for name, ratios in results.items())
            print(f"aux at defaults, median per-round ratio to plain ({clock} clock): {verdict} "
                  f"(target <= {TARGET:.2f})")


if __name__ == "__main__":
    main()
