"""Finding texts follow the framework being judged: no torch API is shown to a Flax user."""
from __future__ import annotations

import pytest

from nndoctor.core import idioms
from nndoctor.core.registry import load_rules

pytest.importorskip("jax")
pytest.importorskip("flax")
from nndoctor.jax.doctor import CAPABILITY as JAX_RUN  # noqa: E402
from nndoctor.jax.experiments.api import CAPABILITY as JAX_PREFLIGHT  # noqa: E402

JAX_RULES = [rule for rule in load_rules() if JAX_PREFLIGHT.applies(rule) or JAX_RUN.applies(rule)]


def test_the_jax_adapter_runs_the_shared_rules():
    ids = {rule.id for rule in JAX_RULES}
    assert {"initial-loss-off", "cannot-overfit-batch", "ignores-input", "no-gradient", "batch-mixing",
            "exploding-gradients", "loss-diverging", "update-ratio-high", "non-finite", "low-precision",
            "dropout-key-reused"} <= ids


@pytest.mark.parametrize("rule", JAX_RULES, ids=lambda r: r.id)
def test_jax_texts_name_no_torch_api_and_keep_a_fix(rule):
    doc = rule.doc()
    fixes = idioms.translate(doc.fixes, "jax")
    causes = idioms.translate(doc.causes, "jax")
    assert fixes, f"{rule.id}: every fix was dropped for JAX; add its JAX wording to nndoctor.jax.idioms"
    for text in fixes + causes:
        assert not idioms.TORCH_ONLY.search(text), text


def test_torch_texts_are_unchanged():
    text = "Clip gradients: `torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)`."
    assert idioms.translate([text], "torch") == [text]
    assert idioms.translate([text], None) == [text]


def test_snippets_are_replaced_longest_first_and_unknown_torch_text_is_dropped():
    texts = ["Clip gradients: `torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)`.",
             "Call `optimizer.zero_grad()` before `loss.backward()`."]
    assert idioms.translate(texts, "jax") == [
        "Clip gradients: `optax.chain(optax.clip_by_global_norm(1.0), optimizer)`."]


def test_a_finding_built_for_jax_measurements_uses_the_jax_idioms():
    from nndoctor.core.engine import run_rules

    rule = load_rules().get("exploding-gradients")
    series = {"count": 3, "head": [[0, 1.0], [1, 1e4], [2, 1e6]], "recent": [[0, 1.0], [1, 1e4], [2, 1e6]],
              "history": [[0, 0, 1, 1.0, 1.0, 1.0], [1, 1, 1, 1e4, 1e4, 1e4], [2, 2, 1, 1e6, 1e6, 1e6]]}
    for framework in ("torch", "jax"):
        report = run_rules({"framework": framework, "grad_norm_global": series}, [rule])
        text = " ".join(f for finding in report.findings for f in finding.fixes)
        if report.findings and framework == "jax":
            assert "optax" in text and "torch" not in text
        if report.findings and framework == "torch":
            assert "clip_grad_norm_" in text


def test_the_non_finite_origins_keep_their_jax_advice():
    from nndoctor.rules.dynamics.non_finite import BY_ORIGIN

    for origin, (_, causes, fixes) in BY_ORIGIN.items():
        assert len(idioms.translate(fixes or [], "jax")) == len(fixes or []), origin
        assert len(idioms.translate(causes or [], "jax")) == len(causes or []), origin
