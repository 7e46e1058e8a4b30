"""`nndoctor tune lr|batch-size|weight-decay [OPTIONS] SCRIPT [ARGS...]`: run a training
script unchanged until its first training batches are intercepted, measure on copies of
its model, optimizer and loss, and end the script (exit 0) without training it further.

The terminal output explains what was measured; `--json` writes the numbers and the
findings of the tuning rules.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from nndoctor.cli.common import FAIL_ON_HELP, HTML_HELP, JSON_HELP, app, check_fail_on, fail, write_html_report
from nndoctor.cli.recording import NO_RECORD_HELP, begin_recording
from nndoctor.core.errors import UsageError
from nndoctor.core.report import EXIT_CANNOT_JUDGE

CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True, "allow_interspersed_args": False}
TARGET_HELP = "The training script (or, with -m, the module) and its arguments."
tune_app = typer.Typer(help="Measured tuning aids: learning rate, batch size, weight decay.", no_args_is_help=True,
                       add_completion=False, rich_markup_mode=None)
app.add_typer(tune_app, name="tune")


def _say(text: str) -> None:
    print(f"nndoctor: {text}", file=sys.stderr, flush=True)


def capture_script(target: str | None, module: bool, args: list[str], max_batches: int) -> tuple[Any, Any]:
    """Run the script until `max_batches` training batches are seen (or it ends); the
    capture, and the run's facts (the optimizer and model settings tuned, for the record)."""
    from nndoctor.torch.run_facts import RunFacts
    from nndoctor.torch.tune.script_capture import ScriptCapture
    from nndoctor.torch.watch.runner import run_target
    from nndoctor.torch.watch.session import Session

    if target is None:
        fail("give the training script to run: nndoctor tune COMMAND [OPTIONS] SCRIPT [ARGS]...")
    capture = ScriptCapture(max_batches)
    session = Session(live=False)
    session.preflight_request = capture
    _say(f"running {target} until {max_batches} training batches are seen (the script is then ended) …")
    facts = RunFacts(session).install()
    try:
        result = run_target(session, script=None if module else target, module=target if module else None, args=args)
    except UsageError as error:
        fail(str(error))
    finally:
        facts.uninstall()
    if capture.model is None or capture.optimizer is None:
        reason = capture.message or ("the script ended before its first optimizer.step()"
                                     if result.script_exit_code == 0 else
                                     f"the script exited with code {result.script_exit_code} before its first optimizer.step()")
        fail(f"nothing to tune: {reason}")
    if len(capture.batches) < 2:
        fail(f"nothing to tune: only {len(capture.batches)} training batch was seen (at least 2 are needed, one held out)")
    return capture, facts


def _finish(report: Any, lines: list[str], json_path: Path | None, fail_on: str, extra: dict[str, Any],
            recording: Any = None, html_path: Path | None = None, facts: Any = None) -> None:
    from nndoctor.report.terminal import render_report, stderr_console

    print("\n".join(lines), flush=True)
    report.context.update(extra)
    if facts is not None:  # the script's optimizer, model and batch as tuned: hyperparameters, seeds, first batch
        facts.describe(report, series=False)
    if report.findings:
        print(flush=True)
        render_report(report, stderr_console())
    if json_path is not None:
        try:
            report.to_json(json_path)
        except OSError as error:
            _say(f"error: cannot write {json_path}: {error}")
            raise typer.Exit(EXIT_CANNOT_JUDGE)
    write_html_report(report, html_path)
    code = report.exit_code(fail_on) if report.checks_run else 0
    if recording is not None:
        recording.finish(report, code)
    raise typer.Exit(code)


def _batches_text(capture: Any, held_out: int) -> str:
    size = capture.batches[0][1].shape[0] if hasattr(capture.batches[0][1], "shape") else "?"
    wrapped = f" (one epoch is {capture.epoch_batches} batches)" if capture.epoch_batches else ""
    return (f"{len(capture.batches) - held_out} training + {held_out} held-out batches of {size} "
            f"from the script{wrapped}")


