"""report.context["series"]: the run's bounded curves, built from the measurements dict
(framework-free; the torch and JAX adapters hand over the same names)."""
from nndoctor.core.finding import Finding
from nndoctor.core.report import Report
from nndoctor.live.report_series import MAX_LAYERS, add_series, finding_layers, report_series
from nndoctor.live.series import BoundedSeries, small_series


def series(points, small=False):
    bounded = small_series() if small else BoundedSeries()
    for step, value in points:
        bounded.add(step, value)
    return bounded.to_dict()


def ramp(n, scale=1.0):
    return series([(i, scale * (1 + i)) for i in range(n)], small=True)


def test_every_curve_is_taken_from_its_measurement():
    m = {"loss_series": series([(i, 2.0 - i / 100) for i in range(100)]),
         "eval_loss_series": series([(10 * i, 1.5) for i in range(10)]),
         "grad_norm_per_layer": {"fc.weight": ramp(5), "fc.bias": ramp(5)},
         "update_ratio_per_layer": {"fc.weight": ramp(5, 1e-3)},
         "optimizer_groups": [{"optimizer": "SGD", "group": 0, "lr_series": ramp(5, 0.1)},
                              {"optimizer": "SGD", "group": 1, "lr_series": None}],
         "activation_stats": {"relu after fc": {"dead_share": ramp(3, 0.1), "saturated_share": None},
                              "tanh after fc2": {"dead_share": None, "saturated_share": ramp(3, 0.01)}}}
    built = report_series([m])
    assert built["loss"] is m["loss_series"] and built["val_loss"]["count"] == 10
    assert list(built["grad_norm"]) == ["fc.weight", "fc.bias"]
    assert list(built["update_ratio"]) == ["fc.weight"]
    assert list(built["lr"]) == ["group 0"]
    assert list(built["dead_fraction"]) == ["relu after fc"]
    assert list(built["saturated_fraction"]) == ["tanh after fc2"]
    assert "layers_left_out" not in built


def test_jax_recorder_learning_rates_and_unmeasured_names_are_left_out():
    m = {"loss_series": None, "eval_loss_series": None, "grad_norm_per_layer": None,
         "learning_rate_per_group": {"adam": ramp(4, 1e-3)}, "activation_stats": None}
    assert report_series([m]) == {"lr": {"adam": m["learning_rate_per_group"]["adam"]}}
    assert report_series([{}]) == {}


def test_two_models_prefix_their_layers_and_two_optimizers_name_their_groups():
    generator = {"loss_series": ramp(3), "grad_norm_per_layer": {"fc.weight": ramp(3)},
                 "optimizer_groups": [{"optimizer": "Adam", "group": 0, "lr_series": ramp(2)},
                                      {"optimizer": "SGD", "group": 0, "lr_series": ramp(2)}]}
    critic = {"loss_series": ramp(4), "grad_norm_per_layer": {"fc.weight": ramp(3)}}
    built = report_series([generator, critic], labels=["G", "D"])
    assert list(built["grad_norm"]) == ["G.fc.weight", "D.fc.weight"]
    assert list(built["lr"]) == ["Adam group 0", "SGD group 0"]
    assert built["loss"]["count"] == 3


def test_many_layers_keep_an_even_spread_the_ends_and_the_layers_findings_name():
    layers = {f"block{i}.weight": ramp(2) for i in range(200)}
    built = report_series([{"grad_norm_per_layer": layers}], keep={"block77.weight"})
    shown = list(built["grad_norm"])
    assert len(shown) == MAX_LAYERS and built["layers_left_out"] == {"grad_norm": 200 - MAX_LAYERS}
    assert shown[0] == "block0.weight" and shown[-1] == "block199.weight" and "block77.weight" in shown
    assert shown == sorted(shown, key=lambda name: int(name[5:].split(".")[0]))  # depth order kept
    assert len(report_series([{"grad_norm_per_layer": dict(list(layers.items())[:MAX_LAYERS])}])["grad_norm"]) \
        == MAX_LAYERS


def test_finding_layers_reads_names_and_lists():
    findings = [Finding("exploding-gradients", "warning", "m", where="fc.weight"),
                Finding("update-ratio-high", "warning", "m", where=["a.weight", "b.weight"]),
                Finding("loss-diverging", "error", "m")]
    assert finding_layers(findings) == {"fc.weight", "a.weight", "b.weight"}


def test_a_fault_while_building_is_an_internal_error_finding_not_a_crash():
    report = Report(command="run")
    add_series(report, [{"grad_norm_per_layer": {"x": ramp(2)}}])
    assert "series" in report.context and not report.findings
    broken = Report(command="run")
    add_series(broken, [None])  # not a mapping: the builder fails
    assert "series" not in broken.context and broken.findings[0].rule == "internal-error"
