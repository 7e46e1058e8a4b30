"""nndoctor.watch on real tiny training loops: what it finds, what it must never find,
and that it leaves the program exactly as it was."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as module_hooks
from torch.optim import optimizer as optimizer_hooks

import nndoctor
from nndoctor.torch.watch import StopRun
from nndoctor.torch.watch.params import ParameterTracker


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Tiny models: with several threads on a busy machine, most time is spent waiting.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def mlp(dropout=0.2, norm=True):
    torch.manual_seed(0)
    layers = [nn.Linear(10, 32)]
    if norm:
        layers.append(nn.BatchNorm1d(32))
    layers += [nn.ReLU(), nn.Dropout(dropout), nn.Linear(32, 3)]
    return nn.Sequential(*layers)


def data(n=256):
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(n, 10, generator=generator)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 0).long()


def train(model, optimizer, *, epochs=2, zero_grad=True, evaluate=True, eval_mode=True, accumulate=1):
    x, y = data()
    for _ in range(epochs):
        model.train()
        for index, start in enumerate(range(0, len(x), 32)):
            loss = F.cross_entropy(model(x[start:start + 32]), y[start:start + 32]) / accumulate
            loss.backward()
            if (index + 1) % accumulate == 0:
                optimizer.step()
                if zero_grad:
                    optimizer.zero_grad()
        if evaluate:
            if eval_mode:
                model.eval()
            with torch.no_grad():
                F.cross_entropy(model(x), y, reduction="sum").item()


def findings(doctor, severities=("error", "warning")):
    return [(f.rule, f.step) for f in doctor.report.findings if f.severity in severities]


def test_clean_loop_has_no_warnings_and_counts_steps():
    model = mlp()
    with nndoctor.watch(live=False) as doctor:
        train(model, torch.optim.Adam(model.parameters(), lr=1e-3))
    assert findings(doctor) == []
    assert doctor.report.context["steps_observed"] == 16
    assert "missing-zero-grad" in doctor.report.checks_run
    assert "eval-mode-missing" in doctor.report.checks_run


def test_watch_does_not_change_training():
    plain, watched = mlp(), mlp()
    torch.manual_seed(3)
    train(plain, torch.optim.SGD(plain.parameters(), lr=0.1, momentum=0.9))
    torch.manual_seed(3)
    with nndoctor.watch(watched, live=False):
        train(watched, torch.optim.SGD(watched.parameters(), lr=0.1, momentum=0.9))
    for a, b in zip(plain.state_dict().values(), watched.state_dict().values()):
        assert torch.equal(a, b)


def test_missing_zero_grad_fires_at_the_second_update():
    model = mlp()
    with nndoctor.watch(live=False) as doctor:
        train(model, torch.optim.SGD(model.parameters(), lr=0.01), zero_grad=False)
    assert ("missing-zero-grad", 1) in findings(doctor)


def test_gradient_accumulation_is_not_missing_zero_grad():
    model = mlp()
    with nndoctor.watch(live=False) as doctor:
        train(model, torch.optim.AdamW(model.parameters(), lr=1e-3), accumulate=4)
    assert findings(doctor) == []
    assert doctor.report.context["steps_observed"] == 4
    assert doctor.report.context["backwards_observed"] == 16


def test_missing_zero_grad_with_accumulation_and_clipping():
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    x, y = data()
    with nndoctor.watch(live=False) as doctor:
        for start in range(0, len(x), 16):
            F.cross_entropy(model(x[start:start + 16]), y[start:start + 16]).backward()
            if start // 16 % 2 == 1:
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
    assert ("missing-zero-grad", 1) in findings(doctor)


@pytest.mark.parametrize("reset", ["model.zero_grad", "grad.data.zero_", "grad = None"])
def test_manual_sgd_with_reset_is_clean(reset):
    model = mlp(norm=False)
    x, y = data()
    with nndoctor.watch(live=False) as doctor:
        for start in range(0, len(x), 32):
            loss = F.cross_entropy(model(x[start:start + 32]), y[start:start + 32])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-0.1)
            if reset == "model.zero_grad":
                model.zero_grad()
            for p in model.parameters():
                if reset == "grad.data.zero_":
                    p.grad.data.zero_()
                elif reset == "grad = None":
                    p.grad = None
    assert findings(doctor) == []
    assert doctor.report.context["steps_observed"] == 8
    status = doctor._session.measurements()[0]["parameter_status"]
    assert all(row["changed"] and row["got_grad"] and row["in_optimizer"] is None for row in status)


def test_manual_sgd_without_reset_fires():
    model = mlp(norm=False)
    x, y = data()
    with nndoctor.watch(live=False) as doctor:
        for start in range(0, len(x), 32):
            F.cross_entropy(model(x[start:start + 32]), y[start:start + 32]).backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= 0.01 * p.grad
    assert ("missing-zero-grad", 1) in findings(doctor)


def test_lbfgs_closure_is_clean_and_counts_steps():
    model = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 3))
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=5)
    x, y = data()

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    with nndoctor.watch(live=False) as doctor:
        for _ in range(4):
            optimizer.step(closure)
    assert findings(doctor) == []
    assert doctor.report.context["steps_observed"] == 4
    assert doctor.report.context["backwards_observed"] > 4


def test_gan_generator_step_through_discriminator_is_clean():
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 8))
    discriminator = nn.Sequential(nn.Linear(8, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-3)
    real = torch.randn(64, 8)
    with nndoctor.watch(live=False) as doctor:
        for _ in range(6):
            discriminator.zero_grad()
            fake = generator(torch.randn(64, 4))
            loss_d = (F.binary_cross_entropy_with_logits(discriminator(real), torch.ones(64, 1))
                      + F.binary_cross_entropy_with_logits(discriminator(fake.detach()), torch.zeros(64, 1)))
            loss_d.backward()
            opt_d.step()
            generator.zero_grad()
            loss_g = F.binary_cross_entropy_with_logits(discriminator(fake), torch.ones(64, 1))
            loss_g.backward()  # accumulates onto D's consumed grads; netD.zero_grad() resets them
            opt_g.step()
    assert "missing-zero-grad" not in [rule for rule, _ in findings(doctor)]
    assert len(doctor.report.context["models"]) == 2


def test_eval_mode_missing_names_the_modules():
    model = mlp()
    with nndoctor.watch(live=False) as doctor:
        train(model, torch.optim.Adam(model.parameters(), lr=1e-3), eval_mode=False)
    finding = next(f for f in doctor.report.findings if f.rule == "eval-mode-missing")
    assert finding.step == 8
    assert finding.severity == "error"  # BatchNorm is involved
    assert finding.where == ["1", "3"]


def test_inference_mode_evaluation_is_an_evaluation_pass():
    model = mlp(norm=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = data()
    with nndoctor.watch(model, optimizer, live=False) as doctor:
        for start in range(0, 128, 32):
            optimizer.zero_grad()
            F.cross_entropy(model(x[start:start + 32]), y[start:start + 32]).backward()
            optimizer.step()
        with torch.inference_mode():
            model(x)
    assert findings(doctor) == [("eval-mode-missing", 4)]


def test_model_without_mode_dependent_modules_never_fires():
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
    with nndoctor.watch(live=False) as doctor:
        train(model, torch.optim.Adam(model.parameters(), lr=1e-3), eval_mode=False)
    assert findings(doctor) == []


def test_missing_from_optimizer_and_detached_branch():
    model = mlp(norm=False)
    optimizer = torch.optim.Adam(model[0].parameters(), lr=1e-3)  # output layer left out
    with nndoctor.watch(live=False) as doctor:
        train(model, optimizer)
    rules = [rule for rule, _ in findings(doctor)]
    assert "params-not-updated" in rules


def test_a_fault_inside_nndoctor_is_contained(monkeypatch):
    def broken(self, every):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(ParameterTracker, "after_backward", broken)
    plain, watched = mlp(), mlp()
    torch.manual_seed(5)
    train(plain, torch.optim.SGD(plain.parameters(), lr=0.1))
    torch.manual_seed(5)
    with nndoctor.watch(live=False) as doctor:
        train(watched, torch.optim.SGD(watched.parameters(), lr=0.1))
    for a, b in zip(plain.state_dict().values(), watched.state_dict().values()):
        assert torch.equal(a, b)
    internal = [f for f in doctor.report.findings if f.rule == "internal-error"]
    assert internal and internal[0].evidence["exception"] == "RuntimeError"


def test_everything_is_restored_after_the_block():
    backward, autograd_backward, cross_entropy = torch.Tensor.backward, torch.autograd.backward, F.cross_entropy
    forward_hooks = len(module_hooks._global_forward_pre_hooks)
    step_hooks = len(optimizer_hooks._global_optimizer_pre_hooks)
    model = mlp()
    with nndoctor.watch(live=False):
        assert torch.Tensor.backward is not backward
        train(model, torch.optim.Adam(model.parameters(), lr=1e-3), epochs=1)
    assert torch.Tensor.backward is backward
    assert torch.autograd.backward is autograd_backward
    assert F.cross_entropy is cross_entropy
    assert len(module_hooks._global_forward_pre_hooks) == forward_hooks
    assert len(optimizer_hooks._global_optimizer_pre_hooks) == step_hooks
    assert not model._forward_pre_hooks


def test_bounded_memory_over_a_long_run():
    model = mlp(norm=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = data(64)
    with nndoctor.watch(live=False, every=5) as doctor:
        for step in range(400):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            if step % 10 == 0:
                model.eval()
                with torch.no_grad():
                    F.cross_entropy(model(x), y)
                model.train()
        session = doctor._session
    assert len(session.loss_calls) <= 60
    assert len(session.no_grad_forwards) <= 20
    assert session.step == 400
    assert not session._candidates and not session._last_loss_call


def test_stop_on_error_raises_stop_run():
    model = mlp()
    with pytest.raises(StopRun) as stopped:
        with nndoctor.watch(live=False, stop_on="error"):
            train(model, torch.optim.SGD(model.parameters(), lr=0.01), zero_grad=False)
    assert stopped.value.finding.rule == "missing-zero-grad"
    assert torch.Tensor.backward.__qualname__ == "Tensor.backward"


def test_initial_loss_and_validation_loss_are_measured():
    model = mlp()
    with nndoctor.watch(live=False) as doctor:
        train(model, torch.optim.Adam(model.parameters(), lr=1e-3))
        doctor.log(val_loss=0.5)
        parts = doctor._session.measurements()
    initial = parts[0]["initial_loss"]
    assert initial["loss"] == "cross_entropy" and initial["n_classes"] == 3 and initial["step"] == 0
    eval_series = parts[0]["eval_loss_series"]
    # one value per evaluation pass (2 epochs, one pass each) plus the logged one; never
    # a training loss
    assert [step for step, _ in eval_series["head"]] == [8, 16]
    train_values = {value for _, value in parts[0]["loss_series"]["head"]}
    assert not train_values & {value for _, value in eval_series["head"]}


def test_softmax_into_cross_entropy_is_seen_at_the_call():
    model = mlp(norm=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = data()
    with nndoctor.watch(live=False) as doctor:
        for _ in range(3):
            optimizer.zero_grad()
            nn.CrossEntropyLoss()(model(x).softmax(dim=1), y).backward()
            optimizer.step()
    assert ("probabilities-to-logit-loss", 0) in findings(doctor)


def test_unsupported_arguments_are_one_line_errors():
    with pytest.raises(nndoctor.UsageError):
        nndoctor.watch(object())
    with pytest.raises(nndoctor.UsageError):
        nndoctor.watch(every=0)


def test_copied_models_are_separate():
    model = mlp(norm=False)
    twin = copy.deepcopy(model)
    optimizer = torch.optim.SGD(list(model.parameters()) + list(twin.parameters()), lr=0.01)
    x, y = data()
    with nndoctor.watch(live=False) as doctor:
        for _ in range(3):
            optimizer.zero_grad()
            (F.cross_entropy(model(x), y) + F.cross_entropy(twin(x), y)).backward()
            optimizer.step()
    assert [m["label"] for m in doctor.report.context["models"]] == ["Sequential", "Sequential#2"]
    assert findings(doctor) == []


def test_grad_scaler_losses_reach_the_monitor_unscaled():
    model = mlp(norm=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 16)
    x, y = data()
    with nndoctor.watch(live=False) as doctor:
        for start in range(0, 128, 32):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x[start:start + 32]), y[start:start + 32])
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        series = doctor._session.measurements()[0]["loss_series"]
    steps = [step for step, _ in series["head"]]
    assert steps[0] == 0  # the very first loss, before the model was known, is seen
    assert all(value < 5 for _, value in series["head"])
    assert findings(doctor) == []


def test_sparse_embedding_gradients_are_clean():
    torch.manual_seed(0)
    embedding = nn.Embedding(50, 8, sparse=True)
    head = nn.Linear(8, 2)
    model = nn.Sequential(embedding, head)
    optimizers = [torch.optim.SparseAdam(embedding.parameters(), lr=1e-2),
                  torch.optim.Adam(head.parameters(), lr=1e-2)]
    tokens, labels = torch.randint(0, 50, (64,)), torch.randint(0, 2, (64,))
    with nndoctor.watch(live=False) as doctor:
        for _ in range(5):
            for optimizer in optimizers:
                optimizer.zero_grad()
            F.cross_entropy(model(tokens), labels).backward()
            for optimizer in optimizers:
                optimizer.step()
    assert [f.rule for f in doctor.report.findings if f.severity != "info"] == []
