"""Live diagnosis of training: `nndoctor.watch(...)` and `nndoctor run SCRIPT`."""
from nndoctor.torch.watch.api import Doctor, watch
from nndoctor.live.faults import StopRun

__all__ = ["Doctor", "StopRun", "watch"]
