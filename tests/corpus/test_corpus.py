"""Trust on code nndoctor did not write: every corpus script, run as a user would run it.

One test per row of `corpus_rows.ROWS`. The rows selected for this session are started together
on first use (each is a subprocess of a few seconds, mostly Python start-up and imports, so
running one per core keeps the corpus within a few minutes) and each test then checks its own
row's JSON report.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from corpus_rows import ROWS, Outcome, Row, run_row

_ROWS_BY_ID = {row.id: row for row in ROWS}
_started: dict[str, Future] = {}
_pool: ThreadPoolExecutor | None = None


def _start_selected(session: pytest.Session) -> None:
    """Submit every selected, runnable row at once (first come, first run, in table order)."""
    global _pool
    _pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        row = _ROWS_BY_ID.get(callspec.id) if callspec is not None and item.module.__name__ == __name__ else None
        if row is not None and not row.missing_packages() and row.id not in _started:
            _started[row.id] = _pool.submit(run_row, row)


@pytest.fixture(scope="module", autouse=True)
def _shutdown_pool():
    yield
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)


def test_row_ids_are_unique() -> None:
    assert len(_ROWS_BY_ID) == len(ROWS)


def test_every_corpus_script_has_a_row() -> None:
    from corpus_rows import CORPUS_DIR

    scripts = {path.name for path in CORPUS_DIR.glob("*.py")}
    assert scripts == {row.script for row in ROWS}


# Rows nndoctor still gets wrong (issue 7 stays open for them). Strict: a row that starts
# passing fails here, so its entry must go.
KNOWN_MISSES = {
}


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_corpus_row(row: Row, request: pytest.FixtureRequest) -> None:
    if row.id in KNOWN_MISSES:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[row.id]))
    missing = row.missing_packages()
    if missing:
        pytest.skip(f"needs {', '.join(missing)}: pip install 'nndoctor[integrations]'")
    if not _started:
        _start_selected(request.session)
    future = _started.get(row.id) or _pool.submit(run_row, row)
    outcome: Outcome = future.result()
    found = "; ".join(f"{f['rule']}/{f['severity']}@{f.get('step')}" for f in outcome.findings) or "nothing"
    if outcome.problems:
        pytest.fail(f"{row.id}: " + " | ".join(outcome.problems) + f"\n  all findings: {found}"
                    + (f"\n  why: {row.why}" if row.why else ""), pytrace=False)
