"""`nndoctor tune …` records the script's optimizer, model and first batch it measured
(the settings it tuned) next to its result, as `run` does."""
from nndoctor.cli.app import _load_commands
from nndoctor.cli.common import run_cli
from nndoctor.records import schema, store

_load_commands()


def test_tune_batch_size_records_the_optimizer_model_and_batch_it_measured(records_db, train_script, capsys):
    code = run_cli(["tune", "batch-size", "--batches", "4", "--micro-batches", "4", str(train_script), "0.01"])
    err = capsys.readouterr().err
    assert code in (0, 1) and "recorded as run" in err, err
    connection = schema.connect(records_db, readonly=True)
    row = store.load_run(connection, store.resolve(connection, "last"))
    connection.close()
    assert row["command"] == "tune batch-size" and row["status"] == "finished"
    hyper = row["hyperparameters"]
    [sgd] = hyper["optimizers"]
    assert sgd["class"] == "SGD" and sgd["param_groups"][0]["lr"] == 0.01 and sgd["param_groups"][0]["values"] == 9
    assert hyper["models"][0]["class"] == "Linear" and hyper["models"][0]["parameters"] == 9
    assert hyper["batch_size"] == 64
    assert row["data_fingerprints"]["first_batch"]["inputs"]["argument 0"]["shape"] == [64, 8]
    assert [(s["call"], s["seed"]) for s in row["seeds"]["seeds"]] == [("torch.manual_seed", 0)]
    report = row.report
    assert report["context"]["noise_scale"] and "series" not in report["context"]  # the tune's result, no run curves
