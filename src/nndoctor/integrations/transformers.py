"""`NNDoctorCallback` for the Hugging Face Trainer: `Trainer(..., callbacks=[NNDoctorCallback()])`.

The Trainer's warm-up (first steps at lr = 0), gradient accumulation through accelerate,
clipping and evaluation passes are seen as `nndoctor run` sees them; the final report is
`callback.report` (printed at the end unless `live=False`). The model computes its own
loss inside its forward; during evaluation that happens under no_grad, so it is the
validation loss.
"""
from __future__ import annotations

from typing import Any

try:
    from transformers import TrainerCallback
except ImportError as error:
    raise ImportError(
        "nndoctor.integrations.transformers needs transformers: pip install 'nndoctor[integrations]'") from error

from nndoctor.integrations._session import WatchedTraining


class NNDoctorCallback(TrainerCallback):
    """Watch a `transformers.Trainer` run with nndoctor. Options are those of
    `nndoctor.watch` (`every`, `select`, `ignore`, `thresholds`, `live`, `stop_on`)."""

    def __init__(self, **watch_options: Any) -> None:
        self._training = WatchedTraining(**watch_options)

    @property
    def report(self) -> Any:
        return self._training.report

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None,
                       **kwargs: Any) -> None:
        self._training.start(model, [optimizer] if optimizer is not None else [])

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._training.finish()
