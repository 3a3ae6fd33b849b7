"""Properties of the language-model section: data.text, models.attention, models.language,
models.registry, decoding, evaluation.text_samples, training.language and widgets.language; and of
the training and widgets of the vector-field section (training.vector_field, widgets.vector_field)."""
from __future__ import annotations

import math

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx
from hypothesis import given, settings, strategies as st

from course_lib import decoding as D
from course_lib.data import text as T
from course_lib.evaluation import text_samples as TS
from course_lib.models import attention as A
from course_lib.models import language as LM
from course_lib.models import registry as R
from course_lib.models.vector_field import VectorFieldMLP
from course_lib.training import language as TL
from course_lib.training import vector_field as TV
from course_lib.widgets import language as WL
from course_lib.widgets import vector_field as WV
from prop_harness import (BAD_BOOLS, BAD_COUNTS, BAD_KEYS, BAD_POSITIVE_FLOATS, BAD_PROBABILITIES, BAD_STRINGS,
                          NOT_ARRAYS, covers, finite, good, key, refused)

VOCAB = T.Vocabulary("abcde")
WORDS = ["abe", "bead", "cab", "dace", "ace", "bad", "deb", "ebb", "cede", "add"]
_CACHE = {}


def _models():
    if not _CACHE:
        v = VOCAB.size
        _CACHE.update(counts=LM.BigramCounts(v), net=LM.BigramNet(v, rngs=nnx.Rngs(0)),
                      mlp=LM.ContextMLP(v, 3, 4, 8, rngs=nnx.Rngs(1)),
                      tf=LM.Transformer(v, 6, 8, 2, 1, rngs=nnx.Rngs(2)))
    return _CACHE


BAD_TOKENS = st.sampled_from([None, "x", np.zeros((2, 3), np.float32), np.full((2, 3), 99, np.int32),
                              np.full((2, 3), -1, np.int32), np.zeros(3, np.int32)])
BAD_WORDS = st.sampled_from([None, "abc", [], [3], ["a", None], b"abc"])


@covers("course_lib.data.text.Vocabulary", "course_lib.data.text.corpus_path", "course_lib.data.text.load_names",
        "course_lib.data.text.vocabulary_of", "course_lib.data.text.split_names", "course_lib.data.text.encode_batch",
        "course_lib.data.text.load_text_splits")
@given(words=st.lists(st.text("abcde", min_size=1, max_size=5), min_size=1, max_size=8), seed=st.integers(0, 9))
@settings(max_examples=5)
def test_text_data_valid(words, seed):
    vocab = T.vocabulary_of(words)
    assert set("".join(words)) == set(vocab.letters)
    splits = T.split_names(words, seed=seed)
    assert sorted(sum(splits.values(), [])) == sorted(words)
    tokens, mask = T.encode_batch(words, vocab, 6)
    assert tokens.shape == (len(words), 7) and mask.shape == (len(words), 6)
    assert [vocab.decode(row) for row in tokens] == words
    if T.corpus_path().is_file():
        names = T.load_names()
        assert names and all(isinstance(n, str) for n in names)
        d = T.load_text_splits(12)
        assert isinstance(d, dict)
    good()


@given(bad_words=BAD_WORDS, bad_n=BAD_COUNTS, bad_s=BAD_STRINGS)
def test_text_data_bad(bad_words, bad_n, bad_s):
    refused(T.Vocabulary, "letters", 3)
    refused(T.Vocabulary, "letters", "aab")
    refused(VOCAB.decode, "tokens", [99])
    refused(VOCAB.encode, "text", "xyz")
    refused(T.vocabulary_of, "words", bad_words)
    refused(T.split_names, "words", bad_words)
    refused(T.split_names, "seed", WORDS, seed=-1)
    refused(T.split_names, "fractions", WORDS, fractions=(0.5, 0.5))
    refused(T.encode_batch, "words", bad_words, VOCAB, 6)
    refused(T.encode_batch, "vocab", WORDS, bad_s, 6)
    refused(T.encode_batch, "length", WORDS, VOCAB, bad_n)
    refused(T.load_names, "path", 3)
    refused(T.load_text_splits, "length", bad_n)


