import numpy as np
import torch

import nndoctor

RULE = "length-mismatch"


def findings(report):
    return [f for f in report.findings if f.rule == RULE]


def test_fires_when_inputs_and_labels_differ_in_length():
    rng = np.random.default_rng(0)
    report = nndoctor.audit((rng.normal(size=(100, 10)), rng.integers(0, 2, 43)), select=[RULE])
    [finding] = findings(report)
    assert finding.severity == "error"
    assert finding.evidence["inputs"] == 100 and finding.evidence["labels"] == 43
    assert "100 inputs but 43 labels" in finding.message


def test_torch_tensors_of_equal_length_are_silent():
    report = nndoctor.audit((torch.randn(64, 3), torch.randint(0, 2, (64,))),
                            test=(torch.randn(32, 3), torch.randint(0, 2, (32,))), select=[RULE])
    assert findings(report) == []
    assert RULE in report.checks_run


def test_one_row_apart_fires_and_tolerance_silences_it():
    rng = np.random.default_rng(1)
    data = (rng.normal(size=(50, 4)), rng.integers(0, 2, 49))
    assert len(findings(nndoctor.audit(data, select=[RULE]))) == 1
    tolerant = nndoctor.audit(data, select=[RULE], thresholds={RULE: {"tolerated_difference_rows": 1}})
    assert findings(tolerant) == []
