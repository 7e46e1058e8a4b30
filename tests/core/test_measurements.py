"""The measurement schema: every name a rule reads is declared (by the rule and in the
schema), and `problems` tells conforming measurements from broken ones."""
from __future__ import annotations

import inspect
import re

import pytest

from nndoctor.core.measurements import SCHEMA, problems
from nndoctor.core.registry import load_rules

# Data, evaluation and tuning rules judge framework-neutral views (tables, predictions,
# tuning sweeps), not what a framework adapter measures.
ADAPTER_RULES = [rule for rule in load_rules() if rule.area not in ("data", "evaluation", "tuning")]
READ = re.compile(r"""\bm(?:\.get\(|\[)["']([a-z_]+)["']""")


@pytest.mark.parametrize("rule", ADAPTER_RULES, ids=lambda r: r.id)
def test_rule_names_are_in_the_schema(rule):
    assert set(rule.requires) | set(rule.optional) <= set(SCHEMA), rule.id


@pytest.mark.parametrize("rule", ADAPTER_RULES, ids=lambda r: r.id)
def test_rule_reads_only_what_it_declares(rule):
    source = inspect.getsource(inspect.getmodule(rule))
    read = set(READ.findall(source))
    if "regression_target_rms(m)" in source:
        read.add("initial_loss")
    assert read <= set(rule.requires) | set(rule.optional), (rule.id, read)


def _series(values):
    points = [[i, v] for i, v in enumerate(values)]
    return {"count": len(points), "head": points, "recent": points,
            "history": [[i, i, 1, v, v, v] for i, v in enumerate(values)]}


def test_conforming_measurements_have_no_problems():
    m = {
        "framework": "jax",
        "loss_series": _series([2.3, 2.1, 1.9]),
        "grad_norm_per_layer": {"Dense_0/kernel": _series([0.5, 0.4])},
        "parameter_kinds": {"Dense_0/kernel": {"kind": "weight", "module_type": "Dense", "shape": [4, 3], "order": 0}},
        "non_finite": {"found": False, "loss_steps_non_finite": 0, "eval_losses_non_finite": 0,
                       "grad_steps_non_finite": 0, "first_grad_step": None},
        "eval_loss_series": None,
    }
    assert problems(m) == []


def test_wrong_types_and_missing_keys_are_named():
    m = {
        "loss_series": {"count": 3, "head": [], "recent": []},  # no history
        "parameter_kinds": {"w": {"kind": "matrix", "module_type": "Dense", "shape": [2], "order": 0}},
        "steps_observed": True,  # a bool is not a step count
        "output_check": {"batch_size": "16"},
    }
    found = problems(m)
    assert "loss_series: missing key 'history'" in found
    assert any(p.startswith("parameter_kinds['w'].kind: expected one of") for p in found)
    assert any(p.startswith("steps_observed: expected int") for p in found)
    assert any(p.startswith("output_check.batch_size: expected int") for p in found)
    assert "output_check: missing key 'loss_value'" in found
