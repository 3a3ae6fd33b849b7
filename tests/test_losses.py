"""Losses against independent references: scipy, jax.scipy, optax and fixed-key Monte Carlo."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats

from course_lib import losses

KEY = jax.random.key(0)


def _rand(shape, key=KEY, scale=1.0):
    return scale * jax.random.normal(key, shape)


def test_gaussian_kl_matches_monte_carlo():
    mu = jnp.array([[0.3, -1.0], [1.5, 0.2]])
    logvar = jnp.array([[-0.5, 0.4], [0.1, -1.2]])
    closed = losses.gaussian_kl(mu, logvar)
    # KL = E_q[log q(z) - log p(z)] with 400k samples from q
    eps = jax.random.normal(jax.random.key(1), (400_000,) + mu.shape)
    z = mu + jnp.exp(0.5 * logvar) * eps
    log_q = stats.norm.logpdf(np.asarray(z), np.asarray(mu), np.exp(0.5 * np.asarray(logvar))).sum(-1)
    log_p = stats.norm.logpdf(np.asarray(z)).sum(-1)
    mc = (log_q - log_p).mean(0)
    np.testing.assert_allclose(closed, mc, atol=0.01)


def test_gaussian_kl_zero_iff_prior():
    mu = jnp.zeros((3, 4))
    np.testing.assert_allclose(losses.gaussian_kl(mu, jnp.zeros((3, 4))), 0.0, atol=1e-7)
    assert float(losses.gaussian_kl(mu + 0.1, jnp.zeros((3, 4)))[0]) > 0


def test_gaussian_kl_between_reduces_to_standard_prior():
    mu, logvar = _rand((5, 3)), _rand((5, 3), jax.random.key(2), 0.5)
    np.testing.assert_allclose(
        losses.gaussian_kl_between(mu, logvar, jnp.zeros_like(mu), jnp.zeros_like(mu)),
        losses.gaussian_kl(mu, logvar), rtol=1e-5)


def test_gaussian_kl_between_univariate_formula():
    # KL(N(m1,s1^2)||N(m2,s2^2)) = log(s2/s1) + (s1^2 + (m1-m2)^2)/(2 s2^2) - 1/2
    m1, s1, m2, s2 = 0.5, 0.7, -0.3, 1.9
    expected = np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5
    got = losses.gaussian_kl_between(jnp.array([[m1]]), jnp.log(jnp.array([[s1**2]])),
                                     jnp.array([[m2]]), jnp.log(jnp.array([[s2**2]])))
    np.testing.assert_allclose(got, [expected], rtol=1e-5)


def test_gaussian_log_likelihood_matches_scipy():
    x, mu = _rand((4, 6)), _rand((4, 6), jax.random.key(3))
    logvar = _rand((4, 6), jax.random.key(4), 0.3)
    ref = stats.norm.logpdf(np.asarray(x), np.asarray(mu), np.exp(0.5 * np.asarray(logvar))).sum(-1)
    np.testing.assert_allclose(losses.gaussian_log_likelihood(x, mu, logvar), ref, rtol=1e-5)


def test_bernoulli_log_likelihood_matches_scipy_and_optax():
    logits = _rand((3, 10), scale=3.0)
    x = (jax.random.uniform(jax.random.key(5), (3, 10)) > 0.5).astype(jnp.float32)
    p = np.asarray(jax.nn.sigmoid(logits), np.float64)
    ref = stats.bernoulli.logpmf(np.asarray(x), p).sum(-1)
    np.testing.assert_allclose(losses.bernoulli_log_likelihood(x, logits), ref, rtol=1e-4)
    bce = optax.sigmoid_binary_cross_entropy(logits, x).sum(-1)
    np.testing.assert_allclose(losses.bernoulli_log_likelihood(x, logits), -bce, rtol=1e-5)


def test_bernoulli_log_likelihood_is_stable_for_extreme_logits():
    x = jnp.array([[1.0, 0.0]])
    out = losses.bernoulli_log_likelihood(x, jnp.array([[200.0, -200.0]]))
    np.testing.assert_allclose(out, [0.0], atol=1e-6)
    assert np.isfinite(float(losses.bernoulli_log_likelihood(x, jnp.array([[-200.0, 200.0]]))[0]))


def test_categorical_log_likelihood_matches_optax_and_scipy():
    logits = _rand((2, 5, 17), scale=2.0)
    x = jax.random.randint(jax.random.key(6), (2, 5), 0, 17)
    ref = -optax.softmax_cross_entropy_with_integer_labels(logits, x).sum(-1)
    np.testing.assert_allclose(losses.categorical_log_likelihood(x, logits), ref, rtol=1e-5)
    probs = np.asarray(jax.nn.softmax(logits.astype(jnp.float64) if jax.config.x64_enabled else logits))
    manual = np.log(np.take_along_axis(probs, np.asarray(x)[..., None], -1)[..., 0]).sum(-1)
    np.testing.assert_allclose(losses.categorical_log_likelihood(x, logits), manual, rtol=1e-4)


def test_gan_losses_match_optax_bce():
    r, f = _rand((8,), scale=2.0), _rand((8,), jax.random.key(7), 2.0)
    bce_real = optax.sigmoid_binary_cross_entropy(r, jnp.ones(8))
    bce_fake = optax.sigmoid_binary_cross_entropy(f, jnp.zeros(8))
    np.testing.assert_allclose(losses.discriminator_loss(r, f, "non_saturating"), bce_real + bce_fake, rtol=1e-5)
    np.testing.assert_allclose(losses.discriminator_loss(r, f, "minimax"), bce_real + bce_fake, rtol=1e-5)
    np.testing.assert_allclose(losses.gan_value(r, f), -(bce_real + bce_fake), rtol=1e-5)
    np.testing.assert_allclose(losses.generator_loss(f, "non_saturating"),
                               optax.sigmoid_binary_cross_entropy(f, jnp.ones(8)), rtol=1e-5)
    # saturating: log(1 - D(G(z)))
    np.testing.assert_allclose(losses.generator_loss(f, "minimax"), np.log1p(-np.asarray(jax.nn.sigmoid(f))),
                               rtol=1e-4, atol=1e-6)


def test_least_squares_losses():
    r, f = jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])
    np.testing.assert_allclose(losses.discriminator_loss(r, f, "least_squares"), [0.0, 1.0])
    np.testing.assert_allclose(losses.generator_loss(f, "least_squares"), [0.5, 0.0])


def test_saturating_gradient_vanishes_where_non_saturating_does_not():
    # Near D(G(z)) = 0 (very negative logit) the saturating loss has a tiny gradient.
    g_sat = jax.grad(lambda l: losses.generator_loss(l[None], "minimax")[0])(-8.0)
    g_ns = jax.grad(lambda l: losses.generator_loss(l[None], "non_saturating")[0])(-8.0)
    assert abs(float(g_sat)) < 1e-3 < 0.99 < abs(float(g_ns))


def test_logits_with_trailing_axis_are_accepted():
    r = _rand((6, 1))
    np.testing.assert_allclose(losses.generator_loss(r), losses.generator_loss(r[:, 0]))


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: losses.gaussian_kl(jnp.zeros((2, 3)), jnp.zeros((2, 4))), ValueError, "same shape"),
        (lambda: losses.gaussian_kl(jnp.zeros(3), jnp.zeros(3)), ValueError, "2 dimensions"),
        (lambda: losses.gaussian_kl([[0.0]], jnp.zeros((1, 1))), TypeError, "mu must be an array"),
        (lambda: losses.gaussian_kl(jnp.array([[jnp.nan]]), jnp.zeros((1, 1))), ValueError, "NaN"),
        (lambda: losses.categorical_log_likelihood(jnp.zeros((2, 3)), jnp.zeros((2, 3, 4))), TypeError, "integer"),
        (lambda: losses.categorical_log_likelihood(jnp.zeros((2, 3), int), jnp.zeros((2, 4, 4))), ValueError, "(B, D, K)"),
        (lambda: losses.generator_loss(jnp.zeros(3), "wasserstein"), ValueError, "unknown kind"),
        (lambda: losses.discriminator_loss(jnp.zeros(3), jnp.zeros(4)), ValueError, "same shape"),
        (lambda: losses.generator_loss(jnp.zeros((3, 2))), ValueError, "(B,) or (B, 1)"),
    ],
)
def test_bad_input_is_named(call, exc, words):
    with pytest.raises(exc, match=None) as info:
        call()
    assert words in str(info.value)