@covers("course_lib.models.attention.causal_mask", "course_lib.models.attention.masked_softmax",
        "course_lib.models.attention.attention_weights", "course_lib.models.attention.CausalSelfAttention",
        "course_lib.models.attention.assign")
@given(t=st.integers(1, 6), heads=st.sampled_from([1, 2, 4]), b=st.integers(1, 3))
@settings(max_examples=4)
def test_attention_valid(t, heads, b):
    mask = A.causal_mask(t)
    assert mask.shape == (t, t) and mask[-1].all() and not mask[0, 1:].any()
    w = finite(A.masked_softmax(np.zeros((b, t, t), np.float32), mask), (b, t, t))
    assert np.allclose(w.sum(-1), 1.0)
    q = np.random.default_rng(t).normal(size=(b, t, heads, 2)).astype(np.float32)
    finite(A.attention_weights(q, q, mask), (b, heads, t, t))
    layer = A.CausalSelfAttention(4 * heads, heads, rngs=nnx.Rngs(0))
    out, weights = layer(np.ones((b, t, 4 * heads), np.float32), return_weights=True)
    finite(out, (b, t, 4 * heads)), finite(weights, (b, heads, t, t))
    p = nnx.Param(jnp.zeros(3))
    A.assign(p, jnp.ones(3))
    assert np.allclose(p[...], 1.0)


@given(bad_n=BAD_COUNTS, bad=NOT_ARRAYS)
def test_attention_bad(bad_n, bad):
    refused(A.causal_mask, "length", bad_n)
    refused(A.causal_mask, "length", 10**6)
    refused(A.masked_softmax, "scores", bad, np.ones((2, 2), bool))
    refused(A.masked_softmax, "mask", np.zeros((2, 3)), np.ones((2, 2), bool))
    refused(A.attention_weights, "q", bad, np.zeros((1, 3, 2, 4)), A.causal_mask(3))
    refused(A.attention_weights, "k", np.zeros((1, 3, 2, 4)), np.zeros((1, 3, 2, 5)), A.causal_mask(3))
    refused(A.CausalSelfAttention(8, 2, rngs=nnx.Rngs(0)), "x", np.zeros((2, 3, 7), np.float32))
    refused(lambda: A.CausalSelfAttention(8, 3, rngs=nnx.Rngs(0)), "num_heads")
    refused(A.assign, "variable", bad, np.zeros(3))
    refused(A.assign, "value", nnx.Param(jnp.zeros(3)), np.zeros(4))


@covers("course_lib.models.language.BigramCounts", "course_lib.models.language.BigramNet",
        "course_lib.models.language.ContextMLP", "course_lib.models.language.Block",
        "course_lib.models.language.Transformer", "course_lib.models.language.from_config",
        "course_lib.models.language.num_params", "course_lib.models.registry.register",
        "course_lib.models.registry.model_class", "course_lib.models.registry.constructor_args",
        "course_lib.models.registry.architecture", "course_lib.models.registry.build_from_config")
@given(b=st.integers(1, 3), t=st.integers(1, 6), name=st.sampled_from(["counts", "net", "mlp", "tf"]))
@settings(max_examples=6)
def test_language_models_valid(b, t, name):
    model = _models()[name]
    tokens, mask = T.encode_batch(WORDS, VOCAB, 6)
    if name == "counts":
        model.fit(tokens, mask)
    x = tokens[:b, :t]
    finite(model(x), (b, t, VOCAB.size))
    assert LM.num_params(model) > 0
    rebuilt = LM.from_config(model.config)
    assert type(rebuilt) is type(model)
    if name != "counts":
        cls = R.model_class(model.config["model"])
        assert cls is type(model) and "vocab_size" in R.constructor_args(cls)
        arch = R.architecture(cls, {**model.config, "extra": 1})
        assert "extra" not in arch and type(R.build_from_config(cls, model.config, nnx.Rngs(0))) is cls
        assert R.register(cls) is cls
    if name == "tf":
        block = LM.Block(8, 2, rngs=nnx.Rngs(0))
        finite(block(np.ones((b, t, 8), np.float32)), (b, t, 8))
        cache = model.init_cache(b)
        logits, cache = model.decode(jnp.zeros(b, jnp.int32), 0, cache)
        finite(logits, (b, VOCAB.size))


