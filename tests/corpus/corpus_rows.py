"""The corpus of ordinary training scripts (examples/corpus/) and what `nndoctor run` must say on each.

One `Row` per script and variant. A row without expectations is a clean run: it must end with
zero warnings and zero errors (notes are allowed). A bug row lists the findings that must fire
(`Expect`: a rule id or a tuple of acceptable ids, the lowest acceptable severity, optionally the
step by which it must have fired, a module/parameter name its `where` must mention, words its
message must contain) and rules that must not fire at warning or error level (`forbid`: the false
alarms seen on that kind of code). Every script must also exit 0 under nndoctor.

`run_row` runs one row in a subprocess exactly as a user would: `python -m nndoctor run --json
OUT [--preflight] SCRIPT [--bug NAME] ARGS…`, or, for the explicit-callback rows, `python SCRIPT
--report-json OUT …`. Shared by test_corpus.py and by `python tests/corpus/corpus_table.py`.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tests") not in sys.path:  # run alone as `python tests/corpus/corpus_table.py`
    sys.path.insert(0, str(REPO / "tests"))
import warm_launcher  # noqa: E402
CORPUS_DIR = REPO / "examples" / "corpus"
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
ROW_TIMEOUT_SECONDS = 300
# What a diagnosis must never do on a healthy step: these fired falsely on closures, warm-up,
# framework-skipped steps and per-sample noise (issue 7).
CLOSURE_FALSE_ALARMS = ("params-not-updated",)


@dataclass(frozen=True)
class Expect:
    rule: str | tuple[str, ...]
    severity: str = "warning"  # the lowest acceptable severity
    by_step: int | None = None  # the finding's step must be set and at most this
    where_contains: str | None = None
    message_contains: tuple[str, ...] = ()

    @property
    def rules(self) -> tuple[str, ...]:
        return (self.rule,) if isinstance(self.rule, str) else self.rule

    def describe(self) -> str:
        text = " or ".join(self.rules) + f" ≥{self.severity}"
        if self.by_step is not None:
            text += f" by step {self.by_step}"
        if self.where_contains:
            text += f" where∋{self.where_contains}"
        if self.message_contains:
            text += " msg∋" + ",".join(self.message_contains)
        return text


@dataclass(frozen=True)
class Row:
    script: str
    bug: str | None = None
    args: tuple[str, ...] = ()
    expect: tuple[Expect, ...] = ()
    forbid: tuple[str, ...] = ()
    preflight: bool = False
    needs: tuple[str, ...] = ()  # importable packages the script needs (integrations extra)
    callback: bool = False  # run with plain python; the script writes its callback's report
    why: str = ""

    @property
    def id(self) -> str:
        parts = [self.script.removesuffix(".py")]
        if self.preflight:
            parts.append("preflight")
        parts.extend(a.lstrip("-") for a in self.args)
        parts.append(self.bug or "clean")
        return "-".join(parts)

    @property
    def clean(self) -> bool:
        return not self.expect

    def missing_packages(self) -> list[str]:
        return [name for name in self.needs if importlib.util.find_spec(name) is None]


LIGHTNING = ("lightning",)
HF = ("transformers", "accelerate")
FLAX = ("jax", "flax", "optax")

ROWS: tuple[Row, ...] = (
    # CNN with BatchNorm, dropout and OneCycleLR (pytorch/examples mnist loop)
    Row("cnn_bn_onecycle.py"),
    Row("cnn_bn_onecycle.py", "no-zero-grad", expect=(Expect("missing-zero-grad", "error", by_step=2),)),
    Row("cnn_bn_onecycle.py", "softmax-ce", expect=(Expect("probabilities-to-logit-loss", "error", by_step=1),)),
    # max_lr 0.3: the loss sits at ln 10 for all 96 steps (accuracy 0.09)
    Row("cnn_bn_onecycle.py", "lr-100x",
        expect=(Expect(("update-ratio-high", "loss-diverging", "exploding-gradients", "non-finite",
                        "loss-at-chance", "loss-oscillating")),)),
    Row("cnn_bn_onecycle.py", "train-mode-missing",
        expect=(Expect("train-mode-missing", "error", by_step=20, where_contains="dropout"),),
        why="test() calls model.eval() at the end of epoch 1 (step 16); every later step trains in eval mode"),
    Row("cnn_bn_onecycle.py", "step-before-backward",
        expect=(Expect("step-before-backward", "error", by_step=3),)),
    Row("cnn_bn_onecycle.py", "pixels-255", expect=(Expect("unnormalized-inputs", "warning", by_step=2),)),

    # tabular MLP with validation split and early stopping
    Row("tabular_mlp_early_stopping.py"),
    Row("tabular_mlp_early_stopping.py", "labels-shuffled",
        expect=(Expect("loss-at-chance", "warning", by_step=110),),
        why="labels permuted apart from the rows: the loss sits at the label entropy ≈ ln 7"),
    Row("tabular_mlp_early_stopping.py", "unscaled-features",
        expect=(Expect("unnormalized-inputs", "warning", by_step=2),)),
    Row("tabular_mlp_early_stopping.py", "weight-decay-high",
        expect=(Expect("weight-decay-high", "warning", by_step=20),)),
    Row("tabular_mlp_early_stopping.py", "optimizer-on-copy",
        expect=(Expect(("optimizer-not-on-model", "params-not-updated"), "error", by_step=5),),
        why="Adam steps a deepcopy's parameters; the trained model never changes"),
    Row("tabular_mlp_early_stopping.py", "frozen-by-mistake",
        expect=(Expect("frozen-params", "warning", where_contains="0.weight"),),
        why="frozen parameters that the optimizer was given: the user meant them to train"),

    # character LSTM LM: linear warm-up (LambdaLR, first step at lr 0) and clipping
    Row("char_lm_warmup.py"),
    Row("char_lm_warmup.py", "clip-1e-9",
        expect=(Expect("grad-clipped-to-nothing", "error", by_step=5, message_contains=("max_norm=1e-09",)),),
        why="clipped gradient entries far below AdamW's eps leave updates ~1e-3 of normal: nothing learns"),
    Row("char_lm_warmup.py", "steplr-per-batch",
        expect=(Expect("lr-schedule-collapsed", "warning", by_step=40),),
        why="StepLR(step_size=2, gamma=0.5) per batch: lr falls 100x by step 14"),

    # word LM updated by hand (p.data.add_), as pytorch/examples word_language_model
    Row("word_lm_manual_sgd.py"),
    Row("word_lm_manual_sgd.py", "no-zero-grad", expect=(Expect("missing-zero-grad", "error", by_step=2),)),
    Row("word_lm_manual_sgd.py", "clip-1e-9",
        expect=(Expect("grad-clipped-to-nothing", "error", by_step=5, message_contains=("clip_grad_norm_",)),),
        why="plain SGD: lr x 1e-9-norm gradient is below float32 resolution of almost every weight"),

    # multi-label BCEWithLogitsLoss with pos_weight
    Row("multilabel_bce_posweight.py"),
    Row("multilabel_bce_posweight.py", "sigmoid-into-bce-logits",
        expect=(Expect("probabilities-to-logit-loss", "error", by_step=1),)),
    Row("multilabel_bce_posweight.py", "no-zero-grad", expect=(Expect("missing-zero-grad", "error", by_step=2),)),

    # VAE with sigmoid decoder, BCE(sum) + KL
    Row("vae.py"),
    Row("vae.py", preflight=True, forbid=("output-bias-imbalance",),
        why="border pixels are 0 in every image: not a bias to fix"),
    Row("vae.py", "no-zero-grad", expect=(Expect("missing-zero-grad", "error", by_step=2),)),

    # CPU bfloat16 autocast
    Row("bf16_autocast.py"),
    Row("bf16_autocast.py", "softmax-ce", expect=(Expect("probabilities-to-logit-loss", "error", by_step=1),)),
    Row("bf16_autocast.py", "lr-100x",
        expect=(Expect(("update-ratio-high", "loss-diverging", "exploding-gradients", "non-finite",
                        "loss-oscillating")),)),

    # GradScaler("cpu") with float16 autocast, unscale_ + clipping
    Row("gradscaler_fp16.py"),
    Row("gradscaler_fp16.py", "no-zero-grad", expect=(Expect("missing-zero-grad", "error", by_step=2),),
        why="accumulated, although unscale_ divides the old part by 65536 each step"),
    Row("gradscaler_fp16.py", "softmax-ce", expect=(Expect("probabilities-to-logit-loss", "error", by_step=1),)),

    # LBFGS with a closure (full batch, strong Wolfe)
    Row("lbfgs_logistic.py"),
    Row("lbfgs_logistic.py", "no-zero-grad-in-closure",
        expect=(Expect("missing-zero-grad", "error", by_step=2),),
        why="every closure evaluation of the line search adds onto the previous gradient"),

    # pytorch/examples time_sequence_prediction: LSTMCell unrolled in Python + LBFGS
    Row("lstmcell_lbfgs_sine.py"),

    # Adam / AdamW / SGD stepped with optimizer.step(closure)
    Row("closure_optimizers.py", args=("--optimizer", "adam")),
    Row("closure_optimizers.py", args=("--optimizer", "adamw")),
    Row("closure_optimizers.py", args=("--optimizer", "sgd")),
    Row("closure_optimizers.py", "no-zero-grad", args=("--optimizer", "adam"),
        expect=(Expect("missing-zero-grad", "error", by_step=2),), forbid=CLOSURE_FALSE_ALARMS),

    # gradient accumulation
    Row("grad_accumulation.py"),
    Row("grad_accumulation.py", "not-averaged",
        expect=(Expect("accumulation-not-averaged", "info", by_step=8),)),

    # frozen backbone on purpose (pretrain stage, then head-only fine-tuning)
    Row("frozen_backbone_finetune.py"),
    Row("frozen_backbone_finetune.py", "frozen-by-mistake",
        expect=(Expect("frozen-params", "warning", where_contains="fc.weight"),),
        why="the new head's weight is frozen too, while the optimizer holds it"),

    # no dropout, no normalisation: eval mode is harmless
    Row("no_dropout_regression.py"),
    Row("no_dropout_regression.py", "eval-left-on",
        why="eval mode changes nothing without dropout/BatchNorm: train-mode-missing must stay silent"),
    Row("no_dropout_regression.py", "lr-100x",
        expect=(Expect(("update-ratio-high", "loss-diverging", "exploding-gradients", "saturated-activation",
                        "non-finite")),)),

    # per-sample SGD, 1-D inputs
    Row("per_sample_sgd.py"),
    Row("per_sample_sgd.py", "dead-relu", expect=(Expect("dead-relu", "warning", by_step=150),),
        forbid=("loss-diverging",),
        why="3 ReLU units dead after one huge update on raw inputs; the loss is per-sample noise"),

    # evaluation at iteration 0 under no_grad
    Row("eval_before_training.py"),
    Row("eval_before_training.py", "softmax-ce",
        expect=(Expect("probabilities-to-logit-loss", "error", by_step=1),),
        why="the first loss calls are the no_grad baseline evaluation; the training calls must be judged"),

    # spectral_norm evaluated before any training-mode forward
    Row("spectral_norm_classifier.py"),
    Row("spectral_norm_classifier.py", "eval-before-any-training",
        expect=(Expect(("initial-loss-off", "initial-eval-loss-off"), "warning", by_step=0),),
        why="first evaluation loss ≈ 3e4 where ln 10 = 2.3"),

    # dropout applied functionally with training=True
    Row("functional_dropout_eval.py"),
    Row("functional_dropout_eval.py", "dropout-always-on",
        expect=(Expect(("eval-mode-missing", "functional-dropout-in-eval"), "warning"),)),

    # (1, B, C) output flattened with .view(-1, C): correct
    Row("seq_first_output.py", preflight=True, forbid=("invalid-output",)),

    # Transformer LM, logits.view(-1, V) vs targets.view(-1)
    Row("transformer_lm.py"),
    Row("transformer_lm.py", preflight=True),
    Row("transformer_lm.py", "seq-first-encoder", preflight=True,
        expect=(Expect("batch-mixing", "error"),),
        why="(B, T) batches into a batch_first=False encoder: attention across samples"),

    # k-fold CV with the optimizer created once
    Row("kfold_cv.py"),
    Row("kfold_cv.py", "optimizer-outside-fold-loop",
        expect=(Expect(("optimizer-not-on-model", "params-not-updated"), "error", by_step=5),)),

    # GAN (pytorch/examples dcgan loop): two models, two optimizers, G's backward through D
    Row("gan_mlp.py", why="adversarial losses do not fall: loss-trend rules must not judge them as supervised"),
    Row("gan_mlp.py", "no-netd-zero-grad", expect=(Expect("missing-zero-grad", "error", by_step=3),)),

    # mixup (facebookresearch/mixup-cifar10) and its soft-target form: train loss stays high
    Row("mixup_soft_targets.py"),
    Row("mixup_soft_targets.py", args=("--soft",)),

    # contrastive pre-training (sthalles/SimCLR's info_nce_loss): all-zero targets, logits / 0.07
    Row("simclr_info_nce.py", args=("--epochs", "4")),

    # policy gradient (pytorch/examples reinforce.py): the surrogate loss wanders around 0
    Row("reinforce_cartpole.py", args=("--episodes", "120"),
        why="REINFORCE's loss is a surrogate (log_prob × normalised return): loss-diverging fired on it"),
    Row("reinforce_cartpole.py", "lr-100x", args=("--episodes", "40"),
        expect=(Expect("update-ratio-high", "warning", by_step=10, where_contains="affine"),)),
    Row("reinforce_cartpole.py", args=("--algorithm", "actor-critic", "--episodes", "60"),
        why="actor-critic: policy surrogate + smooth_l1 critic loss per environment step, summed"),
    Row("reinforce_cartpole.py", "lr-100x", args=("--algorithm", "actor-critic", "--episodes", "30"),
        expect=(Expect("update-ratio-high", "warning", by_step=10, where_contains="head"),)),

    # knowledge distillation: teacher trained first, then queried in eval/no_grad at every student step
    Row("distillation_kl.py"),
    Row("distillation_kl.py", "kl-on-logits",
        expect=(Expect("logits-to-probability-loss", "error", by_step=101),),
        why="the student's first step is step 100 (the teacher trains for 100 steps first)"),

    # EMA of the weights (AveragedModel), evaluated instead of the raw model
    Row("ema_swa.py"),

    # Lightning, automatic optimization (optimizer.step(closure) inside Lightning)
    Row("lightning_classifier.py", needs=LIGHTNING),
    # accumulate_grad_batches: the last micro-batch's backward runs inside step(closure), onto
    # the gradients of the micro-batches before it (was a false missing-zero-grad error)
    Row("lightning_classifier.py", args=("--accumulate", "4", "--clip", "1.0"), needs=LIGHTNING),
    Row("lightning_classifier.py", "softmax-ce", needs=LIGHTNING,
        expect=(Expect("probabilities-to-logit-loss", "error", by_step=1),), forbid=CLOSURE_FALSE_ALARMS),
    Row("lightning_classifier.py", "frozen-by-mistake", needs=LIGHTNING,
        expect=(Expect("frozen-params", "warning", where_contains="encoder.0.weight"),),
        forbid=CLOSURE_FALSE_ALARMS),
    Row("lightning_classifier.py", "lr-100x", needs=LIGHTNING,
        expect=(Expect(("update-ratio-high", "loss-diverging", "exploding-gradients", "non-finite",
                        "loss-oscillating")),), forbid=CLOSURE_FALSE_ALARMS),
    # Lightning, manual optimization
    Row("lightning_manual_optimization.py", needs=LIGHTNING),
    Row("lightning_manual_optimization.py", "no-zero-grad", needs=LIGHTNING,
        expect=(Expect("missing-zero-grad", "error", by_step=2),)),

    # HF Trainer, tiny random BERT, warmup_steps=5
    # 🤗 Accelerate without Trainer (run_glue_no_trainer.py): prepared optimizer, accumulate()
    Row("accelerate_no_trainer.py", needs=HF),
    Row("accelerate_no_trainer.py", args=("--gradient-accumulation-steps", "2"), needs=HF,
        why="the prepared optimizer skips step/zero_grad between synchronisations; accelerate scales the loss"),
    Row("accelerate_no_trainer.py", "no-eval-mode", needs=HF,
        expect=(Expect("eval-mode-missing", "warning", where_contains="dropout",
                       message_contains=("scaled_dot_product_attention",)),)),
    Row("accelerate_no_trainer.py", "lr-100x", needs=HF,
        expect=(Expect(("update-ratio-high", "loss-diverging", "exploding-gradients", "saturated-activation",
                        "vanishing-gradients"), "warning"),)),
    Row("hf_bert_trainer.py", needs=HF),
    Row("hf_bert_trainer.py", args=("--accumulate", "4"), needs=HF),  # accelerate's accumulation, warm-up, clipping
    Row("hf_bert_trainer.py", preflight=True, needs=HF,
        why="preflight must run on dict-of-tensors batches (today: 'got tuple')"),
    Row("hf_bert_trainer.py", "softmax-ce", needs=HF,
        expect=(Expect("probabilities-to-logit-loss", "error", by_step=1),), forbid=CLOSURE_FALSE_ALARMS),
    Row("hf_bert_trainer.py", "frozen-by-mistake", needs=HF,
        expect=(Expect("frozen-params", "info", where_contains="bert.embeddings"),), forbid=CLOSURE_FALSE_ALARMS),
    Row("hf_bert_trainer.py", "lr-100x", needs=HF,
        expect=(Expect(("update-ratio-high", "loss-diverging", "exploding-gradients", "non-finite",
                        "loss-oscillating", "loss-at-chance", "saturated-activation")),),
        forbid=CLOSURE_FALSE_ALARMS),

    # pytorch/examples mnist/main.py, synthetic data: Adadelta lr 1.0, StepLR per epoch, log_softmax + nll_loss
    Row("mnist_adadelta.py"),
    Row("mnist_adadelta.py", "softmax-nll", expect=(Expect("logits-to-probability-loss", "error", by_step=1),)),
    Row("mnist_adadelta.py", "train-mode-missing",
        expect=(Expect("train-mode-missing", "error", by_step=12, where_contains="dropout"),),
        why="the first test() at the end of epoch 1 (step 10) leaves eval mode on for the later epochs"),

    # pytorch/examples mnist_rnn/main.py: LSTM over image rows, BatchNorm1d + Dropout2d head, Adadelta
    Row("mnist_rnn.py", preflight=True),
    Row("mnist_rnn.py", "seq-first-lstm", preflight=True, expect=(Expect("batch-mixing", "error"),),
        why="batch_first left out: the (B, 28, 28) batch is read as 28 sequences of length B"),
    Row("mnist_rnn.py", "no-zero-grad", expect=(Expect("missing-zero-grad", "error", by_step=2),)),

    # pytorch/examples regression/main.py: one Linear on [x, x^2, x^3, x^4], updated by hand
    Row("poly_regression.py", why="heavy-tailed x^4 features: one batch can look unscaled by chance"),
    Row("poly_regression.py", "no-zero-grad", expect=(Expect("missing-zero-grad", "error", by_step=2),)),
    Row("poly_regression.py", "lr-100x", expect=(Expect(("update-ratio-high", "loss-diverging")),)),

    # google/flax examples/mnist/train.py as written for Linen: TrainState, apply_model (grads, loss,
    # accuracy) and update_model jitted apart, the test set scored with the gradient-taking apply_model
    Row("flax_mnist_linen.py", needs=FLAX),
    Row("flax_mnist_linen.py", "lr-100x", args=("--epochs", "1"), needs=FLAX,
        expect=(Expect("non-finite", "error", by_step=10),)),
    Row("flax_mnist_linen.py", "no-update", args=("--epochs", "1"), needs=FLAX,
        expect=(Expect("params-not-updated", "error", message_contains=("not kept",)),),
        why="`update_model(state, grads)` without `state =`: the new TrainState is dropped every step"),
    # google/flax examples/mnist/train.py (NNX): nnx.jit train/eval steps, BatchNorm, Dropout, MultiMetric
    Row("flax_mnist_nnx.py", needs=FLAX),
    Row("flax_mnist_nnx.py", "lr-100x", args=("--epochs", "1"), needs=FLAX,
        expect=(Expect("non-finite", "error", message_contains=("update",)),)),
    Row("flax_mnist_nnx.py", "fresh-rngs", args=("--epochs", "1"), needs=FLAX,
        expect=(Expect("dropout-key-reused", "error"),)),
    Row("flax_mnist_nnx.py", "few-steps", needs=FLAX, expect=(Expect("eval-worse-than-untrained", by_step=10),),
        forbid=("overfitting",)),

    # explicit callbacks (nndoctor.integrations.*.NNDoctorCallback)
    Row("lightning_callback.py", needs=LIGHTNING, callback=True),
    Row("lightning_callback.py", "softmax-ce", needs=LIGHTNING, callback=True,
        expect=(Expect("probabilities-to-logit-loss", "error", by_step=1),), forbid=CLOSURE_FALSE_ALARMS),
    Row("hf_trainer_callback.py", needs=HF, callback=True),
    Row("hf_trainer_callback.py", "softmax-ce", needs=HF, callback=True,
        expect=(Expect("probabilities-to-logit-loss", "error", by_step=1),), forbid=CLOSURE_FALSE_ALARMS),
)


@dataclass
class Outcome:
    row: Row
    exit_code: int
    seconds: float
    report: dict[str, Any] | None
    stderr_tail: str
    cpu_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[dict[str, Any]]:
        return list(self.report.get("findings", [])) if self.report else []


def command_for(row: Row, json_path: Path) -> list[str]:
    script = str(CORPUS_DIR / row.script)
    script_args = list(row.args) + (["--bug", row.bug] if row.bug else [])
    if row.callback:
        return [sys.executable, script, "--report-json", str(json_path), *script_args]
    options = ["--json", str(json_path), "--quiet"] + (["--preflight"] if row.preflight else [])
    return [sys.executable, "-m", "nndoctor", "run", *options, script, *script_args]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    # One thread per run (rows run in parallel); never reach for the network.
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", PYTHONWARNINGS="ignore")
    return env


def preload_for(row: Row) -> tuple[str, ...] | None:
    """What the row's warm server imports before forking it (see tests/warm_launcher.py)."""
    if "jax" in row.needs:
        return None  # a real subprocess: XLA's threads do not survive a fork
    if "lightning" in row.needs:
        return warm_launcher.LIGHTNING
    return warm_launcher.HF if "transformers" in row.needs else warm_launcher.TORCH


