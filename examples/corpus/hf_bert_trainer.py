"""Sequence classification with Hugging Face `Trainer` on a tiny, randomly initialised BERT.

The model comes from a small `BertConfig` (no download), the "text" is hand-made token ids (no
tokenizer): class 0 sentences use one half of the vocabulary more often, class 1 the other.
TrainingArguments as the run_glue example sets them: AdamW with linear decay and
`warmup_steps > 0` (so the first optimizer step runs at learning rate 0), weight decay, an
evaluation each epoch, nothing saved, no integrations (`report_to=[]`), a temporary output_dir.

    python hf_bert_trainer.py [--bug NAME]

Bugs, as users write them:
  softmax-ce          a Trainer subclass whose compute_loss applies softmax before cross_entropy
  frozen-by-mistake   `model.bert.requires_grad_(False)` "to keep the pretrained encoder" on a
                      model built from a config, i.e. not pretrained at all
  lr-100x             learning_rate=0.1 instead of 1e-3
"""
import argparse
import tempfile
import warnings

import torch
import torch.nn.functional as F
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

BUGS = ("none", "softmax-ce", "frozen-by-mistake", "lr-100x")
VOCAB, LENGTH = 120, 16
warnings.filterwarnings("ignore")


class TokenDataset(torch.utils.data.Dataset):
    def __init__(self, count, seed):
        generator = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, 2, (count,), generator=generator)
        half = torch.randint(3, VOCAB // 2, (count, LENGTH), generator=generator) + self.labels[:, None] * (VOCAB // 2 - 3)
        noise = torch.randint(3, VOCAB, (count, LENGTH), generator=generator)
        tokens = torch.where(torch.rand(count, LENGTH, generator=generator) < 0.8, half, noise)
        lengths = torch.randint(LENGTH // 2, LENGTH + 1, (count,), generator=generator)
        self.mask = (torch.arange(LENGTH)[None, :] < lengths[:, None]).long()
        tokens[:, 0] = 1  # [CLS]
        self.input_ids = tokens * self.mask  # 0 = [PAD]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return {"input_ids": self.input_ids[index], "attention_mask": self.mask[index],
                "labels": self.labels[index]}


class SoftmaxLossTrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        probabilities = outputs.logits.softmax(dim=-1)
        loss = F.cross_entropy(probabilities, labels)
        return (loss, outputs) if return_outputs else loss


def tiny_bert(bug="none"):
    torch.manual_seed(0)
    config = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, num_labels=2)
    model = BertForSequenceClassification(config)
    if bug == "frozen-by-mistake":
        model.bert.requires_grad_(False)
    return model


def make_trainer(model, output_dir, bug="none", epochs=3, callbacks=None, accumulate=1):
    training_args = TrainingArguments(
        output_dir=output_dir, num_train_epochs=epochs, per_device_train_batch_size=16,
        per_device_eval_batch_size=64, learning_rate=0.1 if bug == "lr-100x" else 1e-3,
        warmup_steps=5, weight_decay=0.01, eval_strategy="epoch", save_strategy="no",
        logging_strategy="epoch", report_to=[], use_cpu=True, seed=0, disable_tqdm=True,
        dataloader_num_workers=0, gradient_accumulation_steps=accumulate,
    )
    trainer_class = SoftmaxLossTrainer if bug == "softmax-ce" else Trainer
    return trainer_class(model=model, args=training_args, train_dataset=TokenDataset(480, 1),
                         eval_dataset=TokenDataset(128, 2), callbacks=callbacks)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--accumulate", type=int, default=1, help="TrainingArguments(gradient_accumulation_steps=N)")
    args = parser.parse_args()
    model = tiny_bert(args.bug)
    with tempfile.TemporaryDirectory() as output_dir:
        trainer = make_trainer(model, output_dir, args.bug, args.epochs, accumulate=args.accumulate)
        trainer.train()
        print(trainer.evaluate())


if __name__ == "__main__":
    main()
