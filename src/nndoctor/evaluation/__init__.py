"""Evaluation of a trained model's predictions: metrics with intervals, baselines, error
analysis and ceilings, framework-neutral (numpy, pandas, scipy, scikit-learn; no torch).

`nndoctor.evaluate(y_true, predictions, ...)` (in `api`) turns the inputs into
`EvalSplit`s (`inputs`), measures them (`measure` and the modules it calls) and judges
the measurements with the rules of the `evaluation` area.
"""
