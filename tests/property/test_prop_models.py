"""Properties of course_lib.models: constructors, __call__ widths, sample counts and keys."""
from __future__ import annotations

import numpy as np
from flax import nnx
from hypothesis import given, settings, strategies as st

from course_lib import models as M
from prop_harness import BAD_COUNTS, BAD_KEYS, BAD_STRINGS, covers, finite, floats, key, refused

WIDTHS = st.lists(st.integers(1, 8), min_size=0, max_size=2)


@covers("course_lib.models.MLP", "course_lib.models.count_params")
@given(d_in=st.integers(1, 5), hidden=WIDTHS, d_out=st.integers(1, 5), b=st.integers(1, 4),
       act=st.sampled_from(sorted(M.ACTIVATIONS)), data=st.data())
@settings(max_examples=5)
def test_mlp_valid(d_in, hidden, d_out, b, act, data):
    net = M.MLP((d_in, *hidden, d_out), activation=act, rngs=nnx.Rngs(0))
    finite(net(data.draw(floats((b, d_in)))), (b, d_out))
    sizes = (d_in, *hidden, d_out)
    assert M.count_params(net) == sum(a * c + c for a, c in zip(sizes[:-1], sizes[1:]))


def _mlp():
    return M.MLP((3, 4, 2), rngs=nnx.Rngs(0))


@given(bad=st.sampled_from([None, "x", np.zeros((2, 5), np.float32), np.zeros((), np.float32),
                            np.zeros((2, 3), bool)]))
def test_mlp_bad_input(bad):
    refused(_mlp(), "x", bad)


@given(bad=st.sampled_from([[3], [3, 0], [3, -1], "34", 5, [3, 2.5], [10**5, 10**5, 2], None]))
def test_mlp_bad_sizes(bad):
    refused(M.MLP, "sizes", bad, rngs=nnx.Rngs(0))


@given(bad=st.sampled_from([None, 0, "rngs", np.zeros(2)]))
def test_mlp_bad_rngs_and_count_params(bad):
    refused(M.MLP, "rngs", (2, 2), rngs=bad)
    refused(M.count_params, "model", bad)


@given(bad=BAD_STRINGS)
def test_mlp_bad_activation(bad):
    refused(M.MLP, "activation", (2, 2), activation=bad, rngs=nnx.Rngs(0))


@covers("course_lib.models.Generator", "course_lib.models.Discriminator")
@given(noise=st.integers(1, 4), out=st.integers(1, 4), n=st.integers(1, 16),
       output=st.sampled_from(["none", "sigmoid", "tanh"]), seed=st.integers(0, 9))
@settings(max_examples=5)
def test_gan_players_valid(noise, out, n, output, seed):
    g = M.Generator(noise, out, (8,), output=output, rngs=nnx.Rngs(seed))
    d = M.Discriminator(out, (8,), rngs=nnx.Rngs(seed))
    x = finite(g.sample(key(seed), n), (n, out))
    finite(d(x), (n,))


@given(bad_key=BAD_KEYS, bad_n=BAD_COUNTS)
def test_gan_players_bad(bad_key, bad_n):
    g = M.Generator(2, 3, (4,), rngs=nnx.Rngs(0))
    d = M.Discriminator(3, (4,), rngs=nnx.Rngs(0))
    refused(g.sample, "key", bad_key, 4)
    refused(g.sample, "num_samples", key(), bad_n)
    refused(g, "z", np.zeros((4, 3), np.float32))
    refused(d, "x", np.zeros((4, 2), np.float32))
    refused(M.Generator, "noise_dim", bad_n, 3, rngs=nnx.Rngs(0)) if bad_n != 10**12 else None


def test_generator_sample_refuses_memory_exhausting_count():
    g = M.Generator(2, 784, (4,), rngs=nnx.Rngs(0))
    err = refused(g.sample, "num_samples", key(), 10**6)  # 784 million floats
    assert "memory" in str(err)


@covers("course_lib.models.VAE", "course_lib.models.Encoder", "course_lib.models.Decoder")
@given(lik=st.sampled_from(["bernoulli", "categorical", "gaussian"]), b=st.integers(1, 4),
       seed=st.integers(0, 9), data=st.data())
@settings(max_examples=6)
def test_vae_valid(lik, b, seed, data):
    k = 5 if lik == "categorical" else None
    vae = M.VAE(6, 2, (8,), likelihood=lik, num_levels=k, rngs=nnx.Rngs(seed))
    assert isinstance(vae.encoder, M.Encoder) and isinstance(vae.decoder, M.Decoder)
    if lik == "categorical":
        x = np.asarray(data.draw(st.lists(st.integers(0, 4), min_size=6 * b, max_size=6 * b))).reshape(b, 6)
    else:
        x = data.draw(floats((b, 6), 0.0, 1.0))
    terms = vae.negative_elbo(x, key(seed))
    finite(terms["loss"], (b,))
    finite(vae.sample(key(seed), 3), (3, 6))


@given(bad=st.sampled_from([np.full((2, 6), 16.0, np.float32), np.zeros((2, 5), np.float32),
                            np.zeros((6,), np.float32), np.full((2, 6), np.nan, np.float32)]))
def test_vae_bernoulli_bad_x(bad):
    vae = M.VAE(6, 2, (4,), rngs=nnx.Rngs(0))
    refused(vae.negative_elbo, "x", bad, key())


@given(level=st.sampled_from([-1, 5, 17, 255]))
def test_vae_categorical_bad_levels(level):
    vae = M.VAE(6, 2, (4,), likelihood="categorical", num_levels=5, rngs=nnx.Rngs(0))
    x = np.zeros((2, 6), np.int32)
    x[1, 3] = level
    refused(vae.negative_elbo, "x", x, key())


@given(bad_key=BAD_KEYS, bad_beta=st.sampled_from([-1.0, float("nan"), float("inf"), "1", None]))
def test_vae_bad_key_beta(bad_key, bad_beta):
    vae = M.VAE(6, 2, (4,), rngs=nnx.Rngs(0))
    x = np.zeros((2, 6), np.float32)
    refused(vae.negative_elbo, "key", x, bad_key)
    refused(vae.negative_elbo, "beta", x, key(), beta=bad_beta)
    refused(vae.sample, "key", bad_key, 2)
    refused(vae.decode, "z", np.zeros((2, 3), np.float32))


@given(bad=st.sampled_from([("x_dim", 0), ("z_dim", -2), ("likelihood", "poisson"), ("hidden", "8"),
                            ("num_levels", 1), ("x_dim", 10**12)]))
def test_vae_bad_config(bad):
    kwargs = dict(x_dim=6, z_dim=2, hidden=(4,), likelihood="categorical", num_levels=5)
    kwargs[bad[0]] = bad[1]
    refused(lambda: M.VAE(**kwargs, rngs=nnx.Rngs(0)), bad[0])
