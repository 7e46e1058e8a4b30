"""Preflight: experiments on copies of a model and one batch, before a long training run.

    report = nndoctor.preflight(model, (inputs, targets), loss_fn, optimizer)

See `nndoctor.torch.preflight.api.preflight` for the arguments and options.
"""
from nndoctor.torch.preflight.api import preflight

__all__ = ["preflight"]
