"""Child processes a watched script starts (multiprocessing, torch.multiprocessing): the
training they do is not watched, which is what to tell the user when the script's own
process trained nothing (pytorch/examples mnist_hogwild trains only in workers).
DataLoader workers load data; they are not counted."""
from __future__ import annotations

import multiprocessing.process as mp_process
from typing import Any

_NOT_TRAINING = ("torch.utils.data",)  # DataLoader worker loops


class ChildProcesses:
    """Within the block, counts the processes started (`started`)."""

    def __init__(self) -> None:
        self.started = 0
        self._original: Any = None

    def __enter__(self) -> ChildProcesses:
        original = self._original = mp_process.BaseProcess.start
        counter = self

        def start(process: Any, *args: Any, **kwargs: Any) -> Any:
            module = getattr(getattr(process, "_target", None), "__module__", None) or ""
            if not module.startswith(_NOT_TRAINING):
                counter.started += 1
            return original(process, *args, **kwargs)

        start.__wrapped__ = original  # type: ignore[attr-defined]
        mp_process.BaseProcess.start = start  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: Any) -> None:
        mp_process.BaseProcess.start = self._original  # type: ignore[method-assign]
