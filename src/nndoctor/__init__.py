"""nndoctor: finds out why a deep-learning project is quietly failing.

    report = nndoctor.preflight(model, (inputs, targets), loss_fn, optimizer)
    with nndoctor.watch(model, optimizer) as doctor: ...
    report = nndoctor.audit(train_df, test=test_df, label="y")
    report = nndoctor.evaluate(y_true, predictions, probabilities=probs, slices=meta_df)

The entry points are imported lazily, so `import nndoctor` stays cheap and the data
extras are only needed by `audit`.
"""
from __future__ import annotations

from typing import Any

from nndoctor.core import Finding, Report, Rule, UsageError

__version__ = "0.1.0"

_LAZY = {
    "preflight": ("nndoctor.torch.preflight", "preflight"),
    "watch": ("nndoctor.torch.watch", "watch"),
    "audit": ("nndoctor.data.audit", "audit"),
    "evaluate": ("nndoctor.evaluation.api", "evaluate"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module_name, attribute = _LAZY[name]
        return getattr(importlib.import_module(module_name), attribute)
    raise AttributeError(f"module 'nndoctor' has no attribute {name!r}")


__all__ = ["Finding", "Report", "Rule", "UsageError", "__version__", "audit", "evaluate", "preflight", "watch"]
