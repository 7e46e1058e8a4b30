from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule

KIND_NAMES = {"dropout": "Dropout", "batchnorm": "BatchNorm", "instancenorm": "InstanceNorm"}


@register
class TrainModeMissing(Rule):
    """Training steps run with the model in evaluation mode, so Dropout and BatchNorm are off.

    What it detects:
        Training backward passes whose forward ran while the model's root module had
        `training == False` — typically `model.eval()` before a validation pass and no
        `model.train()` afterwards. Measured per model as `train_mode_steps`. It fires after
        `min_consecutive_steps` such steps in a row, and only for models that contain
        modules whose behaviour depends on the mode (Dropout, BatchNorm, InstanceNorm with
        running statistics, RNN/attention dropout); a model without any is not affected.

    Why it matters:
        PyTorch never switches modes by itself (002 #2). In eval mode Dropout does nothing,
        so the regularisation you configured is silently gone, and BatchNorm normalises
        with its frozen running statistics instead of the batch's and stops updating them:
        the layers train against stale statistics and the model behaves differently from
        what its validation numbers suggest. Nothing crashes; the results are just worse.

    Likely causes:
        - `model.eval()` before the validation loop, and `model.train()` never called again (or only at the start of the next epoch, after a mid-epoch evaluation).
        - An evaluation at iteration 0 (before training) that leaves the model in eval mode for the whole run.
        - `model.train()` called on a submodule or a copy, not the model being trained.

    Fixes:
        - Call `model.train()` at the top of every training iteration or right after each evaluation pass.
        - Wrap evaluation in a helper that restores the mode: `was = model.training; model.eval(); ...; model.train(was)`.
        - Freezing BatchNorm statistics on purpose? Put only those layers in eval mode (`for m in model.modules(): if isinstance(m, nn.BatchNorm2d): m.eval()`), not the whole model.

    Example:
        train-mode-missing: 380 of 500 training steps of Net ran in eval mode (from step 120,
        380 in a row; threshold 3 in a row): its 2 Dropout and 1 BatchNorm modules were off
        ("drop (Dropout)", "bn1 (BatchNorm1d)").
    """

    id = "train-mode-missing"
    title = "training in evaluation mode"
    severity = "error"
    area = "code"
    requires = ("train_mode_steps",)
    # Not retractable: steps already trained in eval mode stay trained that way, even if a
    # later model.train() fixes the rest of the run.

    def check(
        self,
        m: Mapping[str, Any],
        *,
        min_consecutive_steps: int = 3,  # one stray backward in eval mode (an auxiliary pass) is not a forgotten model.train()
    ) -> list[Finding]:
        findings = []
        for record in m["train_mode_steps"]:
            if not record.get("mode_dependent_count"):
                continue  # no Dropout/BatchNorm: eval mode changes nothing for this model
            streak = int(record.get("longest_streak") or 0)
            if streak < min_consecutive_steps:
                continue
            in_eval, total = int(record.get("steps_in_eval_mode") or 0), int(record.get("training_steps") or 0)
            modules = list(record.get("mode_modules_in_eval") or [])
            kinds = [KIND_NAMES.get(kind, kind) for kind in record.get("kinds") or []]
            what = " and ".join(kinds) if kinds else "mode-dependent"
            shown = ", ".join(f'"{name}"' for name in modules[:4]) + (" …" if len(modules) > 4 else "")
            since = "from the first step" if record.get("first_step") in (None, 0) else f"from step {record['first_step']}"
            findings.append(self.finding(
                f"{count(in_eval)} of {count(total)} training steps of {record['model']} ran in eval mode ({since}, "
                f"{count(streak)} in a row; threshold {min_consecutive_steps} in a row): its "
                f"{record['mode_dependent_count']} {what} module(s) were off during training"
                + (f" ({shown})." if shown else "."),
                step=record.get("first_step"),
                where=[name.split(" ")[0] for name in modules] or record["model"],
                evidence={"model": record["model"], "steps_in_eval_mode": in_eval, "training_steps": total,
                          "longest_streak": streak, "mode_dependent_modules": record["mode_dependent_count"],
                          "mode_modules_in_eval": modules, "kinds": list(record.get("kinds") or [])},
            ))
        return findings
