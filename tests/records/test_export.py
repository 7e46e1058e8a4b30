"""`nndoctor export`: a recorded run read back by MLflow's and TensorBoard's own readers."""
import time

import pytest

from nndoctor.cli.app import _load_commands
from nndoctor.cli.common import run_cli
from nndoctor.records import schema, store

_load_commands()

LOSS = {"count": 4, "head": [[0, 2.0], [1, 1.5], [2, 1.0], [3, 0.5]], "recent": [[2, 1.0], [3, 0.5]],
        "history": [[0, 3, 4, 1.25, 0.5, 2.0]]}


@pytest.fixture()
def recorded(records_db):
    connection = schema.connect(records_db)
    store.insert_run(connection, {
        "id": "feed1234beef", "command": "run", "command_line": ["nndoctor", "run", "train.py"], "script": "train.py",
        "status": "running", "started_at": time.time() - 5, "git_commit": "abc123",
        "hyperparameters": {"optimizers": [{"class": "SGD", "param_groups": [{"lr": 0.1, "momentum": 0.9}]}],
                            "batch_size": 32},
        "environment": {"python": "3.11", "torch": "2.13.0"}})
    report = {"command": "run", "checks_run": ["loss-diverging"], "checks_skipped": [],
              "findings": [{"rule": "loss-diverging", "severity": "warning", "message": "the loss rose", "step": 3}],
              "summary": {"error": 0, "warning": 1, "info": 0}, "context": {"series": {"loss": LOSS}}}
    store.finish_run(connection, "feed1234beef", {"status": "finished", "exit_code": 0, "ended_at": time.time()},
                     report)
    return records_db


def test_tensorboard_event_files_hold_the_loss_curve_and_the_findings(recorded, tmp_path, capsys):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    assert run_cli(["export", "feed", "--tensorboard", str(tmp_path / "tb")]) == 0
    assert "exported run feed1234 to TensorBoard" in capsys.readouterr().out
    events = event_accumulator.EventAccumulator(str(tmp_path / "tb" / "feed1234"), size_guidance={"tensors": 0})
    events.Reload()
    scalars = events.Tensors("nndoctor/loss") if "nndoctor/loss" in events.Tags()["tensors"] else \
        events.Scalars("nndoctor/loss")
    assert [e.step for e in scalars] == [0, 1, 2, 3]
    assert "nndoctor/findings/text_summary" in events.Tags()["tensors"]


def test_mlflow_gets_params_tags_metrics_and_the_report(recorded, tmp_path, capsys, monkeypatch):
    tracking = pytest.importorskip("mlflow.tracking")
    monkeypatch.chdir(tmp_path)  # MLflow's database backend keeps artifacts in ./mlruns
    pytest.importorskip("sqlalchemy")  # MLflow's local database backend (its file store is retired)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert run_cli(["export", "last", "--mlflow", uri]) == 0
    assert "exported run feed1234 to MLflow" in capsys.readouterr().out
    client = tracking.MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("nndoctor").experiment_id])
    assert run.data.params == {"optimizer": "SGD", "lr": "0.1", "momentum": "0.9", "batch size": "32"}
    assert run.data.tags["nndoctor.run_id"] == "feed1234beef" and run.data.tags["mlflow.source.git.commit"] == "abc123"
    history = client.get_metric_history(run.info.run_id, "nndoctor/loss")
    assert [(m.step, m.value) for m in history] == [(0, 2.0), (1, 1.5), (2, 1.0), (3, 0.5)]
    assert run.data.metrics["nndoctor/findings_warning"] == 1.0
    assert run.info.status == "FINISHED"


def test_export_needs_a_destination(recorded, capsys):
    assert run_cli(["export", "last"]) == 2
    assert "--mlflow URI and/or --tensorboard DIR" in capsys.readouterr().err
