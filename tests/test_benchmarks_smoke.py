"""Smoke test of benchmarks/: each benchmark runs once on tiny sizes and reports sane numbers.

No timing asserts: only that every benchmark runs, returns the fields the table needs,
and that its numbers are finite and positive. The real run is ``python -m benchmarks``.
"""
import dataclasses
import json
import math
import pathlib
import sys

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import __main__ as cli  # noqa: E402
from benchmarks import _common, course, quality, report, throughput, torch_vae, widgets  # noqa: E402


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def quick():
    """Each benchmark's result on tiny sizes, computed once by the test that runs it."""
    return {}


def test_vae_matmul_flops_by_hand():
    # x_dim 3, hidden (2,), z_dim 1, batch 4. Encoder 3->2->2 (mu and logvar), decoder 1->2->3.
    # Forward 2*B*a*b per layer: 48 + 32 + 16 + 48 = 144. Backward: weight gradients 144 again,
    # input gradients 144 - 48 (none for the data layer). Total 144 + 144 + 96 = 384.
    assert _common.vae_matmul_flops(3, (2,), 1, 4) == 384
    # The benchmark model: 935 MFLOP per step of 128 (the number behind "steps/s at peak").
    assert _common.vae_matmul_flops(784, (512, 512), 16, 128) == 935_329_792


def test_summarize_and_alternate():
    s = _common.summarize([1.0, 2.0, 3.0, 4.0])
    assert s["median"] == 2.5 and s["min"] == 1.0 and s["max"] == 4.0 and s["n"] == 4
    assert s["samples"] == [1.0, 2.0, 3.0, 4.0]
    assert _common.summarize([]) == {"n": 0}
    calls = []
    rates = _common.alternate({"a": lambda: calls.append("a") or 10, "b": lambda: calls.append("b") or 10}, 2)
    assert calls == ["a", "b", "b", "a"]  # the order rotates every round
    assert all(len(v) == 2 and all(_positive(r) for r in v) for v in rates.values())


def test_machine_description_is_json():
    m = _common.machine_description()
    json.dumps(m)
    assert m["threads_used"] >= 1 and m["jax_backend"] == "cpu" and m["versions"]["jax"]


def test_throughput_quick(quick):
    r = quick["throughput"] = throughput.run(throughput.QUICK)
    names = {"jax_scan_epoch", "jax_step_loop"} | ({"torch_eager"} if torch_vae.available() else set())
    assert set(r["steps_per_s"]) == names
    assert all(_positive(s["median"]) for s in r["steps_per_s"].values())
    assert _positive(r["matmul_peak_gflops"]["peak"]) and _positive(r["steps_per_s_at_peak"])
    assert _positive(r["ratios"]["jax_scan_epoch / jax_step_loop"])
    if torch_vae.available():
        assert _positive(r["ratios"]["jax_scan_epoch / torch_eager"])
    else:
        assert "torch_skipped" in r
    assert set(r["fraction_of_matmul_peak"]) == names
    assert set(r["fraction_of_matmul_peak_per_round"]) == names
    assert all(len(f) == throughput.QUICK.repeats for f in r["fraction_of_matmul_peak_per_round"].values())