@given(bad_x=BAD_TOKENS, bad=st.sampled_from([None, "cfg", 3, {"model": "Nope"}]))
def test_language_models_bad(bad_x, bad):
    m = _models()
    for name in ("counts", "net", "mlp", "tf"):
        refused(m[name], "x", bad_x)
    refused(m["counts"].fit, "tokens", bad_x, np.ones((2, 2)))
    refused(m["tf"], "x", np.zeros((2, 9), np.int32))
    refused(m["tf"].init_cache, "batch_size", 10**12)
    refused(m["tf"].decode, "token", bad_x if bad_x is not None else "t", 0, m["tf"].init_cache(2))
    refused(m["tf"].decode, "position", jnp.zeros(2, jnp.int32), 99, m["tf"].init_cache(2))
    refused(LM.Block(8, 2, rngs=nnx.Rngs(0)), "x", np.zeros((2, 3, 7), np.float32))
    refused(LM.from_config, ("config", "model"), bad)
    refused(LM.num_params, "model", bad)
    refused(R.register, "nnx.Module", 3)
    refused(R.model_class, ("name", "model"), bad if not isinstance(bad, dict) else "Nope")
    refused(R.constructor_args, "cls", bad)
    refused(R.architecture, "config", LM.BigramNet, "cfg")
    refused(R.build_from_config, "rngs", LM.BigramNet, {"vocab_size": 5}, 3)
    refused(R.build_from_config, ("config", "Transformer"), LM.BigramNet, {"model": "Transformer"})


@covers("course_lib.decoding.check_sampling", "course_lib.decoding.apply_temperature",
        "course_lib.decoding.top_k_filter", "course_lib.decoding.top_p_filter", "course_lib.decoding.filter_logits",
        "course_lib.decoding.generate", "course_lib.decoding.sample_words", "course_lib.decoding.tokens_per_second",
        "course_lib.evaluation.text_samples.is_plausible_name", "course_lib.evaluation.text_samples.generated_mask",
        "course_lib.evaluation.text_samples.sample_statistics")
@given(temp=st.floats(0.2, 2.0), k=st.integers(1, 7), p=st.floats(0.05, 1.0), n=st.integers(1, 4),
       name=st.sampled_from(["counts", "net", "mlp", "tf"]), cache=st.booleans())
@settings(max_examples=4)
def test_decoding_valid(temp, k, p, n, name, cache):
    assert D.check_sampling(temp, k, p) == (temp, k, p)
    z = np.random.default_rng(k).normal(size=(2, 7)).astype(np.float32)
    finite(D.apply_temperature(z, temp), (2, 7))
    kept = np.isfinite(np.asarray(D.top_k_filter(z, k))).sum(-1)
    assert np.all(kept == k)
    assert np.all(np.isfinite(np.asarray(D.top_p_filter(z, p))).sum(-1) >= 1)
    assert np.all(np.isfinite(np.asarray(D.filter_logits(z, temp, k, p))).sum(-1) >= 1)
    model = _models()[name]
    use_cache = cache and name == "tf"
    tokens, probs = D.generate(model, VOCAB, key(n), num_samples=n, temperature=temp, top_k=k, top_p=p,
                               use_cache=use_cache, length=5)
    assert np.asarray(tokens).shape == (n, 6)
    finite(probs, (n, 5, VOCAB.size))
    words = D.sample_words(model, VOCAB, key(n), num_samples=n, length=5)
    assert len(words) == n and all(isinstance(w, str) for w in words)
    mask = TS.generated_mask(np.asarray(tokens), VOCAB.eos)
    assert mask.shape == (n, 5) and set(np.unique(mask)) <= {0.0, 1.0}
    assert TS.is_plausible_name("anna") and not TS.is_plausible_name("bbbb")
    stats = TS.sample_statistics(model, VOCAB, WORDS, key(), num_samples=8)
    assert isinstance(stats, dict)
    if name == "tf" and cache:
        assert D.tokens_per_second(model, VOCAB, use_cache=True, num_samples=2, repeats=1) > 0


