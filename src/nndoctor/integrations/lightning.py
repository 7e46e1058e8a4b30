"""`NNDoctorCallback` for Lightning: `Trainer(callbacks=[NNDoctorCallback()])`.

Automatic optimization (Lightning calls `optimizer.step(closure)`), manual optimization,
gradient accumulation and validation loops are seen as `nndoctor run` sees them; the
final report is `callback.report` (and is printed at the end unless `live=False`).
"""
from __future__ import annotations

from typing import Any

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # the standalone package
    try:
        from pytorch_lightning.callbacks import Callback
    except ImportError as error:
        raise ImportError(
            "nndoctor.integrations.lightning needs Lightning: pip install 'nndoctor[integrations]'") from error

from nndoctor.integrations._session import WatchedTraining


class NNDoctorCallback(Callback):
    """Watch a Lightning fit with nndoctor. Options are those of `nndoctor.watch`
    (`every`, `select`, `ignore`, `thresholds`, `live`, `stop_on`)."""

    def __init__(self, **watch_options: Any) -> None:
        super().__init__()
        self._training = WatchedTraining(**watch_options)

    @property
    def report(self) -> Any:
        return self._training.report

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        # LightningModules usually call their submodules (`self.net(x)`), not themselves:
        # the trained modules are found as `nndoctor run` finds them.
        self._training.start(None, list(trainer.optimizers))

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._training.finish()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._training.finish()