@pytest.mark.skipif(not torch_vae.available(), reason="PyTorch is only in the bench extra")
def test_torch_peer_matches_the_course_loss():
    """The PyTorch peer's loss is course_lib's negative ELBO for the same weights and noise."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import torch
    from flax import nnx

    from course_lib.models import VAE

    x = _common.mnist5k_binary("train", limit=8)
    peer = torch_vae.TorchVAETrainer(x, hidden=(16,), z_dim=2, batch_size=8, num_threads=1)
    model = VAE(784, 2, (16,), likelihood="bernoulli", rngs=nnx.Rngs(0))
    # Copy the PyTorch weights (out, in) into the Flax layers (in, out).
    for net, seq in ((model.encoder.net, peer.encoder), (model.decoder.net, peer.decoder)):
        linears = [m for m in seq if isinstance(m, torch.nn.Linear)]
        for i, lin in enumerate(linears):
            layer = getattr(net, f"linear_{i}")
            layer.kernel[...] = jnp.asarray(lin.weight.detach().numpy().T)
            layer.bias[...] = jnp.asarray(lin.bias.detach().numpy())
    torch.manual_seed(3)
    expected = float(peer.loss(torch.from_numpy(x)).detach())
    torch.manual_seed(3)
    eps = torch.randn(8, 2).numpy()
    mu, logvar = model.encode(jnp.asarray(x))
    z = mu + jnp.exp(0.5 * logvar) * jnp.asarray(eps)
    logits = model.decode(z)
    rec = -model.log_likelihood(jnp.asarray(x), logits)
    kl = 0.5 * jnp.sum(jnp.exp(logvar) + mu**2 - 1.0 - logvar, axis=-1)
    np.testing.assert_allclose(float(jnp.mean(rec + kl)), expected, rtol=1e-4)
    assert jax.tree_util.tree_leaves(nnx.state(model, nnx.Param))  # weights were set


def test_quality_quick(quick):
    r = quick["quality"] = quality.run(quality.QUICK)
    assert r["vae"]["reached"] and r["vae"]["confirmed"] and _positive(r["vae"]["seconds"])
    assert r["gan"]["reached"] and r["gan"]["confirmed"] and _positive(r["gan"]["seconds"])
    assert r["gan"]["curve"] and r["vae"]["val_nelbo_curve"]


def test_widgets_quick(quick):
    r = quick["widgets"] = widgets.run(widgets.QUICK)
    lab = r["gan_lab"]
    if "skipped" not in lab:
        assert lab["wall_ms"]["n"] == widgets.QUICK.num_updates and lab["status_error"] is None
        assert _positive(lab["frames_per_s_kernel"])
    latent = r["latent_explorer"]
    if "skipped" not in latent:
        assert latent["wall_ms"]["n"] == widgets.QUICK.num_updates and latent["status_error"] is None


def test_course_quick(tmp_path, quick):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1 + 1\nprint(x)")])
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    cfg = dataclasses.replace(course.QUICK, notebooks=(str(path),))
    r = quick["course"] = course.run(cfg)
    row = r["notebooks"]["per_notebook"]["tiny.ipynb"]
    assert row["ok"] and _positive(row["seconds"])
    assert _positive(r["import"]["cumulative_seconds"]["course_lib.training"])
    c = r["compile"]
    assert c["cache_files"] > 0  # the cold run wrote entries that the warm run could read
    for mode in ("no_cache", "cold_cache", "warm_cache"):
        assert _positive(c[mode]["first_call_seconds"])


def test_report_save_and_cli(tmp_path, capsys, quick):
    """The table is built from a results file, saved files are JSON, the CLI reads them back."""
    benchmarks = {name: quick[name] for name in cli.BENCHMARKS if name in quick}  # those that ran above
    benchmarks["broken"] = {"error": "RuntimeError: example"}
    results = {"machine": _common.machine_description(), "quick": True, "load_average_at_end": None,
               "benchmarks": benchmarks, "seconds": {}}
    path = cli.save(results, tmp_path)
    assert json.loads(path.read_text()) == json.loads((tmp_path / "latest.json").read_text())
    table = report.markdown(results)
    assert "**broken** failed" in table and "QUICK sizes" in table
    for name, heading in (("throughput", "Training throughput"), ("quality", "Time to quality"),
                          ("widgets", "Widget latency"), ("course", "Course execution")):
        assert (heading in table) == (name in quick)
    assert cli.main(["--from-file", str(path)]) == 1  # a failed benchmark makes the exit status 1
    assert "QUICK sizes" in capsys.readouterr().out
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.START}\nold\n{report.END}\nend\n")
    report.update_readme(readme, "new table\n")
    assert readme.read_text() == f"intro\n{report.START}\nnew table\n{report.END}\nend\n"
    assert cli.main(["--only", "nonsense"]) == 2
