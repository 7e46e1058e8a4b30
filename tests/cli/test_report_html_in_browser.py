"""Issue 8: the HTML report escapes every user-supplied string. `<script>` fed through a
column name (audit) and a module name (preflight) must not run in a real browser."""
from collections import OrderedDict

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

import nndoctor
from nndoctor.report.html import render_html, write_html

TITLE_SCRIPT = "<script>document['title']='pwned'</script>"
IMAGE_SCRIPT = "<img src=x onerror=\"document['title']='pwned'\">"


def audited_with_a_script_column_name():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), TITLE_SCRIPT: 1.0, IMAGE_SCRIPT: 2.0,
                          "y": rng.integers(0, 2, 200)})
    report = nndoctor.audit(frame, label="y", select=["constant-feature"])
    shown = " ".join(f"{f.message} {f.where}" for f in report.findings)
    assert TITLE_SCRIPT in shown and IMAGE_SCRIPT in shown
    return report


def preflighted_with_a_script_module_name():
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict([("fc1", nn.Linear(4, 16)), (TITLE_SCRIPT, nn.Sigmoid()),
                                       ("fc2", nn.Linear(16, 16)), ("act2", nn.Sigmoid()), ("out", nn.Linear(16, 3))]))
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    report = nndoctor.preflight(model, (x, y), F.cross_entropy, select=["sigmoid-hidden-activation"])
    assert any(TITLE_SCRIPT in f.message for f in report.findings)
    report.context["script"] = f"/home/{IMAGE_SCRIPT}/train.py"  # a path is user-supplied too
    return report


def test_no_user_string_runs_as_script_in_chromium(chromium, tmp_path):
    for name, report in (("audit", audited_with_a_script_column_name()),
                         ("preflight", preflighted_with_a_script_module_name())):
        page = tmp_path / f"{name}.html"
        write_html(report, page)
        text = page.read_text(encoding="utf-8")
        assert "<script" not in text and "<img" not in text
        dom = chromium.dump_dom(page, profile=tmp_path / "profile")
        assert f"<title>nndoctor {name} report</title>" in dom, dom[:300]
        assert "pwned" not in dom.split("</title>")[0]
        assert "<script" not in dom and "<img" not in dom
        assert "&lt;script&gt;document['title']='pwned'&lt;/script&gt;" in dom  # shown as text
        # The Jupyter fragment is escaped the same way.
        assert "<script" not in report._repr_html_()
    # The harness does see a script that runs: the same check on a page that has one fails.
    control = tmp_path / "control.html"
    control.write_text(render_html(audited_with_a_script_column_name()).replace(
        "</body>", "<script>document.title = 'pwned'</script></body>"), encoding="utf-8")
    assert "<title>pwned</title>" in chromium.dump_dom(control, profile=tmp_path / "profile")


def test_screenshot_of_a_report(chromium, tmp_path):
    page = tmp_path / "r.html"
    write_html(audited_with_a_script_column_name(), page)
    png = chromium.screenshot(page, tmp_path / "r.png", profile=tmp_path / "profile")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