def run_row(row: Row) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="nndoctor-corpus-") as tmp:
        json_path = Path(tmp) / "report.json"
        started = time.monotonic()
        try:
            finished = warm_launcher.run(command_for(row, json_path), cwd=tmp, env=environment(), capture_output=True,
                                         timeout=ROW_TIMEOUT_SECONDS, preload=preload_for(row))
            exit_code, stderr, cpu = finished.returncode, finished.stderr, finished.cpu_seconds
        except subprocess.TimeoutExpired:
            exit_code, stderr, cpu = -9, f"killed after {ROW_TIMEOUT_SECONDS} s", 0.0
        seconds = time.monotonic() - started
        report = json.loads(json_path.read_text()) if json_path.is_file() else None
    outcome = Outcome(row, exit_code, seconds, report, "\n".join(stderr.strip().splitlines()[-6:]),
                      cpu_seconds=cpu)
    outcome.problems = judge(outcome)
    return outcome


def _matches(expect: Expect, finding: dict[str, Any]) -> bool:
    if finding["rule"] not in expect.rules or SEVERITY_RANK[finding["severity"]] > SEVERITY_RANK[expect.severity]:
        return False
    if expect.by_step is not None and (finding.get("step") is None or finding["step"] > expect.by_step):
        return False
    if expect.where_contains and expect.where_contains not in json.dumps(finding.get("where")):
        return False
    message = finding.get("message", "").lower()
    return all(word.lower() in message for word in expect.message_contains)


