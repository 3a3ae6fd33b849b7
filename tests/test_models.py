"""Models: exact parameter counts, output shapes, architecture checks."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from course_lib.models import MLP, VAE, Discriminator, Generator, count_params


def test_mlp_param_count_and_shape():
    m = MLP((3, 5, 2), rngs=nnx.Rngs(0))
    assert count_params(m) == 3 * 5 + 5 + 5 * 2 + 2
    assert m(jnp.ones((7, 3))).shape == (7, 2)


def test_mlp_is_linear_without_hidden_layers():
    m = MLP((4, 3), rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (2, 4))
    np.testing.assert_allclose(m(2 * x) - m(jnp.zeros((2, 4))), 2 * (m(x) - m(jnp.zeros((2, 4)))), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("likelihood, levels, out_shape", [
    ("bernoulli", None, (6, 64)), ("categorical", 17, (6, 64, 17)), ("gaussian", None, (6, 64))])
def test_vae_shapes_and_counts(likelihood, levels, out_shape):
    m = VAE(64, 2, (32,), likelihood=likelihood, num_levels=levels, rngs=nnx.Rngs(0))
    k = levels or 1
    expected = (64 * 32 + 32 + 32 * 4 + 4) + (2 * 32 + 32 + 32 * 64 * k + 64 * k)
    expected += 64 if likelihood == "gaussian" else 0  # learned decoder log-variance
    assert count_params(m) == expected
    x = jnp.zeros((6, 64), jnp.int32 if likelihood == "categorical" else jnp.float32)
    mu, logvar = m.encode(x)
    assert mu.shape == logvar.shape == (6, 2)
    assert m.decode(mu).shape == out_shape
    terms = m.negative_elbo(x, jax.random.key(1))
    assert {k: v.shape for k, v in terms.items()} == {"loss": (6,), "rec": (6,), "kl": (6,), "kl_per_dim": (6, 2)}
    assert m.sample(jax.random.key(2), 3).shape == (3, 64)
    assert m.config["likelihood"] == likelihood


def test_vae_mean_image_in_unit_interval():
    m = VAE(64, 2, (16,), likelihood="categorical", num_levels=17, rngs=nnx.Rngs(0))
    img = m.decode_mean(jax.random.normal(jax.random.key(0), (4, 2)))
    assert img.shape == (4, 64) and float(img.min()) >= 0 and float(img.max()) <= 1


def test_negative_elbo_equals_rec_plus_kl():
    m = VAE(8, 3, (16,), rngs=nnx.Rngs(0))
    x = (jax.random.uniform(jax.random.key(0), (5, 8)) > 0.5).astype(jnp.float32)
    t = m.negative_elbo(x, jax.random.key(1), beta=1.0)
    np.testing.assert_allclose(t["loss"], t["rec"] + t["kl"], rtol=1e-6)
    np.testing.assert_allclose(t["kl"], t["kl_per_dim"].sum(-1), rtol=1e-6)


def test_gan_players():
    g = Generator(4, 2, (8, 8), rngs=nnx.Rngs(0))
    d = Discriminator(2, (8,), rngs=nnx.Rngs(1))
    assert count_params(g) == 4 * 8 + 8 + 8 * 8 + 8 + 8 * 2 + 2
    assert count_params(d) == 2 * 8 + 8 + 8 + 1
    x = g.sample(jax.random.key(0), 5)
    assert x.shape == (5, 2) and d(x).shape == (5,)
    img = Generator(4, 64, (8,), output="sigmoid", rngs=nnx.Rngs(0)).sample(jax.random.key(0), 3)
    assert float(img.min()) >= 0 and float(img.max()) <= 1


@pytest.mark.parametrize("call, exc, words", [
    (lambda: MLP((3,), rngs=nnx.Rngs(0)), ValueError, "at least an input and an output"),
    (lambda: MLP((3, 0, 2), rngs=nnx.Rngs(0)), ValueError, "sizes[1]"),
    (lambda: MLP("32", rngs=nnx.Rngs(0)), TypeError, "sequence of layer widths"),
    (lambda: MLP((3, 2), activation="swish", rngs=nnx.Rngs(0)), ValueError, "unknown activation"),
    (lambda: VAE(64, 2, likelihood="poisson", rngs=nnx.Rngs(0)), ValueError, "unknown likelihood"),
    (lambda: VAE(64, 2, likelihood="categorical", rngs=nnx.Rngs(0)), ValueError, "num_levels is required"),
    (lambda: VAE(64, 0, rngs=nnx.Rngs(0)), ValueError, "z_dim"),
    (lambda: VAE(64, 2, (8,), rngs=nnx.Rngs(0)).decode(jnp.zeros((1, 3))), ValueError, "z_dim=2"),
    (lambda: VAE(64, 2, (8,), rngs=nnx.Rngs(0)).encode(jnp.zeros((1, 63))), ValueError, "shape (*, 64)"),
    (lambda: Generator(2, 2, output="relu", rngs=nnx.Rngs(0)), ValueError, "unknown output"),
])
def test_bad_input_is_named(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)
