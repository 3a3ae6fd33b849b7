"""Tests for course_lib.evaluation.likelihood: exact linear-Gaussian answers against scipy,
the ELBO identity, and the importance-weighted estimate against exact log p(x)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy import special, stats

from course_lib import losses
from course_lib.evaluation import likelihood as lik
from course_lib.models import VAE
from course_lib.training import evaluate_vae

D, J, SIGMA = 5, 2, 0.5


@pytest.fixture(scope="module")
def lg():
    """A linear-Gaussian model with orthogonal columns (so the exact posterior is diagonal) and data."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(D, J)))
    w = (q * np.array([2.0, 0.7])).astype(np.float32)  # (D, J), W^T W = diag(4, 0.49)
    b = np.linspace(-0.5, 0.5, D).astype(np.float32)
    x = rng.normal(size=(6, D)).astype(np.float32)
    return jnp.asarray(w), jnp.asarray(b), jnp.asarray(x)


def scipy_log_marginal(x, w, b, sigma):
    w, b = np.asarray(w, np.float64), np.asarray(b, np.float64)
    return stats.multivariate_normal(b, w @ w.T + sigma**2 * np.eye(len(b))).logpdf(np.asarray(x, np.float64))


def test_log_marginal_matches_scipy(lg):
    w, b, x = lg
    got = lik.linear_gaussian_log_marginal(x, w, b, SIGMA)
    np.testing.assert_allclose(got, scipy_log_marginal(x, w, b, SIGMA), rtol=1e-5, atol=1e-4)


def test_posterior_matches_gaussian_conditioning():
    # A general (non-orthogonal) W; reference: condition the joint Gaussian of (z, x) on x.
    rng = np.random.default_rng(1)
    w = rng.normal(size=(4, 3))
    b = rng.normal(size=4)
    x = rng.normal(size=(3, 4))
    s_xx = w @ w.T + 0.3**2 * np.eye(4)
    gain = w.T @ np.linalg.inv(s_xx)  # Cov(z, x) Cov(x)^-1
    mean_ref = (x - b) @ gain.T
    cov_ref = np.eye(3) - gain @ w
    mean, cov = lik.linear_gaussian_posterior(jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32),
                                              jnp.asarray(b, jnp.float32), 0.3)
    np.testing.assert_allclose(mean, mean_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cov, cov_ref, rtol=1e-4, atol=1e-5)


