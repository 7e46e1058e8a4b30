"""The measurements of a live run that describe the shape of each iteration (issue 7's
rules): written by the torch watch session, read by the code and dynamics rules. Part of
the schema in `nndoctor.core.measurements`; the layout of each is documented here.
(No `from __future__ import annotations`: TypedDict needs the NotRequired markers.)"""
import sys
from typing import Any

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # pragma: no cover - Python 3.10
    from typing_extensions import NotRequired, TypedDict


class TrainModeSteps(TypedDict):
    model: str
    training_steps: int
    steps_in_eval_mode: int  # training backwards whose forward ran with model.training False
    first_step: int | None
    longest_streak: int
    mode_dependent_count: int
    mode_modules_in_eval: list[str]
    kinds: list[str]  # "dropout", "batchnorm", …


class StepOrder(TypedDict):
    iterations: int
    update_between_forward_and_backward: int  # out = model(x); optimizer.step(); loss.backward()
    first_step: int | None
    optimizers: list[str]


class Accumulation(TypedDict):
    steps: int
    steps_with_several_backwards: int
    backwards_per_step: int
    unaveraged_steps: int  # k >= 2 backwards, each on the un-scaled output of a mean-reduced loss
    averaged_steps: int
    first_step: int | None
    same_loss: bool | None
    optimizer: str | None
    adaptive: bool | None
    grad_norm_first_backward: float | None
    grad_norm_at_step: float | None


class OptimizerGroup(TypedDict):
    optimizer: str
    group: int
    params: list[str]
    param_count: int
    numel: int
    weight_decay: float
    decoupled_weight_decay: bool
    adaptive: bool
    momentum: float | None
    steps: int
    zero_lr_steps: int
    lr_series: Any  # Series | None
    lr_first: float | None
    lr_last: float | None
    grad_norm_series: Any
    weight_norm_series: Any


class CoveredModel(TypedDict):
    model: str
    parameters: int
    values: int
    got_grad: bool
    in_any_optimizer: int
    manual_updates: int


class OptimizerCoverage(TypedDict):
    optimizer_steps: int
    optimizers: list[dict[str, Any]]
    models: list[CoveredModel]


class InputStats(TypedDict):
    model: str
    step: int
    argument: str
    shape: list[int]
    dtype: str
    feature_axis: int | None
    feature_count: int | None
    constant_features: int
    feature_std_quantiles: list[float] | None
    largest_features: list[list[float]] | None
    rms: NotRequired[float]
    abs_max: NotRequired[float]
    mean: NotRequired[float]
    first_layer_input_rms: NotRequired[float]
    first_layer: NotRequired[str]
    normalized_inside: NotRequired[bool]


class ChanceLoss(TypedDict):
    loss: str
    value: float
    uniform: float | None
    n_classes: int | None
    batches: int
    basis: str


class ClipSample(TypedDict):
    step: int
    kind: str  # "norm" (clip_grad_norm_) or "value" (clip_grad_value_)
    threshold: float  # max_norm or clip_value
    before: float  # the total gradient norm, or the largest |gradient| entry, before clipping
    after: float  # the same after clipping: min(before, threshold)


class GradClipping(TypedDict):
    calls: int
    samples: list[ClipSample]  # sampled calls: the first few, then one every few steps


LIVE_SCHEMA: dict[str, Any] = {
    "train_mode_steps": list[TrainModeSteps],
    "step_order": StepOrder,
    "accumulation": Accumulation,
    "optimizer_groups": list[OptimizerGroup],
    "optimizer_coverage": OptimizerCoverage,
    "input_stats": list[InputStats],
    "chance_loss": ChanceLoss,
    "grad_clipping": GradClipping,
    "initial_eval_loss": dict[str, Any],  # the initial_loss layout plus phase, before_training
}