@given(bad_t=BAD_POSITIVE_FLOATS, bad_p=BAD_PROBABILITIES, bad_n=BAD_COUNTS, bad_key=BAD_KEYS, bad=NOT_ARRAYS,
       bad_b=BAD_BOOLS)
def test_decoding_bad(bad_t, bad_p, bad_n, bad_key, bad, bad_b):
    z = np.zeros((2, 5), np.float32)
    m = _models()["net"]
    refused(D.check_sampling, "temperature", bad_t, None, 1.0)
    refused(D.check_sampling, "top_k", 1.0, 0, 1.0)
    refused(D.check_sampling, "top_p", 1.0, None, bad_p)
    refused(D.apply_temperature, "temperature", z, bad_t)
    refused(D.apply_temperature, "logits", bad, 1.0)
    refused(D.top_k_filter, "k", z, bad_n if bad_n != 10**12 else -1)
    refused(D.top_p_filter, "top_p", z, bad_p)
    refused(D.filter_logits, "logits", bad, 1.0, 0, 1.0)
    refused(D.generate, "model", bad, VOCAB, key())
    refused(D.generate, "vocab", m, bad, key())
    refused(D.generate, "key", m, VOCAB, bad_key)
    refused(D.generate, "num_samples", m, VOCAB, key(), num_samples=bad_n)
    refused(D.generate, "prefix", m, VOCAB, key(), prefix="zz")
    refused(D.generate, "use_cache", m, VOCAB, key(), use_cache=bad_b)
    refused(D.sample_words, "bogus", m, VOCAB, key(), bogus=3)
    refused(D.tokens_per_second, "use_cache", m, VOCAB, use_cache=bad_b)
    refused(D.tokens_per_second, "repeats", _models()["tf"], VOCAB, use_cache=False, repeats=bad_n)
    refused(TS.is_plausible_name, "word", bad if not isinstance(bad, str) else b"abc")
    refused(TS.is_plausible_name, "max_length", "ab", min_length=5, max_length=2)
    refused(TS.generated_mask, "tokens", np.zeros((2, 3)), 1)
    refused(TS.generated_mask, "eos", np.zeros((2, 3), np.int32), bad if bad != 3 else -1)
    refused(TS.sample_statistics, "num_samples", m, VOCAB, WORDS, key(), num_samples=bad_n)
    refused(TS.sample_statistics, "key", m, VOCAB, WORDS, bad_key)


@covers("course_lib.training.language.token_nll", "course_lib.training.language.masked_nll",
        "course_lib.training.language.evaluate_nll", "course_lib.training.language.nats_to_bits",
        "course_lib.training.language.TrainResult", "course_lib.training.language.make_chunk",
        "course_lib.training.language.train_language_model")
@given(steps=st.sampled_from([2, 4]), name=st.sampled_from(["net", "mlp"]))
@settings(max_examples=2)
def test_language_training_valid(steps, name):
    tokens, mask = T.encode_batch(WORDS, VOCAB, 6)
    logits = np.zeros((len(WORDS), 6, VOCAB.size), np.float32)
    nll = finite(TL.token_nll(logits, tokens[:, 1:]), (len(WORDS), 6))
    assert np.allclose(nll, math.log(VOCAB.size), atol=1e-5)
    assert math.isclose(float(TL.masked_nll(logits, tokens, mask)), math.log(VOCAB.size), rel_tol=1e-5)
    assert math.isclose(TL.nats_to_bits(math.log(2.0)), 1.0)
    model = nnx.clone(_models()[name])
    result = TL.train_language_model(model, tokens, mask, key=key(), num_steps=steps, batch_size=4,
                                     steps_per_call=2, val=(tokens, mask))
    assert isinstance(result, TL.TrainResult) and result.chunk_fn is not None  # built by make_chunk
    assert math.isfinite(TL.evaluate_nll(result.model, tokens, mask, batch_size=4))
    assert math.isfinite(TL.evaluate_nll(_models()["counts"], tokens, mask))


