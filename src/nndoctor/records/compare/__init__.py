"""Two recorded runs side by side, said in sentences: what changed between them
(hyperparameters, code, data, seeds, versions) and how their loss curves and findings
differ — "B diverged at step 40; B's lr is 10× A's; the data is identical".

Everything here reads the plain dictionaries of two `RunRow`s; a part missing from either
run (no series, no git, an older record) is said to be unknown, never guessed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nndoctor.records.compare.curves import curve_lines, series_points
from nndoctor.records.compare.data import data_lines
from nndoctor.records.compare.findings import finding_lines
from nndoctor.records.compare.hyperparameters import flatten_hyperparameters, hyperparameter_changes
from nndoctor.records.compare.provenance import code_lines, seed_lines, version_lines
from nndoctor.records.store import RunRow

HEADLINE_CHANGES = 3  # settings named in the headline, most telling first


@dataclass
class Comparison:
    a: str
    b: str
    headline: list[str] = field(default_factory=list)
    sections: list[tuple[str, list[str]]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "headline": self.headline,
                "sections": [{"title": title, "lines": lines} for title, lines in self.sections]}


def compare_runs(a: RunRow, b: RunRow) -> Comparison:
    comparison = Comparison(a=a["id"], b=b["id"])
    curves, divergence = curve_lines(a, b)
    changes = hyperparameter_changes(a.get("hyperparameters", {}), b.get("hyperparameters", {}))
    data = data_lines(a.get("data_fingerprints", {}), b.get("data_fingerprints", {}))
    code = code_lines(a, b)
    comparison.headline = [*divergence, *[sentence for sentence, headline in changes if headline][:HEADLINE_CHANGES],
                           data[0], code[0]]
    comparison.sections = [
        ("Runs", [_describe(a, "A"), _describe(b, "B")]),
        ("Hyperparameters", [sentence for sentence, _ in changes] or ["the captured hyperparameters are the same"
                                                                        if a.get("hyperparameters")
                                                                        and b.get("hyperparameters") else
                                                                        "no hyperparameters were captured in one of "
                                                                        "the runs (only `nndoctor run` captures them)"]),
        ("Loss", curves),
        ("Findings", finding_lines(a, b)),
        ("Data", data),
        ("Code", code),
        ("Seeds and determinism", seed_lines(a.get("seeds", {}), b.get("seeds", {}))),
        ("Versions", version_lines(a.get("environment", {}), b.get("environment", {}))),
    ]
    return comparison


def _describe(run: RunRow, label: str) -> str:
    from datetime import datetime

    started = datetime.fromtimestamp(run.get("started_at", 0)).strftime("%Y-%m-%d %H:%M")
    steps = f", {run['steps']:,} steps" if run.get("steps") is not None else ""
    exit_code = f", exit code {run['exit_code']}" if run.get("exit_code") is not None else ""
    return (f"{label} = run {run['id'][:8]}: {run.get('command', '?')} {run.get('script', '')} started {started}, "
            f"{run.get('status', '?')}{exit_code}{steps}")


__all__ = ["Comparison", "compare_runs", "flatten_hyperparameters", "series_points"]
