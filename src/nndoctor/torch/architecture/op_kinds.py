"""Names of the layers and torch ops the architecture trace tells apart.

A TorchFunctionMode sees op names (`linear`, `sigmoid`, `batch_norm`…), whether the op
came from an nn module or from torch.nn.functional; these tables say what each name means
for the checks: a weight layer, a gate-forming multiplication, a normalization, an
activation, or an op a tensor keeps its provenance through.
"""
from __future__ import annotations

from torch import nn

from nndoctor.core.activation_regions import FLAT_PRE_ACTIVATION

WEIGHT_LAYERS = (
    nn.Linear, nn.Bilinear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d,
    nn.ConvTranspose2d, nn.ConvTranspose3d, nn.RNNBase, nn.MultiheadAttention,
)
# Ops whose first argument is multiplied by learned weights: a sigmoid feeding one of
# these is a hidden activation (003 §4.5.3 #15 keeps sigmoid for gates and binary outputs).
WEIGHTED_OPS = {
    "linear", "bilinear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "lstm", "gru", "rnn_tanh", "rnn_relu", "multi_head_attention_forward",
}
MATMUL_OPS = {"matmul", "rmatmul", "mm", "bmm", "einsum"}
MULTIPLY_OPS = {"mul", "rmul", "multiply", "addcmul"}
SIGMOID_OPS = {"sigmoid"}
DROPOUT_OPS = {"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"}
NORM_OPS = {"batch_norm": "batch", "layer_norm": "layer", "group_norm": "group",
            "instance_norm": "instance", "rms_norm": "rms"}
ACTIVATION_OPS = {
    "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "tanh",
    "sigmoid", "softplus", "hardtanh", "hardswish", "hardsigmoid", "prelu", "rrelu", "softsign",
    "softmax", "log_softmax",
}
# Ops that move, select or rescale values without mixing them with another activation:
# a tensor keeps its provenance through them.
PASS_THROUGH_OPS = {
    "view", "reshape", "flatten", "squeeze", "unsqueeze", "permute", "transpose", "t",
    "contiguous", "clone", "to", "float", "double", "half", "bfloat16", "getitem", "select",
    "narrow", "expand", "repeat", "cat", "stack", "concat", "split", "chunk", "unbind",
    "dropout", "dropout1d", "dropout2d", "dropout3d", "sigmoid", "softmax", "log_softmax",
    "add", "radd", "sub", "rsub", "mul", "rmul", "div", "truediv", "rtruediv", "neg", "clamp",
}
FINAL_ACTIVATIONS = {"sigmoid", "softmax", "log_softmax"}
SATURATION_LIMITS = FLAT_PRE_ACTIVATION  # |x| beyond which the slope is < 2% of its peak (as live)
