"""Train a small classifier on synthetic lab data with two planted problems, and write its
validation and test predictions for `nndoctor evaluate`.

The data: five cell types measured by twelve markers at four sites. Two things are wrong,
as they often are in real projects:

* site D's instrument is miscalibrated (its markers are scaled and noisy) and site D is
  rare in training, so the model does much worse there — a weak slice;
* annotators over-use the label "E": ~12% of cells of the other types are labelled "E",
  so a third of the "E" labels are wrong — a noisy class the model cannot fit.

    python examples/evaluate/train_and_predict.py --out /tmp/eval_example
    nndoctor evaluate --predictions /tmp/eval_example/val_predictions.csv --label cell_type \
        --slices site,age --id-col sample_id --test /tmp/eval_example/test_predictions.csv \
        --html /tmp/eval_example/report.html

nndoctor reports weak-slice (site = D) and class-failure (class E), lists the
highest-loss cells with those whose label looks wrong, and gives every metric with its
95% interval and the baselines it beats.
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nndoctor.torch

CLASSES = np.array(["A", "B", "C", "D", "E"])
MARKERS = 12


def make_cells(n: int, rng: np.random.Generator, site_d_share: float) -> pd.DataFrame:
    centres = np.random.default_rng(42).normal(scale=1.6, size=(len(CLASSES), MARKERS))
    truth = rng.integers(0, len(CLASSES), n)
    markers = centres[truth] + rng.normal(size=(n, MARKERS))
    site = rng.choice(["A", "B", "C", "D"], n, p=[(1 - site_d_share) / 3] * 3 + [site_d_share])
    at_d = site == "D"
    markers[at_d] = markers[at_d] * 0.4 + rng.normal(scale=1.5, size=(at_d.sum(), MARKERS))  # miscalibrated
    label = truth.copy()
    over_labelled = (truth != 4) & (rng.random(n) < 0.12)  # annotators over-use "E"
    label[over_labelled] = 4
    frame = pd.DataFrame(markers, columns=[f"marker_{i}" for i in range(MARKERS)])
    frame["site"] = site
    frame["age"] = rng.uniform(20, 85, n).round(1)
    frame["cell_type"] = label
    return frame


def to_loader(frame: pd.DataFrame, shuffle: bool) -> DataLoader:
    x = torch.tensor(frame[[f"marker_{i}" for i in range(MARKERS)]].to_numpy(), dtype=torch.float32)
    y = torch.tensor(frame["cell_type"].to_numpy(), dtype=torch.long)
    return DataLoader(TensorDataset(x, y), batch_size=128, shuffle=shuffle)


def train(frame: pd.DataFrame, epochs: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(MARKERS, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, len(CLASSES)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        for x, y in to_loader(frame, shuffle=True):
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
    return model


def predictions_table(model: nn.Module, frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    result = nndoctor.torch.predict(model, to_loader(frame, shuffle=False))
    table = pd.DataFrame({"sample_id": [f"{prefix}{i}" for i in range(len(frame))],
                          "cell_type": CLASSES[result["y_true"]], "site": frame["site"].to_numpy(),
                          "age": frame["age"].to_numpy(), "prediction": CLASSES[result["predictions"]]})
    for column, name in enumerate(CLASSES):
        table[f"prob_{name}"] = result["probabilities"][:, column].round(6)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("evaluate_example"))
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    train_cells = make_cells(6000, rng, site_d_share=0.01)  # site D barely in training
    val_cells, test_cells = make_cells(3000, rng, site_d_share=0.08), make_cells(3000, rng, site_d_share=0.08)
    model = train(train_cells, args.epochs, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    predictions_table(model, val_cells, "val").to_csv(args.out / "val_predictions.csv", index=False)
    predictions_table(model, test_cells, "test").to_csv(args.out / "test_predictions.csv", index=False)
    print(f"wrote {args.out / 'val_predictions.csv'} and {args.out / 'test_predictions.csv'}")


if __name__ == "__main__":
    main()
