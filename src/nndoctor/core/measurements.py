"""The measurement schema: what every framework adapter hands the rules, by name.

Rules read `m["<name>"]`; adapters (torch/, jax/, …) fill it with plain Python values
(numbers, strings, lists, dicts). This module is the contract between the two: one
TypedDict per measurement, written from what the rules read. `problems(m)` checks a
`Measurements` object against it (used by the conformance tests of every adapter, so a
second framework cannot drift from what the rules expect); it ignores names it does not
know, so an adapter may hand over more than the schema lists.

Keys marked NotRequired are read with `.get()` by the rules; the others must be present.
(No `from __future__ import annotations` here: TypedDict needs the NotRequired markers
as objects to tell required keys from optional ones.)
"""
import sys
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # pragma: no cover - Python 3.10
    from typing_extensions import NotRequired, TypedDict

from nndoctor.core.dist_measurements import DIST_SCHEMA  # noqa: E402
from nndoctor.core.live_measurements import LIVE_SCHEMA  # noqa: E402

Number = Union[int, float]


# ----------------------------------------------------------------- shared shapes
class Series(TypedDict):
    """A bounded series (nndoctor.live.series.BoundedSeries.to_dict())."""
    count: int
    head: list[list[Number]]  # [[step, value], ...] — the first points
    recent: list[list[Number]]  # [[step, value], ...] — the last points
    history: list[list[Number]]  # [[first_step, last_step, count, mean, min, max], ...]


class InternalFault(TypedDict):
    source: str
    exception: str
    detail: str
    step: int | None
    count: int


# ----------------------------------------------------------------- preflight (forward pass)
class OutputCheck(TypedDict):
    batch_size: int
    output_type: str
    output_shape: list[int] | None
    batch_dim_ok: bool | None
    non_finite_count: int
    output_numel: int
    loss_value: float
    relative_spread: float | None  # max spread between samples / output scale; None if inputs are identical
    relative_spread_after_training: float | None
    inputs_vary: NotRequired[bool]


class LossCall(TypedDict):
    loss: str  # kind: cross_entropy, nll, bce, bce_with_logits, mse, l1, smooth_l1, huber, …
    input_source: str  # softmax, log_softmax, sigmoid, logsigmoid, log_probability, raw, unknown
    input_shape: list[int]
    target_shape: list[int] | None
    broadcast_shape: list[int] | None
    step: int | None
    where: str
    log_probability_error: NotRequired[float | None]


class InitialLoss(TypedDict):
    loss: str | None
    value: float
    expected: float | None
    expected_low: float | None
    expected_basis: str
    n_classes: int | None
    step: int | None
    prior_entropy: NotRequired[float]
    positive_rate: NotRequired[float]
    target_mean: NotRequired[float]
    target_std: NotRequired[float]
    pos_weight: NotRequired[list[float] | None]  # bce_with_logits' pos_weight, flattened


class OverfitRun(TypedDict):
    optimizer: str
    reference: bool  # True: the Adam 1e-3 reference run; False: the user's optimizer
    data: str  # "batch" or "two_samples"
    samples: int
    initial: float
    final: float
    best: float
    floor: float
    steps: int
    steps_budget: int
    non_finite: bool
    curve_steps: list[int]
    curve: list[float]  # losses at 0, ¼, ½, ¾ and the end of the run


class Overfit(TypedDict):
    runs: list[OverfitRun]
    notes: list[str]
    user_optimizer_given: bool
    user_optimizer_is_reference: bool


class InputSensitivity(TypedDict):
    steps: int
    samples: int
    initial: float
    floor: float
    real_final: float
    zero_final: float | None
    random_final: float | None
    real_tail_drop: float | None
    zero_tail_drop: float | None


class ParameterStatus(TypedDict):
    name: str
    shape: list[int]
    numel: int
    trainable: bool
    in_optimizer: bool | None
    got_grad: bool
    grad_all_zero: bool
    changed: bool | None  # None when no optimizer step was taken
    # Preflight: from its one real backward. Live: kept only for parameters that stayed
    # unchanged, at the last update compared (None otherwise).
    grad_non_finite: NotRequired[bool]
    grad_abs_max: NotRequired[float | None]
    value_abs_max: NotRequired[float | None]
    # Live only: the evidence that tells the causes of an unchanged parameter apart.
    checked_updates: NotRequired[int]
    zero_lr_updates: NotRequired[int]
    grad_none_at_step: NotRequired[int]
    zero_checks: NotRequired[int]
    nonzero_checks: NotRequired[int]
    grad_abs_max_after_backward: NotRequired[float | None]
    lr: NotRequired[float | None]


