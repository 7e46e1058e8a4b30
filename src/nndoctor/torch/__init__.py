"""PyTorch adapters: hooks, probes, interception, preflight experiments, state snapshots."""

# `nndoctor.torch.predict(model, loader)`: the function, bound over its submodule's name
from nndoctor.torch.predict import predict

__all__ = ["predict"]