@given(bad_x=BAD_TOKENS, bad_n=BAD_COUNTS, bad_key=BAD_KEYS, bad=NOT_ARRAYS)
def test_language_training_bad(bad_x, bad_n, bad_key, bad):
    tokens, mask = T.encode_batch(WORDS, VOCAB, 6)
    logits = np.zeros((len(WORDS), 6, VOCAB.size), np.float32)
    m = _models()["net"]
    refused(TL.token_nll, "logits", bad, tokens[:, 1:])
    refused(TL.token_nll, "targets", logits, np.full((len(WORDS), 6), 99, np.int32))
    refused(TL.masked_nll, "tokens", logits, tokens[:, 1:], mask)
    refused(TL.masked_nll, "mask", logits, tokens, mask[:, :3])
    refused(TL.evaluate_nll, "model", bad, tokens, mask)
    refused(TL.evaluate_nll, "mask", m, tokens, np.zeros_like(mask))
    refused(TL.evaluate_nll, "batch_size", m, tokens, mask, batch_size=bad_n)
    refused(TL.nats_to_bits, "nats", bad)
    refused(TL.train_language_model, "model", _models()["counts"], tokens, mask, key=key())
    refused(TL.train_language_model, "key", m, tokens, mask, key=bad_key)
    refused(TL.train_language_model, ("tokens", "x"), m, bad_x, mask, key=key())
    refused(TL.train_language_model, "num_steps", m, tokens, mask, key=key(), num_steps=bad_n)
    refused(TL.train_language_model, "val", m, tokens, mask, key=key(), num_steps=2, steps_per_call=2, val=tokens)


@covers("course_lib.training.vector_field.TrainResult", "course_lib.training.vector_field.make_chunk_fn",
        "course_lib.training.vector_field.train_vector_field")
@given(steps=st.integers(1, 4), pred=st.sampled_from(["velocity", "eps"]))
@settings(max_examples=2)
def test_train_vector_field_valid(steps, pred):
    model = VectorFieldMLP(2, (8,), time_dim=4, prediction=pred, rngs=nnx.Rngs(0))
    x = np.random.default_rng(steps).normal(size=(32, 2)).astype(np.float32)
    result = TV.train_vector_field(model, x, key=key(), num_steps=steps, batch_size=8, chunk=2)  # make_chunk_fn inside
    assert isinstance(result, TV.TrainResult) and result.steps >= steps
    finite(result.losses)


@given(bad_key=BAD_KEYS, bad_n=BAD_COUNTS, bad_lr=BAD_POSITIVE_FLOATS, bad=NOT_ARRAYS)
def test_train_vector_field_bad(bad_key, bad_n, bad_lr, bad):
    model = VectorFieldMLP(2, (8,), time_dim=4, rngs=nnx.Rngs(0))
    x = np.zeros((8, 2), np.float32)
    refused(TV.train_vector_field, "model", bad, x, key=key(), num_steps=2)
    refused(TV.train_vector_field, "x", model, bad, key=key(), num_steps=2)
    refused(TV.train_vector_field, "x", model, np.zeros((8, 3), np.float32), key=key(), num_steps=2)
    refused(TV.train_vector_field, "x", model, np.zeros((0, 2), np.float32), key=key(), num_steps=2)
    refused(TV.train_vector_field, "key", model, x, key=bad_key, num_steps=2)
    refused(TV.train_vector_field, "num_steps", model, x, key=key(), num_steps=bad_n)
    refused(TV.train_vector_field, "lr", model, x, key=key(), num_steps=2, lr=bad_lr)
    refused(TV.train_vector_field, "labels", model, x, key=key(), num_steps=2, labels=np.zeros(8, np.int32))
    refused(TV.train_vector_field, "transform", model, x, key=key(), num_steps=2, transform=3)


