import math

import torch
from torch import nn

from nndoctor.core.rule import Measurements
from nndoctor.rules.architecture.output_bias_imbalance import OutputBiasImbalance
from nndoctor.torch.architecture import measure_architecture


def classifier(outputs):
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, outputs))


def measured(model, targets):
    m = Measurements()
    measure_architecture(model, torch.randn(len(targets), 8), targets, m)
    return m


def binary_targets(positives, n):
    return (torch.arange(n) < positives).float().view(-1, 1)


def test_zero_bias_on_1_to_39_binary_targets_warns():
    model = classifier(1)
    nn.init.zeros_(model[2].bias)
    [finding] = OutputBiasImbalance().check(measured(model, binary_targets(10, 400)))
    assert (finding.rule, finding.severity) == ("output-bias-imbalance", "warning")
    assert math.isclose(finding.evidence["log_prior"], math.log(10.5 / 390.5))
    assert finding.evidence["positives"] == 10 and finding.where == "2"


def test_moderate_imbalance_is_a_note_and_log_prior_bias_is_healthy():
    model = classifier(1)
    nn.init.zeros_(model[2].bias)
    [finding] = OutputBiasImbalance().check(measured(model, binary_targets(40, 400)))
    assert finding.severity == "info"
    nn.init.constant_(model[2].bias, math.log(40 / 360))
    assert OutputBiasImbalance().check(measured(model, binary_targets(40, 400))) == []


def test_balanced_targets_and_small_noisy_batches_are_healthy():
    torch.manual_seed(0)
    assert OutputBiasImbalance().check(measured(classifier(1), binary_targets(32, 64))) == []
    assert OutputBiasImbalance().check(measured(classifier(10), torch.randint(0, 10, (64,)))) == []
    assert OutputBiasImbalance().check(measured(classifier(1), binary_targets(4, 16))) == []  # z < 4


def test_multiclass_uses_centered_log_frequencies():
    counts = [300, 60, 30, 10]
    targets = torch.cat([torch.full((c,), k) for k, c in enumerate(counts)])
    model = classifier(4)
    nn.init.zeros_(model[2].bias)
    [finding] = OutputBiasImbalance().check(measured(model, targets))
    assert finding.evidence["class_counts"] == counts and finding.evidence["class"] in (0, 3)
    with torch.no_grad():
        model[2].bias.copy_(torch.log(torch.tensor(counts, dtype=torch.float) / 400) + 7.0)  # shift is free
    assert OutputBiasImbalance().check(measured(model, targets)) == []


def test_unnormalized_regression_targets():
    torch.manual_seed(0)
    [finding] = OutputBiasImbalance().check(measured(classifier(1), 250 + torch.randn(64, 1) * 10))
    assert finding.severity == "warning" and finding.evidence["gap_std"] > 20
    assert OutputBiasImbalance().check(measured(classifier(1), torch.randn(64, 1))) == []


def test_threshold_on_gap_in_nats():
    layer = {"name": "head", "bias": [0.0], "targets": {"kind": "binary", "n": 1000, "positives": [100]}}
    gap = abs(math.log(100.5 / 900.5))
    assert OutputBiasImbalance().check({"output_layer": layer}, gap_nats_min=gap + 1e-6) == []
    [finding] = OutputBiasImbalance().check({"output_layer": layer}, gap_nats_min=gap - 1e-6)
    assert math.isclose(finding.evidence["gap_nats"], gap)


def test_classes_missing_from_an_unshuffled_batch_are_not_compared():
    model = classifier(10)
    nn.init.zeros_(model[2].bias)
    sorted_batch = torch.cat([torch.zeros(32, dtype=torch.long), torch.ones(32, dtype=torch.long)])
    assert OutputBiasImbalance().check(measured(model, sorted_batch)) == []
    assert OutputBiasImbalance().check(measured(model, torch.zeros(64, dtype=torch.long))) == []


class Decoder(nn.Module):
    """A VAE-style decoder: 784 sigmoid pixels reconstructed from the input itself."""

    def __init__(self):
        super().__init__()
        self.encode, self.decode = nn.Linear(784, 20), nn.Linear(20, 784)

    def forward(self, x):
        return torch.sigmoid(self.decode(torch.relu(self.encode(x))))