class MixingProbe(TypedDict):
    output_sample: int
    own_gradient: float
    largest_other_gradient: float
    other_sample: int | None
    ratio: float


class BatchMixing(TypedDict):
    probes: list[MixingProbe]
    worst_ratio: float
    worst_pair: list[int] | None
    input_kind: Literal["input", "embedding"]
    batch_size: int
    causal: dict[str, Any] | None


class Determinism(TypedDict):
    steps: int
    losses_first: list[float]
    losses_second: list[float]
    max_loss_relative_difference: float
    max_parameter_relative_difference: float
    first_differing_step: int | None
    bitwise_identical: bool


class ParameterDtypes(TypedDict):
    numel_by_dtype: dict[str, int]  # "float32", "bfloat16", "float16", …
    low_precision_names: list[str]


class DropoutLayer(TypedDict):
    where: str
    p: float
    order: int


class NormLayer(TypedDict):
    where: str
    kind: str  # batch, layer, group, instance, rms
    order: int
    fed_by_dropouts: list[int]  # indices into the dropout list
    batch_size: NotRequired[int]
    values_per_channel: NotRequired[int]


class DropoutNormalization(TypedDict):
    dropout: list[DropoutLayer]
    normalization: list[NormLayer]


class BatchNormLayer(TypedDict):
    where: str
    kind: str
    batch_size: int
    values_per_channel: int


class DropoutKeys(TypedDict):
    """Dropout RNG keys seen while training (JAX: keys are explicit values)."""
    masks: int  # dropout masks drawn
    distinct_keys: int
    most_uses_of_one_key: int
    where: str | None  # the layer that drew the most reused key


# ----------------------------------------------------------------- live (dynamics)
class ParameterKind(TypedDict):
    kind: Literal["weight", "embedding", "norm", "bias", "vector"]
    module_type: str
    shape: list[int]
    order: int


class ActivationRecord(TypedDict):
    kind: Literal["relu", "tanh", "sigmoid"]
    after: str | None
    hidden: bool
    order: int
    units: int | None
    dead_share: Series | None
    saturated_share: Series | None
    mean_abs_input: Series | None
    # relu, layers of ≤ 256 units: per unit, the sampled rows / batches it has been
    # inactive in a row and the step that streak began (-1: active in the latest sample)
    inactive_streaks: NotRequired[Any]


class RmsProfile(TypedDict):
    step: int
    layers: list[str]
    rms: list[float]


class ActivationRms(TypedDict):
    profiles: list[RmsProfile]


class NonFinite(TypedDict):
    found: bool
    loss_steps_non_finite: int
    eval_losses_non_finite: int
    grad_steps_non_finite: int
    first_grad_step: int | None
    step: NotRequired[int | None]
    trigger: NotRequired[str]
    origin: NotRequired[str]  # input, parameter, gradient, statistics, activation, loss, eval, unknown
    module: NotRequired[str | None]
    module_type: NotRequired[str | None]
    detail: NotRequired[str | None]
    parameters: NotRequired[list[str] | None]
    largest_input: NotRequired[float | None]


