"""`nndoctor run --preflight` on unchanged scripts of the kinds people write: language
models with flattened targets (batch-major and time-major), a Hugging Face model in a plain torch loop, a step preflight
cannot use (listed as skipped in the report), and a 2-process gloo DDP run that must not
hang. Each is a real subprocess; the JSON report is what is checked."""
import json
import os
import socket
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import warm_launcher

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
TIMEOUT = 240  # seconds: a hang fails the test instead of blocking the suite

LM_SCRIPT = """
import sys, torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
V, E, B, T = 16, 16, 8, 10
batch_first = "batch-first" in sys.argv
class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        layer = nn.TransformerEncoderLayer(E, 2, 32, dropout=0.0, batch_first=batch_first)
        self.enc = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(E, V)
    def forward(self, x):
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        return self.head(self.enc(self.emb(x), mask=mask, is_causal=True) if batch_first else self.enc(self.emb(x)))
model = LM()
opt = torch.optim.Adam(model.parameters(), 1e-3)
data = torch.randint(0, V, (32, T + 1))
for step in range(4):
    ids = data[step * B:(step + 1) * B]
    x, y = ids[:, :-1], ids[:, 1:]
    logits = model(x)
    loss = F.cross_entropy(logits.view(-1, V), y.reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
print("trained", repr(loss.item()), repr(sum(float(p.double().sum()) for p in model.parameters())))
"""

HF_SCRIPT = """
import sys, torch
from transformers import BertConfig, BertForSequenceClassification, logging
logging.set_verbosity_error()
torch.manual_seed(0)
config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=16, num_labels=3)
model = BertForSequenceClassification(config)
# Adam 1e-3 is preflight's reference optimizer: one overfit run instead of two keeps this fast.
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
ids = torch.randint(1, 40, (32, 8))
labels = torch.randint(0, 3, (32,))
mask = torch.ones_like(ids)
criterion = torch.nn.CrossEntropyLoss()
model.train()
for step in range(4):
    batch = {"input_ids": ids[step * 8:(step + 1) * 8], "attention_mask": mask[step * 8:(step + 1) * 8]}
    if "logits" in sys.argv:
        outputs = model(**batch)
        loss = criterion(outputs.logits, labels[step * 8:(step + 1) * 8])
    else:
        outputs = model(**batch, labels=labels[step * 8:(step + 1) * 8])
        loss = outputs.loss
    opt.zero_grad(); loss.backward(); opt.step()
print("trained")
"""

HAND_WRITTEN_LOSS_SCRIPT = """
import torch, torch.nn as nn
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
for step in range(4):
    x = torch.randn(16, 4)
    loss = ((model(x) - x.sum(1, keepdim=True)) ** 2).mean()  # no torch loss function to replay
    opt.zero_grad(); loss.backward(); opt.step()
print("trained")
"""

LAST_HIDDEN_SCRIPT = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(5, 16, batch_first=True)
        self.head = nn.Linear(16, 3)
    def forward(self, x):
        _, hidden = self.rnn(x)     # (1, B, H): the last hidden state of the one layer
        return self.head(hidden)    # (1, B, C)
model = Classifier()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x, y = torch.randn(64, 6, 5), torch.randint(0, 3, (64,))
for step in range(4):
    logits = model(x[step * 16:(step + 1) * 16])
    loss = F.cross_entropy(logits.view(-1, 3), y[step * 16:(step + 1) * 16])
    opt.zero_grad(); loss.backward(); opt.step()
print("trained")
"""

DDP_SCRIPT = """
import torch, torch.nn as nn, torch.distributed as dist
dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
model = nn.parallel.DistributedDataParallel(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
generator = torch.Generator().manual_seed(rank)
for step in range(4):
    x, y = torch.randn(16, 8, generator=generator), torch.randint(0, 3, (16,), generator=generator)
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
dist.barrier()
print(f"rank {rank} trained", flush=True)
dist.destroy_process_group()
"""


def run_preflight(tmp_path, name, script, *args, launcher=()):
    """`script` is the source of a script to write, or the Path of an existing one."""
    path = script if isinstance(script, Path) else tmp_path / f"{name}.py"
    if not isinstance(script, Path):
        path.write_text(textwrap.dedent(script))
    report_path = tmp_path / f"{name}.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # A launcher (torch.distributed.run) runs as a real subprocess; the rest through a warm server.
    result = (subprocess.run if launcher else warm_launcher.run)(
        [sys.executable, *launcher, "-m", "nndoctor", "run", "--preflight", "--json", str(report_path), str(path), *args],
        capture_output=True, text=True, timeout=TIMEOUT, env=env,
    )
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return result, report


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The single-process runs, two at a time (each is its own Python process)."""
    out = tmp_path_factory.mktemp("preflight_runs")
    cases = {
        "lm-time-major": (LM_SCRIPT,),
        "lm-batch-first": (LM_SCRIPT, "batch-first"),
        "hf-outputs-loss": (HF_SCRIPT,),
        "hf-logits": (HF_SCRIPT, "logits"),
        "hand-written-loss": (HAND_WRITTEN_LOSS_SCRIPT,),
        "rnn-last-hidden": (LAST_HIDDEN_SCRIPT,),
        # Time-major (T, B) tokens, hidden state passed, targets shifted along time.
        "example-lstm-lm": (EXAMPLES / "train_lstm_lm.py", "--epochs", "1"),
    }
    if "transformers" not in sys.modules:
        try:
            import transformers  # noqa: F401
        except ImportError:
            del cases["hf-outputs-loss"], cases["hf-logits"]
    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(run_preflight, out, name, *case) for name, case in cases.items()}
    return {name: future.result() for name, future in futures.items()}


