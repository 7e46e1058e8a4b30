"""pyproject settings are checked against the rule registry when loaded (before any
training script starts), each mistake a one-line UsageError naming the key and the nearest
valid name."""
import pytest

from nndoctor.core import UsageError
from nndoctor.core.config import Config, check_thresholds, load_config
from nndoctor.core.registry import load_rules


def write(tmp_path, text):
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("text, expected", [
    ('[tool.nndoctor.thresholds.update-ratio-hihg]\nratio_high = 0.05\n',
     r"\[tool.nndoctor.thresholds.update-ratio-hihg\]: unknown rule 'update-ratio-hihg' "
     r"\(did you mean 'update-ratio-high'\?\)"),
    ('[tool.nndoctor.thresholds.update-ratio-high]\nratio_hihg = 0.05\n',
     r"update-ratio-high has no threshold 'ratio_hihg' \(did you mean 'ratio_high'\?\)"),
    ('[tool.nndoctor.thresholds.update-ratio-high]\nratio_high = "big"\n',
     r"ratio_high must be a number, got 'big'"),
    ('[tool.nndoctor.thresholds.split-overlap-near]\nnear_rows_min = 2.5\n',
     r"near_rows_min must be a whole number, got 2.5"),
    ('[tool.nndoctor.thresholds.update-ratio-high]\nratio_high = true\n',
     r"ratio_high must be a number, got True"),
    ('[tool.nndoctor]\nignore = ["batchnorm-smal-batch"]\n',
     r"ignore: unknown rule or area 'batchnorm-smal-batch' \(did you mean 'batchnorm-small-batch'\?\)"),
    ('[tool.nndoctor]\nselect = ["dynamic"]\n', r"did you mean 'dynamics'\?"),
    ('[tool.nndoctor]\nignore = 3\n', r"ignore must be a list of rule ids or areas"),
    ('[tool.nndoctor]\nfail-on = "warning"\n', r"no setting 'fail-on' \(did you mean 'fail_on'\?\)"),
    ('[tool.nndoctor]\nthresholds = 1\n', r"thresholds must be tables"),
    ('[tool.nndoctor]\nfail_on = "never"\n', r"fail_on must be 'error' or 'warning'"),
    ('[tool.nndoctor\n', r"cannot read"),
])
def test_mistakes_are_one_line_errors_naming_the_key(tmp_path, text, expected):
    write(tmp_path, text)
    with pytest.raises(UsageError, match=expected) as raised:
        load_config(tmp_path)
    assert "\n" not in str(raised.value)


def test_valid_settings_load(tmp_path):
    write(tmp_path, '[tool.nndoctor]\nfail_on = "warning"\nselect = ["dynamics"]\nignore = ["dead-relu"]\n'
                    '[tool.nndoctor.thresholds.update-ratio-high]\nratio_high = 1\n')
    config = load_config(tmp_path)
    assert config.thresholds == {"update-ratio-high": {"ratio_high": 1}}
    assert config.select == ["dynamics"] and config.ignore == ["dead-relu"]


def test_api_thresholds_are_checked_too():
    registry = load_rules()
    check_thresholds({"dead-relu": {}}, registry)
    with pytest.raises(UsageError, match=r"thresholds\['dead-rel'\]: unknown rule 'dead-rel' \(did you mean 'dead-relu'"):
        check_thresholds({"dead-rel": {}}, registry)
    with pytest.raises(UsageError, match="expected"):
        check_thresholds([1, 2], registry)


def test_selection_follows_ruff():
    project = Config(select=["dynamics"], ignore=["dead-relu", "overfitting"])
    # Nothing on the command line: the project's lists.
    assert project.rule_selection() == (["dynamics"], ["dead-relu", "overfitting"])
    # --select replaces the project's select; a rule it names is no longer ignored.
    assert project.rule_selection(select=["code", "dead-relu"]) == (["code", "dead-relu"], ["overfitting"])
    # --ignore adds to the project's ignore; --extend-select adds to its select.
    assert project.rule_selection(ignore=["loss-diverging"]) == (
        ["dynamics"], ["dead-relu", "overfitting", "loss-diverging"])
    assert project.rule_selection(extend_select=["code"]) == (["dynamics", "code"], ["dead-relu", "overfitting"])
    assert Config().rule_selection() == (None, None)
