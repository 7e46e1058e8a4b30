"""The HTML report's plots without a browser: bounded size for a 1M-step run, curves that
keep the whole run visible, escaped user strings, and sections that survive bad input."""
import math
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from nndoctor.core.finding import Finding
from nndoctor.core.report import Report
from nndoctor.live.report_series import report_series
from nndoctor.live.series import BoundedSeries, small_series
from nndoctor.report.curves import MAX_POINTS, curve, grid
from nndoctor.report.html import render_html
from nndoctor.report.html_compare import render_compare_html
from nndoctor.report.svg import Line, Marker, line_plot, linear_ticks, log_ticks, tick_label
from nndoctor.report.svg_heatmap import ColourScale, heatmap, shortened

MILLION = 1_000_000
MAX_HTML_BYTES = 2 * 1024 * 1024


def million_step_measurements(layers=200):
    """What the dynamics monitor hands over after 1M steps (statistics sampled every 10)."""
    loss = BoundedSeries()
    for step in range(MILLION):
        loss.add(step, 2.3 * math.exp(-step / 2e5) + 0.1 + 0.05 * math.sin(step))
    val = BoundedSeries()
    for step in range(0, MILLION, 1000):
        val.add(step, 2.3 * math.exp(-step / 2e5) + 0.2)
    per_layer = []
    for k in range(8):  # eight distinct sampled series, shared by the layers (same size as 200 distinct)
        series = small_series()
        for step in range(0, MILLION, 10):
            series.add(step, 10 ** (-k / 2) * (1 + step / MILLION))
        per_layer.append(series.to_dict())
    names = [f"encoder.layers.{i}.self_attention.in_proj_weight" for i in range(layers)]
    return {"loss_series": loss.to_dict(), "eval_loss_series": val.to_dict(),
            "grad_norm_per_layer": {n: per_layer[i % 8] for i, n in enumerate(names)},
            "update_ratio_per_layer": {n: per_layer[(i + 3) % 8] for i, n in enumerate(names)},
            "optimizer_groups": [{"optimizer": "AdamW", "group": g, "lr_series": per_layer[g]} for g in range(3)],
            "activation_stats": {f"gelu after {n}": {"dead_share": per_layer[7], "saturated_share": per_layer[6]}
                                 for n in names}}


def test_a_million_step_run_with_200_layers_stays_under_2_mb():
    series = report_series([million_step_measurements()])
    findings = [Finding("loss-oscillating", "warning", f"oscillates <{i}>", step=i * 20_000) for i in range(50)]
    report = Report(command="run", findings=findings, checks_run=["loss-oscillating"],
                    context={"series": series, "steps_observed": MILLION, "script": "train.py"})
    page = render_html(report)
    size = len(page.encode("utf-8"))
    print(f"HTML of a 1M-step, 200-layer run: {size:,} bytes")
    assert size <= MAX_HTML_BYTES, size
    assert page.count("<svg") == 6 and "152 more layers" in page
    # The JSON written with the report is bounded too (the series, not the run length).
    assert len(report.to_json()) < 2 * MAX_HTML_BYTES
    # The loss line covers the whole run, at a bounded number of points.
    drawn = curve(series["loss"])
    assert len(drawn.steps) <= MAX_POINTS and drawn.steps[0] == 0 and drawn.steps[-1] > 0.99 * MILLION
    assert page.count('href="#finding-') == 50


def test_curve_uses_raw_points_when_nothing_was_merged_and_bands_after():
    short = BoundedSeries()
    for step in range(100):
        short.add(step, float(step))
    drawn = curve(short.to_dict())
    assert drawn.steps == [float(s) for s in range(100)] and drawn.lows == drawn.values
    long = BoundedSeries()
    for step in range(100_000):
        long.add(step, float(step % 7))
    drawn = curve(long.to_dict(), max_points=50)
    assert len(drawn.steps) <= 50
    assert min(drawn.lows) == 0 and max(drawn.highs) == 6  # the step-to-step spread survives as the band
    assert curve({"count": 3}).steps == [] and curve({"head": "x", "recent": [], "history": []}).steps == []


def test_grid_carries_a_sampled_value_across_gaps_and_leaves_the_ends_empty():
    sparse = curve({"count": 2, "head": [[10, 1.0], [50, 3.0]], "recent": [[10, 1.0], [50, 3.0]],
                    "history": [[10, 10, 1, 1.0, 1.0, 1.0], [50, 50, 1, 3.0, 3.0, 3.0]]})
    edges, cells = grid([sparse], 5, span=(0, 100))
    assert len(edges) == 5 and cells[0] == [1.0, 1.0, 3.0, None, None]


