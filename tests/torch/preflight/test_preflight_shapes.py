"""Preflight on the shapes real training code uses: language-model targets flattened to
(N·T,), outputs the loss receives reshaped, nested and keyword inputs, and Hugging Face
models whose output is a ModelOutput with `.loss` and `.logits` (all real tiny models)."""
from collections import UserDict
from dataclasses import dataclass

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import nndoctor
from nndoctor.torch.preflight.snapshot import StateSnapshot
from nndoctor.torch.preflight.structures import CallArguments
from preflight_tiny_models import MLP, N, classification_batch

VOCAB, DIM, LENGTH = 16, 16, 8


class SequenceLM(nn.Module):
    """Embedding → one TransformerEncoder layer → vocabulary head, logits (N, T, V);
    `flatten=True` returns them as (N·T, V) itself."""

    def __init__(self, batch_first=True, causal=True, flatten=False):
        super().__init__()
        torch.manual_seed(0)
        self.batch_first, self.causal, self.flatten = batch_first, causal, flatten
        self.embed = nn.Embedding(VOCAB, DIM)
        layer = nn.TransformerEncoderLayer(DIM, 2, 32, dropout=0.0, batch_first=batch_first)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(DIM, VOCAB)

    def forward(self, ids):
        h = self.embed(ids)
        if self.causal:
            mask = nn.Transformer.generate_square_subsequent_mask(ids.shape[1])
            h = self.encoder(h, mask=mask, is_causal=True)
        else:
            h = self.encoder(h)
        logits = self.head(h)
        return logits.reshape(-1, VOCAB) if self.flatten else logits


def lm_batch(seed=0):
    """Next-token prediction: inputs (N, T), targets flattened to (N·T,) as the loss gets them."""
    ids = torch.randint(0, VOCAB, (N, LENGTH + 1), generator=torch.Generator().manual_seed(seed))
    return ids[:, :-1], ids[:, 1:].reshape(-1)


def lm_loss(logits, targets):
    return F.cross_entropy(logits.view(-1, VOCAB), targets)


def mixing(model, batch, loss_fn=lm_loss):
    report = nndoctor.preflight(model, batch, loss_fn, select=["batch-mixing"])
    assert "batch-mixing" in report.checks_run, report.checks_skipped
    return [f for f in report.findings if f.rule == "batch-mixing"]


# Flattened sequence targets --------------------------------------------------------------
def test_transformer_without_batch_first_on_batch_major_tokens_mixes_samples():
    found = mixing(SequenceLM(batch_first=False, causal=False), lm_batch())
    assert len(found) == 1 and "with respect to sample" in found[0].message
    assert found[0].evidence["batch_size"] == N


@pytest.mark.parametrize("flatten", [False, True])
def test_batch_first_causal_lm_is_silent(flatten):
    assert mixing(SequenceLM(batch_first=True, causal=True, flatten=flatten), lm_batch()) == []


def test_model_that_flattens_its_own_output_is_still_probed_per_sample():
    found = mixing(SequenceLM(batch_first=False, causal=False, flatten=True), lm_batch())
    assert len(found) == 1


def test_missing_causal_mask_is_caught_with_flattened_targets():
    found = mixing(SequenceLM(batch_first=True, causal=False), lm_batch())
    assert len(found) == 1 and "shifted by one step" in found[0].message


def test_full_preflight_on_a_healthy_causal_lm_with_flattened_targets_is_clean():
    model = SequenceLM()
    batch = lm_batch()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    snapshot = StateSnapshot.capture(model, optimizer, *batch)
    report = nndoctor.preflight(model, batch, lm_loss, optimizer, steps=100)
    assert snapshot.differences() == []
    assert [f for f in report.findings if f.severity in ("error", "warning")] == [], report.findings
    for rule in ("cannot-overfit-batch", "batch-mixing", "initial-loss-off", "invalid-output"):
        assert rule in report.checks_run, report.checks_skipped
    assert report.context["batch_size"] == N


def test_targets_not_a_multiple_of_the_samples_are_a_usage_error():
    inputs, targets = lm_batch()
    with pytest.raises(nndoctor.UsageError, match=r"\(16·T, ...\) for flattened sequences"):
        nndoctor.preflight(SequenceLM(), (inputs, targets[:-3]), lm_loss)


# invalid-output judges the output as the loss sees it -------------------------------------
class LeadingOne(nn.Module):
    """Returns (1, N, C), as a sequence model run on one step does."""

    def __init__(self):
        super().__init__()
        self.inner = MLP()

    def forward(self, x):
        return self.inner(x).unsqueeze(0)


