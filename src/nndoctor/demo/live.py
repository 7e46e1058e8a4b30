"""The live part of `nndoctor demo`: an unchanged, broken training script run under
`nndoctor run`, with the one-line findings as they fire and the report at the end."""
from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console
from rich.syntax import Syntax

from nndoctor.report.terminal import render_report

COMMAND = "nndoctor run train.py --epochs 3"
EXPECTED_RULE = "missing-zero-grad"
# A realistic little training script with one classic bug: optimizer.zero_grad() is
# missing, so every update uses the sum of all gradients so far (002 #3).
SCRIPT = '''\
import argparse
import torch
import torch.nn.functional as F
from torch import nn

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()
torch.manual_seed(0)
torch.set_num_threads(1)
centers = torch.randn(4, 16)
labels = torch.randint(0, 4, (1024,))
inputs = centers[labels] + torch.randn(1024, 16)

model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 4))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

for epoch in range(args.epochs):
    model.train()
    for start in range(0, 1024, 64):
        x, y = inputs[start:start + 64], labels[start:start + 64]
        loss = F.cross_entropy(model(x), y)   # BUG: no optimizer.zero_grad() before backward
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        val_loss = F.cross_entropy(model(inputs[:256]), labels[:256]).item()
    print(f"epoch {epoch}: train loss {loss.item():.3f}  val loss {val_loss:.3f}")
'''


def show_live_run(console: Console, html: Path | None = None) -> bool:
    """Run the bundled broken script under the watcher; True if the bug was found. With
    `html`, the run's report (curves, the finding marked at its step) is written there."""
    from nndoctor.torch.watch.runner import run_target
    from nndoctor.torch.watch.session import Session

    console.rule("[bold]Live: nndoctor run[/bold] (an unchanged training script, diagnosed while it trains)",
                 align="left")
    console.print("[dim]train.py — note the missing optimizer.zero_grad():[/dim]")
    console.print(Syntax(SCRIPT, "python", line_numbers=True, theme="ansi_dark"))
    console.print(f"[bold]$ {COMMAND}[/bold]")
    with tempfile.TemporaryDirectory(prefix="nndoctor-demo-") as directory:
        script = Path(directory) / "train.py"
        script.write_text(SCRIPT, encoding="utf-8")
        session = Session(live=True, stream=console.file)
        result = run_target(session, script=str(script), args=COMMAND.split()[3:])
    render_report(result.report, console)
    found = EXPECTED_RULE in result.report.rules_found()
    verdict = "[green]found, at the step it first happened[/green]" if found else "[red]NOT found[/red]"
    console.print(f"Live run: {EXPECTED_RULE} {verdict}.\n")
    if html is not None:
        from nndoctor.report.html import write_html

        result.report.context["script"] = "train.py"  # the temporary copy is gone; name what the user saw
        html.parent.mkdir(parents=True, exist_ok=True)
        write_html(result.report, html)
        console.print(f"HTML report of the live run (loss curves, the finding marked at its step): "
                      f"[bold]{html.resolve()}[/bold]")
    return found
