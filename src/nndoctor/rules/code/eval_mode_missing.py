from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class EvalModeMissing(Rule):
    """An evaluation pass ran with Dropout or BatchNorm still in training mode.

    What it detects:
        A forward pass of a training model with gradients disabled (`torch.no_grad()` or
        `torch.inference_mode()`: an evaluation pass) while modules that behave differently
        in training — Dropout, BatchNorm, InstanceNorm with running statistics, attention
        or RNN dropout — are still in training mode. Measured as `no_grad_forwards`, one
        record per model and step. An error when a normalisation layer is involved, a
        warning for dropout alone. Models without such modules never fire. It also reports
        dropout called functionally and still active during evaluation
        (`F.dropout(x, training=True)`, `scaled_dot_product_attention(dropout_p=0.1)`
        regardless of `self.training`), which `model.eval()` cannot switch off.

    Why it matters:
        PyTorch never switches modes by itself (002 #2). In training mode Dropout drops
        random units, so validation metrics are noisy and pessimistic; BatchNorm normalises
        with the statistics of the evaluation batch and folds them into its running
        averages, so results depend on the batch size and evaluation data leaks into the
        model.

    Likely causes:
        - `model.eval()` is missing before the validation or test loop.
        - `model.eval()` was called on a copy or a submodule, not the model being evaluated.
        - `model.train()` at the start of the epoch, but no `model.eval()` before evaluation.

    Fixes:
        - Call `model.eval()` before evaluating and `model.train()` before training again.
        - Keep `with torch.no_grad():` as well: eval mode and disabled gradients are two different switches.
        - Deliberate Monte-Carlo dropout? Then ignore this rule for the run: `--ignore eval-mode-missing`.

    Example:
        eval-mode-missing: The evaluation pass at step 40 ran Net with 2 of 2 mode-dependent
        modules still in training mode (1 BatchNorm1d, 1 Dropout); seen in 3 pass(es) (threshold 1).
    """

    id = "eval-mode-missing"
    title = "evaluation in training mode"
    severity = "warning"
    area = "code"
    requires = ("no_grad_forwards",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        min_step: int = 1,  # no-grad forwards before the first update are often shape probes or warm-ups
        min_passes: int = 1,  # one evaluation in training mode already gives wrong numbers (002 #2)
    ) -> list[Finding]:
        eligible = [record for record in m["no_grad_forwards"] if record["step"] >= min_step]
        findings = []
        passes = [record for record in eligible if record["train_mode_modules"]]
        if passes and len(passes) >= min_passes:
            findings.append(self._module_finding(passes, min_passes))
        # Functional dropout in a model left in training mode is the same missing
        # model.eval() when the module finding already names it (transformers' attention
        # passes `dropout_p=p if self.training else 0.0`): one finding, with the calls in it.
        functional = [record for record in eligible if _active_dropout(record)
                      and not (record["train_mode_modules"] and not record.get("model_in_eval_mode"))]
        if functional and len(functional) >= min_passes:
            findings.append(self._functional_finding(functional, min_passes))
        return findings

    def _module_finding(self, passes: list, min_passes: int) -> Finding:
        first = passes[0]
        names = first["train_mode_modules"]
        normalisation = any("Norm" in name for name in names)
        kinds = Counter(name.rsplit(" (", 1)[-1].rstrip(")") for name in names)
        summary = ", ".join(f"{count} {kind}" for kind, count in kinds.most_common())
        calls = _active_dropout(first)
        also = ("; it also applied functional dropout (" + ", ".join(
            f"{c['function']}(p={num(c['p'])}) ×{count(c['calls'])}" for c in calls) + ")") if calls else ""
        return self.finding(
            f"The evaluation pass at step {first['step']} ran {first['model']} with "
            f"{first['train_mode_count']} of {first['mode_dependent_count']} mode-dependent "
            f"modules still in training mode ({summary}){also}; seen in {len(passes)} pass(es) "
            f"(threshold {min_passes}).",
            step=first["step"],
            where=[name.split(" ")[0] for name in names],
            severity="error" if normalisation else "warning",
            evidence={
                "model": first["model"],
                "passes_in_training_mode": len(passes),
                "train_mode_modules": names,
                "mode_dependent_modules": first["mode_dependent_count"],
                **({"functional_dropout": calls} if calls else {}),
            },
        )

    def _functional_finding(self, passes: list, min_passes: int) -> Finding:
        first = passes[0]
        calls = _active_dropout(first)
        summary = ", ".join(f"{c['function']}(p={num(c['p'])}) ×{count(c['calls'])}" for c in calls)
        if first.get("model_in_eval_mode"):
            why = (f"{first['model']} was in eval mode, so the code ignores `self.training`: e.g. "
                   "`F.dropout(x, p, training=True)`, or `scaled_dot_product_attention(dropout_p=...)` "
                   "without `if self.training`")
        else:
            why = (f"{first['model']} was left in training mode and has no dropout module to show it: "
                   "`model.eval()` switches such calls off when they read `self.training`")
        return self.finding(
            f"The evaluation pass at step {first['step']} applied active functional dropout ({summary}); {why}. "
            f"Seen in {len(passes)} pass(es) (threshold {min_passes}): evaluation outputs are random.",
            step=first["step"],
            where=first["model"],
            evidence={"model": first["model"], "passes_with_functional_dropout": len(passes),
                      "functional_dropout": calls, "model_in_eval_mode": first.get("model_in_eval_mode")},
            causes=["A functional dropout call with a hard-coded `training=True` (or the default of `F.dropout`, "
                    "which is True), not tied to the module's mode.",
                    "`scaled_dot_product_attention(q, k, v, dropout_p=self.dropout)` called in evaluation too."],
            fixes=["Tie the call to the module's mode: `F.dropout(x, p=self.p, training=self.training)`.",
                   "For attention: `dropout_p=self.dropout if self.training else 0.0`.",
                   "Or use an `nn.Dropout` module, which `model.eval()` switches off."],
        )


def _active_dropout(record: Mapping[str, Any]) -> list[dict]:
    return [call for call in record.get("functional_dropout") or [] if call.get("p", 0) > 0 and call.get("calls", 0) > 0]
