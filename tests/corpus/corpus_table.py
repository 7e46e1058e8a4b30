"""Run the whole corpus and print a Markdown table: row → expected vs actual findings.

    PYTHONPATH=src python tests/corpus/corpus_table.py [--save DIR] [SUBSTRING ...] > table.md

Rows run two at a time (or one per core); a row needing a missing package is listed as skipped.
`--save DIR` also keeps each row's outcome as DIR/<row id>.json (report, exit code, seconds);
`--load DIR [DIR ...]` prints the table from saved outcomes instead of running (a later
directory wins), judged against the current expectations.
"""
from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus_rows import ROWS, Outcome, judge, run_row  # noqa: E402


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def expected_text(outcome: Outcome) -> str:
    row = outcome.row
    parts = [e.describe() for e in row.expect] or ["clean: no warning/error"]
    if row.forbid:
        parts.append("not " + ",".join(row.forbid))
    if row.preflight:
        parts.append("preflight runs")
    return "; ".join(parts)


def actual_text(outcome: Outcome) -> str:
    if outcome.report is None:
        return cell("no report: " + outcome.stderr_tail[-200:])
    findings = [f"{f['rule']} {f['severity']} @{f.get('step')}: {f.get('message', '')[:110]}"
                for f in outcome.findings]
    return "<br>".join(cell(text) for text in findings) or "nothing"


def save(outcome: Outcome, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{outcome.row.id}.json").write_text(json.dumps({
        "row": outcome.row.id, "exit_code": outcome.exit_code, "seconds": round(outcome.seconds, 1),
        "cpu_seconds": round(outcome.cpu_seconds, 1),
        "problems": outcome.problems, "stderr_tail": outcome.stderr_tail, "report": outcome.report}, indent=1))


def load(directories: list[str]) -> dict[str, Outcome]:
    by_id = {row.id: row for row in ROWS}
    outcomes = {}
    for directory in directories:
        for path in sorted(Path(directory).glob("*.json")):
            saved = json.loads(path.read_text())
            row = by_id.get(saved["row"])
            if row is None:
                continue
            outcome = Outcome(row, saved["exit_code"], saved["seconds"], saved["report"], saved["stderr_tail"],
                              cpu_seconds=saved.get("cpu_seconds", 0.0))
            outcome.problems = judge(outcome)
            outcomes[row.id] = outcome
    return outcomes


def main() -> None:
    wanted = sys.argv[1:]
    save_dir, load_dirs = None, None
    if wanted[:1] == ["--save"]:
        save_dir, wanted = Path(wanted[1]), wanted[2:]
    elif wanted[:1] == ["--load"]:
        load_dirs, wanted = wanted[1:], []
    rows = [row for row in ROWS if not wanted or any(w in row.id for w in wanted)]
    if load_dirs is not None:
        outcomes = load(load_dirs)
        rows = [row for row in rows if row.id in outcomes]
    else:
        outcomes = {}
        runnable = [row for row in rows if not row.missing_packages()]
        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
            for outcome in pool.map(run_row, runnable):
                outcomes[outcome.row.id] = outcome
                if save_dir is not None:
                    save(outcome, save_dir)
    print("| row | expected | actual (rule severity @step: message) | verdict | CPU s |")
    print("|---|---|---|---|---|")
    for row in rows:
        if row.id not in outcomes:
            print(f"| {row.id} | | skipped: needs {', '.join(row.missing_packages())} | skip | |")
            continue
        outcome = outcomes[row.id]
        verdict = "ok" if not outcome.problems else "**FAIL**: " + cell("; ".join(outcome.problems))[:300]
        print(f"| {row.id} | {cell(expected_text(outcome))} | {actual_text(outcome)} | {verdict} | "
              f"{outcome.cpu_seconds:.1f} |")
    failed = sum(1 for o in outcomes.values() if o.problems)
    cpu = sum(o.cpu_seconds for o in outcomes.values())
    print(f"\n{len(outcomes) - failed} of {len(outcomes)} rows as expected; {cpu:.0f} CPU seconds in all.")


if __name__ == "__main__":
    main()
