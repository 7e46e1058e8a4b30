"""Issue 11: every kind of HTML report opened in a real browser (headless Chromium over
the DevTools pipe, tests/browser.py). The plots must render (SVG elements laid out with a
nonzero size and shapes drawn), the page must log no console error or exception and
request nothing but itself (offline), and a screenshot per kind is written under tmp_path.
A user string (`<script>` as a layer name, a column, a path) stays text."""
import json
import sys
import textwrap
from pathlib import Path
from collections import OrderedDict

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from browser import inspect_page
from torch import nn

import nndoctor
from nndoctor.core.report import Report
from nndoctor.report.html import write_html
from nndoctor.report.html_compare import render_compare_html

import warm_launcher

SCRIPT_NAME = "<script>document['title']='pwned'</script>"
# A training script whose hidden layer is named with a script tag; lr from argv (3.0 diverges).
TRAIN = textwrap.dedent(f'''
    import sys
    from collections import OrderedDict
    import torch
    import torch.nn.functional as F
    from torch import nn
    torch.manual_seed(0)
    torch.set_num_threads(1)
    lr = float(sys.argv[1])
    x = torch.randn(512, 16)
    y = (x[:, :4].sum(1) > 0).long()
    model = nn.Sequential(OrderedDict([("fc1", nn.Linear(16, 32)), ("relu1", nn.ReLU()),
                                       ({SCRIPT_NAME!r}, nn.Linear(32, 32)), ("act", nn.Tanh()),
                                       ("out", nn.Linear(32, 2))]))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for epoch in range(8):
        model.train()
        for start in range(0, 512, 64):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x[start:start + 64]), y[start:start + 64])
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            F.cross_entropy(model(x[:128]), y[:128])
''')


