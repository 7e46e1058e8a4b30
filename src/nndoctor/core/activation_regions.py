"""What counts as a saturated or a dead unit, in one place for every adapter that measures
activations (torch's dynamics monitor and architecture trace today). The rules
saturated-activation, init-scale-mismatch and dead-relu judge the shares measured with
these definitions; their own thresholds (how large a share is a problem) are their
keyword arguments."""
from __future__ import annotations

import math

# Flat region: the slope has fallen below 2 % of its peak, so the unit passes almost no
# gradient whatever its input (001: saturated tanh/sigmoid units stop learning).
FLAT_SLOPE_SHARE = 0.02
# tanh'(x) = 1 - y², peak 1: flat where |y| >= sqrt(1 - 0.02) ≈ 0.98995, |x| >= 2.65.
TANH_FLAT_ABS_OUTPUT = math.sqrt(1 - FLAT_SLOPE_SHARE)
# sigmoid'(x) = y(1 - y), peak 1/4: flat where y(1 - y) <= 0.005, |x| >= 5.29.
SIGMOID_FLAT_SLOPE = FLAT_SLOPE_SHARE * 0.25
_SIGMOID_FLAT_OUTPUT = (1 + math.sqrt(1 - 4 * SIGMOID_FLAT_SLOPE)) / 2
# The same limits on the input of the activation (for a trace that sees pre-activations).
FLAT_PRE_ACTIVATION = {
    "tanh": math.atanh(TANH_FLAT_ABS_OUTPUT),
    "sigmoid": math.log(_SIGMOID_FLAT_OUTPUT / (1 - _SIGMOID_FLAT_OUTPUT)),
}

# A ReLU unit is dead when it stayed inactive in 8 sampled batches in a row covering at
# least 64 samples: a rarely firing healthy unit is active somewhere in that many rows.
DEAD_WINDOW_SAMPLES = 8
DEAD_WINDOW_MIN_ROWS = 64
