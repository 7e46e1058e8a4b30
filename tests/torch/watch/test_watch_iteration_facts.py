"""What the session measures about the shape of each iteration, on real tiny loops:
closures (Lightning's automatic optimization, LBFGS), steps at lr = 0 (warm-up), the order
of forward/step/backward, the model's mode while training, accumulation, an optimizer
that owns none of the model, and updates too small for float32."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import nndoctor


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def model(dropout=0.0):
    torch.manual_seed(0)
    layers = [nn.Linear(10, 32), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(32, 3))


def batches(n=12, size=16):
    generator = torch.Generator().manual_seed(1)
    for _ in range(n):
        x = torch.randn(size, 10, generator=generator)
        yield x, (x[:, 0] > 0).long() + (x[:, 1] > 0).long()


def watched(loop, net, optimizer):
    with nndoctor.watch(live=False) as doctor:
        loop(net, optimizer)
    return doctor.report, doctor._session.measurements()[0]  # as the final judgement saw them


def problems(report):
    return sorted({f.rule for f in report.findings if f.severity in ("error", "warning")})


def closure_loop(zero_grad=True):
    def loop(net, optimizer):
        for x, y in batches():
            def closure():
                if zero_grad:
                    optimizer.zero_grad()
                loss = F.cross_entropy(net(x), y)
                loss.backward()
                return loss
            optimizer.step(closure)
    return loop


@pytest.mark.parametrize("make", [
    lambda p: torch.optim.Adam(p, lr=1e-2),
    lambda p: torch.optim.AdamW(p, lr=1e-2),
    lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    lambda p: torch.optim.LBFGS(p, lr=0.5, max_iter=4),
])
def test_step_with_closure_is_clean_and_checked(make):
    net = model()
    report, measured = watched(closure_loop(), net, make(net.parameters()))
    assert problems(report) == []
    assert "missing-zero-grad" in report.checks_run
    assert all(row["changed"] for row in measured["parameter_status"])


@pytest.mark.parametrize("make", [lambda p: torch.optim.Adam(p, lr=1e-2),
                                  lambda p: torch.optim.LBFGS(p, lr=0.5, max_iter=4)])
def test_closure_without_zero_grad_is_missing_zero_grad(make):
    net = model()
    report, _ = watched(closure_loop(zero_grad=False), net, make(net.parameters()))
    assert "missing-zero-grad" in problems(report)


def plain_loop(*, schedule=None, order="normal", eval_mode=False, accumulate=1, divide=True, clip=None):
    def loop(net, optimizer):
        scheduler = schedule(optimizer) if schedule else None
        if eval_mode:
            net.eval()
        for index, (x, y) in enumerate(batches(24)):
            if order == "zero-between":  # backward, zero_grad, step: every step sees no gradient
                F.cross_entropy(net(x), y).backward()
                optimizer.zero_grad()
                optimizer.step()
                continue
            if order == "step-first":
                optimizer.zero_grad()
                loss = F.cross_entropy(net(x), y)
                optimizer.step()
                loss.backward()
                continue
            loss = F.cross_entropy(net(x), y)
            (loss / accumulate if divide else loss).backward()
            if (index + 1) % accumulate:
                continue
            if clip is not None:
                nn.utils.clip_grad_norm_(net.parameters(), clip)
            optimizer.step()
            optimizer.zero_grad()
            if scheduler is not None:
                scheduler.step()
    return loop


def test_warm_up_from_lr_zero_is_not_a_stuck_parameter():
    net = model()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    warm_up = lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, s / 5))  # noqa: E731
    report, measured = watched(plain_loop(schedule=warm_up), net, optimizer)
    assert problems(report) == []
    rows = measured["parameter_status"]
    assert all(row["changed"] for row in rows)
    assert all(row["zero_lr_updates"] == 1 for row in rows)
    group = measured["optimizer_groups"][0]
    assert group["lr_first"] == 0.0 and group["zero_lr_steps"] == 1 and group["steps"] == 24


def test_group_at_lr_zero_is_never_compared():
    net = model()
    optimizer = torch.optim.SGD([{"params": net[0].parameters(), "lr": 0.0},
                                 {"params": net[2].parameters(), "lr": 0.1}])
    _, measured = watched(plain_loop(), net, optimizer)
    rows = {row["name"]: row for row in measured["parameter_status"]}
    assert rows["0.weight"]["changed"] is None and rows["0.weight"]["zero_lr_updates"] >= 3
    assert rows["2.weight"]["changed"] is True


def test_step_before_backward_is_seen_in_the_order_of_events():
    net = model()
    _, measured = watched(plain_loop(order="step-first"), net, torch.optim.SGD(net.parameters(), lr=0.1))
    order = measured["step_order"]
    assert order["update_between_forward_and_backward"] >= order["iterations"] - 1 >= 20
    assert any(row["grad_none_at_step"] for row in measured["parameter_status"])


@pytest.mark.parametrize("make", [lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), lambda p: torch.optim.AdamW(p)])
def test_gradients_cleared_between_backward_and_step_are_evidence_not_a_skipped_step(make):
    # Every step then finds .grad None and touches nothing, like a skipped step; but the
    # backward just before it had produced those gradients.
    net = model()
    report, measured = watched(plain_loop(order="zero-between"), net, make(net.parameters()))
    [finding] = [f for f in report.findings if f.rule == "params-not-updated"]
    assert finding.severity == "error" and finding.evidence["cause"] == "grad_cleared"
    assert set(finding.where) == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_normal_order_has_no_update_between_forward_and_backward():
    net = model()
    _, measured = watched(plain_loop(accumulate=3), net, torch.optim.SGD(net.parameters(), lr=0.1))
    assert measured["step_order"]["update_between_forward_and_backward"] == 0
    assert measured["accumulation"]["averaged_steps"] == 8
    assert measured["accumulation"]["unaveraged_steps"] == 0


def test_accumulation_without_division_is_counted_with_gradient_probe():
    net = model()
    _, measured = watched(plain_loop(accumulate=4, divide=False), net, torch.optim.SGD(net.parameters(), lr=0.1))
    accumulation = measured["accumulation"]
    assert accumulation["unaveraged_steps"] >= 5 and accumulation["backwards_per_step"] == 4
    assert accumulation["adaptive"] is False
    ratio = accumulation["grad_norm_at_step"] / accumulation["grad_norm_first_backward"]
    assert 1.5 < ratio < 4.5


def test_training_in_eval_mode_is_counted_per_model():
    net = model(dropout=0.3)
    _, measured = watched(plain_loop(eval_mode=True), net, torch.optim.SGD(net.parameters(), lr=0.1))
    record = measured["train_mode_steps"][0]
    assert record["steps_in_eval_mode"] == record["training_steps"] == 24
    assert record["first_step"] == 0 and record["mode_modules_in_eval"] == ["2 (Dropout)"]
    assert record["kinds"] == ["dropout"]


def test_optimizer_over_a_stale_copy_owns_none_of_the_model():
    net = model()
    optimizer = torch.optim.SGD(copy.deepcopy(net).parameters(), lr=0.1)
    _, measured = watched(plain_loop(), net, optimizer)
    coverage = measured["optimizer_coverage"]
    assert coverage["optimizer_steps"] == 24
    assert coverage["models"][0]["in_any_optimizer"] == 0 and coverage["models"][0]["got_grad"]


def test_update_below_float32_resolution_keeps_the_explaining_numbers():
    net = model()
    _, measured = watched(plain_loop(clip=1e-9), net, torch.optim.SGD(net.parameters(), lr=0.01))
    unchanged = [row for row in measured["parameter_status"] if row["changed"] is False]
    assert unchanged, "a 1e-9 gradient norm leaves float32 weights unchanged"
    row = unchanged[0]
    assert row["checked_updates"] >= 2 and row["lr"] == 0.01
    assert row["grad_abs_max"] < 1e-8 < row["grad_abs_max_after_backward"]
    assert row["value_abs_max"] > 0.01


def test_first_training_batches_are_described_for_their_scale():
    net = model()

    def loop(net, optimizer):
        for x, y in batches(6):
            x = x * torch.tensor([1e-3, 1, 1, 1, 1, 1, 1, 1, 1, 1e4])
            optimizer.zero_grad()
            F.cross_entropy(net(x), y).backward()
            optimizer.step()
    _, measured = watched(loop, net, torch.optim.SGD(net.parameters(), lr=1e-3))
    stats = measured["input_stats"]
    assert 1 <= len(stats) <= 3 and stats[0]["feature_axis"] == 1 and stats[0]["feature_count"] == 10
    low, _, _, _, high = stats[0]["feature_std_quantiles"]
    assert high / low > 1e6 and stats[0]["largest_features"][0][0] == 9


def test_chance_level_comes_from_the_label_histogram():
    net = model()
    _, measured = watched(plain_loop(), net, torch.optim.SGD(net.parameters(), lr=0.1))
    chance = measured["chance_loss"]
    # labels 0/1/2 with probabilities 1/4, 1/2, 1/4: entropy 1.5 ln 2
    assert chance["loss"] == "cross_entropy" and chance["batches"] == 20 and chance["n_classes"] == 3
    assert abs(chance["value"] - 1.5 * 0.6931) < 0.05


def test_validation_loss_outside_no_grad_on_an_eval_model_is_a_validation_loss():
    net = model(dropout=0.2)
    x_val, y_val = next(batches(1, size=64))

    def loop(net, optimizer):
        for epoch in range(3):
            net.train()
            for x, y in batches(8):
                optimizer.zero_grad()
                F.cross_entropy(net(x), y).backward()
                optimizer.step()
            net.eval()
            F.cross_entropy(net(x_val), y_val).item()  # forgot torch.no_grad(): still a validation loss
    report, measured = watched(loop, net, torch.optim.SGD(net.parameters(), lr=0.1))
    assert measured["eval_loss_series"]["count"] == 3
    assert measured["train_mode_steps"][0]["steps_in_eval_mode"] == 0
    assert problems(report) == []


def test_first_evaluation_before_training_is_recorded_against_its_expectation():
    net = model()
    x_val, y_val = next(batches(1, size=64))

    def loop(net, optimizer):
        with torch.no_grad():
            F.cross_entropy(net(x_val) * 1000, y_val)
        plain_loop()(net, optimizer)
    _, measured = watched(loop, net, torch.optim.SGD(net.parameters(), lr=0.1))
    record = measured["initial_eval_loss"]
    assert record["phase"] == "evaluation" and record["before_training"]
    assert record["value"] > 20 * record["expected"]


class FunctionalDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.head = nn.Linear(10, 32), nn.Linear(32, 3)

    def forward(self, x):
        return self.head(F.dropout(torch.relu(self.body(x)), 0.3, training=True))


def test_functional_dropout_left_on_in_evaluation_is_noted_on_the_pass():
    torch.manual_seed(0)
    net = FunctionalDropout()
    x_val, y_val = next(batches(1, size=64))

    def loop(net, optimizer):
        plain_loop()(net, optimizer)
        net.eval()
        with torch.no_grad():
            F.cross_entropy(net(x_val), y_val)
    _, measured = watched(loop, net, torch.optim.SGD(net.parameters(), lr=0.1))
    record = measured["no_grad_forwards"][-1]
    assert record["model_in_eval_mode"] is True
    assert record["functional_dropout"] == [{"function": "dropout", "p": 0.3, "calls": 1}]


def test_dropout_modules_and_attention_in_eval_mode_are_not_functional_dropout():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 16), nn.Dropout(0.3), nn.Linear(16, 3))
    encoder = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.2, batch_first=True)
    x_val, y_val = next(batches(1, size=64))

    def loop(net, optimizer):
        plain_loop()(net, optimizer)
        net.eval()
        encoder.train()  # attention dropout in a module that is not in eval mode: the module check's job
        with torch.no_grad():
            F.cross_entropy(net(x_val), y_val)
            encoder(torch.randn(2, 5, 16))
    _, measured = watched(loop, net, torch.optim.SGD(net.parameters(), lr=0.1))
    assert all(not r["functional_dropout"] for r in measured["no_grad_forwards"])


class ScalesItsInput(nn.Module):
    def __init__(self, norm_first=False):
        super().__init__()
        self.norm = nn.BatchNorm1d(10) if norm_first else None
        self.body = nn.Linear(10, 3)

    def forward(self, x):
        return self.body(self.norm(x) if self.norm is not None else x / 255.0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_first_layer_sees_the_input_as_rescaled_or_normalised_inside_forward(norm_first):
    torch.manual_seed(0)
    net = ScalesItsInput(norm_first)

    def loop(net, optimizer):
        for x, y in batches(4):
            optimizer.zero_grad()
            F.cross_entropy(net(x * 100 + 128), y).backward()
            optimizer.step()
    _, measured = watched(loop, net, torch.optim.SGD(net.parameters(), lr=1e-3))
    record = measured["input_stats"][0]
    assert record["rms"] > 100
    assert record["normalized_inside"] is norm_first
    if not norm_first:
        assert record["first_layer"] == "Linear" and record["first_layer_input_rms"] < 1


def test_logged_predictions_are_evaluated_into_the_run_report():
    pytest.importorskip("sklearn", reason="evaluate needs the data extra")
    net = model()
    x_val, y_val = next(batches(1, size=200))

    def loop(net, optimizer):
        plain_loop()(net, optimizer)
    with nndoctor.watch(live=False) as doctor:
        loop(net, torch.optim.SGD(net.parameters(), lr=0.1))
        loader = [(x_val[i:i + 50], y_val[i:i + 50]) for i in range(0, 200, 50)]
        doctor.log(predictions=nndoctor.torch.predict(net, loader))
    report = doctor.report
    assert "metric-uncertain" in report.checks_run and "worse-than-baseline" in report.checks_run
    assert report.context["evaluation"]["step"] == 24
    with pytest.raises(nndoctor.UsageError):
        with nndoctor.watch(live=False) as doctor:
            doctor.log(predictions=[1, 2, 3])


def clipped_loop(max_norm=None, clip_value=None, manual_lr=None):
    def loop(net, optimizer):
        for x, y in batches(n=8):
            net.zero_grad()
            F.cross_entropy(net(x), y).backward()
            if max_norm is not None:
                torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm)
            if clip_value is not None:
                from torch.nn.utils import clip_grad_value_  # imported while watched, as scripts do
                clip_grad_value_((p for p in net.parameters()), clip_value)  # a generator, read once
            if manual_lr is not None:
                with torch.no_grad():
                    for p in net.parameters():
                        p.add_(p.grad, alpha=-manual_lr)
            else:
                optimizer.step()
    return loop


@pytest.mark.parametrize("loop, kind", [
    (clipped_loop(max_norm=1e-9), "norm"),
    (clipped_loop(max_norm=1e-9, manual_lr=0.5), "norm"),
    (clipped_loop(clip_value=1e-10), "value"),
])
def test_gradient_clipped_to_nothing_is_measured_and_named(loop, kind):
    net = model()
    report, measured = watched(loop, net, torch.optim.AdamW(net.parameters(), lr=1e-3))
    [finding] = [f for f in report.findings if f.rule == "grad-clipped-to-nothing"]
    assert finding.severity == "error" and finding.step == 0 and finding.evidence["kind"] == kind
    samples = measured["grad_clipping"]["samples"]
    assert measured["grad_clipping"]["calls"] == 8 and samples[0]["before"] > 1e-3
    assert all(s["after"] <= 1e-9 for s in samples)


def test_ordinary_clipping_is_measured_and_clean():
    originals = (torch.nn.utils.clip_grad_norm_, torch.nn.utils.clip_grad.clip_grad_value_)
    net = model()
    report, measured = watched(clipped_loop(max_norm=1.0, clip_value=0.5), net,
                               torch.optim.SGD(net.parameters(), lr=0.1))
    assert problems(report) == [] and "grad-clipped-to-nothing" in report.checks_run
    assert measured["grad_clipping"]["calls"] == 16
    assert (torch.nn.utils.clip_grad_norm_, torch.nn.utils.clip_grad.clip_grad_value_) == originals  # restored


def test_a_new_optimizer_reusing_a_collected_optimizers_id_keeps_the_first_model_covered():
    # Knowledge distillation: the teacher is trained by an Adam local to a function; the
    # student's Adam may get the same id() once the first is garbage-collected.
    import gc

    teacher, student = model(), model()

    def fit(net, steps):
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        for x, y in batches(steps):
            optimizer.zero_grad()
            F.cross_entropy(net(x), y).backward()
            optimizer.step()
        return id(optimizer)

    with nndoctor.watch(live=False) as doctor:
        first = fit(teacher, 8)
        gc.collect()
        session = doctor._session
        reused = torch.optim.Adam(student.parameters(), lr=1e-3)
        # Force the reuse the allocator makes by chance: register the student's optimizer under the old id.
        session.optimizers[id(reused)] = session.optimizers.pop(first)
        for x, y in batches(8):
            reused.zero_grad()
            F.cross_entropy(student(x), y).backward()
            reused.step()
    assert problems(doctor.report) == []
    assert {row["in_any_optimizer"] for row in doctor._session.measurements()[0]["optimizer_coverage"]["models"]} == {4}
