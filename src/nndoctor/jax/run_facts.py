"""The facts of a JAX run that its record needs and no rule judges (the JAX side of
nndoctor.torch.run_facts): hyperparameters, seeds, the first batch's fingerprint.

* every optax optimizer built with a constructor `nndoctor run` wraps (adam, adamw, sgd,
  chain, …; see nndoctor.jax.run): its name and every setting, defaults included (read
  from the constructor's signature); a learning-rate schedule as the call that made it
  (`warmup_cosine_decay_schedule(init_value=0, peak_value=0.001, …)`). A transformation
  passed to `optax.chain` is listed inside the chain, not again on its own;
* gradient clipping built with optax (clip_by_global_norm, clip, clip_by_block_rms,
  adaptive_grad_clip): its limit;
* seeds: `jax.random.key` / `PRNGKey`, `flax.nnx.Rngs(…)`, `random.seed`,
  `numpy.random.seed` / `default_rng`, with the concrete seed (a seed computed inside jit
  is noted as traced); `jax_enable_x64`, the default PRNG implementation, XLA_FLAGS;
* the model: the class of a Flax NNX module differentiated, or of a Linen module `init`ed
  at top level; its parameter count (from the optimizer's view of the gradients);
* the first batch of the loss function nndoctor watches (jax.grad / value_and_grad): the
  arrays it closes over or takes besides the differentiated argument — bare arrays or
  plain tuples/lists/dicts of them (a TrainState or a module is no batch; PRNG keys are
  left out) — with shape, dtype and the sha256 of its first HASHED_ELEMENTS values' bytes.

Those values leave the traced step as raw 32-bit words, packed with the loss nndoctor
already sends out at every step, and are hashed on the host at the first step only (the
same bytes numpy's `array.ravel()[:HASHED_ELEMENTS].tobytes()` holds). Computing a checksum
inside the step instead cost ~0.3 ms a step on a CPU MLP (~6%: XLA runs the reduction as a
thunk of its own); copying 1024 words into the callback costs nothing measurable
(benchmarks/overhead_jax.py).
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import os
import random
import sys
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nndoctor.jax.optax_names import describe as describe_optax

MAX_EVENTS = 20  # seed calls and optimizers kept (a script seeding per batch is not unusual)
HASHED_ELEMENTS = 1024  # leading values of each batch array hashed (4 KB a step to the host: the first rows)
CLIPPING_CONSTRUCTORS = ("clip_by_global_norm", "clip", "clip_by_block_rms", "adaptive_grad_clip")


def plain(value: Any, names: dict[int, str]) -> Any:
    """A setting as plain JSON; a transformation or schedule by the call that made it."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if id(value) in names:
        return names[id(value)]
    if isinstance(value, (np.ndarray, jax.Array)) and np.ndim(value) == 0 and not isinstance(value, jax.core.Tracer):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [plain(v, names) for v in value[:16]]
    if isinstance(value, dict):
        return {str(k): plain(v, names) for k, v in list(value.items())[:32]}
    if hasattr(value, "init") and hasattr(value, "update"):
        return describe_optax(value)
    if callable(value):
        return getattr(value, "__qualname__", type(value).__name__)
    if isinstance(value, type) or hasattr(value, "dtype"):
        return str(value)
    return repr(value)[:120]


_OWN = str(Path(__file__).resolve().parents[1]) + os.sep
_CONSTRUCTION_FILES = (os.path.join("nnx", "pytreelib.py"), os.path.join("nnx", "object.py"))


@functools.lru_cache(maxsize=1)
def _library_directories() -> tuple[str, ...]:
    import flax
    import optax

    return (_OWN, *(str(Path(module.__file__).resolve().parent) + os.sep for module in (jax, flax, optax, np)))


def _called_from_library(construction: bool = False) -> bool:
    """Whether the patched function's caller is library code (jax, flax, optax, numpy,
    nndoctor) rather than the script: two frames up, past the wrapper — and, for an
    `__init__` (`construction`), past Flax's metaclass that calls it."""
    frame = sys._getframe(2)
    while construction and frame.f_back is not None and frame.f_code.co_filename.endswith(_CONSTRUCTION_FILES):
        frame = frame.f_back
    return os.path.realpath(frame.f_code.co_filename).startswith(_library_directories())


