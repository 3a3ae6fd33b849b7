"""09's widgets (pure renderers and thin shells), checkpoints, results file, the text-ladder
command and the transformer benchmark on tiny sizes."""
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from flax import nnx

from course_lib.data import text
from course_lib.evaluation.text_samples import generated_mask, is_plausible_name
from course_lib.models import language as lm
from course_lib.reproduce import registry
from course_lib.reproduce import text_ladder as tx
from course_lib.training import language as tl
from course_lib.widgets import language as lw

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def d():
    return text.load_text_splits()


@pytest.fixture(scope="module")
def tiny(d):
    return lm.Transformer(d["vocab"].size, width=16, num_heads=2, num_layers=2, rngs=nnx.Rngs(0))


def test_sampling_trace_is_consistent_with_its_name(d, tiny):
    trace = lw.sampling_trace(tiny, d["vocab"], prefix="ma", temperature=0.8, top_k=5, seed=2)
    assert trace["text"].startswith("ma") and trace["steps"] == len(trace["chosen"])
    assert trace["probs"].shape == (trace["steps"], d["vocab"].size)
    assert np.all((trace["probs"] > 0).sum(axis=1) <= 5)
    assert "".join(d["vocab"].chars[c] for c in trace["chosen"]).rstrip(">") == trace["text"][2:]
    html = lw.render_sampler(trace, d["vocab"])
    assert html.count("outline:2px solid") == trace["steps"]  # exactly one chosen cell per row


def test_attention_render_shows_every_head_and_masks_the_future(d, tiny):
    trace = lw.attention_trace(tiny, d["vocab"], "anna")
    assert trace["weights"].shape == (2, 2, 5, 5)
    np.testing.assert_allclose(trace["weights"].sum(-1), 1.0, rtol=1e-5)
    html = lw.render_attention(trace, 1)
    assert html.count("layer 1, head") == 2 and html.count("#eee") == 2 * 10  # 10 masked cells per head
    with pytest.raises(ValueError, match="layer must be in 0..1"):
        lw.render_attention(trace, 2)
    with pytest.raises(ValueError, match="word must have at most 11 characters"):
        lw.attention_trace(tiny, d["vocab"], "abcdefghijkl")


def test_widgets_update_and_report_bad_input_in_words(d, tiny):
    sampler = lw.live_sampler(tiny, d["vocab"], prefix="ma")
    before = sampler.output.value
    sampler.controls["temperature"].value = 0.3
    assert sampler.output.value != before and "sampled" in sampler.status.text
    sampler.controls["prefix"].value = "m4"
    assert "prefix contains characters outside the vocabulary" in sampler.status.text
    viewer = lw.attention_viewer(tiny, d["vocab"], word="anna")
    before = viewer.output.value
    viewer.controls["layer"].value = 1
    assert viewer.output.value != before
    assert len(sampler.timer.samples_ms) >= 2 and len(viewer.timer.samples_ms) == 2


def test_plausibility_rule_and_generated_mask():
    assert is_plausible_name("anna") and is_plausible_name("christopher")
    assert not is_plausible_name("a") and not is_plausible_name("bcdf") and not is_plausible_name("aaab")
    assert not is_plausible_name("ashtrn")  # four consonants in a row
    mask = generated_mask(np.array([[0, 2, 3, 1, 1], [0, 2, 2, 2, 2]]), eos=1)
    assert mask.tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]


def test_checkpoints_load_and_match_the_results_file(d):
    results = tx.read_results()
    rows = {r["model"]: r for r in results["rows"]}
    for name in tx.CHECKPOINTS:
        model, manifest = tx.load_language_model(name)
        nll = tl.evaluate_nll(model, d["tokens"]["test"], d["mask"]["test"])
        assert abs(nll - rows[name]["test_nll_nats"]) < 1e-3
        assert manifest["metadata"]["test_nll_nats"] == rows[name]["test_nll_nats"]
    assert rows["transformer"]["train_seconds"] < 120
    assert results["cache"]["speedup"] > 1
    temps = [r for r in results["sampling"] if r["top_k"] is None and r["top_p"] == 1.0]
    nll = [r["sample_nll"] for r in temps]
    assert nll == sorted(nll)  # hotter samples are less likely under the model


def test_text_ladder_is_registered_and_rejects_bad_seeds():
    assert "text-ladder" in registry()
    with pytest.raises(ValueError, match="seeds must be an integer >= 1"):
        registry()["text-ladder"](seeds=0)


def test_text_ladder_quick_command_prints_one_row_per_model():
    out = subprocess.run([sys.executable, "-m", "course_lib", "reproduce", "text-ladder", "--json", "--quick"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["model"] for r in rows] == [rung.name for rung in tx.LADDER]
    assert all(r["seed"] == 0 and r["test_nll_nats"] > 0 and "train_seconds" in r for r in rows)


def test_transformer_benchmark_runs_on_tiny_sizes():
    sys.path.insert(0, str(ROOT))
    from benchmarks import transformer

    result = transformer.run(transformer.QUICK)
    assert result["jax_num_traces"] == 1 and result["steps_per_s"]["jax_scan"]["median"] > 0
    if "torch_eager" in result["steps_per_s"]:
        assert abs(result["torch_first_loss"] - np.log(28)) < 0.1  # the PyTorch twin starts where ours does
        assert result["ratio_jax_scan_over_torch_eager"] > 0
    assert transformer.markdown_lines(result)[0].startswith("| Transformer training")
