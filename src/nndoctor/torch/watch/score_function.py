"""Policy-gradient losses: the log-probability of a sampled action, times a return.

REINFORCE and actor-critic (pytorch/examples reinforcement_learning) train on
`-m.log_prob(m.sample()) * R`: a surrogate whose gradient is the policy gradient, not an
objective whose value falls as the policy improves. Its returns are renormalised every
episode, so it wanders around 0 and grows with the episode length; judging its level
(diverging, oscillating, stuck, at chance, overfitting) raises false alarms on a policy
that is learning well.

`patch_distributions` wraps `sample` and `log_prob` of every torch.distributions class
that defines them: a `log_prob`, with gradients enabled, of a tensor that a `sample()`
returned is counted in `session.score_function_log_probs`. Densities of data (a VAE's or
a mixture density network's `log_prob(targets)`) and reparameterised `rsample()` are not.
"""
from __future__ import annotations

import weakref
from typing import Any

import torch
from torch import distributions

# Sampled tensors remembered at a time (a rollout takes one sample per environment step).
MAX_REMEMBERED_SAMPLES = 4096
# log_probs of sampled values before the losses count as a policy-gradient surrogate.
SCORE_FUNCTION_MIN_CALLS = 3
SURROGATE_REASON = ("the training loss is a policy-gradient surrogate (log_prob of sampled actions times a return, "
                    "e.g. REINFORCE or actor-critic): its value does not measure how well the policy does, so its "
                    "level and trend are not judged (the episode return shows progress)")


def _classes() -> list[type]:
    found, pending = [], [distributions.Distribution]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def patch_distributions(session: Any) -> None:
    """Wrap sample/log_prob where a distribution class defines them; originals go to
    `session._originals` under ("distribution", class, name)."""
    sampled: dict[int, weakref.ref] = {}
    for cls in _classes():
        for name, wrap in (("sample", _wrap_sample), ("log_prob", _wrap_log_prob)):
            original = cls.__dict__.get(name)
            if original is None or not callable(original):
                continue
            session._originals[("distribution", cls, name)] = original
            setattr(cls, name, wrap(session, original, sampled))


def unpatch_distributions(originals: dict[Any, Any]) -> None:
    for key in [k for k in originals if isinstance(k, tuple) and k[0] == "distribution"]:
        _, cls, name = key
        setattr(cls, name, originals.pop(key))


def _wrap_sample(session: Any, original: Any, sampled: dict[int, weakref.ref]) -> Any:
    def sample(self: Any, *args: Any, **kwargs: Any) -> Any:
        value = original(self, *args, **kwargs)
        if isinstance(value, torch.Tensor) and session.installed and not session.suspended:
            if len(sampled) >= MAX_REMEMBERED_SAMPLES:
                sampled.clear()
            sampled[id(value)] = weakref.ref(value)
        return value

    sample.__wrapped__ = original  # type: ignore[attr-defined]
    sample.__doc__ = original.__doc__
    return sample


def _wrap_log_prob(session: Any, original: Any, sampled: dict[int, weakref.ref]) -> Any:
    def log_prob(self: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, value, *args, **kwargs)
        if (torch.is_grad_enabled() and isinstance(result, torch.Tensor) and result.requires_grad
                and isinstance(value, torch.Tensor)):
            remembered = sampled.get(id(value))
            if remembered is not None and remembered() is value:
                session.score_function_log_probs += 1
        return result

    log_prob.__wrapped__ = original  # type: ignore[attr-defined]
    log_prob.__doc__ = original.__doc__
    return log_prob
