"""What both framework callbacks share: one watch session from train start to train end."""
from __future__ import annotations

from typing import Any

from nndoctor.core.report import Report


class WatchedTraining:
    """Starts `nndoctor.watch` on the model and its optimizers, ends it, keeps the report."""

    def __init__(self, **watch_options: Any) -> None:
        self.watch_options = watch_options
        self.report: Report | None = None
        self._doctor: Any = None

    def start(self, model: Any, optimizers: list[Any]) -> None:
        from nndoctor.torch.watch import watch

        self.report = None
        self._doctor = watch(model, optimizers[0] if optimizers else None, **self.watch_options)
        self._doctor.__enter__()
        for optimizer in optimizers[1:]:
            self._doctor._session._optimizer_info(optimizer)

    def finish(self) -> Report | None:
        doctor, self._doctor = self._doctor, None
        if doctor is None:
            return self.report
        doctor.__exit__(None, None, None)
        self.report = doctor.report
        return self.report
