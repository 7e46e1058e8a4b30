"""Dropout that stays on during evaluation because it is called as a function.

`model.eval()` switches off `nn.Dropout` modules, but not `F.dropout(x, p, training=True)`
nor `F.scaled_dot_product_attention(q, k, v, dropout_p=0.1)` written without
`if self.training` — evaluation outputs stay random (002 #2). The functional dropouts
are wrapped for the session; the wrapper does nothing but one `is_grad_enabled()` call
while training, and describes active calls made during evaluation passes (gradients
disabled). Calls made by dropout modules themselves are left to `eval-mode-missing`'s
module check.
"""
from __future__ import annotations

import sys
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# function name -> (position of the rate, its keyword, position of `training` or None)
DROPOUT_FUNCTIONS = {
    "dropout": (1, "p", 2), "dropout1d": (1, "p", 2), "dropout2d": (1, "p", 2), "dropout3d": (1, "p", 2),
    "alpha_dropout": (1, "p", 2), "feature_alpha_dropout": (1, "p", 2),
    "scaled_dot_product_attention": (4, "dropout_p", None),
}
_MODULE_CALLERS = {cls.forward.__code__ for cls in (
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)}
_MODULE_CALLERS.add(F.multi_head_attention_forward.__code__)


def _active_rate(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> float:
    rate_index, rate_name, training_index = DROPOUT_FUNCTIONS[name]
    rate = args[rate_index] if len(args) > rate_index else kwargs.get(rate_name, 0.5 if rate_name == "p" else 0.0)
    if training_index is not None:
        training = args[training_index] if len(args) > training_index else kwargs.get("training", True)
        if not training:
            return 0.0
    return float(rate or 0.0)


def patch_functional_dropout(session: Any) -> None:
    for name in DROPOUT_FUNCTIONS:
        original = getattr(F, name, None)
        if original is None:
            continue
        session._originals[f"F.{name}"] = original
        setattr(F, name, _wrap(session, name, original))


def unpatch_functional_dropout(originals: dict[str, Any]) -> None:
    for name in DROPOUT_FUNCTIONS:
        original = originals.pop(f"F.{name}", None)
        if original is not None:
            setattr(F, name, original)


def _wrap(session: Any, name: str, original: Any) -> Any:
    def watched_dropout(*args: Any, **kwargs: Any) -> Any:
        if not torch.is_grad_enabled() and not session.suspended:
            try:
                if sys._getframe(1).f_code not in _MODULE_CALLERS:
                    rate = _active_rate(name, args, kwargs)
                    if rate > 0:
                        session.on_eval_dropout(name, rate)
            except Exception as error:  # noqa: BLE001 — the user's call must go through
                session.faults.record("functional dropout check", error, session.step)
        return original(*args, **kwargs)

    watched_dropout.__wrapped__ = original  # type: ignore[attr-defined]
    watched_dropout.__doc__ = original.__doc__
    watched_dropout.__name__ = getattr(original, "__name__", name)
    return watched_dropout
