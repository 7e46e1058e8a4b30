import subprocess
import sys

from nndoctor.core import Finding, Report, SkippedCheck
from nndoctor.report.html import render_html


def sample_report():
    return Report(
        command="preflight",
        findings=[Finding("loss-broadcasting", "error", "shapes <N,1> vs <N> broadcast", step=0,
                          where="train.py:3", evidence={"expansion_factor": 64.0},
                          causes=["a cause"], fixes=["a fix"])],
        checks_run=["loss-broadcasting"],
        checks_skipped=[SkippedCheck("overfitting", "no validation loss was logged")],
    )


def test_html_escapes_and_contains_everything():
    page = render_html(sample_report())
    assert "&lt;N,1&gt;" in page and "<N,1>" not in page
    assert "loss-broadcasting" in page and "a fix" in page and "no validation loss was logged" in page


def test_report_command_reads_json_writes_html_and_exits_by_severity(tmp_path):
    path = tmp_path / "r.json"
    sample_report().to_json(path)
    html = tmp_path / "r.html"
    result = subprocess.run([sys.executable, "-m", "nndoctor", "report", str(path), "--html", str(html)],
                            capture_output=True, text=True, timeout=120)
    # Showing a report exits 0; its verdict only with --fail-on (issue 8).
    assert result.returncode == 0, result.stderr
    assert "loss-broadcasting" in result.stdout
    assert html.read_text().startswith("<!doctype html>")
    for fail_on, code in (("error", 1), ("warning", 1)):
        judged = subprocess.run([sys.executable, "-m", "nndoctor", "report", str(path), "--fail-on", fail_on],
                                capture_output=True, text=True, timeout=120)
        assert judged.returncode == code
    clean = tmp_path / "clean.json"
    Report(command="audit", checks_run=["x"],
           findings=[Finding("dead-relu", "warning", "w")]).to_json(clean)
    judged = subprocess.run([sys.executable, "-m", "nndoctor", "report", str(clean), "--fail-on", "error"],
                            capture_output=True, text=True, timeout=120)
    assert judged.returncode == 0


def test_report_command_rejects_non_reports(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"x": 1}')
    result = subprocess.run([sys.executable, "-m", "nndoctor", "report", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "not an nndoctor JSON report" in result.stderr
