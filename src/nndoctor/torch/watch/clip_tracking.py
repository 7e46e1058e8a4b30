"""What gradient clipping did: the gradient's size before and after each clip call.

`torch.nn.utils.clip_grad_norm_` and `clip_grad_value_` are wrapped for the length of a
session (Lightning's and accelerate's clipping call them too). `clip_grad_norm_` returns
the total norm before clipping, so a sampled call costs one float conversion;
`clip_grad_value_` returns nothing, so on a sampled call the largest gradient entry is
read before clipping (one pass over the gradients, only on sampled calls). The
`grad_clipping` measurement feeds the `grad-clipped-to-nothing` rule: a clip threshold of
1e-9 shrinks every gradient to nothing, and nothing else in the run looks broken.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch.nn.utils import clip_grad

FIRST_SAMPLED_CALLS = 5  # enough agreeing calls to judge within the first steps
MAX_SAMPLES = 40
_NAMESPACES = (torch.nn.utils, clip_grad)


class ClipTracking:
    """Samples of the clip calls of one session: which calls, what threshold, what size."""

    def __init__(self) -> None:
        self.calls = 0
        self.samples: list[dict[str, Any]] = []
        # Per clip function: its settings at the first call and how often it ran (the run
        # records' hyperparameters read this: one wrapper serves both).
        self.settings: dict[str, dict[str, Any]] = {}

    def note_settings(self, name: str, step: int, limit_name: str, limit: Any, **extra: Any) -> None:
        seen = self.settings.get(name)
        if seen is None:
            from nndoctor.torch.run_facts import plain

            seen = self.settings[name] = {"function": f"torch.nn.utils.{name}", limit_name: plain(limit),
                                          "calls": 0, "first_step": step, **{k: plain(v) for k, v in extra.items()}}
        seen["calls"] += 1

    def due(self, step: int, every: int) -> bool:
        return self.calls < FIRST_SAMPLED_CALLS or step % max(every, 1) == 0

    def record(self, step: int, kind: str, threshold: float, before: float) -> None:
        if not (math.isfinite(before) and math.isfinite(threshold)):
            return  # a non-finite gradient is the non-finite rule's evidence, not a clip factor
        sample = {"step": step, "kind": kind, "threshold": threshold, "before": before,
                  "after": min(before, threshold)}
        if len(self.samples) >= MAX_SAMPLES:  # keep the first half, roll the rest
            del self.samples[MAX_SAMPLES // 2]
        self.samples.append(sample)

    def count_call(self, session: Any) -> None:
        self.calls += 1
        if self.calls == FIRST_SAMPLED_CALLS:
            # The first window of samples is complete: judge it now (a clip to nothing is
            # then reported within the first steps); later samples wait for the periodic judge.
            session.judge.dirty = True

    def measurement(self) -> dict[str, Any] | None:
        if not self.samples:
            return None
        return {"calls": self.calls, "samples": [dict(s) for s in self.samples]}


def patch_clipping(session: Any) -> None:
    """Wrap the two clip functions in every namespace that exports them; the originals go to
    `session._originals`."""
    norm_original, value_original = clip_grad.clip_grad_norm_, clip_grad.clip_grad_value_
    session._originals["clip_grad_norm_"] = norm_original
    session._originals["clip_grad_value_"] = value_original
    watched_norm, watched_value = _wrap_norm(session, norm_original), _wrap_value(session, value_original)
    for namespace in _NAMESPACES:
        namespace.clip_grad_norm_ = watched_norm
        namespace.clip_grad_value_ = watched_value


def unpatch_clipping(originals: dict[str, Any]) -> None:
    norm_original, value_original = originals.pop("clip_grad_norm_", None), originals.pop("clip_grad_value_", None)
    for namespace in _NAMESPACES:
        if norm_original is not None:
            namespace.clip_grad_norm_ = norm_original
        if value_original is not None:
            namespace.clip_grad_value_ = value_original


def _watching(session: Any) -> bool:
    return session.installed and not session.suspended


def _wrap_norm(session: Any, original: Any) -> Any:
    def clip_grad_norm_(parameters: Any, max_norm: float, *args: Any, **kwargs: Any) -> Any:
        total_norm = original(parameters, max_norm, *args, **kwargs)
        if _watching(session):
            tracking = session.clipping
            try:
                if tracking.due(session.step, session.every):
                    tracking.record(session.step, "norm", float(max_norm), float(total_norm))
                tracking.count_call(session)
                tracking.note_settings("clip_grad_norm_", session.step, "max_norm", max_norm,
                                       norm_type=args[0] if args else kwargs.get("norm_type", 2.0))
            except Exception as error:  # noqa: BLE001 — the user's clip must go through
                session.faults.record("gradient clipping check", error, session.step)
        return total_norm

    return _dressed(clip_grad_norm_, original)


def _wrap_value(session: Any, original: Any) -> Any:
    def clip_grad_value_(parameters: Any, clip_value: float, *args: Any, **kwargs: Any) -> Any:
        tracking = session.clipping
        largest = None
        if _watching(session) and tracking.due(session.step, session.every):
            try:
                # A generator can be read once: the original gets the same list.
                parameters = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
                grads = [p.grad for p in parameters if p.grad is not None and not p.grad.is_sparse]
                largest = max((float(g.detach().abs().max()) for g in grads if g.numel()), default=None)
            except Exception as error:  # noqa: BLE001
                session.faults.record("gradient clipping check", error, session.step)
        result = original(parameters, clip_value, *args, **kwargs)
        if _watching(session):
            try:
                if largest is not None:
                    tracking.record(session.step, "value", float(clip_value), largest)
                tracking.count_call(session)
                tracking.note_settings("clip_grad_value_", session.step, "clip_value", clip_value)
            except Exception as error:  # noqa: BLE001
                session.faults.record("gradient clipping check", error, session.step)
        return result

    return _dressed(clip_grad_value_, original)


def _dressed(wrapper: Any, original: Any) -> Any:
    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    wrapper.__doc__ = original.__doc__
    return wrapper