def invalid_output(model, batch, loss_fn):
    report = nndoctor.preflight(model, batch, loss_fn, select=["invalid-output"], steps=30)
    assert "invalid-output" in report.checks_run, report.checks_skipped
    return [f for f in report.findings if f.rule == "invalid-output"]


def test_leading_one_output_reshaped_before_the_loss_is_valid():
    assert invalid_output(LeadingOne(), classification_batch(), lambda out, y: F.cross_entropy(out.view(-1, 4), y)) == []


def test_output_averaged_over_the_batch_still_fires_when_the_loss_broadcasts_it():
    x, y = classification_batch()

    class Averaged(LeadingOne):
        def forward(self, x):
            return self.inner(x).mean(0, keepdim=True)  # (1, C): one prediction for all

    with pytest.warns(UserWarning):  # torch's own broadcasting warning: the bug is real
        found = invalid_output(Averaged(), (x, F.one_hot(y, 4).float()),
                               lambda out, t: F.mse_loss(out.view(-1, 4), t))
    assert len(found) == 1 and found[0].evidence["output_shape"] == [1, 4]


def test_leading_one_output_with_a_constant_prediction_still_warns():
    class Constant(LeadingOne):
        def forward(self, x):
            return self.inner(x * 0).unsqueeze(0)

    found = invalid_output(Constant(), classification_batch(), lambda out, y: F.cross_entropy(out.view(-1, 4), y))
    assert len(found) == 1 and found[0].severity == "warning"


# Nested and keyword inputs ---------------------------------------------------------------
class DictModel(nn.Module):
    """Takes one dict argument with features, a mask and a non-tensor flag."""

    def __init__(self):
        super().__init__()
        self.inner = MLP()

    def forward(self, batch, scale=None):
        assert batch["flag"] == "on"
        out = self.inner(batch["features"] * batch["mask"])
        return out if scale is None else out * scale


class KeywordModel(DictModel):
    def forward(self, features, mask, flag="on"):
        return super().forward({"features": features, "mask": mask, "flag": flag})


class Encoding(UserDict):
    """Like transformers' BatchEncoding: a Mapping that is not a dict."""


@pytest.mark.parametrize("make_inputs, model", [
    (lambda x: ({"features": x, "mask": torch.ones_like(x), "flag": "on"},), DictModel()),
    (lambda x: Encoding(features=x, mask=torch.ones_like(x), flag="on"), KeywordModel()),
    (lambda x: CallArguments(({"features": x, "mask": torch.ones_like(x), "flag": "on"},), {"scale": 2.0}), DictModel()),
], ids=["tuple-of-dict", "batch-encoding", "args-and-kwargs"])
def test_nested_inputs_run_every_experiment(make_inputs, model):
    x, y = classification_batch()
    inputs = make_inputs(x)
    snapshot = StateSnapshot.capture(model, None, inputs, y)
    report = nndoctor.preflight(model, (inputs, y), nn.CrossEntropyLoss())
    assert snapshot.differences() == []
    # every experiment, architecture lints included (the curvature limit needs an SGD learning rate)
    assert [s for s in report.checks_skipped if s.rule != "lr-above-curvature-limit"] == [], report.checks_skipped
    assert [f for f in report.findings if f.severity in ("error", "warning")] == [], report.findings


@dataclass
class Output:
    loss: torch.Tensor
    logits: torch.Tensor


def test_dataclass_output_is_judged_by_its_logits():
    class Returns(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = MLP()

        def forward(self, x, y):
            logits = self.inner(x)
            return Output(F.cross_entropy(logits, y), logits)

    x, y = classification_batch()
    report = nndoctor.preflight(Returns(), ((x, y), y), lambda out, _: out.loss, steps=30,
                                select=["invalid-output", "batch-mixing"])
    assert report.findings == [] and {"invalid-output", "batch-mixing"} <= set(report.checks_run)


# A Hugging Face model built from a config (no download) ----------------------------------
def tiny_bert():
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16, num_labels=3)
    return transformers.BertForSequenceClassification(config)


def bert_batch():
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 40, (N, 8), generator=generator)
    mask = torch.ones_like(ids)
    mask[::3, 6:] = 0  # some padded samples
    return ids, mask, torch.randint(0, 3, (N,), generator=generator)


