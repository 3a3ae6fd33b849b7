"""Properties of course_lib.losses: per-example values of shape (B,), refusals naming the argument."""
from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

from course_lib import losses as L
from prop_harness import BAD_STRINGS, bad_arrays, covers, finite, floats, refused

B, J, K = 4, 3, 5
SHAPES = st.tuples(st.integers(1, 6), st.integers(1, 5))


@covers("course_lib.losses.gaussian_kl", "course_lib.losses.gaussian_kl_between",
        "course_lib.losses.gaussian_log_likelihood")
@given(data=st.data(), shape=SHAPES)
def test_gaussian_terms_valid(data, shape):
    a, b, c = (data.draw(floats(shape)) for _ in range(3))
    finite(L.gaussian_kl(a, b), shape[:1])
    finite(L.gaussian_kl_between(a, b, c, np.zeros(shape, np.float32)), shape[:1])
    finite(L.gaussian_log_likelihood(a, b, c), shape[:1])


@given(bad=bad_arrays((B, J)))
def test_gaussian_terms_bad(bad):
    ok = np.zeros((B, J), np.float32)
    refused(L.gaussian_kl, "mu", bad, ok)
    refused(L.gaussian_kl, "logvar", ok, bad)
    refused(L.gaussian_log_likelihood, "mu", ok, bad, 0.0)


@given(bad=st.sampled_from([None, "x", np.zeros(()), np.zeros((B, J + 2), np.float32),
                            np.full((B, J), np.inf, np.float32), np.zeros((B, J), np.int32)]))
def test_gaussian_kl_between_bad(bad):
    ok = np.zeros((B, J), np.float32)
    refused(L.gaussian_kl_between, "mu_q", bad, ok, ok, ok)
    refused(L.gaussian_log_likelihood, "logvar", ok, ok, bad) if not (
        hasattr(bad, "dtype") and (bad.dtype.kind == "i" or bad.ndim == 0)) else None


@covers("course_lib.losses.bernoulli_log_likelihood")
@given(data=st.data(), shape=SHAPES)
def test_bernoulli_valid(data, shape):
    x = data.draw(floats(shape, 0.0, 1.0))
    out = finite(L.bernoulli_log_likelihood(x, data.draw(floats(shape))), shape[:1])
    assert np.all(out <= 1e-5)  # a log-probability of binary-ish data


@given(top=st.integers(2, 255))
def test_bernoulli_refuses_levels(top):
    x = np.array([[0.0, float(top)]], np.float32)  # 0..16 digits given unscaled
    err = refused(L.bernoulli_log_likelihood, "x", x, np.zeros_like(x))
    assert "to_unit_interval" in str(err)


@covers("course_lib.losses.categorical_log_likelihood")
@given(data=st.data(), b=st.integers(1, 5), d=st.integers(1, 4), k=st.integers(2, 6))
def test_categorical_valid(data, b, d, k):
    x = np.asarray(data.draw(st.lists(st.integers(0, k - 1), min_size=b * d, max_size=b * d))).reshape(b, d)
    out = finite(L.categorical_log_likelihood(x, data.draw(floats((b, d, k)))), (b,))
    assert np.all(out <= 1e-5)


@given(level=st.sampled_from([-1, K, K + 7, 1000]))
def test_categorical_refuses_out_of_range(level):
    x = np.zeros((B, J), np.int32)
    x[0, 0] = level
    refused(L.categorical_log_likelihood, "x", x, np.zeros((B, J, K), np.float32))


@given(bad=st.sampled_from([None, "x", np.zeros(()), np.zeros((B, J), np.float32),
                            np.zeros((B, J + 1, K), np.float32), np.full((B, J, K), np.nan, np.float32),
                            np.zeros((B, J, K), np.int32)]))
def test_categorical_bad_logits(bad):
    refused(L.categorical_log_likelihood, "logits", np.zeros((B, J), np.int32), bad)


@covers("course_lib.losses.gan_value", "course_lib.losses.discriminator_loss",
        "course_lib.losses.generator_loss")
@given(data=st.data(), b=st.integers(1, 8), kind=st.sampled_from(L.GAN_LOSSES))
def test_gan_losses_valid(data, b, kind):
    r, f = data.draw(floats((b,))), data.draw(floats((b, 1)))
    assert np.all(finite(L.gan_value(r, f), (b,)) <= 0)
    finite(L.discriminator_loss(r, f, kind), (b,))
    finite(L.generator_loss(f, kind), (b,))


@given(bad=st.sampled_from([None, "x", np.zeros((B, 2), np.float32), np.zeros((B, 1, 1), np.float32),
                            np.full((B,), np.nan, np.float32), np.zeros(B, np.int32)]))
def test_gan_losses_bad_logits(bad):
    ok = np.zeros(B, np.float32)
    refused(L.gan_value, "real_logits", bad, ok)
    refused(L.discriminator_loss, "fake_logits", ok, bad)
    refused(L.generator_loss, "fake_logits", bad)


@given(bad=BAD_STRINGS)
def test_gan_losses_bad_kind(bad):
    ok = np.zeros(B, np.float32)
    refused(L.discriminator_loss, "kind", ok, ok, bad)
    refused(L.generator_loss, "kind", ok, bad)
