"""The facts of a watched run that its record needs and no rule judges: hyperparameters,
seeds and determinism switches, the first batch's fingerprint. Observed, never decided.

* every optimizer, at its first `step()`: its class and each param group's settings (lr,
  betas, weight decay, … as set then) with the group's size;
* every LR scheduler when it is constructed: its class and settings;
* the first training batch, at the first update: shape, dtype and a content hash of each
  input tensor of the model (the batch size is its first dimension);
* seeds (`torch.manual_seed`, `torch.cuda.manual_seed[_all]`, `random.seed`,
  `numpy.random.seed`/`default_rng`), `torch.use_deterministic_algorithms` calls, and the
  cuDNN flags at the end;
* gradient clipping (`clip_grad_norm_`/`clip_grad_value_`: the limit and how often) and
  autocast (device, dtype, how often entered).

Each wrapper adds a dictionary lookup or a counter to the call it wraps; the hash of the
first batch is taken once. `describe(report)` puts the facts in the report's context:
`hyperparameters`, `reproducibility` and `data_fingerprints`.
"""
from __future__ import annotations

import functools
import hashlib
import os
import random
from typing import Any

import numpy as np
import torch
from torch.nn.modules import module as module_hooks
from torch.optim import lr_scheduler
from torch.optim import optimizer as optimizer_hooks

from nndoctor.live.context_series import attach_series
from nndoctor.torch.watch.optimizer_groups import optimizer_kind

MAX_EVENTS = 20  # seed calls and schedulers kept (a script seeding per batch is not unusual)
HASHED_BYTES = 64 * 1024 * 1024  # a first batch larger than this is hashed over its first 64 MiB
SCHEDULER_SKIPPED = {"optimizer", "last_epoch", "verbose", "_step_count", "_last_lr", "_get_lr_called_within_step"}


def plain(value: Any) -> Any:
    """A setting as plain JSON: numbers, strings, lists; a tensor as its value (or shape)."""
    if isinstance(value, torch.Tensor):
        return float(value.detach().reshape(-1)[0]) if value.numel() == 1 else f"tensor{list(value.shape)}"
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value[:16]]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in list(value.items())[:32]}
    if callable(value):
        return getattr(value, "__qualname__", type(value).__name__)
    return repr(value)[:120]


def tensor_fingerprint(tensor: torch.Tensor) -> dict[str, Any]:
    data = tensor.detach().cpu().contiguous().reshape(-1)
    raw = data.view(torch.uint8) if data.numel() else data
    digest = hashlib.sha256(raw[:HASHED_BYTES].numpy().tobytes()).hexdigest()[:16]
    record = {"shape": list(tensor.shape), "dtype": str(tensor.dtype).replace("torch.", ""), "sha256": digest}
    if raw.numel() > HASHED_BYTES:
        record["hashed_bytes"] = HASHED_BYTES
    return record