def judge(outcome: Outcome) -> list[str]:
    """What is wrong with this run against its row (empty: as expected)."""
    row, report = outcome.row, outcome.report
    if report is None:
        return [f"no JSON report was written (exit {outcome.exit_code}): {outcome.stderr_tail}"]
    problems = []
    script_exit = report.get("context", {}).get("script_exit_code", 0 if outcome.exit_code in (0, 1) else None)
    if script_exit not in (0, None):
        problems.append(f"the script itself exited {script_exit} under nndoctor: {outcome.stderr_tail}")
    serious = [f for f in outcome.findings if f["severity"] in ("error", "warning")]
    if row.clean:
        problems.extend(f"false alarm: {_short(f)}" for f in serious)
    for expect in row.expect:
        if not any(_matches(expect, f) for f in outcome.findings):
            problems.append(f"missed: expected {expect.describe()}")
    problems.extend(f"forbidden: {_short(f)}" for f in serious if f["rule"] in row.forbid and not row.clean)
    if row.preflight and not isinstance(report.get("context", {}).get("preflight"), dict):
        problems.append(f"preflight did not run: {report.get('context', {}).get('preflight')}")
    return problems


def _short(finding: dict[str, Any]) -> str:
    return (f"{finding['rule']} ({finding['severity']}, step {finding.get('step')}): "
            f"{finding.get('message', '')[:160]}")
