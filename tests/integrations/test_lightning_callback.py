"""NNDoctorCallback on real tiny Lightning fits: silent on a correct module (automatic
optimization is `optimizer.step(closure)`), and each planted bug caught by its rule."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

pl = pytest.importorskip("lightning.pytorch", reason="Lightning is in the integrations extra")
from nndoctor.integrations.lightning import NNDoctorCallback  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def loaders():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(384, 10, generator=generator)
    y = (x[:, 0] + x[:, 1] > 0).long()
    train = DataLoader(TensorDataset(x[:320], y[:320]), batch_size=32, shuffle=True,
                       generator=torch.Generator().manual_seed(1))
    return train, DataLoader(TensorDataset(x[320:], y[320:]), batch_size=64)


class Classifier(pl.LightningModule):
    def __init__(self, bug=None):
        super().__init__()
        torch.manual_seed(0)
        self.bug = bug
        self.body = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.1))
        self.head = nn.Linear(32, 2)
        if bug == "manual-no-zero-grad":
            self.automatic_optimization = False

    def forward(self, x):
        logits = self.head(self.body(x))
        return logits.softmax(-1) if self.bug == "softmax" else logits

    def training_step(self, batch, index):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        if self.bug == "manual-no-zero-grad":
            optimizer = self.optimizers()
            self.manual_backward(loss)
            optimizer.step()  # no optimizer.zero_grad()
        return loss

    def validation_step(self, batch, index):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y))

    def configure_optimizers(self):
        lr = 1.0 if self.bug == "lr-high" else 1e-2
        params = self.head.parameters() if self.bug == "frozen-by-mistake" else self.parameters()
        return torch.optim.Adam(params, lr=lr)


def fit(bug=None, epochs=3):
    callback = NNDoctorCallback(live=False)
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[callback])
    trainer.fit(Classifier(bug), *loaders())
    return callback.report


def problems(report):
    return {f.rule for f in report.findings if f.severity in ("error", "warning")}


def test_correct_module_is_silent_and_fully_checked():
    report = fit()
    assert problems(report) == set()
    assert {"missing-zero-grad", "eval-mode-missing", "params-not-updated"} <= set(report.checks_run)


@pytest.mark.parametrize("bug, rule", [
    ("manual-no-zero-grad", "missing-zero-grad"),
    ("softmax", "probabilities-to-logit-loss"),
    ("frozen-by-mistake", "params-not-updated"),
    ("lr-high", "update-ratio-high"),
])
def test_each_bug_is_caught_with_its_rule(bug, rule):
    assert rule in problems(fit(bug, epochs=2))
