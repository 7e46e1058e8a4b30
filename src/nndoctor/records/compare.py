"""Two recorded runs side by side, said in sentences: what changed between them
(hyperparameters, code, data, seeds, versions) and how their loss curves and findings
differ — "B diverged at step 40; B's lr is 10× A's; the data is identical".

Everything here reads the plain dictionaries of two `RunRow`s; a part missing from either
run (no series, no git, an older record) is said to be unknown, never guessed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nndoctor.core.numbers import num
from nndoctor.records.store import RunRow

# A ratio at least this far from 1 is said as "N×": smaller changes read better as values.
RATIO_WORTH_SAYING = 1.5
# Final losses within this factor of each other are "similar" (noise of a short run).
SIMILAR_LOSS_FACTOR = 1.2
DIVERGENCE_RULES = ("non-finite", "loss-diverging", "exploding-gradients", "activation-blowup")
# Settings listed when they differ but never named in the headline: how the update is
# computed rather than its size, group sizes, and initial_lr (a scheduler's copy of lr).
SECONDARY_SETTINGS = {"foreach", "fused", "capturable", "differentiable", "maximize", "params", "values",
                      "initial_lr", "base_lrs"}
VERSION_KEYS = ("python", "torch", "cuda", "cudnn", "device", "jax", "flax", "optax", "lightning", "transformers",
                "numpy", "nndoctor")
HEADLINE_CHANGES = 3


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
    curves, divergence = _curves(a, b)
    changes = _hyperparameters(a.get("hyperparameters", {}), b.get("hyperparameters", {}))
    data = _data(a.get("data_fingerprints", {}), b.get("data_fingerprints", {}))
    code = _code(a, b)
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
        ("Findings", _findings(a, b)),
        ("Data", data),
        ("Code", code),
        ("Seeds and determinism", _seeds(a.get("seeds", {}), b.get("seeds", {}))),
        ("Versions", _versions(a.get("environment", {}), b.get("environment", {}))),
    ]
    return comparison


# ---------------------------------------------------------------------------- runs
def _describe(run: RunRow, label: str) -> str:
    from datetime import datetime

    started = datetime.fromtimestamp(run.get("started_at", 0)).strftime("%Y-%m-%d %H:%M")
    steps = f", {run['steps']:,} steps" if run.get("steps") is not None else ""
    exit_code = f", exit code {run['exit_code']}" if run.get("exit_code") is not None else ""
    return (f"{label} = run {run['id'][:8]}: {run.get('command', '?')} {run.get('script', '')} started {started}, "
            f"{run.get('status', '?')}{exit_code}{steps}")


# ---------------------------------------------------------------------------- hyperparameters
def flatten_hyperparameters(hp: dict[str, Any]) -> dict[str, Any]:
    """{"lr": 0.01, "optimizer": "SGD", …}: each setting under the name a user says."""
    flat: dict[str, Any] = {}
    optimizers = hp.get("optimizers") or []
    for index, optimizer in enumerate(optimizers):
        prefix = "" if index == 0 else f"optimizer {index + 1}'s "
        flat[f"{prefix}optimizer" if index == 0 else f"optimizer {index + 1}"] = optimizer.get("class")
        groups = optimizer.get("param_groups") or []
        for group_index, group in enumerate(groups):
            where = "" if len(groups) == 1 else f" of param group {group_index}"
            for key, value in group.items():
                flat[f"{prefix}{key}{where}"] = value
    for index, scheduler in enumerate(hp.get("schedulers") or []):
        name = "scheduler" if index == 0 else f"scheduler {index + 1}"
        flat[name] = scheduler.get("class")
        for key, value in (scheduler.get("settings") or {}).items():
            flat[f"{name}'s {key}"] = value
    for index, model in enumerate(hp.get("models") or []):
        name = "model" if index == 0 else f"model {model.get('label', index + 1)}"
        flat[name] = model.get("class")
        flat[f"{name}'s parameter count"] = model.get("parameters")
        flat[f"{name}'s dtype"] = ", ".join(model.get("dtypes") or []) or None
    for key in ("batch_size", "backwards_per_step"):
        if hp.get(key) is not None:
            flat[key.replace("_", " ")] = hp[key]
    for entry in hp.get("autocast") or []:
        flat[f"autocast on {entry.get('device')}"] = entry.get("dtype")
    for entry in hp.get("gradient_clipping") or []:
        limit = "max_norm" if "max_norm" in entry else "clip_value"
        flat[f"gradient clipping ({entry.get('function', '?').rsplit('.', 1)[-1]}) {limit}"] = entry.get(limit)
    return flat


def _hyperparameters(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, bool]]:
    """(sentence, worth a headline) for every setting that differs."""
    flat_a, flat_b = flatten_hyperparameters(a or {}), flatten_hyperparameters(b or {})
    if not flat_a or not flat_b:
        return []
    sentences = []
    for key in dict.fromkeys([*flat_a, *flat_b]):
        value_a, value_b = flat_a.get(key), flat_b.get(key)
        if value_a == value_b:
            continue
        secondary = key.split(" of param group")[0].rsplit("'s ", 1)[-1] in SECONDARY_SETTINGS
        if key not in flat_a:
            sentences.append((f"B has {key} {_value(value_b)}; A has none", not secondary))
        elif key not in flat_b:
            sentences.append((f"A has {key} {_value(value_a)}; B has none", not secondary))
        else:
            sentences.append((_change(key, value_a, value_b), not secondary))
    return sentences


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _change(key: str, value_a: Any, value_b: Any) -> str:
    number_a, number_b = _number(value_a), _number(value_b)
    if number_a and number_b and number_a * number_b > 0:
        ratio = number_b / number_a
        if ratio >= RATIO_WORTH_SAYING:
            return f"B's {key} is {num(ratio)}× A's ({num(number_b)} vs {num(number_a)})"
        if ratio <= 1 / RATIO_WORTH_SAYING:
            return f"B's {key} is {num(1 / ratio)}× smaller than A's ({num(number_b)} vs {num(number_a)})"
    return f"B's {key} is {_value(value_b)} (A: {_value(value_a)})"


def _value(value: Any) -> str:
    if isinstance(value, float):
        return num(value)
    if isinstance(value, list):
        return "(" + ", ".join(_value(v) for v in value) + ")"
    return str(value)


# ---------------------------------------------------------------------------- loss curves
def series_points(series: dict[str, Any] | None) -> list[tuple[int, float]]:
    """The kept points of a bounded series, raw where kept raw, bucket means between."""
    if not isinstance(series, dict):
        return []
    points = {int(s): float(v) for s, v in series.get("head", [])}
    raw_end = max(points) if points else -1
    recent = [(int(s), float(v)) for s, v in series.get("recent", [])]
    recent_start = recent[0][0] if recent else math.inf
    for bucket in series.get("history", []):
        first, last, mean = int(bucket[0]), int(bucket[1]), float(bucket[3])
        if first > raw_end and last < recent_start:
            points[(first + last) // 2] = mean
    points.update(recent)
    return sorted(points.items())


def _level(points: list[tuple[int, float]], start: bool) -> float | None:
    """The median of the first (or last) tenth of the kept points, 5 to 50 of them: one
    noisy batch must not decide whether a curve fell."""
    width = max(5, min(50, len(points) // 10))
    chosen = sorted(v for _, v in (points[:width] if start else points[-width:]))
    if not chosen:
        return None
    middle = len(chosen) // 2
    return chosen[middle] if len(chosen) % 2 else (chosen[middle - 1] + chosen[middle]) / 2


def _series(run: RunRow, name: str) -> dict[str, Any] | None:
    report = run.report or {}
    series = (report.get("context") or {}).get("series") or {}
    value = series.get(name) if isinstance(series, dict) else None
    return value if isinstance(value, dict) else None


def _first_finding(run: RunRow, rules: tuple[str, ...]) -> dict[str, Any] | None:
    found = [f for f in (run.report or {}).get("findings", []) if f.get("rule") in rules]
    found.sort(key=lambda f: (f.get("step") is None, f.get("step") or 0))
    return found[0] if found else None


def _curves(a: RunRow, b: RunRow) -> tuple[list[str], list[str]]:
    """(lines about the loss curves, the divergence sentences for the headline)."""
    lines: list[str] = []
    headline: list[str] = []
    for this, other, label, other_label in ((b, a, "B", "A"), (a, b, "A", "B")):
        broke = _first_finding(this, DIVERGENCE_RULES)
        if broke is None:
            continue
        same = _first_finding(other, (broke["rule"],))
        at = f" at step {broke['step']}" if broke.get("step") is not None else ""
        sentence = (f"{label} went non-finite{at}" if broke["rule"] == "non-finite"
                    else f"{label} diverged{at} ({broke['rule']})")
        if same is None:
            sentence += f"; {other_label} did not"
            headline.append(sentence)
        lines.append(sentence)
    for name, title in (("loss", "training loss"), ("val_loss", "validation loss")):
        points_a, points_b = series_points(_series(a, name)), series_points(_series(b, name))
        if not points_a or not points_b:
            missing = " and ".join(label for label, p in (("A", points_a), ("B", points_b)) if not p)
            if name == "loss":
                lines.append(f"no {title} curve was recorded for {missing}: the curves cannot be compared")
            continue
        lines.append(_curve_sentence(title, points_a, points_b))
    return lines, headline


def _curve_sentence(title: str, points_a: list[tuple[int, float]], points_b: list[tuple[int, float]]) -> str:
    start_a, end_a = _level(points_a, True), _level(points_a, False)
    start_b, end_b = _level(points_b, True), _level(points_b, False)
    trend_a = _trend(start_a, end_a)
    trend_b = _trend(start_b, end_b)
    text = (f"A's {title} {trend_a} {num(start_a)} → {num(end_a)} over {points_a[-1][0] + 1:,} steps; "
            f"B's {trend_b} {num(start_b)} → {num(end_b)} over {points_b[-1][0] + 1:,} steps")
    if end_a and end_b and end_a > 0 and end_b > 0:
        ratio = end_b / end_a
        if ratio >= SIMILAR_LOSS_FACTOR:
            text += f": B ends {num(ratio)}× higher"
        elif ratio <= 1 / SIMILAR_LOSS_FACTOR:
            text += f": B ends {num(1 / ratio)}× lower"
        else:
            text += ": they end at about the same level"
    return text


def _trend(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return "went"
    if end < start / SIMILAR_LOSS_FACTOR:
        return "fell"
    if end > start * SIMILAR_LOSS_FACTOR:
        return "rose"
    return "stayed flat"


# ---------------------------------------------------------------------------- findings
def _findings(a: RunRow, b: RunRow) -> list[str]:
    def by_rule(run: RunRow) -> dict[str, dict[str, Any]]:
        rules: dict[str, dict[str, Any]] = {}
        for finding in (run.report or {}).get("findings", []):
            rules.setdefault(finding["rule"], finding)
        return rules

    rules_a, rules_b = by_rule(a), by_rule(b)
    if a.report is None or b.report is None:
        return ["the findings of " + " and ".join(l for l, r in (("A", a), ("B", b)) if r.report is None)
                + " were not recorded (the run did not finish)"]

    def listed(rules: dict[str, dict[str, Any]], names: list[str]) -> str:
        return ", ".join(f"{name} ({rules[name]['severity']}"
                         + (f", step {rules[name]['step']})" if rules[name].get("step") is not None else ")")
                         for name in names)

    only_a = [r for r in rules_a if r not in rules_b]
    only_b = [r for r in rules_b if r not in rules_a]
    both = [r for r in rules_a if r in rules_b]
    lines = []
    if only_b:
        lines.append(f"only B: {listed(rules_b, only_b)}")
    if only_a:
        lines.append(f"only A: {listed(rules_a, only_a)}")
    if both:
        lines.append(f"both: {', '.join(both)}")
    if not rules_a and not rules_b:
        lines.append("neither run has a finding")
    return lines


# ---------------------------------------------------------------------------- data, code, seeds, versions
def _data(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    if not a or not b:
        return ["the data cannot be compared: " + " and ".join(l for l, d in (("A", a), ("B", b)) if not d)
                + " recorded no data fingerprint"]
    lines, same = [], []
    for key in dict.fromkeys([*a, *b]):
        print_a, print_b = _digests(a.get(key)), _digests(b.get(key))
        if print_a is None or print_b is None:
            lines.append(f"{key} was fingerprinted only in {'A' if print_b is None else 'B'}")
        elif print_a == print_b:
            same.append(key)
        else:
            lines.append(f"the {key.replace('_', ' ')} differs ({_shape_text(a.get(key))} vs {_shape_text(b.get(key))})")
    if not lines:
        return [f"the data is identical ({', '.join(k.replace('_', ' ') for k in same)}: same content hash)"]
    if same:
        lines.append(f"identical: {', '.join(k.replace('_', ' ') for k in same)}")
    return ["the data differs: " + lines[0], *lines[1:]]


def _digests(fingerprint: Any) -> Any:
    """The hashes in a fingerprint (a split's file, or a batch's input tensors)."""
    if not isinstance(fingerprint, dict):
        return None
    if "sha256" in fingerprint:
        return fingerprint["sha256"]
    inputs = fingerprint.get("inputs")
    if isinstance(inputs, dict):
        return tuple(sorted((name, t.get("sha256"), tuple(t.get("shape") or [])) for name, t in inputs.items()))
    return None


def _shape_text(fingerprint: Any) -> str:
    if not isinstance(fingerprint, dict):
        return "?"
    inputs = fingerprint.get("inputs")
    if isinstance(inputs, dict) and inputs:
        first = next(iter(inputs.values()))
        return f"{'×'.join(str(d) for d in first.get('shape', []))} {first.get('dtype', '')}, hash {first.get('sha256')}"
    return f"{fingerprint.get('bytes', '?'):,} bytes, hash {fingerprint.get('sha256')}" \
        if isinstance(fingerprint.get("bytes"), int) else f"hash {fingerprint.get('sha256')}"


def _code(a: RunRow, b: RunRow) -> list[str]:
    lines = []
    script_a, script_b = a.get("script"), b.get("script")
    if script_a != script_b:
        lines.append(f"B ran {script_b} (A: {script_a})")
    args_a = ((a.report or {}).get("context") or {}).get("script_args")
    args_b = ((b.report or {}).get("context") or {}).get("script_args")
    if args_a is not None and args_b is not None and args_a != args_b:
        lines.append(f"the script's arguments differ: A {' '.join(args_a) or '(none)'}; B {' '.join(args_b) or '(none)'}")
    commit_a, commit_b = a.get("git_commit"), b.get("git_commit")
    if commit_a is None or commit_b is None:
        missing = " and ".join(l for l, c in (("A", commit_a), ("B", commit_b)) if c is None)
        lines.insert(0, f"the code version is unknown for {missing} (not in a git work tree)")
        return lines
    if commit_a != commit_b:
        lines.insert(0, f"the code changed: commit {commit_a[:8]} → {commit_b[:8]}")
    elif a.get("git_diff_hash") != b.get("git_diff_hash"):
        lines.insert(0, f"same commit {commit_a[:8]}, but the uncommitted changes differ")
    else:
        dirty = "the same uncommitted changes" if a.get("git_dirty") else "no uncommitted changes"
        lines.insert(0, f"the same code (commit {commit_a[:8]}, {dirty})")
    return lines


def _seeds(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    if not a or not b:
        return ["seeds were not observed in " + " and ".join(l for l, s in (("A", a), ("B", b)) if not s)]

    def seeds(record: dict[str, Any]) -> list[str]:
        return [f"{s['call']}({s['seed']})" for s in record.get("seeds", [])]

    lines = []
    seeds_a, seeds_b = seeds(a), seeds(b)
    if seeds_a == seeds_b:
        lines.append(f"the same seeds: {', '.join(seeds_a)}" if seeds_a else "neither run set a seed")
    else:
        lines.append(f"the seeds differ: A {', '.join(seeds_a) or 'none'}; B {', '.join(seeds_b) or 'none'}")
    for key in ("deterministic_algorithms", "cudnn_deterministic", "cudnn_benchmark"):
        if a.get(key) != b.get(key):
            lines.append(f"{key.replace('_', ' ')}: A {a.get(key)}, B {b.get(key)}")
    return lines


def _versions(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    lines = [f"B ran {key} {b.get(key)} (A: {a.get(key)})" for key in VERSION_KEYS if a.get(key) != b.get(key)]
    if not lines:
        same = ", ".join(f"{key} {a[key]}" for key in ("python", "torch", "device") if a.get(key))
        lines.append(f"the same versions ({same})" if same else "the same versions")
    return lines
