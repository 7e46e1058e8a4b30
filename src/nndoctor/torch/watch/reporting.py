"""From what the session saw to a verdict: Measurements for the rules, the final Report.

The rules are judged every few steps while training runs (`_maybe_judge`, so that
`--stop-on` can stop a doomed run early) and once more at the end (`finish`). Evidence
that could not be gathered is marked unavailable with the reason, so that "nothing
found" never hides "nothing checked".
"""
from __future__ import annotations

import time
from typing import Any

from nndoctor.core.capability import Capability
from nndoctor.core.report import Report, SkippedCheck
from nndoctor.core.rule import Measurements
from nndoctor.live.judge import JUDGE_INTERVAL_SECONDS
from nndoctor.live.report_series import add_series
from nndoctor.torch.dynamics.monitor import MEASUREMENTS as DYNAMICS_MEASUREMENTS
from nndoctor.torch.watch.iteration import train_mode_record
from nndoctor.torch.watch.score_function import SCORE_FUNCTION_MIN_CALLS, SURROGATE_REASON


# Why a dynamics measurement can be absent, in words a user can act on.
UNMEASURED_REASONS = {
    "eval_loss_series": (
        "no validation loss was seen: compute one with a torch loss under torch.no_grad(), "
        "or call doctor.log(val_loss=...)"
    ),
    "activation_stats": (
        "no ReLU, tanh or sigmoid activation was seen on the sampled steps "
        "(the gates inside nn.LSTM/nn.GRU are not visible)"
    ),
}

# What `measurements()` hands the rules (or marks unavailable with a reason): the
# session's own observations, then each model's dynamics monitor. A rule applies to a
# watched run when these cover what it requires (nndoctor.core.capability).
SESSION_MEASUREMENTS = (
    "steps_observed", "loss_calls", "stale_grad_updates", "no_grad_forwards", "initial_loss", "initial_eval_loss",
    "step_order", "accumulation", "optimizer_groups", "input_stats", "chance_loss", "parameter_status",
    "train_mode_steps", "optimizer_coverage", "grad_clipping",
)
CAPABILITY = Capability("torch-run", "run", frozenset((*SESSION_MEASUREMENTS, *DYNAMICS_MEASUREMENTS)))

ADVERSARIAL_MIN_STEPS = 10
ADVERSARIAL_REASON = ("two optimizers take turns training different models (adversarial training, e.g. a GAN): "
                      "their losses are a game, not one curve that should fall")


