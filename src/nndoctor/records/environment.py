"""What a run ran on and from: the code's git commit (and a hash of uncommitted changes),
the Python, torch, CUDA and cuDNN versions, and the device.

Collected off the main thread (the recorder's writer) where it costs time: `git` is a
subprocess, and torch is never imported just to read its version — a version read from
the installed package's metadata costs nothing, the CUDA/cuDNN details are read only if
the command imported torch itself.
"""
from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

GIT_TIMEOUT_SECONDS = 5.0
MAX_UNTRACKED_FILES = 200  # untracked Python files hashed into the diff (a vendored tree is not code under edit)
FRAMEWORKS = ("torch", "jax", "flax", "optax", "lightning", "transformers", "numpy")


def _git(args: list[str], cwd: Path) -> bytes | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.SubprocessError):
        return None  # no git here, or it hung
    return done.stdout if done.returncode == 0 else None


def git_state(cwd: Path) -> dict[str, Any]:
    """{commit, dirty, diff_hash}: the commit checked out, whether the code differs from it,
    and a hash of those differences (two runs with equal hashes ran the same uncommitted
    code). The code is the tracked files plus untracked Python files: other untracked files
    (data, checkpoints, logs, these records) change from run to run without changing the
    code. Nones when `cwd` is not in a git work tree."""
    commit = _git(["rev-parse", "HEAD"], cwd)
    if commit is None:
        return {"commit": None, "dirty": None, "diff_hash": None}
    status = (_git(["status", "--porcelain", "--untracked-files=all"], cwd) or b"").decode("utf-8", "replace")
    lines = status.splitlines()
    tracked = [line for line in lines if not line.startswith("?? ")]
    new_code = sorted(line[3:].strip().strip('"') for line in lines
                      if line.startswith("?? ") and line.rstrip().endswith(".py"))[:MAX_UNTRACKED_FILES]
    dirty = bool(tracked or new_code)
    diff_hash = None
    if dirty:
        digest = hashlib.sha256(_git(["diff", "HEAD", "--no-color", "--no-ext-diff"], cwd) or b"")
        for name in new_code:
            digest.update(name.encode())
            digest.update(_file_digest(cwd / name))
        diff_hash = digest.hexdigest()[:16]
    return {"commit": commit.decode().strip(), "dirty": dirty, "diff_hash": diff_hash}


def _file_digest(path: Path) -> bytes:
    if not path.is_file():
        return b""
    try:
        return file_sha256(path).encode()
    except OSError:
        return b""


def file_sha256(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_fingerprints(files: dict[str, Any]) -> dict[str, Any]:
    """{split: {path, bytes, sha256}} of each data file a command read (the content hash of
    each split: equal hashes mean the same data, byte for byte)."""
    prints: dict[str, Any] = {}
    for split, path in files.items():
        if path is None:
            continue
        path = Path(path)
        try:
            prints[split] = {"path": str(path), "bytes": path.stat().st_size, "sha256": file_sha256(path)[:16]}
        except OSError as error:
            prints[split] = {"path": str(path), "error": error.strerror or str(error)}
    return prints


def versions() -> dict[str, Any]:
    """Python and the installed framework versions (from package metadata: no imports)."""
    found: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    try:
        found["nndoctor"] = metadata.version("nndoctor")
    except metadata.PackageNotFoundError:
        from nndoctor import __version__

        found["nndoctor"] = __version__
    for name in FRAMEWORKS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def torch_details() -> dict[str, Any]:
    """CUDA, cuDNN and the device, when the command has imported torch (else nothing)."""
    torch = sys.modules.get("torch")
    if torch is None or not hasattr(torch, "cuda"):
        return {}
    details: dict[str, Any] = {"torch": str(torch.__version__), "cuda": getattr(torch.version, "cuda", None)}
    try:
        cudnn = torch.backends.cudnn
        details["cudnn"] = cudnn.version() if cudnn.is_available() else None
        if torch.cuda.is_available():
            details["device"] = f"cuda ({torch.cuda.get_device_name(0)}, {torch.cuda.device_count()} visible)"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            details["device"] = "mps"
        else:
            details["device"] = "cpu"
    except Exception as error:  # noqa: BLE001 — a broken driver must not lose the record
        details["device_error"] = f"{type(error).__name__}: {error}"[:200]
    return details


def jax_details() -> dict[str, Any]:
    """The JAX version and its device, for a command that ran JAX (initialises no backend
    that the command did not: call it only after a JAX run)."""
    jax = sys.modules.get("jax")
    if jax is None:
        return {}
    details: dict[str, Any] = {"jax": str(jax.__version__)}
    try:
        devices = jax.devices()
        details["device"] = f"{devices[0].platform} ({len(devices)} visible)" if devices else None
    except Exception as error:  # noqa: BLE001 — a broken backend must not lose the record
        details["device_error"] = f"{type(error).__name__}: {error}"[:200]
    return details