def test_ticks_are_round_numbers_people_write():
    assert linear_ticks(0, 1000, 5) == [0, 200, 400, 600, 800, 1000]
    assert log_ticks(1e-4, 1.0) == [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    assert [tick_label(v) for v in (0.30000000000000004, 1e-4, 2.5e6, 1234)] == ["0.3", "1e-4", "2.5e6", "1,234"]


def test_every_user_string_in_a_plot_is_escaped():
    evil = "<script>alert(1)</script>"
    svg = line_plot([Line(evil, [(0, 1.0), (1, 2.0)])], y_label=evil, label=evil,
                    markers=[Marker(1, evil, title=evil, href='#"><script>')])
    assert "<script" not in svg and "&lt;script&gt;" in svg
    cells = heatmap([evil], [(0, 1)], [[0.5]], scale=ColourScale.fitted([0.5]), label=evil, value_name=evil)
    assert "<script" not in cells
    page = render_html(Report(command="run", context={"series": {
        "loss": small_series().to_dict() | {"count": 1, "head": [[0, 1.0]], "recent": [[0, 1.0]],
                                             "history": [[0, 0, 1, 1.0, 1.0, 1.0]]},
        "grad_norm": {evil: {"count": 1, "head": [[0, 1.0]], "recent": [[0, 1.0]],
                             "history": [[0, 0, 1, 1.0, 1.0, 1.0]]}}}}))
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_log_axis_for_values_spanning_decades_and_nan_breaks_the_line():
    svg = line_plot([Line("loss", [(0, 1e3), (1, 1.0), (2, float("nan")), (3, 1e-2)])])
    assert ">1e-2<" in svg or ">0.01<" in svg
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 1  # the point after the NaN stands alone
    assert line_plot([Line("empty", [(0, float("nan"))])]) == ""


def test_a_hand_edited_report_with_a_broken_series_still_renders_the_rest():
    report = Report(command="run", findings=[Finding("loss-diverging", "error", "diverged", step=3)],
                    context={"series": {"loss": {"count": 2, "head": [[0, "x"]], "recent": [[0, 1.0], [1]],
                                                 "history": [[0, 1, 2, None, 1, 1]]},
                                        "grad_norm": "not a dict", "lr": {"g": [1, 2]}}})
    page = render_html(report)
    assert "diverged" in page and "Traceback" not in page


def test_compare_overlays_both_runs_and_tables_their_findings():
    def run(scale, rule, step):
        loss = BoundedSeries()
        for i in range(200):
            loss.add(i, scale * 2.0 / (1 + i))
        return Report(command="run", findings=[Finding(rule, "warning", "m", step=step)], checks_run=[rule],
                      context={"series": {"loss": loss.to_dict()}, "steps_observed": 200, "script": "t.py"})

    page = render_compare_html(run(1, "loss-oscillating", 50), run(10, "loss-diverging", 40).to_dict(),
                               labels=("base", "<b>high lr</b>"))
    assert "base train loss" in page and "&lt;b&gt;high lr&lt;/b&gt; train loss" in page and "<b>" not in page
    assert re.search(r"loss-diverging</code></td><td[^>]*>warning</td><td>—</td><td>40</td>", page)


def test_long_layer_names_keep_the_part_that_tells_rows_apart():
    names = [f"encoder.layers.{i}.self_attention.in_proj_weight" for i in (0, 10, 199)] + ["head.weight"]
    shown = shortened(names)
    assert shown[3] == "head.weight" and all(len(name) <= 30 for name in shown)
    assert [name.split(".")[0] for name in shown[:3]] == ["…0", "…10", "…199"]
    assert len(set(shown)) == 4
    module = "<script>document['title']='pwned'</script>"
    shown = shortened([f"{module}.weight", f"{module}.bias", "fc1.weight"])
    assert shown[0].startswith("<script>") and shown[0].endswith(".weight") and shown[1].endswith(".bias")


JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
                    | st.text(max_size=12), lambda inner: st.lists(inner, max_size=5)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=30)
SECTION_KEYS = st.sampled_from(["series", "data_summary", "preflight_curves", "lr_range", "weight_decay", "evaluation"])


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(SECTION_KEYS, st.dictionaries(st.sampled_from(
    ["loss", "val_loss", "grad_norm", "lr", "dead_fraction", "class_counts", "overlap", "shift", "overfit",
     "range_lrs", "range_losses", "sweep", "splits", "head", "recent", "history", "count"]), JSON, max_size=4),
    max_size=3))
def test_any_hand_edited_context_renders_a_page(context):
    page = render_html(Report.from_dict({"command": "run", "findings": [], "context": context}))
    assert page.startswith("<!doctype html>") and "<script" not in page