# Every measurement name a rule may read, with its type. Adapters may add more.
SCHEMA: dict[str, Any] = {
    "framework": str,  # "torch", "jax", …: picks the idiom table for fixes (core.idioms)
    "internal_faults": list[InternalFault],
    "steps_observed": int,
    # preflight
    "output_check": OutputCheck,
    "loss_calls": list[LossCall],
    "initial_loss": InitialLoss,
    "overfit": Overfit,
    "input_sensitivity": InputSensitivity,
    "parameter_status": list[ParameterStatus],
    "loss_detached": bool,
    "batch_mixing": BatchMixing,
    "determinism": Determinism,
    "parameter_dtypes": ParameterDtypes,
    "autocast_active": list[str],
    "dropout_normalization": DropoutNormalization,
    "batchnorm_layers": list[BatchNormLayer],
    "training_batch_size": int,
    "dropout_keys": DropoutKeys,
    # torch-only so far; their record layout is documented where they are measured
    "custom_functions": list[dict[str, Any]],  # torch/preflight/custom_functions.py
    "layer_activation_rms": list[dict[str, Any]],  # torch/architecture/forward_trace.py
    "sigmoid_uses": list[dict[str, Any]],
    "output_layer": dict[str, Any],  # torch/architecture/output_layer.py
    "lstm_forget_biases": list[dict[str, Any]],  # torch/architecture/model_facts.py
    "stale_grad_updates": list[dict[str, Any]],  # torch/watch/stale_grads.py
    "sharpness": dict[str, Any],  # torch/preflight/sharpness.py
    "no_grad_forwards": list[dict[str, Any]],  # torch/watch/eval_tracking.py
    # live
    "dynamics_every": int,
    "dynamics_updates": int,
    "loss_series": Series,
    "eval_loss_series": Series,
    "grad_norm_global": Series,
    "grad_norm_per_layer": dict[str, Series],
    "weight_norm_per_layer": dict[str, Series],
    "update_ratio_per_layer": dict[str, Series],
    "learning_rate_per_group": dict[str, Series],
    "parameter_kinds": dict[str, ParameterKind],
    "activation_stats": dict[str, ActivationRecord],
    "activation_rms": ActivationRms,
    "non_finite": NonFinite,
    **LIVE_SCHEMA,
    **DIST_SCHEMA,
}


def problems(m: Mapping[str, Any]) -> list[str]:
    """Every place where `m` disagrees with the schema ("name.key: expected …, got …").

    A value of None is accepted for every name (the rules treat it as not measured)."""
    found: list[str] = []
    for name, expected in SCHEMA.items():
        if name in m and m[name] is not None:
            _check(m[name], expected, name, found)
    return found


def _check(value: Any, expected: Any, where: str, found: list[str]) -> None:
    if expected is Any:
        return
    origin = typing.get_origin(expected)
    if origin in (Union, types.UnionType):
        if not any(_conforms(value, option) for option in typing.get_args(expected)):
            found.append(f"{where}: expected {_name(expected)}, got {type(value).__name__} {value!r:.60}")
        return
    if origin is Literal:
        if value not in typing.get_args(expected):
            found.append(f"{where}: expected one of {typing.get_args(expected)}, got {value!r}")
        return
    if _is_typed_dict(expected):
        if not isinstance(value, Mapping):
            found.append(f"{where}: expected a mapping ({expected.__name__}), got {type(value).__name__}")
            return
        hints = typing.get_type_hints(expected)
        for key in sorted(expected.__required_keys__ - set(value)):
            found.append(f"{where}: missing key {key!r}")
        for key, item in value.items():
            if key in hints:
                _check(item, hints[key], f"{where}.{key}", found)
        return
    if origin is list:
        if not isinstance(value, (list, tuple)):
            found.append(f"{where}: expected a list, got {type(value).__name__}")
            return
        (item_type,) = typing.get_args(expected) or (Any,)
        for index, item in enumerate(value):
            _check(item, item_type, f"{where}[{index}]", found)
        return
    if origin is dict:
        if not isinstance(value, Mapping):
            found.append(f"{where}: expected a dict, got {type(value).__name__}")
            return
        key_type, item_type = typing.get_args(expected) or (Any, Any)
        for key, item in value.items():
            _check(key, key_type, f"{where} key", found)
            _check(item, item_type, f"{where}[{key!r}]", found)
        return
    if not _conforms(value, expected):
        found.append(f"{where}: expected {_name(expected)}, got {type(value).__name__} {value!r:.60}")


def _conforms(value: Any, expected: Any) -> bool:
    scratch: list[str] = []
    if expected is type(None):
        return value is None
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(expected, type) and not _is_typed_dict(expected) and typing.get_origin(expected) is None:
        return isinstance(value, expected)
    _check(value, expected, "", scratch)
    return not scratch


def _is_typed_dict(expected: Any) -> bool:
    return isinstance(expected, type) and hasattr(expected, "__required_keys__")


def _name(expected: Any) -> str:
    return getattr(expected, "__name__", None) or str(expected).replace("typing.", "")


__all__ = ["SCHEMA", "Series", "problems"]
