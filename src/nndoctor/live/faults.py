"""Containment of faults inside nndoctor's own hooks.

Every hook and patched function body runs through `FaultLog.guard`: an exception there is
recorded (source, type, message, step, count) and swallowed, so the user's training never
sees it. A source that keeps failing is switched off after a few faults, so a broken check
costs nothing for the rest of the run. The records become the `internal_faults`
measurement that the `internal-error` rule reports.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

MAX_FAULTS_PER_SOURCE = 3


class StopRun(BaseException):
    """Raised into the user's program by `--stop-on`: a BaseException so that a script's
    `except Exception:` cannot swallow it; the runner turns it into exit code 1."""

    def __init__(self, finding: Any) -> None:
        super().__init__(f"nndoctor stopped the run: [{finding.rule}] {finding.message}")
        self.finding = finding


class FaultLog:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.disabled: set[str] = set()

    def record(self, source: str, error: BaseException, step: int | None) -> None:
        entry = self.records.get(source)
        if entry is None:
            self.records[source] = {
                "source": source,
                "exception": type(error).__name__,
                "detail": str(error)[:300],
                "step": step,
                "count": 1,
            }
        else:
            entry["count"] += 1
            if entry["count"] >= MAX_FAULTS_PER_SOURCE:
                self.disabled.add(source)

    def enabled(self, source: str) -> bool:
        return source not in self.disabled

    @contextmanager
    def guard(self, source: str, step: int | None = None) -> Iterator[None]:
        try:
            yield
        except StopRun:
            raise
        except Exception as error:  # noqa: BLE001 — containment is the point
            self.record(source, error, step)

    def as_list(self) -> list[dict[str, Any]]:
        return [dict(entry) for entry in self.records.values()]
