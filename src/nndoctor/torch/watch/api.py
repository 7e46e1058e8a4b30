"""`nndoctor.watch(...)`: the Python API of live diagnosis.

    with nndoctor.watch(model, optimizer) as doctor:
        for epoch in range(epochs):
            train_one_epoch(model, optimizer)
            doctor.log(val_loss=evaluate(model), step=epoch)
    print(doctor.report.findings)
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from nndoctor.core.capability import Selection
from nndoctor.core.config import check_thresholds
from nndoctor.core.errors import UsageError
from nndoctor.core.registry import load_rules
from nndoctor.core.report import Report
from nndoctor.torch.watch.session import Session, active_session


class Doctor:
    """Handle on a watching session: `log()` extra values, read `report` at the end."""

    def __init__(self, model: nn.Module | None, optimizer: Any, *, every: int, select: Any,
                 ignore: Any, thresholds: dict[str, dict[str, Any]] | None, live: bool,
                 stop_on: str | None) -> None:
        if model is not None and not isinstance(model, nn.Module):
            raise UsageError(f"watch() expects a torch.nn.Module, got {type(model).__name__}")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise UsageError(f"every must be a positive whole number of steps, got {every!r}")
        if stop_on is not None and stop_on not in ("error", "warning"):
            raise UsageError(f"stop_on takes 'error', 'warning' or None, got {stop_on!r}")
        if not isinstance(live, bool):
            raise UsageError(f"live takes True or False, got {live!r}")
        check_thresholds(thresholds, load_rules())  # a typo must not wait for the end of training
        self._model = model
        self._optimizer = optimizer
        self._options = dict(every=every, select=select, ignore=ignore, thresholds=thresholds,
                             live=live, stop_on=stop_on)
        self._session: Session | None = None
        self._owns_session = False
        self._report: Report | None = None
        self._live = live

    def __enter__(self) -> Doctor:
        running = active_session()
        if running is not None:
            # Inside `nndoctor run`: join its session instead of starting a second one.
            self._session = running
        else:
            options = dict(self._options)
            # As everywhere: select= replaces pyproject's select, ignore= adds to its ignore.
            options["selection"] = Selection.resolve(options.pop("select"), options.pop("ignore"),
                                                     thresholds=options.pop("thresholds"))
            self._session = Session(discover=self._model is None, command="watch", **options)
            self._session.install()
            self._owns_session = True
        if self._model is not None:
            self._session.add_model(self._model)
        if self._optimizer is not None:
            self._session._optimizer_info(self._optimizer)
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        if not self._owns_session or self._session is None:
            return None
        from nndoctor.torch.watch.runner import finish_safely

        self._report = finish_safely(self._session)
        if self._live:
            from nndoctor.report.terminal import render_report, stderr_console

            render_report(self._report, stderr_console())
        return None

    def log(self, *, val_loss: float | None = None, step: int | None = None,
            predictions: Mapping[str, Any] | None = None) -> None:
        """Record a validation loss (any number: the mean over your validation set), and/or
        the model's predictions on a held-out split, as `nndoctor.torch.predict(model,
        loader)` returns them (or any keyword arguments of `nndoctor.evaluate`): the last
        ones logged are evaluated at the end of the run and join its report."""
        if self._session is None:
            raise UsageError("doctor.log() works inside the `with nndoctor.watch(...)` block")
        if predictions is not None:
            if not isinstance(predictions, Mapping) or "y_true" not in predictions or "predictions" not in predictions:
                raise UsageError("doctor.log(predictions=...) takes a mapping with y_true and predictions, "
                                 "as nndoctor.torch.predict(model, loader) returns it")
            self._session.logged_predictions = (self._session.step if step is None else step, dict(predictions))
        if val_loss is not None:
            try:
                value = float(val_loss)
            except (TypeError, ValueError):
                raise UsageError(f"doctor.log(val_loss=...) takes a number, got {val_loss!r}") from None
            with self._session.faults.guard("doctor.log", self._session.step):
                self._session.log_eval_loss(value, step)

    @property
    def report(self) -> Report:
        """The final report after the block; inside it, the judgement so far."""
        if self._report is not None:
            return self._report
        if self._session is None:
            raise UsageError("the watch session has not started yet")
        return self._session.judge.judge(self._session.measurements())

    @property
    def step(self) -> int:
        return self._session.step if self._session is not None else 0


def watch(model: nn.Module | None = None, optimizer: Any = None, *, every: int = 10,
          select: Any = None, ignore: Any = None,
          thresholds: dict[str, dict[str, Any]] | None = None, live: bool = True,
          stop_on: str | None = None) -> Doctor:
    """Watch training inside the `with` block; see `Doctor`.

    `model` may be omitted: the models whose parameters receive gradients are found.
    `every` sets how often (in updates) the costlier statistics are sampled; `select` /
    `ignore` take rule ids or areas; `thresholds` maps rule id → {threshold: value};
    `live` prints each finding when it first fires and the report at the end (to stderr);
    `stop_on="error"` ends the run (raises StopRun, a BaseException) at the first error.
    """
    return Doctor(model, optimizer, every=every, select=select, ignore=ignore,
                  thresholds=thresholds, live=live, stop_on=stop_on)


__all__ = ["Doctor", "watch"]
