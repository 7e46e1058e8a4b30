"""`nndoctor audit`: audit a dataset and its splits (CSV/Parquet files) before training."""
from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import typer

from nndoctor.cli.common import (
    EXTEND_SELECT_HELP, FAIL_ON_HELP, HTML_HELP, IGNORE_HELP, JSON_HELP, SELECT_HELP, app, check_fail_on, finish,
    split_names,
)
from nndoctor.cli.recording import NO_RECORD_HELP, begin_recording
from nndoctor.core.config import load_config
from nndoctor.core.errors import UsageError


def fail(message: str) -> NoReturn:
    """Bad usage: raised as UsageError so run_cli prints one line and exits 2."""
    raise UsageError(message)


def _embeddings(values: list[str] | None) -> dict[str, Any] | None:
    """--embeddings train=tr.npy,test=te.npy (or repeated) → {"train": array, ...}."""
    import numpy as np

    specs = split_names(values)
    if not specs:
        return None
    arrays: dict[str, Any] = {}
    for spec in specs:
        split, sep, path = spec.partition("=")
        if not sep or split not in ("train", "val", "test") or not path:
            fail(f"--embeddings takes SPLIT=PATH.npy with SPLIT train, val or test, got {spec!r}")
        if not Path(path).is_file():
            fail(f"--embeddings: no such file {path!r}")
        try:
            arrays[split] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            fail(f"--embeddings: cannot read {path} as a .npy array: {error}")
    return arrays


def _options(values: list[str] | None) -> dict[str, Any]:
    """--option model_sample_cap=20000 → {"model_sample_cap": 20000}."""
    options: dict[str, Any] = {}
    for spec in split_names(values):
        name, sep, raw = spec.partition("=")
        if not sep:
            fail(f"--option takes NAME=VALUE, got {spec!r}")
        try:
            options[name.strip()] = int(raw)
        except ValueError:
            try:
                options[name.strip()] = float(raw)
            except ValueError:
                fail(f"--option {name}: expected a number, got {raw!r}")
    return options


@app.command("audit")
def audit_command(
    train: Path = typer.Option(..., "--train", help="Training split: a .csv, .tsv or .parquet file."),
    val: Path = typer.Option(None, "--val", help="Validation split (same columns as train)."),
    test: Path = typer.Option(None, "--test", help="Test split (same columns as train)."),
    label: str = typer.Option(None, "--label", help="Label column. Without it, label checks are skipped."),
    group: str = typer.Option(None, "--group", help="Column that must not span splits: patient_id, photo_id…"),
    source: str = typer.Option(None, "--source", help="Column naming where a row came from: lab, site, scanner…"),
    annotators: list[str] = typer.Option(None, "--annotators", help="Columns with each annotator's label: a,b,c."),
    text: list[str] = typer.Option(None, "--text", help="Text column(s), checked for near duplicates."),
    embeddings: list[str] = typer.Option(
        None, "--embeddings", help="Per-sample embeddings as .npy files: train=tr.npy,test=te.npy."
    ),
    task: str = typer.Option(None, "--task", help="classification or regression (inferred if omitted)."),
    max_rows: int = typer.Option(None, "--max-rows", help="Audit a seeded random sample of this many rows per split."),
    option: list[str] = typer.Option(None, "--option", help="Audit option NAME=VALUE, e.g. model_sample_cap=20000."),
    select: list[str] = typer.Option(None, "--select", help=SELECT_HELP),
    extend_select: list[str] = typer.Option(None, "--extend-select", help=EXTEND_SELECT_HELP),
    ignore: list[str] = typer.Option(None, "--ignore", help=IGNORE_HELP),
    json_path: Path = typer.Option(None, "--json", help=JSON_HELP),
    html_path: Path = typer.Option(None, "--html", help=HTML_HELP),
    fail_on: str = typer.Option(None, "--fail-on", help=FAIL_ON_HELP + " Default: pyproject's fail_on, else error."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show every detail of each finding."),
    no_record: bool = typer.Option(False, "--no-record", help=NO_RECORD_HELP),
) -> None:
    """Audit a dataset's splits for leakage, duplicates, imbalance, shift and label problems.

    Example: nndoctor audit --train train.csv --test test.csv --label diagnosis --group patient_id
    """
    config = load_config()
    fail_on = check_fail_on(fail_on or config.fail_on)
    options = _options(option)
    if max_rows is not None:
        if max_rows < 1:
            fail(f"--max-rows must be at least 1, got {max_rows}")
        options["max_rows"] = max_rows
    from nndoctor.data.audit import audit
    from nndoctor.records.environment import file_fingerprints

    recording = begin_recording("audit", no_record, script=str(train), config=config)
    report = audit(
        train, val=val, test=test, label=label, group=group, source=source,
        annotators=split_names(annotators) or None, text=split_names(text) or None,
        embeddings=_embeddings(embeddings), task=task,
        select=split_names(select) or None, ignore=split_names(ignore) or None,
        extend_select=split_names(extend_select) or None, **options,
    )
    report.context["files"] = {name: str(path) for name, path in
                               (("train", train), ("val", val), ("test", test)) if path is not None}
    report.context["data_fingerprints"] = file_fingerprints(report.context["files"])
    finish(report, json_path=json_path, fail_on=fail_on, verbose=verbose, recording=recording, html_path=html_path)
