"""Report.from_json and `nndoctor report` on corrupted files: a Report or one clear line,
never a traceback (issue 8)."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nndoctor.cli.app import _load_commands
from nndoctor.cli.common import run_cli
from nndoctor.core import Finding, Report, SkippedCheck
from nndoctor.core.errors import UsageError
from nndoctor.core.report import ReportFormatError

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def valid_text():
    report = Report(
        command="run",
        findings=[Finding("loss-broadcasting", "error", "shapes differ", step=3, where=["a", 1],
                          evidence={"factor": 64.0, "shape": [4, 1]}, causes=["c"], fixes=["f"])],
        checks_run=["loss-broadcasting"],
        checks_skipped=[SkippedCheck("overfitting", "no validation loss")],
        context={"script": "train.py", "steps_observed": 12},
    )
    return report.to_json()


VALID = valid_text()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def check(text):
    try:
        report = Report.from_json(text)
    except ReportFormatError as error:
        assert "\n" not in str(error) and str(error).startswith("not an nndoctor JSON report")
        return None
    assert isinstance(report, Report)
    report.to_json()  # whatever was accepted can be written again
    str(report)
    return report


@FUZZ
@given(st.integers(0, len(VALID) - 1), st.integers(1, 40), st.binary(max_size=6))
def test_corrupted_bytes(position, length, garbage):
    text = VALID[:position] + garbage.decode("latin-1") + VALID[position + length:]
    check(text if text.lstrip()[:1] in "{[" else "{" + text)


@FUZZ
@given(st.integers(1, len(VALID)))
def test_truncated(length):
    check(VALID[:length] if VALID[:length].lstrip()[:1] == "{" else "{")


@FUZZ
@given(json_values)
def test_any_json_value(value):
    check(json.dumps(value) if isinstance(value, (dict, list)) else json.dumps({"command": value}))


@FUZZ
@given(st.sampled_from(["command", "findings", "checks_run", "checks_skipped", "context", "nndoctor_version"]),
       json_values)
def test_each_field_with_a_wrong_value(field, value):
    data = json.loads(VALID)
    data[field] = value
    check(json.dumps(data))


@FUZZ
@given(st.sampled_from(["rule", "severity", "message", "step", "where", "evidence", "causes", "fixes"]), json_values)
def test_each_finding_field_with_a_wrong_value(field, value):
    data = json.loads(VALID)
    data["findings"][0][field] = value
    check(json.dumps(data))


@FUZZ
@given(data=st.binary(max_size=200))
def test_report_command_on_any_file(tmp_path, capsys, data):
    _load_commands()
    path = tmp_path / "r.json"
    path.write_bytes(data)
    before = sorted(p.name for p in tmp_path.iterdir())
    code = run_cli(["report", str(path)])
    captured = capsys.readouterr()
    if code == 2:
        assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
        assert str(path) in captured.err
    else:
        assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_from_json_path_and_directory(tmp_path):
    (tmp_path / "r.json").write_text(VALID, encoding="utf-8")
    assert Report.from_json(tmp_path / "r.json").command == "run"
    assert issubclass(ReportFormatError, UsageError)
    code = run_cli(["report", str(tmp_path)])
    assert code == 2
