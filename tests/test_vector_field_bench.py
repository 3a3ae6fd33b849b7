"""Smoke test of the 08_vector_fields benchmarks: flow-matching throughput and widget latency, tiny sizes."""
import dataclasses
import math
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import _common, flow_matching, widgets, widgets_vector_field  # noqa: E402


def test_flow_matching_benchmark_runs_and_reports():
    cfg = dataclasses.replace(flow_matching.QUICK, num_steps=40, chunk=20, pool=500)
    r = flow_matching.run(cfg)
    rate = r["steps_per_s"]["jax_scan"]["median"]
    assert math.isfinite(rate) and rate > 0
    if "torch_eager" in r["steps_per_s"]:
        assert r["speedup_vs_torch_eager"] > 0 and "speedup_vs_torch_eager" in r["meets_targets"]
    rows = flow_matching.report_rows(r)
    assert rows[0].startswith("| Flow-matching training") and len(rows) == 3


def test_widget_latency_entries_quick():
    r = widgets_vector_field.run(widgets.QUICK, widgets._time_interactions, _common.summarize, widgets._status_error)
    for name in ("vector_field_lab", "guidance_explorer"):
        assert r[name]["wall_ms"]["n"] == widgets.QUICK.num_updates and r[name]["status_error"] is None
        assert r[name]["wall_ms"]["median"] > 0
