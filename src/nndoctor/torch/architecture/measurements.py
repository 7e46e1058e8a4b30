"""The names `measure_architecture` fills (a module of its own: torch.preflight reads them
while this package is still importing it)."""

FORWARD_MEASUREMENTS = ("layer_activation_rms", "dropout_normalization", "batchnorm_layers", "sigmoid_uses",
                        "output_layer")
MEASUREMENTS = ("training_batch_size", "parameter_dtypes", "autocast_active", "lstm_forget_biases",
                *FORWARD_MEASUREMENTS)
