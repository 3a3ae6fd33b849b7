"""Sampling of 09_language_models: temperature, top-k, top-p, the key-value cache, bad input,
and the exercise checks (each must reject the plausible wrong answer)."""
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from course_lib import decoding as dc
from course_lib.data import text
from course_lib.exercises import ch09_language_models as ex
from course_lib.models import language as lm

VOCAB = text.vocabulary_of(list("abcdefghijklmnopqrstuvwxyz"))


@pytest.fixture(scope="module")
def transformer():
    return lm.Transformer(VOCAB.size, context=12, width=32, num_heads=4, num_layers=2, rngs=nnx.Rngs(0))


def test_temperature_divides_logits_before_the_softmax():
    z = jnp.array([2.0, 1.0, 0.0])
    p = jax.nn.softmax(dc.apply_temperature(z, 0.5))
    np.testing.assert_allclose(p, np.exp([4.0, 2.0, 0.0]) / np.exp([4.0, 2.0, 0.0]).sum(), rtol=1e-6)


def test_top_k_keeps_exactly_the_k_largest():
    z = jnp.array([0.1, 3.0, -1.0, 2.0, 1.0])
    kept = np.isfinite(np.asarray(dc.top_k_filter(z, 2)))
    assert kept.tolist() == [False, True, False, True, False]


def test_top_p_keeps_the_token_that_crosses_the_threshold():
    probs = np.array([0.2, 0.5, 0.3])
    kept = np.isfinite(np.asarray(dc.top_p_filter(jnp.log(jnp.asarray(probs)), 0.6)))
    assert kept.tolist() == [False, True, True]  # 0.5 alone is < 0.6: the 0.3 crosses it and stays
    kept = np.isfinite(np.asarray(dc.top_p_filter(jnp.log(jnp.asarray(probs)), 0.45)))
    assert kept.tolist() == [False, True, False]  # the 0.5 crosses 0.45 by itself
    assert np.isfinite(np.asarray(dc.top_p_filter(jnp.log(jnp.asarray(probs)), 1.0))).all()


def test_filtered_sampling_never_draws_a_removed_token(transformer):
    tokens, probs = dc.generate(transformer, VOCAB, jax.random.key(0), num_samples=64, top_k=3)
    assert np.all((np.asarray(probs) > 0).sum(-1) <= 3)
    chosen = np.take_along_axis(np.asarray(probs), np.asarray(tokens)[:, 1:, None], axis=-1)
    assert np.all(chosen > 0)


def test_cached_generation_equals_uncached_and_is_faster(transformer):
    for greedy in (True, False):
        kw = dict(num_samples=256, prefix="ma", temperature=0.9, top_p=0.95, greedy=greedy)
        a, pa = dc.generate(transformer, VOCAB, jax.random.key(1), use_cache=False, **kw)
        b, pb = dc.generate(transformer, VOCAB, jax.random.key(1), use_cache=True, **kw)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        np.testing.assert_allclose(np.asarray(pa), np.asarray(pb), atol=1e-5)
        assert np.all(np.asarray(a)[:, 1:3] == VOCAB.encode("ma"))

    def best_time(use_cache):
        times = []
        for i in range(5):
            start = time.perf_counter()
            jax.block_until_ready(dc.generate(transformer, VOCAB, jax.random.key(i), num_samples=256,
                                              use_cache=use_cache))
            times.append(time.perf_counter() - start)
        return min(times)

    assert best_time(True) < best_time(False)


def test_greedy_generation_of_a_count_model_follows_the_argmax():
    model = lm.BigramCounts(VOCAB.size)
    model.counts[0, VOCAB.encode("b")[0]] = 5.0
    model.counts[VOCAB.encode("b")[0], 1] = 5.0  # b -> end
    assert dc.sample_words(model, VOCAB, jax.random.key(0), greedy=True) == ["b"]


@pytest.mark.parametrize("kwargs, match", [
    ({"temperature": 0.0}, "temperature must be a finite number > 0"),
    ({"temperature": -1.0}, "temperature must be a finite number > 0"),
    ({"top_p": 0.0}, "top_p must be in \\(0, 1\\]"),
    ({"top_p": 1.5}, "top_p must be in \\(0, 1\\]"),
    ({"top_k": 0}, "top_k must be an integer >= 1"),
    ({"prefix": "ann3"}, "prefix contains characters outside the vocabulary"),
    ({"prefix": "abcdefghijkl"}, "prefix must have at most 11 characters"),
])
def test_bad_sampling_arguments_raise_value_errors_naming_them(transformer, kwargs, match):
    with pytest.raises(ValueError, match=match):
        dc.generate(transformer, VOCAB, jax.random.key(0), **kwargs)


def test_cache_needs_a_model_with_a_cache():
    with pytest.raises(ValueError, match="use_cache=True needs a model with a key-value cache"):
        dc.generate(lm.BigramCounts(VOCAB.size), VOCAB, jax.random.key(0), use_cache=True)


# --------------------------------------------------------------------------- exercises


def test_exercise_checks_accept_the_references():
    assert ex.check_causal_mask(ex.reference_causal_mask)
    assert ex.check_softmax_temperature(ex.reference_softmax_temperature)
    assert ex.check_top_p(ex.reference_top_p)
    assert ex.check_bits_perplexity(ex.reference_bits_perplexity)


def test_causal_mask_check_rejects_off_by_one_and_transposed():
    assert not ex.check_causal_mask(lambda t: np.tril(np.ones((t, t), bool), k=-1))  # diagonal missing
    assert not ex.check_causal_mask(lambda t: np.tril(np.ones((t, t), bool), k=1))  # one step ahead
    assert not ex.check_causal_mask(lambda t: np.triu(np.ones((t, t), bool)))  # looks at the future


def test_softmax_check_rejects_temperature_after_the_softmax():
    soft = lambda z: np.exp(z) / np.exp(z).sum(-1, keepdims=True)  # noqa: E731
    assert not ex.check_softmax_temperature(lambda z, t: soft(np.asarray(z)) / t)
    assert not ex.check_softmax_temperature(lambda z, t: soft(np.asarray(z)))  # renormalised: T ignored
    assert not ex.check_softmax_temperature(lambda z, t: soft(np.asarray(z) * t))  # multiplied


def test_top_p_check_rejects_dropping_the_crossing_token():
    def drops_crossing(probs, p):
        probs = np.asarray(probs, float)
        order = np.argsort(-probs)
        keep = np.zeros(len(probs), bool)
        keep[order[np.cumsum(probs[order]) <= p]] = True
        keep[order[0]] = True
        out = np.where(keep, probs, 0.0)
        return out / out.sum()

    assert not ex.check_top_p(drops_crossing)
    assert not ex.check_top_p(lambda probs, p: np.asarray(probs) * (np.asarray(probs) >= p))  # no renormalising


def test_bits_check_rejects_the_wrong_bases():
    assert not ex.check_bits_perplexity(lambda n: (n * math.log(2), math.exp(n)))
    assert not ex.check_bits_perplexity(lambda n: (n / math.log(2), 2 ** n))


def test_exercise_stubs_are_reported_as_not_done():
    def stub(*args):
        raise NotImplementedError

    assert ex.check_top_p(stub).status == "not_implemented"
