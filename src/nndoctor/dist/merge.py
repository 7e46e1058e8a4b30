"""One report from the ranks' records: each rank's findings tagged with the ranks they
fired on (a finding of every rank shown once, "on all 4 ranks"), and the distributed rules
judged on the measurements compared across ranks. Framework-free: it reads plain records.
"""
from __future__ import annotations

import sys
from typing import Any

from nndoctor.core.engine import run_rules
from nndoctor.core.finding import Finding
from nndoctor.core.ranks import ranks_phrase
from nndoctor.core.registry import load_rules
from nndoctor.core.report import Report, SkippedCheck
from nndoctor.core.rule import Measurements

AREA = "distributed"


def merge_ranks(records: list[dict[str, Any]], *, select: Any = None, ignore: Any = None,
                thresholds: dict[str, dict[str, Any]] | None = None, world_size: int | None = None) -> Report:
    """The merged report of the ranks whose records are given (sorted by rank)."""
    if not records:
        report = Report(command="run")
        report.checks_skipped.append(SkippedCheck(AREA, "no rank left a record (every worker ended before "
                                                        "its script finished, or was killed)"))
        return report
    world = world_size or max(int(r.get("world_size") or 1) for r in records)
    reports = {int(r["rank"]): Report.from_dict(r["report"]) for r in records}
    merged = _merge_findings(reports, world)
    _distributed_rules(merged, records, world, select, ignore, thresholds)
    unmonitored = sorted({name for r in records for name in r.get("unmonitored_sharded_models") or []})
    if unmonitored:
        merged.checks_skipped.insert(0, SkippedCheck("dynamics", (
            f"the parameters of {', '.join(unmonitored)} are sharded (FSDP DTensors): the per-layer gradient, weight, "
            "update and loss statistics are not measured on shards yet, so the dynamics rules had nothing to judge")))
    first = reports[min(reports)]
    merged.context = dict(first.context)
    present = sorted(reports)
    codes = {str(r["rank"]): int(r.get("script_exit_code") or 0) for r in records}
    merged.context.update({
        "script_exit_code": next((code for code in codes.values() if code != 0), 0),
        "backwards_observed": max(int(rep.context.get("backwards_observed") or 0) for rep in reports.values()),
        "distributed": {
            "world_size": world, "ranks_reported": present,
            "ranks_missing": [r for r in range(world) if r not in reports],
            "script_exit_codes": codes, "backend": records[0].get("backend"),
            "steps_per_rank": {str(r["rank"]): r.get("optimizer_steps") for r in records},
        },
    })
    return merged


def _merge_findings(reports: dict[int, Report], world: int) -> Report:
    merged = Report(command="run")
    groups: dict[tuple[str, str], list[tuple[int, Finding]]] = {}
    for rank, report in sorted(reports.items()):
        for finding in report.findings:
            groups.setdefault((finding.rule, repr(finding.where)), []).append((rank, finding))
        for rule_id in report.checks_run:
            if rule_id not in merged.checks_run:
                merged.checks_run.append(rule_id)
    for members in groups.values():
        ranks = [rank for rank, _ in members]
        finding = min((f for _, f in members), key=lambda f: f.step if f.step is not None else -1)
        if world > 1:
            finding.message = f"{ranks_phrase(ranks, world).capitalize()}: {finding.message}"
            finding.evidence = {**finding.evidence, "ranks": ranks}
        merged.findings.append(finding)
    known = set(merged.checks_run)
    for rank, report in sorted(reports.items()):
        for skipped in report.checks_skipped:
            if skipped.rule not in known:
                merged.checks_skipped.append(skipped)
                known.add(skipped.rule)
    return merged


def distributed_measurements(records: list[dict[str, Any]], world: int) -> Measurements:
    """What the distributed rules judge, compared across the ranks' records."""
    m = Measurements(world_size=world)
    if world < 2:
        for name in ("replica_checksums", "ddp_wrappers", "rank_inputs"):
            m.mark_unavailable(name, "the run had a single process (no torch.distributed world of 2 or more)")
        return m
    wrappers = [{"rank": r["rank"], "wrappers": r.get("ddp") or []} for r in records]
    if any(w["wrappers"] for w in wrappers):
        m["ddp_wrappers"] = wrappers
    else:
        m.mark_unavailable("ddp_wrappers", "no DistributedDataParallel wrapper was created while nndoctor watched")
    sharding = sorted({name for r in records for name in r.get("sharding_wrappers") or []})
    checksums = [{"rank": r["rank"], "optimizer_steps": r.get("optimizer_steps"),
                  "optimizers": [c for c in r.get("checksums") or [] if not c.get("sharded")]} for r in records]
    if sharding or any(c.get("sharded") for r in records for c in r.get("checksums") or []):
        wrappers = ", ".join(sharding) or "DTensor"
        m.mark_unavailable("replica_checksums", f"the parameters are sharded across ranks ({wrappers}): each rank "
                                                "holds a different part by design")
    elif len(records) < 2:
        m.mark_unavailable("replica_checksums", "only one rank's record reached the merge")
    elif all(c["optimizers"] for c in checksums):
        m["replica_checksums"] = checksums
    else:
        m.mark_unavailable("replica_checksums", "no optimizer step was seen on every rank")
    inputs = [{"rank": r["rank"], "fingerprints": (r.get("ddp") or [{}])[0].get("input_fingerprints") or [],
               "sampler_passes": r.get("sampler_passes") or []} for r in records]
    if len(records) >= 2 and (any(i["fingerprints"] for i in inputs) or any(i["sampler_passes"] for i in inputs)):
        m["rank_inputs"] = inputs
    else:
        m.mark_unavailable("rank_inputs", "no training batch through a DistributedDataParallel wrapper was "
                                          "seen on two ranks")
    return m


def _distributed_rules(merged: Report, records: list[dict[str, Any]], world: int, select: Any, ignore: Any,
                       thresholds: dict[str, dict[str, Any]] | None) -> None:
    rules = [r for r in load_rules().select(areas=(AREA,), select=select, ignore=ignore) if r.area == AREA]
    if world < 2:
        return  # a one-process run: the distributed checks do not apply (nothing to list as skipped)
    judged = run_rules(distributed_measurements(records, world), rules, thresholds=thresholds, command="run")
    merged.extend(judged)


def print_merged(report: Report, *, quiet: bool, verbose: bool, json_path: str | None) -> None:
    from nndoctor.report.terminal import nothing_judged_line, quiet_lines, render_report, stderr_console

    if json_path is not None:
        try:
            report.to_json(json_path)
        except OSError as error:
            print(f"nndoctor: error: cannot write {json_path}: {error.strerror or error}", file=sys.stderr)
    missing = report.context.get("distributed", {}).get("ranks_missing")  # ranks that left no record
    if missing:
        print(f"nndoctor: no record from rank(s) {', '.join(map(str, missing))}: the report covers the others.",
              file=sys.stderr)
    nothing_judged = nothing_judged_line(report, cannot_judge_exit=None)
    if nothing_judged:
        print(nothing_judged, file=sys.stderr)
    distributed = report.context.get("distributed", {})
    if distributed.get("world_size", 1) > 1 and not quiet:
        ranks = distributed.get("ranks_reported", [])
        print(f"nndoctor: one report for {len(ranks)} of {distributed['world_size']} ranks"
              f"{' (' + distributed['backend'] + ')' if distributed.get('backend') else ''}; each finding says "
              "which ranks it fired on.", file=sys.stderr)
    if quiet:
        for line in quiet_lines(report):
            print(line, file=sys.stderr)
        return
    render_report(report, stderr_console(), verbose=verbose)