def preflight_findings(report):
    return [f for f in report["findings"] if f["rule"] in report["context"]["preflight"]["checks_run"]]


def test_lm_with_flattened_targets_catches_a_transformer_without_batch_first(runs):
    result, report = runs["lm-time-major"]
    assert result.returncode == 1 and "trained" in result.stdout, result.stderr
    assert isinstance(report["context"]["preflight"], dict), report["context"]["preflight"]
    assert [f["rule"] for f in report["findings"] if f["severity"] == "error"] == ["batch-mixing"]


def test_lm_with_batch_first_and_causal_mask_is_clean(runs, tmp_path):
    result, report = runs["lm-batch-first"]
    assert result.returncode == 0 and "trained" in result.stdout, result.stderr
    # Preflight on the first step left training exactly as it was: same losses, same weights.
    script = tmp_path / "plain.py"
    script.write_text(textwrap.dedent(LM_SCRIPT))
    plain = subprocess.run([sys.executable, str(script), "batch-first"], capture_output=True, text=True,
                           timeout=TIMEOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.stdout == plain.stdout
    assert "batch-mixing" in report["context"]["preflight"]["checks_run"]
    assert [f for f in report["findings"] if f["severity"] in ("error", "warning")] == []


@pytest.mark.parametrize("variant", ["hf-outputs-loss", "hf-logits"])
def test_hugging_face_model_in_a_plain_loop_is_preflighted(runs, variant):
    if variant not in runs:
        pytest.skip("transformers is not installed")
    result, report = runs[variant]
    assert result.returncode == 0 and "trained" in result.stdout, result.stderr
    preflight = report["context"]["preflight"]
    assert isinstance(preflight, dict), preflight
    for rule in ("batch-mixing", "invalid-output", "cannot-overfit-batch"):
        assert rule in preflight["checks_run"]
    assert "preflight" not in [s["rule"] for s in report["checks_skipped"]]
    assert [f for f in report["findings"] if f["severity"] in ("error", "warning")] == []


def test_last_hidden_state_output_reshaped_for_the_loss_is_not_an_invalid_output(runs):
    result, report = runs["rnn-last-hidden"]
    assert result.returncode == 0 and "trained" in result.stdout, result.stderr
    assert "invalid-output" in report["context"]["preflight"]["checks_run"]
    assert [f for f in report["findings"] if f["severity"] in ("error", "warning")] == []


def test_time_major_lstm_language_model_is_not_batch_mixing(runs):
    result, report = runs["example-lstm-lm"]
    assert result.returncode == 0, result.stderr
    assert "batch-mixing" in report["context"]["preflight"]["checks_run"]
    assert [f for f in report["findings"] if f["severity"] in ("error", "warning")] == []


def test_a_step_preflight_cannot_use_is_a_skipped_check_in_the_report(runs):
    result, report = runs["hand-written-loss"]
    assert result.returncode == 0 and "trained" in result.stdout, result.stderr
    skipped = {s["rule"]: s["reason"] for s in report["checks_skipped"]}
    assert "torch loss function" in skipped["preflight"]
    assert "skipped preflight" in result.stderr  # and shown in the final report, not only logged


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_distributed_run_skips_preflight_on_every_rank_without_hanging(tmp_path):
    launcher = ("-m", "torch.distributed.run", "--nproc-per-node", "2",
                "--master-addr", "127.0.0.1", "--master-port", str(free_port()))
    result, report = run_preflight(tmp_path, "ddp", DDP_SCRIPT, launcher=launcher)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rank 0 trained" in result.stdout and "rank 1 trained" in result.stdout
    assert result.stderr.count("skipped preflight: preflight is skipped under distributed training") == 2
    skipped = {s["rule"]: s["reason"] for s in report["checks_skipped"]}
    assert skipped["preflight"].startswith("preflight is skipped under distributed training: with 2 processes")
