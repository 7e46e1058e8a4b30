"""`nndoctor.audit`: audit a dataset and its splits before anyone trains on it.

    report = nndoctor.audit(train_df, val=val_df, test=test_df, label="y", group="patient_id")

Loads the splits into an `AuditData`, runs every measure module in
`nndoctor.data.measures` (each contained: a crash becomes an internal-error finding), then
judges the measurements with the rules of the `data` area.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from nndoctor.core.capability import Capability, RuleSet, Selection, measuring
from nndoctor.core.errors import UsageError
from nndoctor.core.report import Report
from nndoctor.core.rule import Measurements
from nndoctor.data.extra import require
from nndoctor.data.view import AuditData, AuditOptions, Split

MEASURES_PACKAGE = "nndoctor.data.measures"


def make_options(options: Mapping[str, Any]) -> AuditOptions:
    """AuditOptions from keyword overrides; an unknown name is a UsageError listing the valid ones."""
    unknown = sorted(set(options) - set(AuditOptions.names()))
    if unknown:
        raise UsageError(
            f"unknown audit option(s) {', '.join(unknown)}; the options are: {', '.join(AuditOptions.names())}"
        )
    for name, value in options.items():
        _check_option(name, value)
    return AuditOptions(**options)


# The smallest sensible value of the whole-number options (caps and counts: at least 1).
OPTION_MINIMUM = {"seed": None, "cv_folds": 2, "max_listed_rows": 0}


def _check_option(name: str, value: Any) -> None:
    if name == "assumed_accuracy":
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not 0 < value < 1):
            raise UsageError(f"assumed_accuracy takes a number between 0 and 1, got {value!r}")
        return
    if name == "max_rows" and value is None:
        return
    minimum = OPTION_MINIMUM.get(name, 1)
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        floor = "" if minimum is None else f" of at least {minimum}"
        raise UsageError(f"{name} takes a whole number{floor}, got {value!r}")


def measure_modules() -> list[Any]:
    """Every module of nndoctor.data.measures, in name order (discovered, no central list)."""
    package = importlib.import_module(MEASURES_PACKAGE)
    names = sorted(info.name for info in pkgutil.iter_modules(package.__path__, MEASURES_PACKAGE + "."))
    return [importlib.import_module(name) for name in names]


def capability() -> Capability:
    """What an audit measures: everything its measure modules declare they produce."""
    produced = frozenset().union(*(module.MEASUREMENTS for module in measure_modules()))
    return Capability("audit", "audit", produced)


def run_measures(data: AuditData, options: AuditOptions, needed: set[str] | None = None) -> Measurements:
    """Fill Measurements from every measure module.

    Each module declares `MEASUREMENTS` (the names it produces) and is skipped when
    `needed` (the measurements the selected rules read) shares none of them. A crashing
    measure is recorded in `internal_faults` (judged by the internal-error rule) and the
    measurements it did not take are reported as skipped, so its silence is visible.
    """
    m = Measurements(internal_faults=[])
    for module in measure_modules():
        short = module.__name__.rsplit(".", 1)[-1]
        if needed is not None and not set(module.MEASUREMENTS) & needed:
            continue
        # One broken measure must not hide the others.
        with measuring(m, module.MEASUREMENTS, source=f"data measure {short!r}", what=f"the {short} measure",
                       unavailable=()):
            module.measure(data, m, options)
    return m


def audit(
    train: Any,
    val: Any = None,
    test: Any = None,
    *,
    label: str | None = None,
    group: str | Mapping[str, Any] | None = None,
    source: str | Mapping[str, Any] | None = None,
    annotators: Sequence[str] | None = None,
    text: str | Sequence[str] | None = None,
    embeddings: Any = None,
    task: str | None = None,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    extend_select: Sequence[str] | None = None,
    thresholds: Mapping[str, Mapping[str, Any]] | None = None,
    **options: Any,
) -> Report:
    """Audit `train` (and `val`, `test`) for leakage, duplicates, imbalance, shift and label problems.

    Each split is a pandas DataFrame, a CSV/Parquet path, an `(X, y)` tuple of numpy
    arrays or torch tensors, or a torch Dataset yielding `(input, label)` pairs.

    * `label`: the label column (for `(X, y)` input, the name to show; default "label").
    * `group`: column whose values must not appear in two splits (patient, photo, user id).
    * `source`: column naming where a row came from (lab, scanner, site, batch).
    * `annotators`: columns holding each annotator's label, for agreement checks.
    * `text`: text column(s), checked for near-duplicates with MinHash.
    * `embeddings`: per-sample embeddings, `{"train": array, "val": array, ...}`.
    * `task`: "classification" or "regression" (inferred from the labels if omitted).
    * `select` / `ignore` / `extend_select`: rule ids or the area "data" (`select` replaces
      pyproject's select, the others add to pyproject's lists); `thresholds`: {rule: {name: value}}.
    * `**options`: caps and knobs of `AuditOptions` (e.g. `model_sample_cap=20_000`).

    Returns a Report; `report.context` records the split sizes and any sampling applied.
    """
    require("pandas")
    audit_options = make_options(options)
    rules = RuleSet(capability(), Selection.resolve(select, ignore, extend_select, thresholds=thresholds))
    from nndoctor.data.load import load_audit_data

    data = load_audit_data(
        {"train": train, "val": val, "test": test},
        label=label, group=group, source=source, annotators=annotators, text=text,
        embeddings=embeddings, task=task, options=audit_options,
    )
    require("sklearn")
    m = run_measures(data, audit_options, rules.needs())
    report = rules.judge(m)
    report.context.update(data.notes)
    report.context.update({
        "splits": data.sizes,
        "label": data.label,
        "task": data.task,
        "options": {k: v for k, v in asdict(audit_options).items() if v != getattr(AuditOptions, k, None)},
    })
    if not report.context["options"]:
        del report.context["options"]
    from nndoctor.data.summary import data_summary

    summary = data_summary(data, m)  # what the HTML report draws
    if summary:
        report.context["data_summary"] = summary
    return report


__all__ = ["AuditData", "AuditOptions", "Split", "audit", "make_options", "measure_modules", "run_measures"]
