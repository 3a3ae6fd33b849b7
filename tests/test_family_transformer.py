"""The pixel transformer of the family table (course_lib.reproduce.family_transformer; 07_beyond):
an exact likelihood by the chain rule, checked against a pixel-by-pixel evaluation through the
key-value cache; samples drawn from the same conditionals; training-only dropout and input noise."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from course_lib.models.language import Transformer
from course_lib.reproduce import family_transformer as FT

TINY = FT.PixelTransformerSettings(width=16, num_heads=2, num_layers=1, num_epochs=2, batch_size=20, eval_every=1)


def _model(seed=0):
    return FT.build_pixel_transformer(TINY, seed)


def _levels(n, seed=0):
    return np.random.default_rng(seed).integers(0, FT.NUM_LEVELS, (n, FT.DIM)).astype(np.int32)


def test_log_prob_is_the_chain_rule_through_the_cache():
    # An independent evaluation: feed the start token and then each pixel through decode(), and add
    # log p(x_i | x_<i) over the 17 level tokens. The full-sequence pass must give the same numbers.
    model, x = _model(), _levels(5)
    cache = model.init_cache(5)
    token, total = jnp.full((5,), FT.START_TOKEN, jnp.int32), np.zeros(5)
    for i in range(FT.DIM):
        logits, cache = model.decode(token, i, cache)
        total += np.asarray(jax.nn.log_softmax(logits[:, 1:], axis=-1))[np.arange(5), x[:, i]]
        token = jnp.asarray(x[:, i] + 1)
    assert np.allclose(-FT.pixel_nll(model, x), total, atol=1e-3)
    # a shifted-by-one mistake (the model reading the pixel it predicts) would change the numbers
    wrong = model(jnp.asarray(x + 1))[..., 1:]
    wrong_total = np.asarray(jnp.take_along_axis(jax.nn.log_softmax(wrong, -1), x[..., None], -1)).sum((1, 2))
    assert not np.allclose(wrong_total, total, atol=1e-1)


def test_the_first_pixel_of_the_samples_follows_the_model():
    # The first pixel's conditional does not depend on any pixel: p(x_1 = v) = softmax(logits at the start)_v.
    model = _model(1)
    x = np.asarray(FT.pixel_sample(model, jax.random.key(0), 4000))
    assert x.shape == (4000, 64) and x.dtype == np.int32 and x.min() >= 0 and x.max() <= 16
    logits, _ = model.decode(jnp.zeros((1,), jnp.int32), 0, model.init_cache(1))
    p = np.asarray(jax.nn.softmax(logits[0, 1:]))
    freq = np.bincount(x[:, 0], minlength=17) / len(x)
    assert np.abs(freq - p).max() < 4 * np.sqrt(p.max() / len(x)) + 1e-3, (freq, p)
    # and a later pixel, given the ones before it: the likelihood of the samples is the model's own
    # (its average is minus the model's entropy, which is larger for images it would not draw)
    nll_samples, nll_random = FT.pixel_nll(model, x[:500]).mean(), FT.pixel_nll(model, _levels(500)).mean()
    assert nll_samples < nll_random


def test_dropout_and_input_noise_are_training_only():
    model, x = _model(), _levels(4)
    tokens = FT.input_tokens(x)
    assert tokens.shape == (4, 64) and int(tokens[0, 0]) == FT.START_TOKEN and np.array_equal(tokens[:, 1:], x[:, :-1] + 1)
    plain = model(tokens)
    assert np.array_equal(plain, model(tokens, dropout_rate=0.3))  # no key: no dropout
    assert np.array_equal(plain, model(tokens, dropout_rate=0.0, dropout_key=jax.random.key(0)))
    assert not np.allclose(plain, model(tokens, dropout_rate=0.3, dropout_key=jax.random.key(0)))
    with pytest.raises(ValueError, match="dropout_rate"):
        model(tokens, dropout_rate=1.0, dropout_key=jax.random.key(0))
    with pytest.raises(TypeError, match="dropout_key"):
        model(tokens, dropout_rate=0.1, dropout_key=3)
    big = jnp.asarray(_levels(2000))
    assert np.array_equal(FT.corrupt(jax.random.key(0), big, 0.0), big)
    changed = np.mean(np.asarray(FT.corrupt(jax.random.key(0), big, 0.5)) != np.asarray(big))
    assert abs(changed - 0.5 * 16 / 17) < 0.01  # a replaced entry keeps its value with probability 1/17


def test_training_lowers_the_validation_nll_and_checks_settings():
    rng = np.random.default_rng(0)
    splits = {"train": _levels(100), "val": _levels(40, 1)}
    # data a model can learn: every pixel copies the first one
    for k in splits:
        splits[k] = np.repeat(rng.integers(0, 17, (len(splits[k]), 1)), 64, axis=1).astype(np.int32)
    before = FT.pixel_nll(_model(), splits["val"]).mean()
    quick = FT.PixelTransformerSettings(width=16, num_heads=2, num_layers=1, num_epochs=10, batch_size=20, lr=3e-3,
                                        ema_decay=0.0, eval_every=5)
    model, result = FT.train_pixel_transformer(quick, splits, 0)
    assert isinstance(model, Transformer) and np.isfinite(result.seconds)
    assert FT.pixel_nll(model, splits["val"]).mean() < 0.8 * before
    with pytest.raises(ValueError, match="input_noise"):
        FT.train_pixel_transformer(FT.PixelTransformerSettings(input_noise=1.5), splits, 0)
    with pytest.raises(ValueError, match="levels"):
        FT.pixel_nll(model, np.full((2, 64), 17, np.int32))
    with pytest.raises(TypeError, match="model"):
        FT.pixel_sample("model", jax.random.key(0), 2)
