"""Recording's cost on JAX runs (`nndoctor run` with and without run records), beside the optax wrapper modes (the wrapper's own target lives in overhead_jax.py).

    .venv/bin/python benchmarks/records_overhead_jax.py                 # MLP and CNN, both modes
    .venv/bin/python benchmarks/records_overhead_jax.py --steps 400 --rounds 5 --models cnn

For each model one process compiles the same Flax Linen train step around

* plain     — the bare optax.adam(1e-3);
* aux       — nndoctor.jax.watch(optax.adam(1e-3)) at defaults (every=10, mode="aux":
              statistics kept in the optimizer state as one vector and read by
              tx.log(loss=loss, opt_state=state) on sampled steps);
* callback  — the same with mode="callback" (jax.debug.callback from the sampled
              branch), plus tx.log(loss=loss). A jitted function with a callback effect
              leaves jax's C++ fast dispatch path, which costs ~1 ms per step on CPU
              whether or not the branch is taken: use it only where aux cannot be read;

* run       — what `nndoctor run` does to the same unchanged script (nndoctor.jax.run:
              optax.adam and jax.value_and_grad patched while the step is traced; the
              loss leaves jit by a callback at every step);
* record    — run plus what recording adds (nndoctor.jax.run_facts): the batch's first
              1024 values of each array copied into the loss's callback (hashed on the
              host at the first step). Printed: record - run as the median over many
              alternating short blocks;

and runs blocks of steps of each, interleaved round by round so that machine load hits
every mode alike. Printed: mean step time per mode and its ratio to plain (target at
defaults: <= 1.05). Steps end with `block_until_ready`, so the time is the step's, not
the dispatch's. The clock is the process CPU time by default (XLA computes on its own
threads; on a shared machine wall-clock mostly measures the other processes);
`--clock wall` gives wall-clock times.
"""
from __future__ import annotations

import argparse
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
        elif mode in ("run", "record"):
            runner["doctor"].maybe_judge()
        elif mode == "aux":
            tx.log(loss=loss, opt_state=opt_state)
        jax.block_until_ready(loss)
    jax.effects_barrier()  # this block's callbacks are this block's time
    elapsed = clock() - started
    runner["params"], runner["opt_state"] = params, opt_state
    return elapsed / len(batches)


def bench(name: str, steps: int, rounds: int, clock, ab_rounds: int = 60) -> None:
    module_class, shape = MODELS[name]
    model = module_class()
    rng = np.random.default_rng(0)
    batches = [(jnp.asarray(rng.normal(size=shape), jnp.float32), jnp.asarray(rng.integers(0, 10, shape[0])))
               for _ in range(steps)]
    params = model.init(jax.random.key(0), batches[0][0])
    runners = {}
    for mode in ("plain", "callback", "aux"):
        tx = optax.adam(1e-3) if mode == "plain" else nndoctor.jax.watch(
            optax.adam(1e-3), mode=mode, live=False)
        runners[mode] = {"tx": tx, "params": params, "opt_state": tx.init(params), "step": make_step(model, tx)}
        run_block(mode, runners[mode], batches[:12], clock)  # compile and warm up
    for mode in ("run", "record"):
        runners[mode] = run_mode_runner(model, params, batches, mode == "record", clock)
    times: dict[str, list[float]] = {mode: [] for mode in runners}
    for _ in range(rounds):
        for mode in runners:
            times[mode].append(run_block(mode, runners[mode], batches, clock))
    plain = statistics.mean(times["plain"])
    print(f"{name}: plain {plain * 1e3:.3f} ms/step")
    for mode in ("callback", "aux", "run", "record"):
        mean = statistics.mean(times[mode])
        print(f"  {mode:9s} {mean * 1e3:.3f} ms/step  ratio {mean / plain:.3f}  "
              f"(rounds: {', '.join(f'{t / p:.3f}' for t, p in zip(times[mode], times['plain']))})")
    # Recording's own cost: run and record alternate in many short blocks (machine load
    # drifts slower than a block), and the median of the per-pair differences is kept.
    pairs = []
    for index in range(ab_rounds):
        order = ("run", "record") if index % 2 else ("record", "run")
        block = {mode: run_block(mode, runners[mode], batches[:20], clock) for mode in order}
        pairs.append((block["run"], block["record"]))
    extra = statistics.median(r - w for w, r in pairs)
    run_step = statistics.median(w for w, _ in pairs)
    print(f"  recording's cost: record - run, median of {ab_rounds} alternating 20-step pairs = {extra * 1e6:+.1f} µs "
          f"= {extra / run_step:+.2%} of a run-mode step")
    for mode in ("callback", "aux"):
        report = runners[mode]["tx"].report()
        assert report.context["steps_observed"] > 0
    facts = runners["record"]["facts"]
    assert facts.first_batch is not None and facts.first_batch["batch_size"] == shape[0], facts.first_batch


def run_mode_runner(model: nn.Module, params, batches: list, record: bool, clock) -> dict:
    """The step as `nndoctor run` traces it (with the run's facts when `record`)."""
    from nndoctor.jax.doctor import JaxDoctor
    from nndoctor.jax.run import JaxRunWatcher
    from nndoctor.jax.run_facts import JaxRunFacts

    doctor = JaxDoctor(every=10, live=False, command="run")
    facts = JaxRunFacts() if record else None
    watcher = JaxRunWatcher(doctor, facts)
    watcher.install()
    try:
        tx = optax.adam(1e-3)  # the patched constructor, as the script would call it
        runner = {"tx": tx, "params": params, "opt_state": tx.init(params), "step": make_step(model, tx),
                  "doctor": doctor, "facts": facts}
        run_block("run", runner, batches[:12], clock)  # traced while patched, as in a run
    finally:
        watcher.uninstall()
    return runner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--ab-rounds", type=int, default=60, help="alternating run/record pairs")
    parser.add_argument("--clock", choices=("process", "wall"), default="process")
    args = parser.parse_args()
    clock = time.process_time if args.clock == "process" else time.perf_counter
    print(f"jax {jax.__version__} on {jax.default_backend()}, clock={args.clock}, "
          f"{args.steps} steps x {args.rounds} rounds per mode")
    for name in args.models:
        bench(name, args.steps, args.rounds, clock, args.ab_rounds)


if __name__ == "__main__":
    main()
