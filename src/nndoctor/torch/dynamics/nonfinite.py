"""Where did the first NaN/Inf come from? (seed 000 §3.3: divergence shows up as NaN.)

Detection is cheap and happens every step: the training loss is a scalar the monitor
reads anyway. Localisation happens once, at the first non-finite loss, *before*
`backward()` and the optimizer spread the NaN into every parameter. By then the forward
pass is over, so the monitor replays it:

1. the raw input batch (the arguments of the model's last training forward, kept by
   reference by a pre-hook on the root module) — non-finite → origin "input";
2. the parameters and buffers — non-finite → origin "parameter" if this is the first
   loss the monitor sees (initialisation or a loaded checkpoint), else "gradient": the
   previous loss was finite, so the NaN entered through the last update (a non-finite
   gradient, or an optimizer step that overflowed). The parameterised module latest in
   the forward order among the damaged ones is named: a NaN gradient born in a module
   flows back into that module and every module before it, never into later ones;
3. otherwise the model is run again on the same input, under `no_grad`, with a forward
   hook on every module, and the first module to *finish* with finite inputs but a
   non-finite output is the producer (children finish before their parents, so the
   innermost one wins; modules that merely pass a NaN on have a non-finite input and are
   skipped) — origin "activation";
4. if the replayed outputs are all finite, the model did not produce it: the loss
   computation did (say, `log` of a prediction that reached 0) — origin "loss".

The replay restores the RNG state and every buffer (BatchNorm running statistics) so the
training run is unchanged; it costs one extra forward pass, once per run.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from nndoctor.live.state_origin import state_origin

# Inputs this large mean the NaN/Inf is an overflow of values that grew step by step (a
# learning rate too high), not a log/sqrt of a bad value: float16 overflows at 6.5e4 and
# healthy activations stay within a few hundred.
OVERFLOW_INPUT_MAGNITUDE = 1e4


def floating_tensors(value: Any) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() or value.is_complex():
            yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from floating_tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from floating_tensors(item)


def all_finite(value: Any) -> bool:
    tensors = [t.detach() for t in floating_tensors(value) if t.numel()]
    if not tensors:
        return True
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


def largest_magnitude(value: Any) -> float:
    """Largest |x| over the floating tensors in `value` (to tell overflow from log(-1))."""
    tensors = [t.detach() for t in floating_tensors(value) if t.numel()]
    if not tensors:
        return 0.0
    return float(torch.stack([t.abs().max().float() for t in tensors]).max())


def non_finite_names(named_tensors: list[tuple[str, torch.Tensor]]) -> list[str]:
    """Names of the tensors holding a NaN/Inf, with one host sync for the whole list."""
    named = [(name, t) for name, t in named_tensors if t.numel() and t.is_floating_point()]
    if not named:
        return []
    flags = torch.stack([torch.isfinite(t.detach()).all() for _, t in named]).tolist()
    return [name for (name, _), finite in zip(named, flags) if not finite]


def replay_forward(model: nn.Module, args: tuple, kwargs: dict) -> dict[str, Any]:
    """Run the model again on the same input and find the first producing module."""
    names = {id(module): name or type(model).__name__ for name, module in model.named_modules()}
    producer: dict[str, Any] = {}

    def hook(module: nn.Module, inputs: tuple, kw: dict, output: Any) -> None:
        if producer or all_finite(output):
            return
        if all_finite(inputs) and all_finite(kw):
            own = [(n, t) for n, t in [*module.named_parameters(recurse=False),
                                        *module.named_buffers(recurse=False)]]
            producer.update(
                module=names.get(id(module), type(module).__name__),
                module_type=type(module).__name__,
                non_finite_own_tensors=non_finite_names(own),
                largest_input=largest_magnitude([inputs, kw]),
            )

    handles = [m.register_forward_hook(hook, with_kwargs=True) for m in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    cpu_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    try:
        with torch.no_grad():
            output = model(*args, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
    return {"producer": producer or None, "output_finite": all_finite(output),
            "largest_output": largest_magnitude(output)}


def localise(
    model: nn.Module,
    captured: tuple[tuple, dict] | None,
    named_params: list[tuple[str, torch.Tensor]],
    seen_finite_loss: bool,
) -> dict[str, Any]:
    """Origin of the first non-finite loss: see the module docstring for the order."""
    if captured is not None and not (all_finite(captured[0]) and all_finite(captured[1])):
        return {"origin": "input", "module": None,
                "detail": "the batch given to the model already contains NaN or Inf"}
    state = [*named_params, *((f"buffer {n}", b) for n, b in model.named_buffers())]
    damaged = non_finite_names(state)
    if damaged:
        param_damage = [name for name in damaged if not name.startswith("buffer ")]
        last = param_damage[-1] if param_damage else damaged[-1]
        module = last.replace("buffer ", "").rsplit(".", 1)[0]
        return state_origin(damaged, module, statistics_only=not param_damage, after_finite_steps=seen_finite_loss)
    if captured is None:
        return {"origin": "unknown", "module": None,
                "detail": "parameters and buffers are finite; the batch that produced the "
                          "NaN/Inf was no longer available, so the forward pass could not be replayed"}
    replay = replay_forward(model, captured[0], captured[1])
    if replay["producer"] is not None:
        producer = replay["producer"]
        detail = (f"{producer['module']} ({producer['module_type']}) received finite inputs and "
                  "returned NaN/Inf")
        if producer["non_finite_own_tensors"]:
            detail += f"; its own tensors {producer['non_finite_own_tensors']} are non-finite"
        if producer["largest_input"] >= OVERFLOW_INPUT_MAGNITUDE:
            detail += f"; its inputs reached |x| = {producer['largest_input']:.3g}, so this is an overflow"
        return {"origin": "activation", "module": producer["module"],
                "module_type": producer["module_type"], "detail": detail,
                "largest_input": producer["largest_input"]}
    if replay["output_finite"]:
        largest = replay["largest_output"]
        if largest >= OVERFLOW_INPUT_MAGNITUDE:
            return {"origin": "loss", "module": None, "largest_input": largest,
                    "detail": f"the model's outputs were finite but had grown to |x| = {largest:.3g}; "
                              "the loss computation overflowed on them"}
        return {"origin": "loss", "module": None,
                "detail": "replaying the forward pass gave finite model outputs: the loss "
                          "computation turned them into NaN/Inf (e.g. log of 0, division by 0)"}
    return {"origin": "unknown", "module": None,
            "detail": "the replayed forward pass produced NaN/Inf, but no single module could be "
                      "blamed (the non-finite value appeared outside any module's forward)"}
