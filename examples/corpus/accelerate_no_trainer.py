"""Sequence classification with 🤗 Accelerate and no Trainer: the loop of transformers'
examples/pytorch/text-classification/run_glue_no_trainer.py, on a tiny random BERT.

As that script writes it: `Accelerator(gradient_accumulation_steps=...)`, AdamW over two
parameter groups (no weight decay on biases and LayerNorm weights), `get_scheduler("linear",
num_warmup_steps=...)`, `accelerator.prepare(...)` of model, optimizer, loaders and scheduler;
each step `with accelerator.accumulate(model): outputs = model(**batch); loss = outputs.loss;
accelerator.backward(loss); optimizer.step(); lr_scheduler.step(); optimizer.zero_grad()` (the
prepared optimizer skips step and zero_grad between synchronisations); an evaluation each
epoch in eval mode under torch.no_grad with `accelerator.gather_for_metrics`. The model comes
from a BertConfig (no download) and the token ids are hand-made (see hf_bert_trainer.py).

    python accelerate_no_trainer.py [--gradient-accumulation-steps K] [--bug NAME]

Bugs, as users write them:
  no-eval-mode   the evaluation loop forgets model.eval() (dropout on while measuring)
  lr-100x        learning_rate 0.1 instead of 1e-3
"""
import argparse
import math
import warnings

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader
from transformers import BertConfig, BertForSequenceClassification, get_scheduler

BUGS = ("none", "no-eval-mode", "lr-100x")
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


def parse_args():
    parser = argparse.ArgumentParser(description="Finetune a transformers model on a text classification task")
    parser.add_argument("--per_device_train_batch_size", type=int, default=16)
    parser.add_argument("--per_device_eval_batch_size", type=int, default=64)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--weight_decay", type=float, default=0.01)
    parser.add_argument("--num_train_epochs", type=int, default=3)
    parser.add_argument("--gradient-accumulation-steps", dest="gradient_accumulation_steps", type=int, default=1)
    parser.add_argument("--num_warmup_steps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bug", choices=BUGS, default="none")
    return parser.parse_args()


def main():
    args = parse_args()
    accelerator = Accelerator(gradient_accumulation_steps=args.gradient_accumulation_steps, cpu=True)
    torch.manual_seed(args.seed)
    config = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, num_labels=2)
    model = BertForSequenceClassification(config)

    train_dataloader = DataLoader(TokenDataset(480, 1), shuffle=True, batch_size=args.per_device_train_batch_size)
    eval_dataloader = DataLoader(TokenDataset(128, 2), batch_size=args.per_device_eval_batch_size)

    # Split weights in two groups, one with weight decay and the other not.
    no_decay = ["bias", "LayerNorm.weight"]
    optimizer_grouped_parameters = [
        {
            "params": [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)],
            "weight_decay": args.weight_decay,
        },
        {
            "params": [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay)],
            "weight_decay": 0.0,
        },
    ]
    learning_rate = 0.1 if args.bug == "lr-100x" else args.learning_rate
    optimizer = torch.optim.AdamW(optimizer_grouped_parameters, lr=learning_rate)

    num_update_steps_per_epoch = math.ceil(len(train_dataloader) / args.gradient_accumulation_steps)
    max_train_steps = args.num_train_epochs * num_update_steps_per_epoch
    lr_scheduler = get_scheduler(
        name="linear",
        optimizer=optimizer,
        num_warmup_steps=args.num_warmup_steps,
        num_training_steps=max_train_steps,
    )
    model, optimizer, train_dataloader, eval_dataloader, lr_scheduler = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader, lr_scheduler
    )

    completed_steps = 0
    for epoch in range(args.num_train_epochs):
        model.train()
        total_loss = 0.0
        for step, batch in enumerate(train_dataloader):
            with accelerator.accumulate(model):
                outputs = model(**batch)
                loss = outputs.loss
                total_loss += loss.detach().float()
                accelerator.backward(loss)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
            if accelerator.sync_gradients:
                completed_steps += 1

        if args.bug != "no-eval-mode":
            model.eval()
        correct, seen = 0, 0
        for step, batch in enumerate(eval_dataloader):
            with torch.no_grad():
                outputs = model(**batch)
            predictions = outputs.logits.argmax(dim=-1)
            predictions, references = accelerator.gather_for_metrics((predictions, batch["labels"]))
            correct += (predictions == references).sum().item()
            seen += references.numel()
        accelerator.print(f"epoch {epoch}: train loss {total_loss.item() / len(train_dataloader):.4f}, "
                          f"accuracy {correct / seen:.3f}, {completed_steps} updates")


if __name__ == "__main__":
    main()
