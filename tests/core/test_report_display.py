"""Issue 8: `print(report)` and `print(finding)` read like the terminal report, and rich /
Jupyter display them too (escaped HTML in notebooks)."""
import io

from rich.console import Console

from nndoctor.core import Finding, Report, SkippedCheck


def report():
    return Report(
        command="audit",
        findings=[Finding("split-overlap-exact", "error", "12 of 590,720 test rows are train rows [copied]",
                          where=[3, 9], evidence={"fraction": 0.000013, "rows": 590720},
                          causes=["the split ran after augmentation"], fixes=["split first"]),
                  Finding("class-imbalance", "info", "class 'b' is rare")],
        checks_run=["split-overlap-exact", "class-imbalance", "internal-error"],
        checks_skipped=[SkippedCheck("group-leakage", "no group column given (--group)")],
    )


def test_str_of_a_report_is_the_plain_terminal_report():
    text = str(report())
    assert "\x1b[" not in text  # no colour codes in logs and notebooks
    assert "nndoctor audit" in text
    assert "● split-overlap-exact  12 of 590,720 test rows are train rows [copied]" in text
    assert "fraction=1.3e-05  rows=590,720" in text
    assert "fix      split first" in text
    assert "1 error, 0 warnings, 1 note · 3 checks run · 1 skipped" in text
    assert "skipped group-leakage: no group column given (--group)" in text


def test_str_of_a_finding():
    text = str(report().findings[0])
    assert text.startswith("● split-overlap-exact") and "where    [3, 9]" in text
    assert "Finding(" not in text


def test_rich_renders_reports_and_findings():
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, color_system=None)
    console.print(report())
    console.print(report().findings[1])
    assert "Errors (1)" in buffer.getvalue() and "● class-imbalance" in buffer.getvalue()


def test_jupyter_html_is_escaped_and_scoped():
    item = Finding("constant-feature", "warning", "column <script>x</script> is constant")
    html = Report(command="audit", findings=[item], checks_run=["constant-feature"])._repr_html_()
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert 'class="nndoctor-report"' in html and "<html" not in html
    assert "&lt;script&gt;" in item._repr_html_()


def test_interrupted_runs_say_so():
    interrupted = Report(command="run", checks_run=["dead-relu"], context={"interrupted": True, "steps_observed": 7})
    assert "The run was interrupted at step 7" in str(interrupted)


def test_nothing_judged_is_not_called_no_problems():
    skipped = Report(command="run", checks_run=["internal-error"],
                     checks_skipped=[SkippedCheck("dead-relu", "no training step was seen")])
    assert "Nothing could be judged" in str(skipped) and "No problems found" not in str(skipped)
    assert skipped.exit_code() == 2
    from nndoctor.report.html import render_html

    assert "Nothing could be judged" in render_html(skipped)


def test_nothing_judged_speaks_the_frameworks_words_and_names_whose_exit_code() -> None:
    from nndoctor.report.terminal import nothing_judged_line

    torch_run = Report("run", context={"backwards_observed": 0})
    assert "no backward() on a loss" in nothing_judged_line(torch_run)
    assert nothing_judged_line(torch_run).endswith("(exit code 2).")
    jax_run = Report("run", context={"backwards_observed": 0, "framework": "jax"})
    assert "backward()" not in nothing_judged_line(jax_run)
    assert "optax update" in nothing_judged_line(jax_run)
    assert "exit code 1 before" in nothing_judged_line(jax_run, script_exit_code=1)
    assert nothing_judged_line(torch_run, cannot_judge_exit=None).endswith("look at.")
    assert nothing_judged_line(Report("run", context={"backwards_observed": 3})) is None


def test_nothing_judged_after_child_processes_says_where_the_training_went() -> None:
    from nndoctor.report.terminal import nothing_judged_line

    hogwild = Report("run", context={"backwards_observed": 0, "child_processes": 2})
    line = nothing_judged_line(hogwild)
    assert "started 2 child processes" in line and "nndoctor.watch()" in line
    assert "child process" not in nothing_judged_line(Report("run", context={"backwards_observed": 0}))