@pytest.mark.parametrize("variant", ["outputs.loss", "cross-entropy-on-logits", "batch-encoding"])
def test_preflight_runs_on_a_hugging_face_model(variant):
    model = tiny_bert()
    ids, mask, labels = bert_batch()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    if variant == "outputs.loss":
        inputs = {"input_ids": ids, "attention_mask": mask, "labels": labels, "return_dict": True}
        loss_fn = lambda outputs, _: outputs.loss  # noqa: E731
    elif variant == "batch-encoding":
        from transformers import BatchEncoding  # what a tokenizer returns: a UserDict, not a dict

        inputs = BatchEncoding({"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)})
        loss_fn = lambda outputs, y: F.cross_entropy(outputs["logits"], y)  # noqa: E731
    else:
        inputs = {"input_ids": ids, "attention_mask": mask}
        loss_fn = lambda outputs, y: F.cross_entropy(outputs.logits, y)  # noqa: E731
    snapshot = StateSnapshot.capture(model, optimizer, inputs, labels)
    report = nndoctor.preflight(model, (inputs, labels), loss_fn, optimizer, steps=40)
    assert snapshot.differences() == []
    assert not [f for f in report.findings if f.rule == "internal-error"], report.findings
    assert [s for s in report.checks_skipped if s.rule != "lr-above-curvature-limit"] == [], report.checks_skipped
    assert [f for f in report.findings if f.severity in ("error", "warning")] == [], report.findings


def shift_in_loss_batch(seed=0):
    """Inputs (N, T) and targets (N·(T−1),): the shift happens in the loss, as transformers'
    causal LMs do with `labels=input_ids`."""
    ids = torch.randint(0, VOCAB, (N, LENGTH), generator=torch.Generator().manual_seed(seed))
    return ids, ids[:, 1:].reshape(-1)


def shifted_loss(logits, targets):
    return F.cross_entropy(logits[:, :-1].reshape(-1, VOCAB), targets)


@pytest.mark.parametrize("causal, fires", [(False, True), (True, False)])
def test_causal_check_when_the_loss_shifts_the_targets(causal, fires):
    found = mixing(SequenceLM(batch_first=True, causal=causal), shift_in_loss_batch(), shifted_loss)
    assert [f.message for f in found if "shifted by one step" in f.message] != [] if fires else found == []


def test_hugging_face_causal_lm_with_labels_is_silent():
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=VOCAB, n_positions=16, n_embd=16,
                                                                 n_layer=1, n_head=2))
    ids, targets = shift_in_loss_batch()
    assert mixing(model, ({"input_ids": ids, "labels": ids}, targets), lambda out, _: out.loss) == []


# Time-major data (T, B): what nn.LSTM and nn.Transformer expect without batch_first -------
class TimeMajorLM(nn.Module):
    """The PyTorch word-language-model layout: tokens (T, B), logits (T, B, V)."""

    def __init__(self, kind="transformer", causal=True, rnn_batch_first=False):
        super().__init__()
        torch.manual_seed(0)
        self.kind, self.causal = kind, causal
        self.embed = nn.Embedding(VOCAB, DIM)
        if kind == "transformer":
            self.body = nn.TransformerEncoder(nn.TransformerEncoderLayer(DIM, 2, 32, dropout=0.0), 1,
                                              enable_nested_tensor=False)
        else:
            self.body = nn.LSTM(DIM, DIM, batch_first=rnn_batch_first)
        self.head = nn.Linear(DIM, VOCAB)

    def forward(self, tokens, hidden=None):
        h = self.embed(tokens)
        if self.kind == "transformer":
            mask = nn.Transformer.generate_square_subsequent_mask(tokens.shape[0]) if self.causal else None
            h = self.body(h, mask=mask, is_causal=self.causal) if self.causal else self.body(h)
        else:
            h, _ = self.body(h, hidden)
        return self.head(h)


def time_major_batch(columns=6, seed=0):
    """Next-token targets shifted along dim 0 (time), flattened as the loss gets them."""
    stream = torch.randint(0, VOCAB, (LENGTH + 1, columns), generator=torch.Generator().manual_seed(seed))
    return stream[:-1], stream[1:].reshape(-1)


def test_time_major_transformer_with_causal_mask_is_silent():
    assert mixing(TimeMajorLM("transformer", causal=True), time_major_batch()) == []


def test_time_major_transformer_without_causal_mask_reads_the_future():
    found = mixing(TimeMajorLM("transformer", causal=False), time_major_batch())
    assert len(found) == 1 and "shifted by one step" in found[0].message


def test_time_major_lstm_with_its_hidden_state_is_silent():
    tokens, targets = time_major_batch()
    hidden = (torch.zeros(1, tokens.shape[1], DIM), torch.zeros(1, tokens.shape[1], DIM))
    assert mixing(TimeMajorLM("lstm"), ((tokens, hidden), targets)) == []


def test_batch_first_lstm_fed_time_major_tokens_mixes_samples():
    found = mixing(TimeMajorLM("lstm", rnn_batch_first=True), time_major_batch())
    assert [f for f in found if "with respect to sample" in f.message]
