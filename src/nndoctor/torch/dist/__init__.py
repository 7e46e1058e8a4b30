"""The torch adapter's distributed measurements (DDP wrappers, replica checksums, samplers)."""
from nndoctor.torch.dist.watch import DistributedWatch, world_position

__all__ = ["DistributedWatch", "world_position"]
