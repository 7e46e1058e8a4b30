"""NNDoctorCallback on real tiny Hugging Face Trainer runs (a randomly initialised
BertForSequenceClassification from a small config, hand-made token ids, no download):
silent with warm-up from lr = 0 and with accumulation, and planted bugs caught."""
import tempfile

import pytest
import torch

transformers = pytest.importorskip("transformers", reason="transformers is in the integrations extra")
pytest.importorskip("accelerate", reason="the Trainer needs accelerate")
from nndoctor.integrations.transformers import NNDoctorCallback  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class TokenDataset(torch.utils.data.Dataset):
    def __init__(self, ids, labels):
        self.ids, self.labels = ids, labels

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        return {"input_ids": self.ids[index], "attention_mask": torch.ones_like(self.ids[index]),
                "labels": self.labels[index]}


def train(*, lr=5e-4, accumulation=1, freeze_all_but_classifier=False, epochs=2):
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=32, num_labels=2)
    model = transformers.BertForSequenceClassification(config)
    if freeze_all_but_classifier:
        optimizer = torch.optim.AdamW(model.classifier.parameters(), lr=lr)  # the encoder left out by mistake
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 100, (240, 16), generator=generator)
    labels = (ids[:, 0] > 50).long()
    args = transformers.TrainingArguments(
        output_dir=tempfile.mkdtemp(), per_device_train_batch_size=16, num_train_epochs=epochs,
        learning_rate=lr, warmup_steps=8, gradient_accumulation_steps=accumulation, report_to=[],
        logging_strategy="no", save_strategy="no", eval_strategy="epoch", use_cpu=True, disable_tqdm=True)
    callback = NNDoctorCallback(live=False)
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=TokenDataset(ids[:192], labels[:192]),
        eval_dataset=TokenDataset(ids[192:], labels[192:]), callbacks=[callback],
        optimizers=(optimizer, None) if freeze_all_but_classifier else (None, None))
    trainer.train()
    return callback.report


def problems(report):
    return {f.rule for f in report.findings if f.severity in ("error", "warning")}


@pytest.mark.parametrize("accumulation", [1, 2])
def test_warm_up_from_zero_and_accumulation_are_silent(accumulation):
    report = train(accumulation=accumulation)
    assert problems(report) == set()
    assert {"params-not-updated", "vanishing-gradients", "missing-zero-grad"} <= set(report.checks_run)


def test_encoder_left_out_of_the_optimizer_is_caught():
    assert "params-not-updated" in problems(train(freeze_all_but_classifier=True))