@tune_app.command("lr", context_settings=CONTEXT)
def tune_lr(
    ctx: typer.Context,
    target: str = typer.Argument(None, metavar="SCRIPT [ARGS]...", help=TARGET_HELP),
    module: bool = typer.Option(False, "-m", "--module", help="Run a module, as `python -m MODULE`."),
    json_path: Path = typer.Option(None, "--json", help=JSON_HELP),
    html_path: Path = typer.Option(None, "--html", help=HTML_HELP),
    batches: int = typer.Option(40, "--batches", help="Training batches to take from the script (a fifth held out)."),
    budget: int = typer.Option(100, "--budget", help="Training steps per rate of the confirming sweep."),
    repeats: int = typer.Option(3, "--repeats", help="Range tests, each on its own batch order."),
    range_steps: int = typer.Option(100, "--range-steps", help="Steps of each range test (from 1e-7 to 10)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the batch orders and of the copies' randomness."),
    fail_on: str = typer.Option("error", "--fail-on", help=FAIL_ON_HELP),
    no_record: bool = typer.Option(False, "--no-record", help=NO_RECORD_HELP),
) -> None:
    """Learning-rate range test on copies, confirmed by a short real sweep."""
    from nndoctor.torch.tune.batches import collect_batches
    from nndoctor.torch.tune.lr_range import lr_range
    from nndoctor.tune.explain import lr_summary

    fail_on = check_fail_on(fail_on)
    if batches < 2 or budget < 1 or repeats < 1:
        fail("--batches needs at least 2, --budget and --repeats at least 1")
    recording = begin_recording("tune lr", no_record, script=target)
    capture, facts = capture_script(target, module, list(ctx.args), batches)
    held_out = len(collect_batches(capture.batches, max_batches=len(capture.batches), caller="tune lr").held_out)
    _say("measuring on copies (the script's model is not trained) …")
    try:
        result = lr_range(capture.model, capture.batches, capture.loss_fn, capture.optimizer, repeats=repeats,
                          range_steps=range_steps, budget_steps=budget, seed=seed, epoch_batches=capture.epoch_batches)
    except UsageError as error:
        fail(str(error))
    data = result.to_dict()
    _finish(result.report(), lr_summary(data, batches=_batches_text(capture, held_out)), json_path, fail_on,
            {"lr_range": data, "script": target}, recording, html_path, facts)


@tune_app.command("batch-size", context_settings=CONTEXT)
def tune_batch_size(
    ctx: typer.Context,
    target: str = typer.Argument(None, metavar="SCRIPT [ARGS]...", help=TARGET_HELP),
    module: bool = typer.Option(False, "-m", "--module", help="Run a module, as `python -m MODULE`."),
    json_path: Path = typer.Option(None, "--json", help=JSON_HELP),
    html_path: Path = typer.Option(None, "--html", help=HTML_HELP),
    batches: int = typer.Option(16, "--batches", help="Training batches to take from the script."),
    micro_batches: int = typer.Option(8, "--micro-batches", help="Micro batches per batch (the small batch size)."),
    fail_on: str = typer.Option("error", "--fail-on", help=FAIL_ON_HELP),
    no_record: bool = typer.Option(False, "--no-record", help=NO_RECORD_HELP),
) -> None:
    """Gradient noise scale B_simple = tr(Σ)/|G|²: the batch size where larger batches stop paying off."""
    from nndoctor.torch.tune.noise_scale import noise_scale
    from nndoctor.tune.explain import noise_scale_summary

    fail_on = check_fail_on(fail_on)
    recording = begin_recording("tune batch-size", no_record, script=target)
    capture, facts = capture_script(target, module, list(ctx.args), max(batches, 1))
    _say("measuring gradients on a copy (the script's model is not trained) …")
    try:
        result = noise_scale(capture.model, capture.batches, capture.loss_fn, micro_batches=micro_batches,
                             max_batches=batches)
    except UsageError as error:
        fail(str(error))
    data = result.to_dict()
    text = f"{len(capture.batches)} batches of {result.user_batch_size} from the script"
    _finish(result.report(), noise_scale_summary(data, batches=text), json_path, fail_on,
            {"noise_scale": data, "script": target}, recording, html_path, facts)


@tune_app.command("weight-decay", context_settings=CONTEXT)
def tune_weight_decay(
    ctx: typer.Context,
    target: str = typer.Argument(None, metavar="SCRIPT [ARGS]...", help=TARGET_HELP),
    module: bool = typer.Option(False, "-m", "--module", help="Run a module, as `python -m MODULE`."),
    json_path: Path = typer.Option(None, "--json", help=JSON_HELP),
    html_path: Path = typer.Option(None, "--html", help=HTML_HELP),
    batches: int = typer.Option(40, "--batches", help="Training batches to take from the script (a fifth held out)."),
    budget: int = typer.Option(100, "--budget", help="Training steps per value of the sweep."),
    fail_on: str = typer.Option("error", "--fail-on", help=FAIL_ON_HELP),
    no_record: bool = typer.Option(False, "--no-record", help=NO_RECORD_HELP),
) -> None:
    """Where the weight decay goes, how much it acts, and a sweep of 10^-6 … 10^-3."""
    from nndoctor.torch.tune.batches import collect_batches
    from nndoctor.torch.tune.weight_decay import weight_decay_sweep
    from nndoctor.tune.explain import weight_decay_summary

    fail_on = check_fail_on(fail_on)
    recording = begin_recording("tune weight-decay", no_record, script=target)
    capture, facts = capture_script(target, module, list(ctx.args), batches)
    held_out = len(collect_batches(capture.batches, max_batches=len(capture.batches), caller="tune weight-decay").held_out)
    _say("measuring on copies (the script's model is not trained) …")
    try:
        result = weight_decay_sweep(capture.model, capture.batches, capture.loss_fn, capture.optimizer,
                                    budget_steps=budget)
    except UsageError as error:
        fail(str(error))
    data = result.to_dict()
    _finish(result.report(), weight_decay_summary(data, batches=_batches_text(capture, held_out)), json_path, fail_on,
            {"weight_decay": data, "script": target}, recording, html_path, facts)
