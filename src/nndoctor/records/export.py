"""A recorded run into the trackers people already use: MLflow and TensorBoard.

Both behind the `records` extra, imported only here:
* MLflow (`mlflow` or `mlflow-skinny`): one MLflow run with the hyperparameters as params,
  the command, script, commit and versions as tags, the loss curves as metrics by step,
  the finding counts as metrics, and the whole report as the artifact nndoctor_report.json.
* TensorBoard (`torch.utils.tensorboard`, which needs the `tensorboard` package, else
  `tensorboardX`): the loss curves as scalars, the findings and the hyperparameters as text.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from nndoctor.core.errors import UsageError
from nndoctor.records.compare import series_points, flatten_hyperparameters
from nndoctor.records.store import RunRow

INSTALL_HINT = "pip install 'nndoctor[records]'"
MLFLOW_PARAM_CHARS = 500  # MLflow's limit on a param value's length
# MLflow keys take letters, digits, _ - . space : / only.
MLFLOW_KEY_REJECTED = re.compile(r"[^\w\-. :/]")


def mlflow_key(name: str) -> str:
    """"scheduler's step_size" → "scheduler.step_size" (MLflow's key alphabet)."""
    return MLFLOW_KEY_REJECTED.sub("", name.replace("'s ", ".")).strip()[:250]
SERIES_TAGS = {"loss": "nndoctor/loss", "val_loss": "nndoctor/val_loss"}


def _series(run: RunRow) -> dict[str, list[tuple[int, float]]]:
    series = ((run.report or {}).get("context") or {}).get("series") or {}
    return {name: series_points(series.get(name)) for name in SERIES_TAGS if isinstance(series.get(name), dict)}


def _tags(run: RunRow) -> dict[str, str]:
    environment = run.get("environment", {})
    tags = {"nndoctor.run_id": run["id"], "nndoctor.command": run.get("command", ""),
            "nndoctor.status": run.get("status", ""), "nndoctor.exit_code": str(run.get("exit_code", "")),
            "mlflow.source.name": run.get("script") or "", "mlflow.source.git.commit": run.get("git_commit") or "",
            "nndoctor.git_dirty": str(bool(run.get("git_dirty")))}
    for key in ("python", "torch", "cuda", "cudnn", "device", "nndoctor"):
        if environment.get(key) is not None:
            tags[f"nndoctor.{key}"] = str(environment[key])
    return {key: value for key, value in tags.items() if value}


def export_mlflow(run: RunRow, uri: str) -> str:
    """Log `run` to the MLflow tracking URI; returns the MLflow run id."""
    try:
        import mlflow
    except ImportError:
        raise UsageError(f"exporting to MLflow needs mlflow: {INSTALL_HINT}") from None
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("nndoctor")
    experiment_id = experiment.experiment_id if experiment else client.create_experiment("nndoctor")
    started_ms = int(run.get("started_at", 0) * 1000)
    mlflow_run = client.create_run(experiment_id, start_time=started_ms,
                                   run_name=f"{run.get('command', 'run')} {run['id'][:8]}")
    run_id = mlflow_run.info.run_id
    params = [Param(mlflow_key(key), str(value)[:MLFLOW_PARAM_CHARS])
              for key, value in flatten_hyperparameters(run.get("hyperparameters", {})).items() if value is not None]
    tags = [RunTag(key, value) for key, value in _tags(run).items()]
    metrics = [Metric(tag, value, started_ms, step) for name, tag in SERIES_TAGS.items()
               for step, value in _series(run).get(name, [])]
    summary = (run.report or {}).get("summary", {})
    metrics += [Metric(f"nndoctor/findings_{severity}", float(summary.get(severity, 0)), started_ms, 0)
                for severity in ("error", "warning", "info")]
    # log_batch takes at most 100 params and 1000 metrics per call.
    for start in range(0, max(len(params), 1), 100):
        client.log_batch(run_id, params=params[start:start + 100], tags=tags if start == 0 else [])
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start:start + 1000])
    if run.report is not None:
        client.log_dict(run_id, run.report, "nndoctor_report.json")
    ended = run.get("ended_at")
    status = {"finished": "FINISHED", "interrupted": "KILLED"}.get(run.get("status"), "FAILED")
    client.set_terminated(run_id, status=status, end_time=int(ended * 1000) if ended else None)
    return run_id


def _summary_writer(directory: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(directory))
    except ImportError:
        pass
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise UsageError(f"exporting to TensorBoard needs tensorboard (or tensorboardX): {INSTALL_HINT}") from None
    return SummaryWriter(str(directory))


def export_tensorboard(run: RunRow, directory: Path) -> Path:
    """Write `run` as TensorBoard event files under `directory/<run id>`; returns that path."""
    target = Path(directory) / run["id"][:8]
    writer = _summary_writer(target)
    try:
        started = run.get("started_at", 0.0)
        for name, tag in SERIES_TAGS.items():
            for step, value in _series(run).get(name, []):
                writer.add_scalar(tag, value, step, walltime=started)
        hyperparameters = flatten_hyperparameters(run.get("hyperparameters", {}))
        if hyperparameters:
            table = "\n".join(f"| {key} | {value} |" for key, value in hyperparameters.items())
            writer.add_text("nndoctor/hyperparameters", "| setting | value |\n|---|---|\n" + table, 0)
        findings = (run.report or {}).get("findings", [])
        text = "\n".join(f"* **{f['severity']}** `{f['rule']}`" + (f" (step {f['step']})" if f.get("step") is not None
                                                                   else "") + f": {f['message']}" for f in findings)
        writer.add_text("nndoctor/findings", text or "no findings", 0)
        writer.add_text("nndoctor/run", "  \n".join(f"{k}: {v}" for k, v in _tags(run).items()), 0)
    finally:
        writer.close()
    return target
