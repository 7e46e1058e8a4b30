"""The data of two runs: the content hash of each split an audit read, the first batch's
fingerprint in a run; "the data is identical" only when every fingerprint both runs have
matches."""
from __future__ import annotations

from typing import Any


def data_lines(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
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