class SessionReporting:
    """Judging and reporting for `Session` (a mixin: it uses the session's state)."""

    def _maybe_judge(self) -> None:
        judge = self.judge
        # Judge.due() inlined: this runs twice per step.
        if not judge.dirty and time.monotonic() - judge.last_time < JUDGE_INTERVAL_SECONDS:
            return
        report = None
        try:
            report = judge.judge(self.measurements())
        except Exception as error:  # noqa: BLE001
            self.faults.record("rule evaluation", error, self.step)
        if report is not None:
            judge.announce(report)  # may raise StopRun (--stop-on)

    def measurements(self) -> list[Measurements]:
        shared = Measurements()
        shared["steps_observed"] = self.step
        shared["internal_faults"] = self.faults.as_list() + list(self._fault_list)
        if self.loss_calls:
            shared["loss_calls"] = list(self.loss_calls)
        else:
            shared.mark_unavailable("loss_calls", "no torch loss function call was seen")
        if (self.step >= 2 and self.stale_checks) or self.stale_grad_updates:
            shared["stale_grad_updates"] = list(self.stale_grad_updates)
        elif self.step >= 2:
            shared.mark_unavailable(
                "stale_grad_updates",
                "every backward ran inside optimizer.step (a closure optimizer such as LBFGS)")
        else:
            shared.mark_unavailable("stale_grad_updates", "fewer than two updates were observed")
        if self._pending_dropout and not self.no_grad_forwards:  # evaluated before the model was known
            shared["no_grad_forwards"] = [{"step": 0, "model": None, "train_mode_modules": [],
                                           "train_mode_count": 0, "mode_dependent_count": 0,
                                           "model_in_eval_mode": None,
                                           "functional_dropout": list(self._pending_dropout)}]
        elif self.no_grad_forwards:
            shared["no_grad_forwards"] = list(self.no_grad_forwards)
        else:
            shared.mark_unavailable(
                "no_grad_forwards",
                "no evaluation pass (a forward of the model with gradients disabled) was seen")
        if self.initial_loss is not None:
            shared["initial_loss"] = self.initial_loss
        else:
            shared.mark_unavailable(
                "initial_loss", "the first training loss was not one call of a recognised torch loss function")
        self._iteration_measurements(shared)
        self._input_and_chance_measurements(shared)
        if not self.models:
            for name in ("parameter_status", "train_mode_steps", "optimizer_coverage"):
                shared.mark_unavailable(name, "no nn.Module received gradients from a training loss")
            return [shared]
        shared["train_mode_steps"] = [train_mode_record(w) for w in self.models.values()]
        shared["optimizer_coverage"] = self._optimizer_coverage()
        parts = []
        adversarial = self._adversarial()
        prefix = len(self.models) > 1
        for index, watched in enumerate(self.models.values()):
            part = shared if index == 0 else Measurements(steps_observed=self.step)
            status = watched.tracker.status(self._model_optimizer_param_ids(watched))
            if prefix:
                for row in status:
                    row["name"] = f"{watched.label}.{row['name']}"
            part["parameter_status"] = status
            if watched.monitor is not None and self.faults.enabled("dynamics monitor"):
                with self.faults.guard("dynamics monitor", self.step):
                    part.update(watched.monitor.measurements())
            for name, reason in UNMEASURED_REASONS.items():
                if name in part and part[name] is None:
                    part.mark_unavailable(name, reason)
            if adversarial:
                part.mark_unavailable("loss_series", ADVERSARIAL_REASON)
            elif self.score_function_log_probs >= SCORE_FUNCTION_MIN_CALLS:
                part.mark_unavailable("loss_series", SURROGATE_REASON)
            parts.append(part)
        return parts

    def _iteration_measurements(self, shared: Measurements) -> None:
        """What the order of forwards, backwards and updates showed, and each param group."""
        iterations = self.iterations
        if iterations.iterations:
            shared["step_order"] = iterations.step_order()
        else:
            shared.mark_unavailable("step_order", "no training backward outside optimizer.step(closure) was seen")
        if iterations.steps:
            shared["accumulation"] = iterations.accumulation()
        else:
            shared.mark_unavailable("accumulation", "no optimizer step outside a closure was seen")
        groups = [facts.as_measurement() for info in self.optimizers.values() if info.steps
                  for facts in info.groups.groups]
        if groups:
            shared["optimizer_groups"] = groups
        else:
            shared.mark_unavailable("optimizer_groups", "no optimizer step was seen")

    def _input_and_chance_measurements(self, shared: Measurements) -> None:
        if self.input_stats:
            shared["input_stats"] = list(self.input_stats)
        else:
            shared.mark_unavailable("input_stats", "no floating-point model input was seen in the first training batches")
        chance = self.chance.measurement()
        if chance is not None:
            shared["chance_loss"] = chance
        else:
            shared.mark_unavailable(
                "chance_loss", "the training loss was not a recognised torch classification or regression loss "
                "with plain targets (no class weights, label smoothing or pos_weight)")
        if self.initial_eval_loss is not None:
            shared["initial_eval_loss"] = self.initial_eval_loss
        clipping = self.clipping.measurement()
        if clipping is not None:
            shared["grad_clipping"] = clipping
        else:
            shared.mark_unavailable("grad_clipping", "the script never called clip_grad_norm_ or clip_grad_value_")

    def _evaluate_logged_predictions(self, report: Report) -> None:
        """`doctor.log(predictions=...)`: the last predictions logged are evaluated (metrics
        with intervals, baselines, classes, slices, calibration) and join the run's report."""
        step, predictions = self.logged_predictions
        try:
            from nndoctor.evaluation.api import evaluate

            evaluation = evaluate(**predictions, select=self.judge.select, ignore=self.judge.ignore)
        except ImportError as error:
            report.checks_skipped.append(SkippedCheck(
                "evaluation", f"the logged predictions need the data extra: pip install 'nndoctor[data]' ({error})"))
            return
        except Exception as error:  # noqa: BLE001 — the run's own findings must survive
            self.faults.record("evaluation of logged predictions", error, step)
            report.checks_skipped.append(SkippedCheck("evaluation", f"the logged predictions could not be evaluated: {error}"))
            return
        report.extend(evaluation)
        report.context["evaluation"] = dict(evaluation.context.get("evaluation", {}), step=step)

    def _adversarial(self) -> bool:
        """Two optimizers taking turns over different models (a GAN's generator and
        discriminator): each backward's loss belongs to one game, so the losses are no
        single curve that should fall."""
        stepping = [info for info in self.optimizers.values()
                    if info.steps >= ADVERSARIAL_MIN_STEPS and info.models and info.last_step >= self.step - 3]
        for index, first in enumerate(stepping):
            for second in stepping[index + 1:]:
                if not {id(m) for m in first.models} & {id(m) for m in second.models}:
                    return True
        return False

    def _optimizer_coverage(self) -> dict:
        owned = self._optimizer_param_ids()
        models = []
        for watched in self.models.values():
            params = watched.tracker.params
            models.append({
                "model": watched.label, "parameters": len(params),
                "values": int(sum(p.numel() for p in params)),
                "got_grad": bool(watched.tracker.got_grad),
                "in_any_optimizer": sum(1 for p in params if id(p) in owned),
                "manual_updates": watched.manual_updates,
            })
        optimizers = [{"name": info.name, "param_count": info.param_count, "steps": info.steps}
                      for info in self.optimizers.values()]
        return {"optimizer_steps": self.optimizer_steps, "optimizers": optimizers, "models": models}

    def _optimizer_param_ids(self) -> set[int]:
        return set().union(*(info.param_ids for info in self.optimizers.values()))

    def _model_optimizer_param_ids(self, watched: Any) -> set[int] | None:
        """What the optimizers that update this model hold (an earlier stage's optimizer
        over some of the same parameters does not count); None when no optimizer updates
        it (manual updates)."""
        infos = [self.optimizers[key] for key in watched.optimizer_ids if key in self.optimizers]
        if not infos:
            return None
        return set().union(*(info.param_ids for info in infos))

    def finish(self) -> Report:
        """Flush pending evidence, remove every hook and patch, return the final report."""
        try:
            if self.installed and not self._stepped_since_backward and self.backwards:
                self._detect_manual_update()
            self._settle_eval_mode_losses()
            self._flush_eval_losses()
        except Exception as error:  # noqa: BLE001
            self.faults.record("final update check", error, self.step)
        self.uninstall()
        started = time.monotonic()
        try:
            parts = self.measurements()
        except Exception as error:  # noqa: BLE001
            self.faults.record("final measurements", error, self.step)
            parts = [Measurements(internal_faults=self.faults.as_list(), steps_observed=self.step)]
        report = self.judge.final(self.judge.judge(parts))
        if self.logged_predictions is not None:
            self._evaluate_logged_predictions(report)
        report.context.update(self.context)
        # The run's bounded curves, for the HTML report and the run record.
        labels = [w.label for w in self.models.values()]
        add_series(report, parts, labels=labels if len(labels) == len(parts) else None)
        report.context.update({
            "steps_observed": self.step,
            "backwards_observed": self.backwards,
            "models": [{"label": w.label, "class": type(w.module).__name__,
                        "parameters": sum(p.numel() for p in w.tracker.params)}
                       for w in self.models.values()],
            "optimizers": sorted({info.name for info in self.optimizers.values()}),
            "evaluation_forwards": self.no_grad_forward_count,
            "every": self.every,
            "judge_seconds": round(time.monotonic() - started, 4),
        })
        return report
