"""The JAX/Flax/optax idiom table: torch snippets of the rules' texts → what a Flax user
writes instead (None: the sentence has no JAX counterpart and is left out). Registered
with nndoctor.core.idioms when the JAX adapter is imported; plain data, no jax import.
"""
from __future__ import annotations

from nndoctor.core import idioms

JAX_IDIOMS: dict[str, str | None] = {
    # ---- gradients and optimizers
    "`torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)`": "`optax.chain(optax.clip_by_global_norm(1.0), optimizer)`",
    "`torch.nn.utils.clip_grad_norm_(..., max_norm)`": "`optax.clip_by_global_norm(max_norm)`",
    "`torch.nn.utils.clip_grad_norm_`": "`optax.clip_by_global_norm`",
    "Clip gradients before `optimizer.step()`:": "Clip gradients in the optimizer chain:",
    "`torch.optim.Adam(model.parameters(), lr=1e-3)`": "`optax.adam(1e-3)`",
    "`torch.optim.AdamW(..., weight_decay=0.01)`": "`optax.adamw(learning_rate, weight_decay=0.01)`",
    "`torch.optim.AdamW`": "`optax.adamw`",
    "`torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=1000)`":
        "`optax.linear_schedule(0.0, learning_rate, transition_steps=1000)` as the learning rate",
    "`torch.optim.lr_scheduler.CosineAnnealingLR`": "`optax.cosine_decay_schedule`",
    "and check the scheduler's first values with `scheduler.get_last_lr()`":
        "and check the schedule's first values (`[schedule(i) for i in range(5)]`)",
    "Check that `optimizer.zero_grad()`, `loss.backward()` and `optimizer.step()` all run every step and that the "
    "optimizer got `model.parameters()`.":
        "Check that every step applies the updates (`optax.apply_updates(params, updates)`, or "
        "`optimizer.update(model, grads)` with nnx) and keeps the returned params and optimizer state.",
    "Create the optimizer after the model is complete and moved to its device: `model.to(device); optimizer = "
    "torch.optim.Adam(model.parameters(), lr=1e-3)`.":
        "Build the optimizer state from the final params: `opt_state = tx.init(params)` after any change to the model.",
    "Check coverage: `set(map(id, model.parameters())) - {id(p) for g in optimizer.param_groups for p in g['params']}` "
    "must be empty.":
        "Check `optax.masked` / `optax.multi_transform` labels: no trainable leaf should map to `optax.set_to_zero()`.",
    "Check each param group's `lr` (`[g['lr'] for g in optimizer.param_groups]`).":
        "Check the learning rate of each `optax.multi_transform` group.",
    "The optimizer was created before layers were added or replaced (`model.fc = nn.Linear(...)` after "
    "`Adam(model.parameters())`).": "The optimizer state was built for an older params tree.",
    "Only some parameters were passed: `Adam(model.encoder.parameters())`, or a param-group list that misses a module.":
        "An `optax.masked` / `multi_transform` label set that leaves some leaves out (`optax.set_to_zero()`).",
    "Unfreeze what should train: `for p in model.head.parameters(): p.requires_grad_(True)`.":
        "Unfreeze what should train: give those leaves a real transformation in `optax.multi_transform` instead of "
        "`optax.set_to_zero()`.",
    "`requires_grad_(False)` applied to the whole model instead of a sub-module.":
        "`optax.set_to_zero()` / a `jax.lax.stop_gradient` applied to the whole model instead of a sub-module.",
    "Freeze deliberately and only the backbone: `model.backbone.requires_grad_(False)`, and give the optimizer only "
    "trainable parameters.": "Freeze deliberately and only the backbone, with `optax.multi_transform` labels.",
    "If you want NLLLoss or KLDivLoss, apply F.log_softmax(logits, dim=1) first.": None,
    # ---- initialisation
    "`nn.init.kaiming_normal_(w, nonlinearity=\"relu\")`": "`kernel_init=nn.initializers.he_normal()`",
    "`nn.init.kaiming_normal_`": "`nn.initializers.he_normal()`",
    "`nn.init.xavier_uniform_`": "`nn.initializers.xavier_uniform()`",
    "`nn.init.normal_(w, std=1)`": "`kernel_init=nn.initializers.normal(1.0)`",
    "`nn.init.normal_(head.weight, std=0.01)`; `nn.init.zeros_(head.bias)`":
        "`nn.Dense(..., kernel_init=nn.initializers.normal(0.01), bias_init=nn.initializers.zeros)`",
    "`nn.init.constant_(head.bias, y.mean())`": "`bias_init=nn.initializers.constant(y.mean())` on the output layer",
    "(`head.bias.data = torch.log(class_freq)`)": "(`bias_init=nn.initializers.constant(jnp.log(class_freq))`)",
    "Check the reduction of the loss (`reduction='mean'`) and what is fed to it.":
        "Check that loss_fn takes the mean of the per-example optax losses (`.mean()`) and what is fed to it.",
    "reduction='sum' where a mean was intended (the loss grows with the batch size).":
        "`.sum()` of the per-example losses where a mean was intended (the loss grows with the batch size).",
    # ---- layers and activations
    "`nn.BatchNorm2d`/`nn.LayerNorm`": "`nn.BatchNorm`/`nn.LayerNorm`",
    "`nn.LayerNorm`/`nn.BatchNorm2d`": "`nn.LayerNorm`/`nn.BatchNorm`",
    "`nn.BatchNorm1d`/`nn.LayerNorm`": "`nn.BatchNorm`/`nn.LayerNorm`",
    "`nn.LayerNorm`/`nn.BatchNorm1d`": "`nn.LayerNorm`/`nn.BatchNorm`",
    "`nn.BatchNorm1d`": "`nn.BatchNorm`",
    "`nn.ReLU`, `nn.LeakyReLU`, `nn.GELU`": "`nn.relu`, `nn.leaky_relu`, `nn.gelu`",
    "Replace `nn.ReLU` with `nn.LeakyReLU(0.01)` or `nn.GELU`": "Replace `nn.relu` with `nn.leaky_relu` or `nn.gelu`",
    "Prefer `nn.Tanh` over `nn.Sigmoid`": "Prefer `nn.tanh` over `nn.sigmoid`",
    "`nn.Dropout`, data augmentation": "`nn.Dropout`, data augmentation",
    "(e.g. `nn.TransformerEncoderLayer(..., dropout=0.0)`)": "(`nn.Dropout(rate=0.0)`)",
    "`nn.BatchNorm2d(c)` with `nn.GroupNorm(num_groups=8, num_channels=c)`": "`nn.BatchNorm` with `nn.GroupNorm(num_groups=8)`",
    "Train with a batch of at least 32 samples (`DataLoader(..., batch_size=32)`).": "Train with a batch of at least 32 samples.",
    # ---- numerics and precision
    "`torch.log(x.clamp_min(1e-8))`": "`jnp.log(jnp.maximum(x, 1e-8))`",
    "`nn.BCEWithLogitsLoss` / `F.cross_entropy` on logits":
        "`optax.sigmoid_binary_cross_entropy` / `optax.softmax_cross_entropy_with_integer_labels` on logits",
    "`torch.autograd.set_detect_anomaly(True)`": "`jax.config.update(\"jax_debug_nans\", True)`",
    "with forward hooks or": "with `jax.debug.print` in `__call__` or",
    "`torch.sqrt(x + 1e-12)`": "`jnp.sqrt(x + 1e-12)`",
    "clean with `torch.nan_to_num` as a stopgap": "clean with `jnp.nan_to_num` as a stopgap",
    "`torch.empty`": "`jnp.empty`",
    "Train in bfloat16 or float32; or lower the initial scale of `torch.amp.GradScaler(init_scale=...)`.": None,
    "`model.half()` / `model.to(torch.bfloat16)` to save memory or time.":
        "Parameters created or cast in low precision (`param_dtype=jnp.bfloat16`, `.astype(jnp.bfloat16)`) to save memory or time.",
    "`torch.autocast(...)` (automatic mixed precision) left on while hunting a bug.":
        "Flax layers computing in low precision (`dtype=jnp.bfloat16`), or `jax_default_matmul_precision` below float32 "
        "on GPU/TPU, left on while hunting a bug.",
    "Debug in float32: `model.float()` and float32 inputs.":
        "Debug in float32: `params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float32), params)` and float32 inputs.",
    "Remove `torch.autocast(...)` / `GradScaler` while debugging; add them back once training works.":
        "Drop `dtype=jnp.bfloat16` from the layers and add `jax.config.update(\"jax_default_matmul_precision\", "
        "\"float32\")` while debugging (000 §1.1.4); go back to low precision once training works.",
    "When you return to low precision, keep float32 master weights (autocast) rather than `.half()` parameters.":
        "When you return to low precision, keep float32 parameters (`param_dtype=jnp.float32`) and compute in bfloat16 "
        "(`dtype=jnp.bfloat16`).",
    "autocast mixed precision is on": "reduced-precision compute is on",
    "(threshold: any autocast)": "(threshold: any reduced-precision compute)",
    "`log(x)` hidden behind `torch.where`": "`log(x)` hidden behind `jnp.where` (both branches are differentiated)",
    "(e.g. `torch.log(torch.sigmoid(x))` or `nn.BCELoss` on saturated outputs)":
        "(e.g. `jnp.log(jax.nn.sigmoid(x))` on saturated outputs)",
    "Use the numerically stable forms: `nn.BCEWithLogitsLoss`, `F.cross_entropy` on raw logits, `F.log_softmax`.":
        "Use the numerically stable forms on raw logits: `optax.sigmoid_binary_cross_entropy`, "
        "`optax.softmax_cross_entropy_with_integer_labels`, `jax.nn.log_softmax`.",
    "`torch.log(p + 1e-8)`": "`jnp.log(p + 1e-8)`",
    # ---- graph cuts and shapes
    "(`.detach()`, `.data`, `torch.no_grad()` in forward)": "(`jax.lax.stop_gradient` in `__call__`)",
    "The graph is cut: `.detach()`, `.data`, `.item()`, `.numpy()`, `torch.no_grad()` or an in-place overwrite between "
    "the layer and the loss.":
        "The gradient is cut: `jax.lax.stop_gradient`, or a value taken out of JAX (`np.asarray`, `float()`) between the "
        "layer and the loss.",
    "The loss itself was detached (`torch.tensor(loss.item())`, computed under no_grad).": None,
    "Check that every module created in `__init__` is called in `forward`; remove unused ones or pass "
    "`find_unused_parameters` only if intended.":
        "Check that every submodule created in `__init__`/`setup` is called in `__call__`; remove unused ones.",
    "Remove `.detach()` / `.data` / `.item()` between the layer and the loss; return the loss tensor itself.":
        "Remove `jax.lax.stop_gradient` between the layer and the loss.",
    "Print `[(n, p.grad is None) for n, p in model.named_parameters()]` after `loss.backward()`.":
        "Print the per-leaf gradient norms: `jax.tree_util.tree_map(jnp.linalg.norm, grads)`.",
    "The layer is defined in `__init__` but never used in `forward` (or its output is discarded).":
        "The layer is defined but never called in `__call__` (or its output is discarded).",
    "(a leftover `x = torch.zeros_like(x)`, a mask of zeros)": "(a leftover `x = jnp.zeros_like(x)`, a mask of zeros)",
    "(forward hooks)": "(`self.sow(...)` or `jax.debug.print`)",
    "Keep dim 0 for samples: reduce over features (`x.mean(dim=1)`) and use `x.flatten(1)` instead of `x.view(-1)`.":
        "Keep axis 0 for samples: reduce over features (`x.mean(axis=1)`) and use `x.reshape(x.shape[0], -1)` instead "
        "of `x.reshape(-1)`.",
    "A reduction over dim 0 (`x.mean(0)`, `x.sum(0)`) or a `view`/`reshape` that folds samples together.":
        "A reduction over axis 0 (`x.mean(0)`, `x.sum(0)`) or a `reshape` that folds samples together.",
    "; re-initialise with `nn.init.kaiming_normal_`": "; re-initialise with `nn.initializers.he_normal()`",
    "A sequence model fed (N, T, …) while it expects (T, N, …): `nn.LSTM`, `nn.GRU`, `nn.MultiheadAttention` and "
    "`nn.TransformerEncoder` default to batch_first=False.":
        "A sequence model fed (T, N, …) while it expects (N, T, …) — Flax's `nn.RNN` and attention layers take the "
        "batch first — or a `jax.vmap` over the wrong axis.",
    "`view`/`reshape` used to swap dimensions (it reorders memory instead of transposing), mixing samples.":
        "`reshape` used to swap axes (it reorders values instead of transposing), mixing samples.",
    "BatchNorm with `track_running_stats=False`, which uses batch statistics even in eval mode.":
        "BatchNorm called with `use_running_average=False` at evaluation, which uses batch statistics there.",
    "Pass `batch_first=True` to `nn.LSTM(..., batch_first=True)` / `nn.TransformerEncoderLayer(..., batch_first=True)`, "
    "or feed (T, N, …).": "Feed (N, T, …) to Flax sequence layers, or set `time_major=True` on `nn.RNN` for (T, N, …).",
    "Swap dimensions with `x.transpose(0, 1)` / `x.permute(...)`, never with `view`.":
        "Swap axes with `jnp.swapaxes(x, 0, 1)` / `x.transpose(...)`, never with `reshape`.",
    "Reduce over feature dimensions (`dim=-1`), not over the batch.": "Reduce over feature axes (`axis=-1`), not over the batch.",
    # ---- determinism, data
    "a `torch.Generator` seeded from the clock": "a key made from the clock (`jax.random.key(time.time_ns())`)",
    "Non-deterministic kernels (atomic adds on GPU: `index_add_`, `scatter_add_`, some cuDNN convolutions).":
        "Non-deterministic GPU kernels (scatter-adds, some convolutions).",
    "Seed every generator once at start (`torch.manual_seed(0)`, `np.random.seed(0)`, `random.seed(0)`) and pass "
    "seeded generators to your own sampling code.":
        "Make every random operation take a key split from one `jax.random.key(0)` (000 §1.2), and seed numpy/python "
        "generators used in the pipeline.",
    "On GPU: `torch.use_deterministic_algorithms(True)` and `torch.backends.cudnn.benchmark = False` while debugging.":
        "On GPU: set `XLA_FLAGS=--xla_gpu_deterministic_ops=true` while debugging.",
    "Shuffle the data (`DataLoader(..., shuffle=True)`) so consecutive batches are alike.":
        "Shuffle the data every epoch (`jax.random.permutation(key, n)`) so consecutive batches are alike.",
    "Gradients not reaching the parameters: `.detach()`, `torch.no_grad()`, frozen layers, dead or saturated activations.":
        "Gradients not reaching the parameters: `jax.lax.stop_gradient`, masked-out leaves, dead or saturated activations.",
    # ---- loss names in messages
    "CrossEntropyLoss / F.cross_entropy": "optax.softmax_cross_entropy",
    "NLLLoss / F.nll_loss": "a negative log-likelihood",
    "BCELoss / F.binary_cross_entropy": "a binary cross-entropy on probabilities",
    "BCEWithLogitsLoss / F.binary_cross_entropy_with_logits": "optax.sigmoid_binary_cross_entropy",
    "MSELoss / F.mse_loss": "optax.squared_error / l2_loss",
    "HuberLoss / F.huber_loss": "optax.huber_loss",
    "For logits use nn.CrossEntropyLoss (multi-class) or nn.BCEWithLogitsLoss (binary / multi-label): they apply "
    "log_softmax / sigmoid themselves, stably.":
        "For logits use optax.softmax_cross_entropy_with_integer_labels (multi-class) or "
        "optax.sigmoid_binary_cross_entropy (binary / multi-label): they apply log_softmax / sigmoid themselves, stably.",
    "The model ends with nn.Softmax / torch.softmax (or nn.Sigmoid) and the loss is CrossEntropyLoss / BCEWithLogitsLoss.":
        "The model ends with `nn.softmax` (or `nn.sigmoid`) and the loss is an optax softmax/sigmoid cross-entropy.",
    "Remove the final softmax/sigmoid from the model and feed the raw logits to the loss; apply torch.softmax only when "
    "you need probabilities for prediction.":
        "Remove the final softmax/sigmoid from the model and feed the raw logits to the loss; apply `jax.nn.softmax` "
        "only when you need probabilities for prediction.",
    "Or keep the probabilities and switch the loss: softmax → torch.log then nn.NLLLoss; sigmoid → nn.BCELoss "
    "(numerically worse — prefer the first fix).": None,
    "The model's last layer is nn.Linear(hidden, 1) (output (N, 1)) while the targets are a flat (N,) vector.":
        "The model's last layer is nn.Dense(1) (output (N, 1)) while the targets are a flat (N,) vector.",
    "Make the shapes equal before the loss: `loss_fn(pred.squeeze(-1), target)` or `loss_fn(pred, target.view(-1, 1))`.":
        "Make the shapes equal before the loss: `pred.squeeze(-1)` or `target.reshape(-1, 1)`.",
}

idioms.register("jax", JAX_IDIOMS)
