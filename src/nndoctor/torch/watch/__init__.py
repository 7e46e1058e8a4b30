"""Live diagnosis of training: `nndoctor.watch(...)` and `nndoctor run SCRIPT`."""
from nndoctor.torch.watch.api import Doctor, watch
from nndoctor.torch.watch.faults import StopRun

__all__ = ["Doctor", "StopRun", "watch"]