@covers("course_lib.widgets.language.sampling_trace", "course_lib.widgets.language.render_sampler",
        "course_lib.widgets.language.attention_trace", "course_lib.widgets.language.render_attention",
        "course_lib.widgets.language.live_sampler", "course_lib.widgets.language.attention_viewer")
@given(prefix=st.text("abcde", max_size=3), seed=st.integers(0, 5))
@settings(max_examples=2)
def test_language_widgets(prefix, seed):
    tf = _models()["tf"]
    trace = WL.sampling_trace(tf, VOCAB, prefix=prefix, seed=seed)
    assert trace["text"].startswith(prefix) and "<table" in WL.render_sampler(trace, VOCAB)
    att = WL.attention_trace(tf, VOCAB, "abc")
    assert "<" in WL.render_attention(att, 0)
    assert WL.live_sampler(tf, VOCAB, prefix=prefix).status is not None
    assert WL.attention_viewer(tf, VOCAB, word="abc").status is not None
    good()
    refused(WL.sampling_trace, "prefix", tf, VOCAB, prefix="zz")
    refused(WL.sampling_trace, "seed", tf, VOCAB, seed=-1)
    refused(WL.render_sampler, "trace", None, VOCAB)
    refused(WL.render_sampler, "vocab", trace, "abc")
    refused(WL.attention_trace, "model", _models()["net"], VOCAB, "abc")
    refused(WL.attention_trace, "word", tf, VOCAB, "abcdefgh")
    refused(WL.render_attention, "layer", att, 5)
    refused(WL.render_attention, "trace", "att", 0)
    refused(WL.live_sampler, "vocab", tf, "abc")
    refused(WL.attention_viewer, "model", "tf", VOCAB)


@covers("course_lib.widgets.vector_field.field_lab_state", "course_lib.widgets.vector_field.render_field_lab",
        "course_lib.widgets.vector_field.render_field_lab_image", "course_lib.widgets.vector_field.vector_field_lab",
        "course_lib.widgets.vector_field.render_guidance", "course_lib.widgets.vector_field.guidance_explorer")
@given(n=st.integers(1, 3), sampler=st.sampled_from(["euler", "heun"]))
@settings(max_examples=2)
def test_vector_field_widgets(n, sampler):
    model = VectorFieldMLP(2, (8,), time_dim=4, rngs=nnx.Rngs(0))
    state = WV.field_lab_state(model, sampler=sampler, num_steps=n)
    assert state["xs"].shape[0] == n + 1
    WV.render_field_lab(model, state, n)
    plt.close("all")
    image, summary = WV.render_field_lab_image(model, state, 0, size=32)
    finite(image, (32, 72))
    refused(WV.render_field_lab, "state", model, "state", 0)
    assert WV.vector_field_lab({("ring", "linear"): model}, num_steps=n).status is not None
    digits = VectorFieldMLP(64, (8,), time_dim=4, num_classes=10, path="vp", rngs=nnx.Rngs(0))
    classifier = lambda images: jnp.zeros((images.shape[0], 10)).at[:, 3].set(1.0)  # noqa: E731
    mosaic, summary = WV.render_guidance(digits, classifier, 3, 1.0, num_steps=2, num_samples=4)
    finite(mosaic)
    assert WV.guidance_explorer(digits, classifier, num_steps=2).status is not None
    good()
    refused(WV.field_lab_state, "model", "m")
    refused(WV.field_lab_state, "num_steps", model, num_steps=0)
    refused(WV.field_lab_state, "sampler", model, sampler="rk4")
    refused(WV.render_field_lab, "step", model, state, n + 5)
    refused(WV.render_field_lab_image, "step", model, state, -1)
    refused(WV.vector_field_lab, "models", {})
    refused(WV.vector_field_lab, "model", {("ring", "linear"): "m"})
    refused(WV.render_guidance, "digit", digits, classifier, 11, 1.0)
    refused(WV.render_guidance, "classifier", digits, None, 3, 1.0)
    refused(WV.render_guidance, "w", digits, classifier, 3, math.nan)
    refused(WV.render_guidance, "model", "m", classifier, 3, 1.0)
