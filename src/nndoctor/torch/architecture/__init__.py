"""Architecture measurements taken before training, on a deep copy of the model.

`measure_architecture(model, inputs, targets, m)` runs ONE forward pass of a deep copy of
the model on the real batch under `torch.no_grad()`, watching it two ways:

* forward hooks on the weight layers (Linear, Conv, RNN, attention…) record the RMS of
  each layer's output in execution order — the activation scale across depth at init;
* a `TorchFunctionMode` sees every torch function call (module or functional alike):
  dropout, batch/layer/group norm, sigmoid and what consumes its output (a weight layer =
  a hidden activation; a multiplication with another tensor = a gate; nothing = the model's
  output), the activation applied to each weight layer, and the provenance of the output.

Read-only facts come from the original model (parameter dtypes, LSTM forget-gate biases).
The user's model, its gradients, buffers, modes and the RNG state are left bit-identical.
Every value stored in `m` is plain Python (lists, dicts, numbers, strings).

The work is split by what it is for: `model_facts` (read-only facts), `forward_pass`
(running the copy, recorded), `forward_trace` (what the pass showed), `output_layer`
(the output bias against the targets), `op_kinds` (op names) and `tensor_walk`.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from nndoctor.core.rule import Measurements
from nndoctor.torch.architecture.forward_pass import ModelFailed, trace_forward
from nndoctor.torch.architecture.measurements import FORWARD_MEASUREMENTS, MEASUREMENTS
from nndoctor.torch.architecture.model_facts import autocast_state, lstm_forget_biases, parameter_dtypes
from nndoctor.torch.architecture.output_layer import describe_output


def measure_architecture(
    model: nn.Module, inputs: Any, targets: Any, m: Measurements, *, batch_size: int | None = None
) -> None:
    """Fill `m` with the architecture measurements of `model` on one batch.

    `inputs` is what the model is called with: a tensor (`model(x)`), a tuple or list
    (`model(*inputs)`), a dict (`model(**inputs)`) or a namedtuple (`model(batch)`). `batch_size` is the training batch
    size when it differs from this batch's. Faults inside nndoctor are recorded in
    `m["internal_faults"]`; a model that cannot be copied or run is marked unavailable.
    """
    if batch_size is not None:
        m["training_batch_size"] = int(batch_size)
    forward_names = FORWARD_MEASUREMENTS
    try:
        m["parameter_dtypes"] = parameter_dtypes(model)
        m["autocast_active"] = autocast_state()
        m["lstm_forget_biases"] = lstm_forget_biases(model)
        trace = trace_forward(model, inputs)
    except ModelFailed as failure:
        for name in forward_names:
            m.mark_unavailable(name, str(failure))
        return
    except Exception as error:  # noqa: BLE001 — a fault of nndoctor, never the user's
        m.setdefault("internal_faults", []).append({
            "source": "architecture measurement", "exception": type(error).__name__,
            "detail": str(error)[:500], "step": None, "count": 1,
        })
        for name in forward_names + ("parameter_dtypes", "lstm_forget_biases"):
            if name not in m:
                m.mark_unavailable(name, "nndoctor's architecture measurement failed (see internal-error)")
        return
    m["layer_activation_rms"] = trace.layers
    m["dropout_normalization"] = {"dropout": trace.dropouts, "normalization": trace.norms}
    m["batchnorm_layers"] = [dict(n) for n in trace.norms if n["kind"] == "batch"]
    m["sigmoid_uses"] = trace.sigmoid_records()
    m["output_layer"] = describe_output(trace, targets, inputs)
    m["autocast_active"] = sorted(set(m["autocast_active"]) | trace.autocast_in_forward)


__all__ = ["MEASUREMENTS", "measure_architecture"]