def nndoctor_cli(*args, cwd):
    return warm_launcher.run([sys.executable, "-m", "nndoctor", *map(str, args)], capture_output=True, text=True,
                             timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def run_reports(tmp_path_factory):
    """Two real runs of one script under `nndoctor run --json --html`: lr 0.05 and lr 3 (diverges)."""
    directory = tmp_path_factory.mktemp("runs")
    (directory / "train.py").write_text(TRAIN)
    pages = {}
    for name, lr in (("calm", 0.05), ("wild", 3.0)):
        done = nndoctor_cli("run", "-q", "--json", directory / f"{name}.json", "--html", directory / f"{name}.html",
                            "train.py", lr, cwd=directory)
        assert (directory / f"{name}.html").is_file(), done.stderr[-2000:]
        pages[name] = (directory / f"{name}.html", Report.from_json(directory / f"{name}.json"))
    return pages


def open_in_browser(chromium, page, tmp_path, expected_plots):
    result = inspect_page(chromium, page, tmp_path / f"{page.stem}.png", profile=tmp_path / "profile")
    labels = [svg["label"] for svg in result["svgs"]]
    for expected in expected_plots:
        assert expected in labels, (expected, labels)
    for svg in result["svgs"]:
        assert svg["width"] > 50 and svg["height"] > 50 and svg["shapes"] > 0, svg
    assert result["console_errors"] == [] and result["exceptions"] == []
    assert all(url.startswith("file:") for url in result["requests"]), result["requests"]
    assert (tmp_path / f"{page.stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return result


def assert_text_not_markup(page):
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text
    return text


def test_run_report_draws_curves_marks_findings_and_escapes_a_script_layer_name(chromium, run_reports, tmp_path):
    page, report = run_reports["wild"]
    series = report.context["series"]
    assert series["loss"]["count"] == report.context["steps_observed"] and series["val_loss"]["count"] == 8
    assert any(SCRIPT_NAME in layer for layer in series["grad_norm"])
    assert report.findings and any(f.step is not None for f in report.findings)
    text = assert_text_not_markup(page)
    assert "&lt;script&gt;" in text  # the layer name, shown as text
    # One linked mark per step where findings fired (findings at one step share a mark).
    assert text.count('href="#finding-') == len({f.step for f in report.findings if f.step is not None})
    result = open_in_browser(chromium, page, tmp_path, ["training and validation loss", "gradient norm per layer",
                                                         "update/weight per layer", "learning rate per parameter group"])
    assert "pwned" not in json.dumps(result)


def test_healthy_run_report_renders(chromium, run_reports, tmp_path):
    page, report = run_reports["calm"]
    assert report.findings == []
    text = assert_text_not_markup(page)
    assert "No problems found" in text
    open_in_browser(chromium, page, tmp_path, ["training and validation loss", "dead units per layer",
                                               "saturated units per layer"])


def test_compare_page_overlays_two_runs(chromium, run_reports, tmp_path):
    (_, calm), (_, wild) = run_reports["calm"], run_reports["wild"]
    page = tmp_path / "compare.html"
    page.write_text(render_compare_html(calm, wild.to_dict(), labels=("lr 0.05", "lr 3")), encoding="utf-8")
    text = assert_text_not_markup(page)
    assert "lr 0.05 train loss" in text and "lr 3 val loss" in text
    for finding in wild.findings:
        assert finding.rule in text
    open_in_browser(chromium, page, tmp_path, ["loss of each run", "learning rate of each run"])


def test_preflight_report_draws_the_overfit_curves(chromium, tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict([("fc1", nn.Linear(8, 32)), (SCRIPT_NAME, nn.Sigmoid()),
                                       ("fc2", nn.Linear(32, 3))]))
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    report = nndoctor.preflight(model, (x, y), F.cross_entropy, torch.optim.Adam(model.parameters(), 1e-3),
                                steps=60)
    assert report.context["preflight_curves"]["overfit"]
    page = tmp_path / "preflight.html"
    write_html(report, page)
    assert_text_not_markup(page)
    open_in_browser(chromium, page, tmp_path, ["overfit-one-batch loss curves"])


def test_audit_report_draws_balance_overlap_and_shift(chromium, tmp_path):
    rng = np.random.default_rng(0)

    def split(n, shift, rare):
        y = rng.choice(["a", "b", SCRIPT_NAME], n, p=[0.5, 0.5 - rare, rare])
        return pd.DataFrame({"x1": rng.normal(size=n) + shift, "x2": rng.normal(size=n), "y": y})

    train, val = split(600, 0.0, 0.2), split(300, 1.0, 0.02)
    val = pd.concat([val, train.iloc[:30]], ignore_index=True)
    train.to_csv(tmp_path / "train.csv", index=False)
    val.to_csv(tmp_path / "val.csv", index=False)
    done = nndoctor_cli("audit", "--train", "train.csv", "--val", "val.csv", "--label", "y", "--html", "audit.html",
                        "--json", "audit.json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    summary = json.loads((tmp_path / "audit.json").read_text())["context"]["data_summary"]
    assert summary["class_counts"]["val"][SCRIPT_NAME] > 0
    assert summary["overlap"][0]["exact_rows"] >= 30 and summary["shift"][0]["auc"] > 0.6
    text = assert_text_not_markup(tmp_path / "audit.html")
    assert "Rows shared between splits" in text
    open_in_browser(chromium, tmp_path / "audit.html", tmp_path, ["class balance per split",
                                                                   "adversarial validation AUC per pair of splits"])


def test_evaluate_report_draws_its_plots(chromium, tmp_path):
    rng = np.random.default_rng(0)
    n = 900
    y = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), y] += 2.0
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    names = np.array(["cat", "dog", SCRIPT_NAME])
    frame = pd.DataFrame({"y": names[y], "prediction": names[p.argmax(1)]})
    for j, name in enumerate(names):
        frame[f"prob_{name}"] = p[:, j]
    frame.to_csv(tmp_path / "val.csv", index=False)
    done = nndoctor_cli("evaluate", "--predictions", "val.csv", "--label", "y", "--html", "evaluate.html",
                        cwd=tmp_path)
    assert (tmp_path / "evaluate.html").is_file(), done.stderr[-2000:]
    assert_text_not_markup(tmp_path / "evaluate.html")
    open_in_browser(chromium, tmp_path / "evaluate.html", tmp_path,
                    ["confusion matrix, rows true class, columns predicted class",
                     "recall per class with 95% intervals", "reliability diagram"])


def test_tune_lr_report_draws_the_range_test(chromium, tmp_path):
    script = Path(__file__).resolve().parents[2] / "examples" / "train_classifier.py"
    done = nndoctor_cli("tune", "lr", "--html", "tune.html", "--batches", "10", "--budget", "10", "--repeats", "1",
                        "--range-steps", "30", script, "--epochs", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "HTML report written to tune.html" in done.stderr
    text = assert_text_not_markup(tmp_path / "tune.html")
    assert "your lr" in text
    open_in_browser(chromium, tmp_path / "tune.html", tmp_path, ["learning-rate range test"])
