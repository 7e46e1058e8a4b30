"""Knowledge distillation (Hinton et al.): a small student learns from a frozen teacher's softened
outputs with KL divergence at temperature T plus the hard-label cross-entropy, as in the PyTorch
knowledge-distillation tutorial. The teacher is trained first in the same script, then put in
eval mode and queried under torch.no_grad() at every student step.

    python distillation_kl.py [--bug NAME]

Bugs, as users write them:
  kl-on-logits   F.kl_div(student_logits / T, ...) without log_softmax: kl_div expects log-probabilities
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "kl-on-logits")


def fit(model, x, y, steps, generator, lr=3e-3):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        index = torch.randint(0, len(y), (64,), generator=generator)
        optimizer.zero_grad()
        F.cross_entropy(model(x[index]), y[index]).backward()
        optimizer.step()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--temperature", type=float, default=2.0)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    centers = 1.2 * torch.randn(6, 20, generator=generator)
    labels = torch.randint(0, 6, (1500,), generator=generator)
    x = centers[labels] + torch.randn(1500, 20, generator=generator)
    train_x, train_y, val_x, val_y = x[:1200], labels[:1200], x[1200:], labels[1200:]
    teacher = nn.Sequential(nn.Linear(20, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 6))
    fit(teacher, train_x, train_y, 100, generator)
    teacher.eval()
    student = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 6))
    optimizer = torch.optim.Adam(student.parameters(), lr=3e-3)
    T = args.temperature
    for step in range(args.steps):
        index = torch.randint(0, 1200, (64,), generator=generator)
        with torch.no_grad():
            soft_targets = F.softmax(teacher(train_x[index]) / T, dim=-1)
        optimizer.zero_grad()
        student_logits = student(train_x[index])
        if args.bug == "kl-on-logits":
            student_scores = student_logits / T
        else:
            student_scores = F.log_softmax(student_logits / T, dim=-1)
        distill = F.kl_div(student_scores, soft_targets, reduction="batchmean") * T * T
        loss = 0.5 * distill + 0.5 * F.cross_entropy(student_logits, train_y[index])
        loss.backward()
        optimizer.step()
        if step % 40 == 0 or step == args.steps - 1:
            with torch.no_grad():
                val_loss = F.cross_entropy(student(val_x), val_y).item()
            print(f"step {step}: loss {loss.item():.4f}  student val loss {val_loss:.4f}")


if __name__ == "__main__":
    main()
