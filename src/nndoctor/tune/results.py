"""The results of the tuning measurements as plain data, and their judgement: each result
becomes a measurement that the `tuning` rules read, and a Report of their findings."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from nndoctor.core.engine import run_rules
from nndoctor.core.registry import load_rules
from nndoctor.core.report import Report
from nndoctor.core.rule import Measurements


@dataclass
class SweepPoint:
    lr: float
    held_out_loss: float | None  # None: the run diverged (non-finite)
    final_train_loss: float | None
    stable: bool  # finite, no early spike, and the held-out loss ended ≥ 5% below its start
    early_spike: bool  # on most of its batch orders the loss rose sharply within the first tenth of the budget
    warmup: bool = False
    spiked_orders: int = 0  # how many of its batch orders spiked early
    far_off_orders: int = 0  # how many ended far above its typical orders (held at a fence in its score)


@dataclass
class LrRangeResult:
    """What `nndoctor.tune.lr_range` measured (learning rates are those of the first
    param group; the other groups keep their ratio to it)."""

    optimizer: str
    user_lr: float
    group_factors: list[float]
    range_lrs: list[float]
    range_losses: list[float]  # the median smoothed curve over the repeats, down-sampled
    suggestions: list[float | None]  # one per repeat (None: that curve had no valley)
    suggestion: float | None
    suggestion_spread: float | None  # largest / smallest suggestion over the repeats
    refusal: str | None  # why there is no suggestion
    budget_steps: int
    initial_held_out_loss: float
    # The full schedule and every repeat's raw losses (one per step until it stopped).
    range_schedule: list[float] = field(default_factory=list)
    range_raw_losses: list[list[float]] = field(default_factory=list)
    sweep: list[SweepPoint] = field(default_factory=list)
    sweep_failure: str | None = None  # why the sweep confirmed no rate
    confirmed_lr: float | None = None
    best_grid_lr: float | None = None
    best_held_out_loss: float | None = None
    # The standard error of confirmed_lr as a factor (×/÷), from the order scatter of the
    # three rates its minimum is interpolated on; None when it is a grid point (best at an edge).
    confirmed_lr_error: float | None = None
    sweep_orders: dict[float, int] = field(default_factory=dict)  # batch orders per rate of the sweep
    # The largest stable rate keeping ≥ half of the best's held-out drop (003's start for a
    # schedule that divides the rate by 10 at each plateau).
    largest_stable_lr: float | None = None
    largest_stable_is_limit: bool = False  # no higher rate was tried (grid end or cap)
    suggestion_error: float | None = None  # suggestion / confirmed_lr
    user_held_out_loss: float | None = None
    warmup: dict[str, Any] | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def measurements(self) -> Measurements:
        m = Measurements()
        m["lr_range"] = self.to_dict()
        return m

    def report(self, **options: Any) -> Report:
        return judge(self.measurements(), "tune lr", **options)


@dataclass
class NoiseScaleResult:
    """The simple gradient noise scale B_simple = tr(Σ)/|G|² (McCandlish et al. 2018)."""

    b_simple: float | None
    b_simple_low: float | None  # ± one jackknife standard error, clipped at 1
    b_simple_high: float | None
    trace_sigma: float
    gradient_norm_squared: float
    small_batch: int
    big_batch: int
    groups: int
    user_batch_size: int
    note: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def measurements(self) -> Measurements:
        m = Measurements()
        m["noise_scale"] = self.to_dict()
        return m

    def report(self, **options: Any) -> Report:
        return judge(self.measurements(), "tune batch-size", **options)


@dataclass
class WeightDecayResult:
    optimizer: str
    decoupled: bool  # AdamW-style decay (shrinks the weights directly) rather than an L2 gradient term
    budget_steps: int
    sweep: list[dict[str, Any]]  # {weight_decay, train_loss, held_out_loss, weight_norm}
    groups: list[dict[str, Any]]  # {index, weight_decay, matrices, vectors, parameters}
    effective_decay: dict[str, Any] | None  # measured shrink of one step vs the nominal lr·wd
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def measurements(self) -> Measurements:
        m = Measurements()
        m["weight_decay"] = self.to_dict()
        return m

    def report(self, **options: Any) -> Report:
        return judge(self.measurements(), "tune weight-decay", **options)


def judge(m: Measurements, command: str, *, select: list[str] | None = None, ignore: list[str] | None = None,
          thresholds: dict[str, dict[str, Any]] | None = None) -> Report:
    """Run the tuning rules whose measurement is present (the others are not this command's)."""
    rules = [rule for rule in load_rules().select(areas=["tuning"], select=select, ignore=ignore)
             if set(rule.requires) <= set(m)]
    return run_rules(m, rules, thresholds=thresholds, report=Report(command=command))