def random_q(seed, n, j):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, j, j)) * 0.5
    cov = a @ np.transpose(a, (0, 2, 1)) + 0.1 * np.eye(j)
    return jnp.asarray(rng.normal(size=(n, j)), jnp.float32), jnp.asarray(cov, jnp.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_elbo_plus_kl_to_posterior_is_log_marginal(lg, seed):
    w, b, x = lg
    q_mu, q_cov = random_q(seed, x.shape[0], J)
    elbo = lik.linear_gaussian_elbo(x, w, b, SIGMA, q_mu, q_cov)
    post_mu, post_cov = lik.linear_gaussian_posterior(x, w, b, SIGMA)
    gap = lik.gaussian_kl_full(q_mu, q_cov, post_mu, post_cov)
    log_px = scipy_log_marginal(x, w, b, SIGMA)
    np.testing.assert_allclose(elbo + gap, log_px, rtol=1e-5, atol=2e-3)
    assert np.all(np.asarray(elbo) < log_px)  # a q that is not the posterior: strictly below
    # the exact posterior closes the gap
    exact = lik.linear_gaussian_elbo(x, w, b, SIGMA, post_mu, post_cov)
    np.testing.assert_allclose(exact, log_px, rtol=1e-5, atol=2e-3)


def test_closed_form_elbo_matches_monte_carlo(lg):
    w, b, x = lg
    q_mu, q_cov = random_q(3, x.shape[0], J)
    n = 50_000
    chol = np.linalg.cholesky(np.asarray(q_cov, np.float64))  # (N, J, J)
    eps = np.asarray(jax.random.normal(jax.random.key(0), (n, J)), np.float64)
    mc, se = [], []
    for i in range(x.shape[0]):
        z = np.asarray(q_mu[i], np.float64) + eps @ chol[i].T  # (n, J)
        log_lik = stats.multivariate_normal(np.zeros(D), SIGMA**2 * np.eye(D)).logpdf(
            np.asarray(x[i], np.float64) - z @ np.asarray(w, np.float64).T - np.asarray(b, np.float64))
        log_prior = stats.multivariate_normal(np.zeros(J), np.eye(J)).logpdf(z)
        log_q = stats.multivariate_normal(np.asarray(q_mu[i], np.float64), np.asarray(q_cov[i], np.float64)).logpdf(z)
        terms = log_lik + log_prior - log_q
        mc.append(np.mean(terms))
        se.append(np.std(terms) / np.sqrt(n))  # Monte-Carlo standard error
    diff = np.abs(np.asarray(lik.linear_gaussian_elbo(x, w, b, SIGMA, q_mu, q_cov)) - np.array(mc))
    assert np.all(diff < 4 * np.array(se) + 1e-3), (diff, se)


def test_full_kl_matches_diagonal_kl_and_is_zero_for_equal():
    mu_q, mu_p = jax.random.normal(jax.random.key(0), (2, 3, 4))
    lv_q, lv_p = 0.5 * jax.random.normal(jax.random.key(1), (2, 3, 4))
    diag = lambda lv: jax.vmap(jnp.diag)(jnp.exp(lv))  # noqa: E731
    got = lik.gaussian_kl_full(mu_q, diag(lv_q), mu_p, diag(lv_p))
    np.testing.assert_allclose(got, losses.gaussian_kl_between(mu_q, lv_q, mu_p, lv_p), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(lik.gaussian_kl_full(mu_q, diag(lv_q), mu_q, diag(lv_q)), 0.0, atol=1e-5)


def linear_vae(lg, posterior_scale=1.0):
    w, b, _ = lg
    model = VAE(D, J, (), likelihood="gaussian", rngs=nnx.Rngs(0))
    return lik.set_linear_gaussian(model, w, b, SIGMA, posterior_scale=posterior_scale)


def test_exact_posterior_gives_zero_variance_weights(lg):
    # log w = log p(x|z) + log p(z) - log q(z|x) equals log p(x) for every z when q is the
    # exact posterior: this checks all three terms of the weight at once.
    x = lg[2]
    log_w = lik.log_importance_weights(linear_vae(lg), x, jax.random.key(0), num_samples=20)
    assert log_w.shape == (x.shape[0], 20)
    np.testing.assert_allclose(log_w, np.repeat(scipy_log_marginal(x, *lg[:2], SIGMA)[:, None], 20, 1),
                               atol=1e-4)


def test_iwae_approaches_exact_log_marginal_and_beats_elbo(lg):
    x = lg[2]
    model = linear_vae(lg, posterior_scale=1.6)  # a deliberately too-wide q
    est = lik.estimate_log_likelihood(model, x, jax.random.key(1), num_samples=2000)
    exact = scipy_log_marginal(x, *lg[:2], SIGMA)
    assert np.all(est["elbo"] <= est["iwae"])  # Jensen, for every example
    assert np.all(est["elbo"] < exact - 0.1)
    np.testing.assert_allclose(est["iwae"], exact, atol=0.05)
    # the Monte-Carlo ELBO agrees with the closed form for this q
    w, b, _ = lg
    post_mu, post_cov = lik.linear_gaussian_posterior(x, w, b, SIGMA)
    np.testing.assert_allclose(est["elbo"], lik.linear_gaussian_elbo(x, w, b, SIGMA, post_mu, 1.6**2 * post_cov),
                               atol=0.1)


def test_iwae_bound_is_stable_log_mean_exp():
    log_w = np.asarray(jax.random.normal(jax.random.key(2), (3, 40)), np.float64) * 4 - 1000
    np.testing.assert_allclose(lik.iwae_bound(log_w), special.logsumexp(log_w, axis=1) - np.log(40), rtol=1e-12)


def test_bounds_by_k_increase_on_average(lg):
    model = linear_vae(lg, posterior_scale=2.0)
    log_w = lik.log_importance_weights(model, lg[2], jax.random.key(3), num_samples=1000)
    bounds = lik.iwae_bounds_by_k(log_w, (1, 10, 100, 1000))
    values = [bounds[k] for k in (1, 10, 100, 1000)]
    assert all(a < b for a, b in zip(values, values[1:])), bounds
    assert bounds[1] == pytest.approx(float(np.mean(log_w)))
    with pytest.raises(ValueError, match="divide"):
        lik.iwae_bounds_by_k(log_w, (3,))


@pytest.fixture(scope="module")
def digits_vae():
    model = VAE(64, 3, (16,), likelihood="categorical", num_levels=17, rngs=nnx.Rngs(0))
    x = np.asarray(jax.random.randint(jax.random.key(0), (13, 64), 0, 17), np.int32)
    return model, x


def test_categorical_weights_compile_once_and_match_elbo(digits_vae):
    model, x = digits_vae
    log_w = lik.log_importance_weights(model, x, jax.random.key(4), num_samples=250, batch_size=5, chunk_size=100)
    assert log_w.shape == (13, 250) and np.all(np.isfinite(log_w))
    graphdef = nnx.split(model, nnx.Param)[0]
    step = lik._log_weights_fn(graphdef, 50, 5)  # 250 samples in chunks of 50; 3 batches, the last padded
    assert step.num_traces == 1
    # the mean log-weight is the ELBO; compare with course_lib's one-sample ELBO over many repeats
    reference = -evaluate_vae(model, np.repeat(x, 200, axis=0), jax.random.key(5))["loss"]
    assert float(np.mean(log_w)) == pytest.approx(reference, abs=0.3)


def test_rate_distortion_matches_closed_form_kl_and_monte_carlo(digits_vae):
    model, x = digits_vae
    rd = lik.rate_distortion(model, x, jax.random.key(8), num_samples=200, batch_size=6)
    mu, logvar = model.encode(x)
    assert rd["rate"] == pytest.approx(float(np.mean(losses.gaussian_kl(mu, logvar))), rel=1e-5)
    # reference distortion: -log p(x|z) averaged over z = mu + sigma * eps, computed here directly
    eps = jax.random.normal(jax.random.key(9), (400,) + mu.shape)  # (S, N, J)
    z = (mu + jnp.exp(0.5 * logvar) * eps).reshape(-1, mu.shape[1])
    rec = -np.asarray(model.log_likelihood(jnp.tile(x, (400, 1)), model.decode(z)))  # (S*N,)
    se = np.std(rec) * np.sqrt(1 / rec.size + 1 / (200 * x.shape[0]))  # standard error of the difference
    assert abs(rd["distortion"] - rec.mean()) < 4 * se, (rd["distortion"], rec.mean(), se)
    assert rd["nelbo"] == pytest.approx(rd["rate"] + rd["distortion"])
    with pytest.raises(ValueError, match="num_samples must be an integer >= 1"):
        lik.rate_distortion(model, x, jax.random.key(0), num_samples=0)


def test_bernoulli_vae_estimate(digits_vae):
    model = VAE(64, 2, (8,), likelihood="bernoulli", rngs=nnx.Rngs(1))
    x = (np.asarray(digits_vae[1]) > 8).astype(np.float32)
    est = lik.estimate_log_likelihood(model, x, jax.random.key(6), num_samples=20)
    assert est["iwae"].shape == (13,) and np.all(est["elbo"] <= est["iwae"])


def test_active_units_counts_units_that_move():
    model = VAE(D, 3, (), likelihood="gaussian", rngs=nnx.Rngs(0))
    kernel = np.asarray(model.encoder.net.linear_0.kernel[...]).copy()
    kernel[:, 1] = 0.0  # unit 1's mean ignores x: a collapsed unit
    model.encoder.net.linear_0.kernel = nnx.Param(jnp.asarray(kernel))
    x = np.asarray(jax.random.normal(jax.random.key(7), (100, D)))
    activity = lik.active_units(model, x)
    mu = np.asarray(x @ kernel[:, :3] + np.asarray(model.encoder.net.linear_0.bias[...])[:3])
    np.testing.assert_allclose(activity, mu.var(axis=0), rtol=1e-4, atol=1e-7)
    assert activity[1] < 1e-10 and activity[0] > 0.01 and activity[2] > 0.01


def test_bad_inputs(lg, digits_vae):
    model, x = digits_vae
    key = jax.random.key(0)
    with pytest.raises(TypeError, match="course_lib.models.VAE"):
        lik.log_importance_weights(object(), x, key)
    with pytest.raises(ValueError, match=r"x must have shape \(\*, 64\)"):
        lik.log_importance_weights(model, x[:, :10], key)
    with pytest.raises(TypeError, match="integer dtype"):
        lik.log_importance_weights(model, x.astype(np.float32), key)
    with pytest.raises(ValueError, match="num_samples must be an integer >= 1"):
        lik.log_importance_weights(model, x, key, num_samples=0)
    with pytest.raises(ValueError, match="at most"):
        lik.log_importance_weights(model, x, key, num_samples=10**6)
    with pytest.raises(TypeError, match="random key"):
        lik.log_importance_weights(model, x, 0)
    w, b, _ = lg
    with pytest.raises(ValueError, match="orthogonal"):
        lik.set_linear_gaussian(VAE(D, J, (), likelihood="gaussian", rngs=nnx.Rngs(0)),
                                w + 0.5 * w[:, ::-1], b, SIGMA)
    with pytest.raises(ValueError, match="hidden=()"):
        lik.set_linear_gaussian(VAE(D, J, (4,), likelihood="gaussian", rngs=nnx.Rngs(0)), w, b, SIGMA)
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        lik.linear_gaussian_log_marginal(lg[2], w, b, 0.0)
    with pytest.raises(ValueError, match=r"b must have shape \(5,\)"):
        lik.linear_gaussian_log_marginal(lg[2], w, b[:3], SIGMA)