class RunFacts:
    def __init__(self, session: Any = None) -> None:
        self.session = session
        self.optimizers: list[dict[str, Any]] = []
        self.schedulers: list[dict[str, Any]] = []
        self.seeds: list[dict[str, Any]] = []
        self.deterministic_calls: list[dict[str, Any]] = []
        self.autocast: dict[str, dict[str, Any]] = {}
        self.first_batch: dict[str, Any] | None = None
        self.faults: list[str] = []
        self._seen_optimizers: set[int] = set()
        self._seen_schedulers: set[int] = set()
        self._patched: list[tuple[Any, str, Any]] = []
        self._handle: Any = None
        # Until the first update: the latest positional inputs of every module call (the
        # session knows which module is the model only after its first backward).
        self._inputs: dict[int, tuple[Any, ...]] = {}
        self._forward_handle: Any = None
        self._seeding = False

    # ---------------------------------------------------------------- install
    def install(self) -> RunFacts:
        self._handle = optimizer_hooks.register_optimizer_step_pre_hook(self._on_step)
        self._forward_handle = module_hooks.register_module_forward_pre_hook(self._on_forward)
        for owner, name in ((torch, "manual_seed"), (torch.random, "manual_seed"), (torch.cuda, "manual_seed"),
                            (torch.cuda, "manual_seed_all"), (random, "seed"), (np.random, "seed"),
                            (np.random, "default_rng")):
            self._patch(owner, name, self._seed_wrapper(f"{owner.__name__}.{name}"))
        self._patch(torch, "use_deterministic_algorithms", self._deterministic_wrapper)
        self._patch(torch.amp.autocast_mode.autocast, "__enter__", self._autocast_wrapper)
        self._patch(lr_scheduler.LRScheduler, "__init__", self._scheduler_wrapper)
        self._patch(lr_scheduler.ReduceLROnPlateau, "__init__", self._scheduler_wrapper)
        return self

    def uninstall(self) -> None:
        for handle in (self._handle, self._forward_handle):
            if handle is not None:
                handle.remove()
        self._handle = self._forward_handle = None
        self._inputs.clear()
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)
        self._patched.clear()

    def _patch(self, owner: Any, name: str, make_wrapper: Any) -> None:
        original = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if original is None:
            return
        wrapped = functools.wraps(original)(make_wrapper(original))
        self._patched.append((owner, name, original))
        setattr(owner, name, wrapped)

    def _step(self) -> int | None:
        return getattr(self.session, "step", None)

    # ---------------------------------------------------------------- wrappers
    def _seed_wrapper(self, label: str) -> Any:
        def make(original: Any) -> Any:
            def seeded(*args: Any, **kwargs: Any) -> Any:
                if self._seeding:  # torch.manual_seed seeds CUDA itself: one call, one record
                    return original(*args, **kwargs)
                if len(self.seeds) < MAX_EVENTS:
                    seed = args[0] if args else kwargs.get("seed", kwargs.get("a"))
                    self.seeds.append({"call": label, "seed": plain(seed), "step": self._step()})
                self._seeding = True
                try:
                    return original(*args, **kwargs)
                finally:
                    self._seeding = False
            return seeded
        return make

    def _deterministic_wrapper(self, original: Any) -> Any:
        def deterministic(mode: Any, *args: Any, **kwargs: Any) -> Any:
            if len(self.deterministic_calls) < MAX_EVENTS:
                self.deterministic_calls.append({"mode": bool(mode), "warn_only": bool(kwargs.get("warn_only", False)),
                                                 "step": self._step()})
            return original(mode, *args, **kwargs)
        return deterministic

    def _autocast_wrapper(self, original: Any) -> Any:
        def enter(autocast: Any) -> Any:
            key = f"{getattr(autocast, 'device', '?')}:{getattr(autocast, 'fast_dtype', '?')}"
            seen = self.autocast.get(key)
            if seen is None:
                seen = self.autocast[key] = {
                    "device": str(getattr(autocast, "device", None)),
                    "dtype": str(getattr(autocast, "fast_dtype", None)).replace("torch.", ""),
                    "enabled": bool(getattr(autocast, "_enabled", True)), "entered": 0}
            seen["entered"] += 1
            return original(autocast)
        return enter

    def _scheduler_wrapper(self, original: Any) -> Any:
        def init(scheduler: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(scheduler, *args, **kwargs)
            if id(scheduler) not in self._seen_schedulers and len(self.schedulers) < MAX_EVENTS:
                self._seen_schedulers.add(id(scheduler))
                try:
                    settings = {k: plain(v) for k, v in vars(scheduler).items()
                                if k not in SCHEDULER_SKIPPED and not k.startswith("_")}
                    self.schedulers.append({"class": type(scheduler).__name__, "settings": settings})
                except Exception as error:  # noqa: BLE001 — the script's scheduler must work regardless
                    self.faults.append(f"scheduler settings: {error}")
            return result
        return init

    # ---------------------------------------------------------------- first steps
    def _on_forward(self, module: Any, args: tuple[Any, ...]) -> None:
        if torch.is_grad_enabled():
            self._inputs[id(module)] = args

    def _on_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if id(optimizer) in self._seen_optimizers:
            return
        self._seen_optimizers.add(id(optimizer))
        try:
            self.optimizers.append(self._describe_optimizer(optimizer))
            if self.first_batch is None:
                self.first_batch = self._first_batch()
        except Exception as error:  # noqa: BLE001 — the update goes on
            self.faults.append(f"optimizer settings: {type(error).__name__}: {error}")
        finally:
            if self._forward_handle is not None:
                self._forward_handle.remove()
                self._forward_handle = None
                self._inputs.clear()

    def _describe_optimizer(self, optimizer: Any) -> dict[str, Any]:
        groups = []
        for group in optimizer.param_groups:
            settings = {k: plain(v) for k, v in group.items() if k != "params"}
            params = list(group["params"])
            settings["params"] = len(params)
            settings["values"] = int(sum(p.numel() for p in params))
            groups.append(settings)
        return {"class": optimizer_kind(optimizer), "first_step": self._step(), "param_groups": groups}

    def _first_batch(self) -> dict[str, Any] | None:
        for watched in getattr(self.session, "models", {}).values():
            args = self._inputs.get(id(watched.module))
            if args is None:
                continue
            tensors = {f"argument {i}": tensor_fingerprint(v) for i, v in enumerate(args) if isinstance(v, torch.Tensor)}
            if tensors:
                first = next(iter(tensors.values()))
                return {"model": watched.label, "inputs": tensors,
                        "batch_size": first["shape"][0] if first["shape"] else None}
        return None

    # ---------------------------------------------------------------- results
    def describe(self, report: Any, *, series: bool = True) -> None:
        """The facts into `report.context` (plain JSON, also in `--json`); a fault here is
        noted in the context, never raised into the finished run's report. `series=False`:
        not the run's curves (a tune command's report is about its measurement)."""
        try:
            self._describe(report, series)
        except Exception as error:  # noqa: BLE001
            self.faults.append(f"describing the run: {type(error).__name__}: {error}")
            report.context["run_facts_faults"] = self.faults[:5]

    def _describe(self, report: Any, series: bool) -> None:
        session = self.session
        models = []
        for watched in getattr(session, "models", {}).values():
            params = list(watched.tracker.params)
            models.append({
                "label": watched.label, "class": type(watched.module).__name__,
                "parameters": int(sum(p.numel() for p in params)),
                "trainable": int(sum(p.numel() for p in params if p.requires_grad)),
                "dtypes": sorted({str(p.dtype).replace("torch.", "") for p in params}),
                "devices": sorted({str(p.device) for p in params}),
            })
        iterations = getattr(session, "iterations", None)
        accumulation = iterations.accumulation() if iterations is not None and iterations.steps else None
        report.context["hyperparameters"] = {
            "optimizers": self.optimizers,
            "schedulers": self.schedulers,
            "models": models,
            "batch_size": (self.first_batch or {}).get("batch_size"),
            "autocast": list(self.autocast.values()),
            # The session's clip wrappers (grad-clipped-to-nothing) also note each clip function's settings.
            "gradient_clipping": list(getattr(getattr(session, "clipping", None), "settings", {}).values()),
            "backwards_per_step": accumulation["backwards_per_step"] if accumulation else None,
        }
        cudnn = torch.backends.cudnn
        report.context["reproducibility"] = {
            "seeds": self.seeds,
            "deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
            "deterministic_algorithm_calls": self.deterministic_calls,
            "cudnn_deterministic": bool(cudnn.deterministic), "cudnn_benchmark": bool(cudnn.benchmark),
            "environment": {name: os.environ[name] for name in ("PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG")
                            if name in os.environ},
        }
        if self.first_batch is not None:
            report.context.setdefault("data_fingerprints", {})["first_batch"] = self.first_batch
        if self.faults:
            report.context["run_facts_faults"] = self.faults[:5]
        if series and session is not None and "series" not in report.context:
            attach_series(report, session)
