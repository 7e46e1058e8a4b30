from nndoctor.core import Measurements
from nndoctor.rules.code.eval_mode_missing import EvalModeMissing


def forward(step, modules, total=2, model="Net"):
    return {"step": step, "model": model, "train_mode_modules": list(modules),
            "train_mode_count": len(modules), "mode_dependent_count": total}


def test_dropout_in_training_mode_is_a_warning():
    m = Measurements(no_grad_forwards=[forward(10, ["drop (Dropout)"], total=1)])
    findings = EvalModeMissing().check(m)
    assert [f.rule for f in findings] == ["eval-mode-missing"]
    assert findings[0].severity == "warning"
    assert findings[0].step == 10
    assert findings[0].where == ["drop"]
    assert findings[0].evidence["passes_in_training_mode"] == 1


def test_batchnorm_in_training_mode_is_an_error():
    m = Measurements(no_grad_forwards=[forward(5, ["bn1 (BatchNorm1d)", "drop (Dropout)"])])
    finding = EvalModeMissing().check(m)[0]
    assert finding.severity == "error"
    assert finding.evidence["train_mode_modules"] == ["bn1 (BatchNorm1d)", "drop (Dropout)"]


def test_proper_eval_mode_has_no_finding():
    m = Measurements(no_grad_forwards=[forward(10, []), forward(20, [])])
    assert EvalModeMissing().check(m) == []


def test_forwards_before_the_first_update_are_ignored_by_default():
    m = Measurements(no_grad_forwards=[forward(0, ["drop (Dropout)"])])
    assert EvalModeMissing().check(m) == []
    assert EvalModeMissing().check(m, min_step=0)


def test_threshold_on_number_of_passes():
    m = Measurements(no_grad_forwards=[forward(3, ["drop (Dropout)"]), forward(6, [])])
    assert EvalModeMissing().check(m, min_passes=2) == []
    assert EvalModeMissing().check(m, min_passes=1)