def binarized_digits(n=64):
    torch.manual_seed(0)
    rows = torch.rand(n, 784) < torch.linspace(0.0, 0.3, 784)  # many pixels almost never on
    return rows.float()


def test_vae_decoder_pixels_are_not_class_priors():
    x = binarized_digits()
    m = Measurements()
    measure_architecture(Decoder(), x, x, m)  # targets are the inputs: a reconstruction
    assert m["output_layer"]["targets_are_inputs"] is True
    assert OutputBiasImbalance().check(m) == []
    m = Measurements()
    measure_architecture(Decoder(), torch.rand(64, 784), x, m)  # other targets, but 784 pixel outputs
    assert m["output_layer"]["targets_are_inputs"] is False
    assert OutputBiasImbalance().check(m) == []
    assert OutputBiasImbalance().check(m, binary_outputs_max=1000) != []


def test_few_positives_in_one_batch_are_not_evidence():
    model = classifier(1)
    nn.init.zeros_(model[2].bias)
    assert OutputBiasImbalance().check(measured(model, binary_targets(4, 400))) == []  # 4 < 5 positives
    assert OutputBiasImbalance().check(measured(model, binary_targets(5, 400)))
    assert OutputBiasImbalance().check(measured(model, binary_targets(5, 400)), minority_count_min=6) == []


def test_pos_weight_moves_the_best_constant_logit():
    model = classifier(1)
    nn.init.zeros_(model[2].bias)
    m = measured(model, binary_targets(10, 400))
    m["initial_loss"] = {"loss": "bce_with_logits", "pos_weight": [39.0]}  # neg/pos: balanced, best logit ≈ 0
    assert OutputBiasImbalance().check(m) == []
    m["initial_loss"]["pos_weight"] = [2.0]  # a mild weight leaves most of the imbalance
    [finding] = OutputBiasImbalance().check(m)
    assert finding.evidence["pos_weight"] == 2.0 and "pos_weight 2" in finding.message
    assert math.isclose(finding.evidence["log_prior"], math.log(2.0 * 10.5 / 390.5))


def test_reconstruction_of_reshaped_images_counts_as_targets_are_inputs():
    images = binarized_digits().view(64, 1, 28, 28)
    m = Measurements()
    flat = nn.Sequential(nn.Flatten(), Decoder())
    measure_architecture(flat, images, images.view(-1, 784), m)  # the VAE's x.view(-1, 784)
    assert m["output_layer"]["targets_are_inputs"] is True
    m = Measurements()
    measure_architecture(flat, images, images.flip(0).view(-1, 784), m)  # same values, other order
    assert m["output_layer"]["targets_are_inputs"] is False


def test_grey_targets_of_a_sigmoid_head_are_judged_as_probabilities():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4), nn.Sigmoid())
    nn.init.zeros_(model[2].bias)
    grey = torch.rand(256, 4) * 0.6 + 0.2  # mean 0.5: the zero bias is right
    grey[:, 0] = 0.0  # an output that is always 0 (an empty border): too few "positives" to judge
    m = Measurements()
    measure_architecture(model, torch.randn(256, 8), grey, m)
    assert m["output_layer"]["targets"]["kind"] == "binary" and m["output_layer"]["targets"]["soft"]
    assert OutputBiasImbalance().check(m) == []
    faint = grey.clone()
    faint[:, 1] = 0.02  # summed mass ≈ 5 of 256: log-odds ≈ -3.9 against a zero bias
    faint[:, 1][:40] = 0.1
    m = Measurements()
    measure_architecture(model, torch.randn(256, 8), faint, m)
    [finding] = OutputBiasImbalance().check(m)
    assert finding.evidence["unit"] == 1 and "summed soft targets" in finding.message


def test_a_nearly_constant_regression_output_is_judged_on_the_common_scale():
    torch.manual_seed(0)
    targets = torch.randn(64, 3)
    targets[:, 2] = 1e-4 * torch.randn(64)  # barely varies: 0.03 / 1e-4 would be 300 "stds"
    assert OutputBiasImbalance().check(measured(classifier(3), targets)) == []
    targets[:, 1] += 50.0  # far off on any scale
    [finding] = OutputBiasImbalance().check(measured(classifier(3), targets))
    assert finding.evidence["unit"] == 1 and finding.evidence["gap_std"] > 20
