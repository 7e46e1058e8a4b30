from dynamics_rule_data import series

from nndoctor.rules.dynamics.eval_worse_than_untrained import EvalWorseThanUntrained

TRAIN = [2.3 * 0.9 ** i + 0.001 for i in range(30)]  # learns the training data


def evals(values, steps):
    return series(values, steps)


def test_batchnorm_lag_fires_from_the_first_evaluation():
    # flax_mnist_nnx.py --batch-size 128: 10 updates an epoch, BatchNorm momentum 0.99.
    m = {"loss_series": series(TRAIN), "eval_loss_series": evals([9.09, 18.0, 29.5], [10, 20, 30])}
    [finding] = EvalWorseThanUntrained().check(m)
    assert finding.step == 10 and finding.severity == "warning"
    assert finding.evidence["evaluations"] == 3 and finding.evidence["latest_eval_loss"] == 29.5
    assert "BatchNorm" in " ".join(finding.causes)


def test_ordinary_overfitting_first_improves_and_does_not_fire():
    m = {"loss_series": series(TRAIN), "eval_loss_series": evals([1.0, 2.0, 6.0, 9.0], [10, 20, 30, 40])}
    assert EvalWorseThanUntrained().check(m) == []


def test_an_evaluation_before_training_and_a_model_that_did_not_learn_do_not_count():
    before = {"loss_series": series(TRAIN), "eval_loss_series": evals([2.3, 0.5], [0, 20])}
    assert EvalWorseThanUntrained().check(before) == []
    flat = {"loss_series": series([2.3] * 30), "eval_loss_series": evals([9.0, 9.0], [10, 20])}
    assert EvalWorseThanUntrained().check(flat) == []  # not learning is other rules' business


def test_threshold():
    untrained = sorted(TRAIN[:5])[2]  # the median of the first five training losses
    m = {"loss_series": series(TRAIN), "eval_loss_series": evals([2.05 * untrained] * 2, [10, 20])}
    assert EvalWorseThanUntrained().check(m)
    assert EvalWorseThanUntrained().check(m, worse_factor=2.1) == []
