"""Clean, ordinary training loops must produce zero dynamics findings."""
import pytest
import torch
from dynamics_zoo import (
    SmallCNN, TinyLSTM, TinyTransformer, classification_data, cosine_schedule, dynamics_findings, image_data, mlp,
    sequence_data, train,
)

MODELS = {
    "mlp": (mlp, classification_data),
    "cnn": (SmallCNN, image_data),
    "lstm": (TinyLSTM, sequence_data),
    "transformer": (TinyTransformer, sequence_data),
}
OPTIMIZERS = {
    "adam": lambda params: torch.optim.Adam(params, 1e-3),
    "sgd": lambda params: torch.optim.SGD(params, 0.05, momentum=0.9),
}


@pytest.mark.parametrize("optimizer_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_healthy_training_has_no_findings(model_name, optimizer_name):
    build, data = MODELS[model_name]
    torch.manual_seed(0)
    model = build()
    x, y = data()
    monitor, faults = train(model, OPTIMIZERS[optimizer_name](model.parameters()), x, y, steps=300, every=5)
    assert faults == []
    assert [f.message for f in dynamics_findings(monitor)] == []
    measurements = monitor.measurements()
    assert measurements["loss_series"]["count"] == 300
    assert measurements["grad_norm_global"]["count"] == 60


def test_warmup_cosine_schedule_clipping_and_validation_have_no_findings():
    torch.manual_seed(0)
    model = TinyTransformer()
    x, y = sequence_data(n=512)
    optimizer = torch.optim.AdamW(model.parameters(), 3e-3, weight_decay=0.01)
    monitor, faults = train(model, optimizer, x[:384], y[:384], steps=400, every=5,
                            scheduler=cosine_schedule(optimizer, 400, warmup=60), clip=1.0,
                            eval_every=50, x_val=x[384:], y_val=y[384:])
    assert faults == []
    assert [f.message for f in dynamics_findings(monitor)] == []
    assert monitor.measurements()["eval_loss_series"]["count"] == 8


def test_frozen_layers_and_embeddings_are_not_update_ratio_low():
    torch.manual_seed(0)
    model = TinyLSTM()
    model.embed.weight.requires_grad_(False)
    for parameter in model.lstm.parameters():
        parameter.requires_grad_(False)
    x, y = sequence_data()
    monitor, faults = train(model, torch.optim.Adam(model.head.parameters(), 1e-3), x, y, steps=200)
    measurements = monitor.measurements()
    assert set(measurements["update_ratio_per_layer"]) == {"head.weight"}
    assert "update-ratio-low" not in {f.rule for f in dynamics_findings(monitor)}
    assert faults == []
