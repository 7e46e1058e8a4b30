"""Issue 8: every number in a message is formatted for people, by one shared helper."""
import math
import re
from pathlib import Path

import pytest

from nndoctor.core.numbers import count, num, percent, plural, times
from nndoctor.rules.dynamics.activation_blowup import ActivationBlowup

RULES = Path(__file__).resolve().parents[2] / "src" / "nndoctor" / "rules"
# A float format spec inside an f-string placeholder: {x:.3g}, {x:g}, {x:.1%}, {n:,}.
RAW_FORMAT = re.compile(r"\{[^{}:!\n]+:(\.\d+)?[g%]\}|\{[^{}:!\n]+:,\}")


@pytest.mark.parametrize("value, text", [
    (0.000013, "1.3e-05"), (0.5123, "0.512"), (2.0, "2"), (12345.6, "12,300"), (999.96, "1,000"),
    (1234567.0, "1.23e+06"), (-3.14159, "-3.14"), (590720, "590,720"), (0.0, "0"),
    (math.inf, "inf"), (-math.inf, "-inf"), (math.nan, "NaN"), (True, "True"),
])
def test_num(value, text):
    assert num(value) == text


def test_ratios_counts_and_shares():
    assert times(1.3e-05) == "1.3e-05×" and times(3) == "3×"
    assert "inf" not in times(math.inf).replace("infinite", "") and "×" not in times(math.inf)
    assert count(590720) == "590,720" and plural(1, "error") == "1 error" and plural(2, "step") == "2 steps"
    assert percent(0.0512) == "5.1%" and percent(1.0) == "100%" and percent(0.00001) == "<0.1%"
    assert percent(0.5, 0) == "50%" and percent(0) == "0%"


def test_an_infinite_growth_reads_as_words_not_infx():
    rms = [1.0, 3.0, math.inf, 2.0]
    [finding] = ActivationBlowup().check({"activation_rms": {"profiles": [
        {"step": 0, "layers": ["a", "b", "c", "out"], "rms": rms}]}})
    assert "infx" not in finding.message and "inf×" not in finding.message
    assert "unbounded factor" in finding.message


def test_no_rule_formats_numbers_by_hand():
    offenders = []
    for path in sorted(RULES.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if RAW_FORMAT.search(line):
                offenders.append(f"{path.relative_to(RULES)}:{number}: {line.strip()}")
    assert offenders == [], "use nndoctor.core.numbers (num, times, percent, count):\n" + "\n".join(offenders)
