"""Where two runs came from: the script, its arguments and the code's git commit; the
seeds and determinism switches; the library versions."""
from __future__ import annotations

from typing import Any

from nndoctor.records.store import RunRow

VERSION_KEYS = ("python", "torch", "cuda", "cudnn", "device", "jax", "flax", "optax", "lightning", "transformers",
                "numpy", "nndoctor")


def code_lines(a: RunRow, b: RunRow) -> list[str]:
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


def seed_lines(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
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


def version_lines(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    lines = [f"B ran {key} {b.get(key)} (A: {a.get(key)})" for key in VERSION_KEYS if a.get(key) != b.get(key)]
    if not lines:
        framework = "jax" if a.get("framework") == "jax" else "torch"
        same = ", ".join(f"{key} {a[key]}" for key in ("python", framework, "device") if a.get(key))
        lines.append(f"the same versions ({same})" if same else "the same versions")
    return lines