def _is_key(leaf: Any) -> bool:
    dtype = getattr(leaf, "dtype", None)
    if dtype is None:
        return True
    return jnp.issubdtype(dtype, jax.dtypes.prng_key) or (dtype == jnp.uint32 and np.shape(leaf) == (2,))


def _batch_leaves(named: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """(name, array) of the values that are a batch: bare arrays, or plain containers of them."""
    found = []
    for name, value in named:
        if isinstance(value, (jax.Array, np.ndarray)):
            leaves = [(name, value)]
        elif isinstance(value, (tuple, list, dict)) and type(value) in (tuple, list, dict):
            paths = jax.tree_util.tree_flatten_with_path(value)[0]
            leaves = [(name + jax.tree_util.keystr(path), leaf) for path, leaf in paths]
            if not leaves or not all(isinstance(leaf, (jax.Array, np.ndarray)) for _, leaf in leaves):
                continue
        else:
            continue
        found += [(label, leaf) for label, leaf in leaves if not _is_key(leaf) and np.ndim(leaf) >= 1]
    return found


def leading_words(leaf: Any) -> Any:
    """The first HASHED_ELEMENTS values of `leaf` as uint32 words: one per 4-, 2- or 1-byte
    value (the narrower ones widened), two per 8-byte value."""
    flat = jnp.ravel(jnp.asarray(leaf))[:HASHED_ELEMENTS]
    size = flat.dtype.itemsize
    if flat.dtype == jnp.bool_:
        return flat.astype(jnp.uint32)
    if size in (1, 2):
        return jax.lax.bitcast_convert_type(flat, {1: jnp.uint8, 2: jnp.uint16}[size]).astype(jnp.uint32)
    return jax.lax.bitcast_convert_type(flat, jnp.uint32).reshape(-1)


def words_digest(words: np.ndarray, itemsize: int) -> str:
    """sha256 (16 hex digits) of the bytes `words` came from (see leading_words)."""
    narrow = {1: np.uint8, 2: np.uint16}.get(itemsize)
    raw = (words.astype(narrow) if narrow is not None else words.astype("<u4")).tobytes()
    return hashlib.sha256(raw).hexdigest()[:16]


class JaxRunFacts:
    def __init__(self) -> None:
        self.optimizers: list[dict[str, Any]] = []
        self.clipping: list[dict[str, Any]] = []
        self.seeds: list[dict[str, Any]] = []
        self.models: list[str] = []
        self.first_batch: dict[str, Any] | None = None
        self.faults: list[str] = []
        self._names: dict[int, str] = {}  # id(transformation or schedule) → the call that made it
        self._keep: list[Any] = []  # those objects, alive so that their ids stay theirs
        self._entries: dict[int, dict[str, Any]] = {}
        self._pending_batch: list[dict[str, Any]] | None = None
        self._patched: list[tuple[Any, str, Any]] = []
        self._seeding = False
        self._linen_depth = 0

    # ---------------------------------------------------------------- install
    def install(self) -> JaxRunFacts:
        import optax
        from flax import linen, nnx

        for owner, name in ((jax.random, "key"), (jax.random, "PRNGKey"), (random, "seed"), (np.random, "seed"),
                            (np.random, "default_rng")):
            self._patch(owner, name, self._seed_wrapper(f"{owner.__name__}.{name}"))
        self._patch(nnx.Rngs, "__init__", self._rngs_wrapper)
        self._patch(linen.Module, "init", self._linen_init_wrapper)
        for name in CLIPPING_CONSTRUCTORS:
            self._patch(optax, name, functools.partial(self._clipping_wrapper, name))
        for name in [n for n in dir(optax) if n.endswith("_schedule") or n == "join_schedules"]:
            self._patch(optax, name, functools.partial(self._schedule_wrapper, name))
        return self

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)
        self._patched.clear()

    def _patch(self, owner: Any, name: str, make_wrapper: Any) -> None:
        original = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if original is None or not callable(original):
            return
        wrapped = functools.wraps(original)(make_wrapper(original))
        self._patched.append((owner, name, original))
        setattr(owner, name, wrapped)

    def _remember(self, made: Any, text: str) -> None:
        self._names[id(made)] = text
        self._keep.append(made)

    # ---------------------------------------------------------------- optax
    def on_optimizer(self, name: str, constructor: Any, args: tuple, kwargs: dict[str, Any], made: Any) -> None:
        """An optax optimizer was built (called by nndoctor.jax.run's constructor wrapper)."""
        try:
            entry = {"class": name, "settings": self._settings(constructor, args, kwargs)}
            if name == "chain":
                parts = list(args)
                entry["settings"] = {"transformations": [self._entries.get(id(p)) or plain(p, self._names)
                                                         for p in parts]}
                for part in parts:  # listed inside the chain, not on their own
                    self.optimizers[:] = [o for o in self.optimizers if o is not self._entries.get(id(part))]
            self._entries[id(made)] = entry
            self._keep.append(made)
            if entry not in self.optimizers and len(self.optimizers) < MAX_EVENTS:
                self.optimizers.append(entry)
        except Exception as error:  # noqa: BLE001 — the script's optimizer must work regardless
            self.faults.append(f"optimizer settings: {type(error).__name__}: {error}")

    def _settings(self, constructor: Any, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            bound = inspect.signature(constructor).bind_partial(*args, **kwargs)
            bound.apply_defaults()
            values = dict(bound.arguments)
        except (TypeError, ValueError):  # no signature, or a call the constructor would refuse
            values = {**{f"argument {i}": v for i, v in enumerate(args)}, **kwargs}
        return {key: plain(value, self._names) for key, value in values.items()}

    def _clipping_wrapper(self, name: str, original: Any) -> Any:
        def clipping(*args: Any, **kwargs: Any) -> Any:
            made = original(*args, **kwargs)
            try:
                entry = {"function": f"optax.{name}", **self._settings(original, args, kwargs)}
                self._entries[id(made)] = {"class": name, "settings": entry}
                self._remember(made, f"{name}({', '.join(f'{k}={v}' for k, v in entry.items() if k != 'function')})")
                if len(self.clipping) < MAX_EVENTS:
                    self.clipping.append(entry)
            except Exception as error:  # noqa: BLE001
                self.faults.append(f"clipping settings: {error}")
            return made
        return clipping

    def _schedule_wrapper(self, name: str, original: Any) -> Any:
        def schedule(*args: Any, **kwargs: Any) -> Any:
            made = original(*args, **kwargs)
            try:
                settings = self._settings(original, args, kwargs)
                self._remember(made, f"{name}({', '.join(f'{k}={v}' for k, v in settings.items())})")
            except Exception as error:  # noqa: BLE001
                self.faults.append(f"schedule settings: {error}")
            return made
        return schedule

    # ---------------------------------------------------------------- seeds and models
    def _seed_wrapper(self, label: str) -> Any:
        def make(original: Any) -> Any:
            def seeded(*args: Any, **kwargs: Any) -> Any:
                # nnx.Rngs(0) calls jax.random.key(0) itself, Flax's initialisers make keys of
                # their own: only the script's calls are its seeds.
                if self._seeding or _called_from_library():
                    return original(*args, **kwargs)
                self._note_seed(label, args[0] if args else kwargs.get("seed", kwargs.get("a")))
                self._seeding = True
                try:
                    return original(*args, **kwargs)
                finally:
                    self._seeding = False
            return seeded
        return make

    def _note_seed(self, label: str, seed: Any) -> None:
        if len(self.seeds) >= MAX_EVENTS:
            return
        if isinstance(seed, jax.core.Tracer):
            self.seeds.append({"call": label, "seed": "traced (computed inside jit)"})
        else:
            self.seeds.append({"call": label, "seed": plain(seed, {})})

    def _rngs_wrapper(self, original: Any) -> Any:
        def init(rngs: Any, *args: Any, **kwargs: Any) -> Any:
            if not self._seeding and not _called_from_library(construction=True):
                seeds = {**({"default": args[0]} if args else {}), **kwargs}
                self._note_seed("flax.nnx.Rngs", seeds if len(seeds) > 1 else next(iter(seeds.values()), None))
            self._seeding, outer = True, self._seeding
            try:
                return original(rngs, *args, **kwargs)
            finally:
                self._seeding = outer
        return init

    def _linen_init_wrapper(self, original: Any) -> Any:
        def init(module: Any, *args: Any, **kwargs: Any) -> Any:
            if self._linen_depth == 0:
                self.note_model(type(module).__name__)
            self._linen_depth += 1
            try:
                return original(module, *args, **kwargs)
            finally:
                self._linen_depth -= 1
        return init

    def note_model(self, name: str) -> None:
        if name not in self.models and len(self.models) < MAX_EVENTS:
            self.models.append(name)

    # ---------------------------------------------------------------- the first batch
    def batch_words(self, function: Any, args: tuple, argnums: Any, closure: list[tuple[str, Any]]) -> Any:
        """Called at trace time with the loss function's arguments and closed-over values:
        the batch's leading words to send to the host with the loss (None once known)."""
        if self.first_batch is not None or self._pending_batch is not None:
            return None
        differentiated = {argnums} if isinstance(argnums, int) else set(argnums)
        try:
            parameters = list(inspect.signature(function).parameters)
        except (TypeError, ValueError):
            parameters = []
        named = [(parameters[i] if i < len(parameters) else f"argument {i}", value)
                 for i, value in enumerate(args) if i not in differentiated]
        leaves = _batch_leaves(named + closure)
        if not leaves:
            return None
        words = [leading_words(leaf) for _, leaf in leaves]
        self._pending_batch = [{"name": label, "shape": [int(d) for d in np.shape(leaf)], "dtype": str(leaf.dtype),
                                "itemsize": int(np.dtype(leaf.dtype).itemsize),
                                "words": int(w.shape[0]), "hashed": int(min(np.size(leaf), HASHED_ELEMENTS))}
                               for (label, leaf), w in zip(leaves, words)]
        return jnp.concatenate(words)

    def on_batch_words(self, words: np.ndarray) -> None:
        """Host side, at every step: the first step's words are the first batch's."""
        if self.first_batch is not None or self._pending_batch is None:
            return
        inputs, start = {}, 0
        for meta in self._pending_batch:
            chunk = words[start:start + meta["words"]]
            start += meta["words"]
            record = {"shape": meta["shape"], "dtype": meta["dtype"], "sha256": words_digest(chunk, meta["itemsize"])}
            if meta["hashed"] < int(np.prod(meta["shape"])):
                record["hashed_elements"] = meta["hashed"]
            inputs[meta["name"]] = record
        first = self._pending_batch[0]["shape"]
        self.first_batch = {"inputs": inputs, "batch_size": first[0] if first else None}

    # ---------------------------------------------------------------- results
    def describe(self, report: Any, doctor: Any = None) -> None:
        """The facts into `report.context` (`hyperparameters`, `reproducibility`,
        `data_fingerprints`); a fault is noted there, never raised."""
        try:
            self._describe(report, doctor)
        except Exception as error:  # noqa: BLE001
            self.faults.append(f"describing the run: {type(error).__name__}: {error}")
        if self.faults:
            report.context["run_facts_faults"] = self.faults[:5]

    def _describe(self, report: Any, doctor: Any) -> None:
        shapes = list(getattr(doctor, "shapes", []) or [])
        parameters = int(sum(int(np.prod(shape)) for shape in shapes)) if shapes else None
        models = [{"class": name, "parameters": parameters if len(self.models) == 1 else None}
                  for name in self.models]
        if not models and parameters is not None:
            models = [{"class": None, "parameters": parameters}]
        for model in models:
            model["parameter_arrays"] = len(shapes) if model["parameters"] is not None else None
        report.context["hyperparameters"] = {
            "optimizers": self.optimizers,
            "models": models,
            "batch_size": (self.first_batch or {}).get("batch_size"),
            "gradient_clipping": self.clipping,
        }
        report.context["reproducibility"] = {
            "seeds": self.seeds,
            "jax_enable_x64": bool(jax.config.jax_enable_x64),
            "jax_default_prng_impl": str(jax.config.jax_default_prng_impl),
            "environment": {name: os.environ[name] for name in ("XLA_FLAGS", "PYTHONHASHSEED") if name in os.environ},
        }
        if self.first_batch is not None:
            report.context.setdefault("data_fingerprints", {})["first_batch"] = self.first_batch
