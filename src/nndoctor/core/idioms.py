"""Framework idioms in finding text: a Flax user is never told to call torch functions.

Rule docstrings and fix lists are written with torch idioms (`clip_grad_norm_`,
`nn.init`), the framework nndoctor started with. Every other adapter registers a table
from torch snippets to its own (`register("jax", {...})`, nndoctor.jax.idioms). When a
rule builds a finding (`Rule.finding`) for measurements of that framework
(`m["framework"]`), its message, causes and fixes are translated snippet by snippet,
longest first; a sentence whose snippet maps to None, or that still names a torch-only
API after translation, is left out rather than shown wrongly. Rules stay untouched.

tests/core/test_idioms.py checks that every rule an adapter runs keeps at least one fix
and no torch-only API in that adapter's language.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

DEFAULT_FRAMEWORK = "torch"
# APIs that exist only in torch (nn.Dropout, nn.LayerNorm, nn.GroupNorm also exist in Flax).
TORCH_ONLY = re.compile(
    r"\btorch\b|\.backward\b|zero_grad|requires_grad|named_parameters|param_groups|\.parameters\(\)|"
    r"nn\.init(?!ializers)|nn\.utils|nn\.(?:Linear|ReLU|Sigmoid|Softmax|LSTM|GRU|RNN|BatchNorm[123]d|CrossEntropyLoss|BCE\w*|"
    r"NLLLoss|MSELoss|L1Loss|HuberLoss|KLDivLoss|Tanh|LeakyReLU|GELU|Module|MultiheadAttention|Transformer\w*|"
    r"Embedding|Conv[123]d)\b|DataLoader|\.eval\(\)|\.train\(\)|\.detach\(\)|\.data\b|\.half\(\)|\.float\(\)|"
    r"autocast|GradScaler|\bF\.\w|ctx\.|\.view\(|lr_scheduler|cudnn|use_deterministic_algorithms|manual_seed|"
    r"gradcheck|batch_first|find_unused_parameters|p\.grad|no_grad|\.weight\b"
)
_TABLES: dict[str, dict[str, str | None]] = {}


def register(framework: str, table: Mapping[str, str | None]) -> None:
    """Add (or extend) the idiom table of `framework`: torch snippet → its equivalent,
    or None when the sentence has no equivalent there."""
    _TABLES.setdefault(framework, {}).update(table)


def translate_text(text: str, framework: str | None) -> str | None:
    """`text` in the idioms of `framework`; None when it cannot be said there."""
    if not framework or framework == DEFAULT_FRAMEWORK:
        return text
    table = _TABLES.get(framework, {})
    for snippet in sorted((s for s in table if s in text), key=len, reverse=True):
        if snippet not in text:
            continue  # consumed by a longer snippet
        replacement = table[snippet]
        if replacement is None:
            return None
        text = text.replace(snippet, replacement)
    return None if TORCH_ONLY.search(text) else text


def translate(texts: Iterable[str], framework: str | None) -> list[str]:
    translated = (translate_text(text, framework) for text in texts)
    return [text for text in translated if text is not None]


def translate_message(text: str, framework: str | None) -> str:
    """Messages carry the measured numbers and are always shown: snippets are replaced,
    nothing is dropped."""
    if not framework or framework == DEFAULT_FRAMEWORK:
        return text
    table = _TABLES.get(framework, {})
    for snippet in sorted((s for s in table if s in text), key=len, reverse=True):
        if snippet in text and table[snippet] is not None:
            text = text.replace(snippet, table[snippet])
    return text
