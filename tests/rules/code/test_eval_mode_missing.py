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


def functional(step, calls, eval_mode=True):
    return dict(forward(step, [], total=0), model_in_eval_mode=eval_mode, functional_dropout=calls)


def test_active_functional_dropout_in_eval_mode_names_the_ignored_flag():
    m = Measurements(no_grad_forwards=[functional(10, [{"function": "dropout", "p": 0.5, "calls": 2}])])
    [finding] = EvalModeMissing().check(m)
    assert finding.rule == "eval-mode-missing" and finding.severity == "warning" and finding.step == 10
    assert "ignores `self.training`" in finding.message and "dropout(p=0.5) ×2" in finding.message
    assert any("training=self.training" in fix for fix in finding.fixes)


def test_attention_dropout_with_model_in_training_mode_says_so():
    calls = [{"function": "scaled_dot_product_attention", "p": 0.1, "calls": 4}]
    [finding] = EvalModeMissing().check(Measurements(no_grad_forwards=[functional(5, calls, eval_mode=False)]))
    assert "left in training mode" in finding.message and finding.evidence["functional_dropout"] == calls


def test_inactive_functional_dropout_is_silent():
    calls = [{"function": "dropout", "p": 0.0, "calls": 3}]
    assert EvalModeMissing().check(Measurements(no_grad_forwards=[functional(10, calls)])) == []
    assert EvalModeMissing().check(Measurements(no_grad_forwards=[functional(10, [])])) == []


def test_functional_dropout_threshold_on_passes():
    calls = [{"function": "dropout", "p": 0.2, "calls": 1}]
    m = Measurements(no_grad_forwards=[functional(4, calls), functional(8, [])])
    assert EvalModeMissing().check(m, min_passes=2) == []
    assert EvalModeMissing().check(m, min_passes=1)


def test_attention_dropout_of_a_model_left_in_training_mode_is_part_of_the_one_finding():
    # transformers' BERT without model.eval(): nn.Dropout modules in training mode, and its
    # attention's dropout_p (tied to self.training) active too. One cause, one finding.
    calls = [{"function": "scaled_dot_product_attention", "p": 0.1, "calls": 4}]
    record = dict(forward(30, ["bert.embeddings.dropout (Dropout)"], total=1), model_in_eval_mode=False,
                  functional_dropout=calls)
    [finding] = EvalModeMissing().check(Measurements(no_grad_forwards=[record]))
    assert "still in training mode" in finding.message
    assert "scaled_dot_product_attention(p=0.1) ×4" in finding.message
    assert finding.evidence["functional_dropout"] == calls
