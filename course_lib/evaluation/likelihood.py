"""How good is a VAE, in nats? The ELBO, the importance-weighted bound, rate and distortion,
active units, and exact answers for a linear-Gaussian model to check them against.

Taught in 04_vae.ipynb (sections 1-4 for the linear-Gaussian model, 7 for rate and
distortion, 8 for the importance-weighted bound, 9 for active units).

Importance sampling with the encoder as proposal (Burda, Grosse & Salakhutdinov, 2016):

    log w_k = log p(x | z_k) + log p(z_k) - log q(z_k | x),   z_k ~ q(z | x), k = 1..K
    L_K(x)  = log (1/K) sum_k w_k  <=  log p(x)   (in expectation)

The mean of log w_k over samples is the ELBO; ``E[L_K]`` increases with K and tends to
log p(x) as K -> infinity. For every draw, ``L_K >= mean_k log w_k`` (Jensen), so the
K-sample ELBO printed next to it is always below it. The functions are jitted once per
architecture (cached on the model's graphdef) and work for any course_lib VAE.

The linear-Gaussian model (probabilistic PCA, Tipping & Bishop, 1999)

    z ~ N(0, I_J),   x | z ~ N(W z + b, sigma^2 I_D)

has everything in closed form: p(x) = N(b, W W^T + sigma^2 I) and
p(z | x) = N(M^{-1} W^T (x - b), sigma^2 M^{-1}) with M = W^T W + sigma^2 I_J.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from course_lib import _validate
from course_lib.models.vae import VAE
from course_lib.training.core import CompiledStep

MAX_SAMPLES = 100_000
"""Largest K accepted by :func:`log_importance_weights` (memory grows as N * K)."""

_LOG_2PI = math.log(2 * math.pi)


# --------------------------------------------------------------------------- importance sampling


def _log_normal_diag(z, mu, logvar):
    """log N(z; mu, diag(exp(logvar))) summed over the last axis."""
    return -0.5 * jnp.sum(_LOG_2PI + logvar + (z - mu) ** 2 * jnp.exp(-logvar), axis=-1)


@functools.lru_cache(maxsize=32)
def _log_weights_fn(graphdef, chunk: int, num_chunks: int):
    """A compiled (params, x (B, D), key) -> log w (B, K) for one architecture (cached per graphdef)."""

    def one_chunk(params, x, key):
        model = nnx.merge(graphdef, params)
        mu, logvar = model.encode(x)  # (B, J) each
        b, j = mu.shape
        eps = jax.random.normal(key, (b, chunk, j))
        z = mu[:, None] + jnp.exp(0.5 * logvar)[:, None] * eps  # (B, C, J)
        x_rep = jnp.repeat(x, chunk, axis=0)  # (B*C, D), example-major like z.reshape below
        log_px_z = model.log_likelihood(x_rep, model.decode(z.reshape(b * chunk, j))).reshape(b, chunk)
        log_pz = _log_normal_diag(z, 0.0, 0.0)  # (B, C)
        log_qz = _log_normal_diag(z, mu[:, None], logvar[:, None])  # (B, C)
        return log_px_z + log_pz - log_qz  # (B, C)

    def fn(params, x, key):
        keys = jax.random.split(key, num_chunks)
        log_w = jax.lax.map(lambda k: one_chunk(params, x, k), keys)  # (num_chunks, B, C)
        return jnp.moveaxis(log_w, 0, 1).reshape(x.shape[0], chunk * num_chunks)  # (B, K)

    return CompiledStep(fn, name="iwae_log_weights")


def _largest_divisor_at_most(n: int, limit: int) -> int:
    for c in range(min(n, limit), 0, -1):
        if n % c == 0:
            return c
    return 1


def log_importance_weights(model: VAE, x, key, *, num_samples: int = 1000, batch_size: int = 50,
                           chunk_size: int = 100) -> np.ndarray:
    """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x) for K samples z_k ~ q(z|x) per example.

    Jitted and batched: examples go through in batches of ``batch_size`` (the last batch is
    padded, so the function compiles once per architecture and batch size) and the K samples
    in chunks of at most ``chunk_size``, which bounds memory at about
    batch_size * chunk_size decoder outputs.

    Args:
      model: any course_lib :class:`~course_lib.models.VAE`.
      x: (N, D) data in the model's convention (binary floats, integer levels, or reals).
      key: JAX random key.
      num_samples: K, samples per example (1 to 100,000).
      batch_size: examples per compiled call.
      chunk_size: samples per chunk inside a call.

    Returns:
      (N, K) float64 NumPy array of log-weights, in nats.
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_lib.models.VAE, got {type(model).__name__}")
    _validate.array("x", x, ndim=2, shape=(None, model.x_dim), dtype_kind="number")
    if model.likelihood == "categorical":
        _validate.array("x", x, dtype_kind="int")
    model._check_data("x", x)  # levels in 0..K-1, Bernoulli data in [0, 1]
    _validate.prng_key("key", key)
    num_samples = _validate.positive_int("num_samples", num_samples)
    if num_samples > MAX_SAMPLES:
        raise ValueError(f"num_samples must be at most {MAX_SAMPLES}, got {num_samples}")
    batch_size = _validate.positive_int("batch_size", batch_size)
    chunk_size = _validate.positive_int("chunk_size", chunk_size)
    chunk = _largest_divisor_at_most(num_samples, chunk_size)
    graphdef, params = nnx.split(model, nnx.Param)
    fn = _log_weights_fn(graphdef, chunk, num_samples // chunk)
    out = [np.asarray(fn(params, jnp.asarray(xb), jax.random.fold_in(key, i)), np.float64)[:m]
           for i, xb, m in _padded_batches(np.asarray(x), batch_size)]
    return np.concatenate(out)


def _check_log_weights(log_w) -> np.ndarray:
    _validate.array("log_w", log_w, ndim=2, dtype_kind="float", min_rows=1)
    if log_w.shape[1] == 0:
        raise ValueError(f"log_w must hold at least one log-weight per example (K >= 1), got shape {tuple(log_w.shape)}")
    return np.asarray(log_w, np.float64)


def _log_mean_exp(a: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.mean(np.exp(a - m), axis=axis))


def iwae_bound(log_w) -> np.ndarray:
    """L_K = log (1/K) sum_k exp(log w_k) per example, computed stably.   (04_vae, "Evaluation")

    Args:
      log_w: (N, K) log-weights from :func:`log_importance_weights`.

    Returns:
      (N,) estimates of log p(x), in nats (each a stochastic lower bound in expectation).
    """
    return _log_mean_exp(_check_log_weights(log_w), axis=1)


def iwae_bounds_by_k(log_w, ks) -> dict:
    """Mean L_k over examples for each k in ``ks``, from one (N, K) array of log-weights.

    Each k must divide K: the K samples are cut into K/k disjoint groups of k, L_k is
    computed on every group and averaged (an unbiased estimate of E[L_k] with lower
    variance than a single group).

    Returns:
      {k: mean over examples and groups of L_k} (floats, nats).
    """
    log_w = _check_log_weights(log_w)
    n, total = log_w.shape
    out = {}
    for k in ks:
        k = _validate.positive_int("k", k)
        if total % k:
            raise ValueError(f"each k must divide the number of samples K={total}, got k={k}")
        groups = log_w.reshape(n, total // k, k)  # (N, K/k, k)
        out[k] = float(np.mean(_log_mean_exp(groups, axis=2)))
    return out


def estimate_log_likelihood(model: VAE, x, key, *, num_samples: int = 1000, batch_size: int = 50) -> dict:
    """The ELBO and the importance-weighted estimate of log p(x) from the same K samples.

    Returns:
      dict of (N,) NumPy arrays in nats: ``elbo`` = mean_k log w_k (the ELBO, estimated with
      K samples) and ``iwae`` = L_K. ``iwae >= elbo`` holds for every example (Jensen).
    """
    log_w = log_importance_weights(model, x, key, num_samples=num_samples, batch_size=batch_size)
    return {"elbo": np.mean(log_w, axis=1), "iwae": iwae_bound(log_w)}


@functools.lru_cache(maxsize=32)
def _rate_distortion_fn(graphdef, num_samples: int):
    def fn(params, x, key):  # x (B, D) -> rate (B,), distortion (B,)
        model = nnx.merge(graphdef, params)
        mu, logvar = model.encode(x)  # (B, J)
        rate = 0.5 * jnp.sum(jnp.exp(logvar) + mu**2 - 1.0 - logvar, axis=-1)  # closed-form KL
        b, j = mu.shape
        eps = jax.random.normal(key, (b, num_samples, j))
        z = (mu[:, None] + jnp.exp(0.5 * logvar)[:, None] * eps).reshape(b * num_samples, j)
        log_px_z = model.log_likelihood(jnp.repeat(x, num_samples, axis=0), model.decode(z))
        return rate, -jnp.mean(log_px_z.reshape(b, num_samples), axis=1)

    return CompiledStep(fn, name="rate_distortion")


def rate_distortion(model: VAE, x, key, *, num_samples: int = 10, batch_size: int = 250) -> dict:
    """The two terms of the negative ELBO, averaged over ``x`` (Alemi et al., 2018).

    rate R = KL(q(z|x) || p(z)) (closed form), averaged over x: an upper bound on the nats the
    code carries about x, since E_x KL(q(z|x) || p(z)) = I_q(x; z) + KL(q(z) || p(z)) with
    q(z) = E_x q(z|x) the aggregate posterior (Hoffman & Johnson, 2016);
    distortion D = -E_q[log p(x|z)] (``num_samples`` z per image): how badly x is rebuilt.
    -ELBO = D + R; a beta-VAE minimises D + beta R, so a larger beta buys a lower rate
    with a higher distortion.                                    (04_vae, "Rate and distortion")

    Returns:
      dict of floats in nats per image: ``rate``, ``distortion``, ``nelbo`` (= their sum).
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_lib.models.VAE, got {type(model).__name__}")
    _validate.array("x", x, ndim=2, shape=(None, model.x_dim), dtype_kind="number")
    _validate.prng_key("key", key)
    num_samples = _validate.positive_int("num_samples", num_samples)
    batch_size = _validate.positive_int("batch_size", batch_size)
    graphdef, params = nnx.split(model, nnx.Param)
    fn = _rate_distortion_fn(graphdef, num_samples)
    rates, dists = [], []
    for i, xb, m in _padded_batches(np.asarray(x), batch_size):
        r, d = fn(params, jnp.asarray(xb), jax.random.fold_in(key, i))
        rates.append(np.asarray(r, np.float64)[:m])
        dists.append(np.asarray(d, np.float64)[:m])
    rate, dist = float(np.mean(np.concatenate(rates))), float(np.mean(np.concatenate(dists)))
    return {"rate": rate, "distortion": dist, "nelbo": rate + dist}


def _padded_batches(x: np.ndarray, batch_size: int):
    """Yield (index, batch padded to batch_size with copies of its first row, true size)."""
    n = x.shape[0]
    if n == 0:
        raise ValueError("x must contain at least one example, got shape (0, D)")
    batch_size = min(batch_size, n)
    for i, start in enumerate(range(0, n, batch_size)):
        xb = x[start : start + batch_size]
        m = xb.shape[0]
        if m < batch_size:  # padding keeps the shapes fixed, so the function compiles once
            xb = np.concatenate([xb, np.repeat(xb[:1], batch_size - m, axis=0)])
        yield i, xb, m


def active_units(model: VAE, x, *, threshold: float = 0.01, batch_size: int = 500) -> np.ndarray:
    """Activity of each latent unit, A_j = Var_x(E_q[z_j | x]) (Burda et al., 2016).

    A unit is *active* when A_j > threshold (0.01 in the paper): its posterior mean moves
    with the input. A collapsed unit has q(z_j|x) = p(z_j) for every x, so A_j = 0.

    Returns:
      (J,) NumPy array of activities; ``(active_units(...) > 0.01).sum()`` counts the active ones.
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_lib.models.VAE, got {type(model).__name__}")
    _validate.array("x", x, ndim=2, shape=(None, model.x_dim), dtype_kind="number", min_rows=1)
    model._check_data("x", x)
    _validate.positive_float("threshold", threshold)
    batch_size = _validate.positive_int("batch_size", batch_size)
    mus = [np.asarray(model.encode(jnp.asarray(x[s : s + batch_size]))[0]) for s in range(0, x.shape[0], batch_size)]
    return np.var(np.concatenate(mus), axis=0)


# --------------------------------------------------------------------------- linear-Gaussian model


def _check_linear_gaussian(w, b, sigma):
    _validate.array("W", w, ndim=2, dtype_kind="float")
    _validate.array("b", b, ndim=1, shape=(w.shape[0],), dtype_kind="float")
    sigma = _validate.positive_float("sigma", sigma)
    return jnp.asarray(w, jnp.float32), jnp.asarray(b, jnp.float32), sigma


def linear_gaussian_log_marginal(x, w, b, sigma) -> jax.Array:
    """Exact log p(x) = log N(x; b, W W^T + sigma^2 I) for the linear-Gaussian model.

    Args:
      x: (N, D) data; w: (D, J) loadings; b: (D,) offset; sigma: observation noise std.

    Returns:
      (N,) log-densities in nats.                      (04_vae, "A model we can solve")
    """
    w, b, sigma = _check_linear_gaussian(w, b, sigma)
    _validate.array("x", x, ndim=2, shape=(None, w.shape[0]), dtype_kind="float")
    d = w.shape[0]
    cov = w @ w.T + sigma**2 * jnp.eye(d)  # (D, D)
    chol = jnp.linalg.cholesky(cov)
    r = jax.scipy.linalg.solve_triangular(chol, (x - b).T, lower=True)  # (D, N)
    log_det = 2.0 * jnp.sum(jnp.log(jnp.diag(chol)))
    return -0.5 * (d * _LOG_2PI + log_det + jnp.sum(r**2, axis=0))


def linear_gaussian_posterior(x, w, b, sigma) -> tuple[jax.Array, jax.Array]:
    """Exact p(z | x) = N(M^{-1} W^T (x - b), sigma^2 M^{-1}), M = W^T W + sigma^2 I.

    Returns:
      (mean (N, J), cov (J, J)): the covariance does not depend on x.
    """
    w, b, sigma = _check_linear_gaussian(w, b, sigma)
    _validate.array("x", x, ndim=2, shape=(None, w.shape[0]), dtype_kind="float")
    m = w.T @ w + sigma**2 * jnp.eye(w.shape[1])  # (J, J)
    m_inv = jnp.linalg.inv(m)
    mean = (x - b) @ w @ m_inv  # (N, J); M^{-1} is symmetric
    return mean, sigma**2 * m_inv


def linear_gaussian_elbo(x, w, b, sigma, q_mu, q_cov) -> jax.Array:
    """Closed-form ELBO of q(z|x) = N(q_mu, q_cov) under the linear-Gaussian model.

    ELBO = E_q[log p(x|z)] - KL(q(z|x) || N(0, I)), with
    E_q[log p(x|z)] = log N(x; W q_mu + b, sigma^2 I) - tr(W^T W q_cov) / (2 sigma^2).

    Args:
      x: (N, D); q_mu: (N, J); q_cov: (J, J) or (N, J, J) positive definite.

    Returns:
      (N,) ELBO in nats.
    """
    w, b, sigma = _check_linear_gaussian(w, b, sigma)
    d, j = w.shape
    _validate.array("x", x, ndim=2, shape=(None, d), dtype_kind="float")
    _validate.array("q_mu", q_mu, ndim=2, shape=(x.shape[0], j), dtype_kind="float")
    _validate.array("q_cov", q_cov, dtype_kind="float")
    q_cov = jnp.broadcast_to(q_cov, (x.shape[0], j, j))
    resid = x - (q_mu @ w.T + b)  # (N, D)
    expected_ll = (-0.5 * d * (_LOG_2PI + 2.0 * math.log(sigma)) - 0.5 * jnp.sum(resid**2, axis=-1) / sigma**2
                   - 0.5 * jnp.einsum("jk,nkj->n", w.T @ w, q_cov) / sigma**2)
    kl = gaussian_kl_full(q_mu, q_cov, jnp.zeros_like(q_mu), jnp.eye(j))
    return expected_ll - kl


def gaussian_kl_full(mu_q, cov_q, mu_p, cov_p) -> jax.Array:
    """KL(N(mu_q, cov_q) || N(mu_p, cov_p)) for full covariances.

    KL = 1/2 [tr(S_p^{-1} S_q) + (mu_p - mu_q)^T S_p^{-1} (mu_p - mu_q) - J + log det S_p - log det S_q]

    Args:
      mu_q, mu_p: (N, J); cov_q, cov_p: (J, J) or (N, J, J).

    Returns:
      (N,) KL in nats.
    """
    for name, v in (("mu_q", mu_q), ("cov_q", cov_q), ("mu_p", mu_p), ("cov_p", cov_p)):
        _validate.array(name, v, dtype_kind="float")
    _validate.array("mu_q", mu_q, ndim=2)
    _validate.array("mu_p", mu_p, shape=tuple(mu_q.shape))
    n, j = mu_q.shape
    for name, cov in (("cov_q", cov_q), ("cov_p", cov_p)):
        if tuple(cov.shape) not in ((j, j), (n, j, j)):
            raise ValueError(f"{name} must have shape ({j}, {j}) or ({n}, {j}, {j}), got shape {tuple(cov.shape)}")
        if _validate._is_concrete(cov):
            for c in np.asarray(cov).reshape(-1, j, j):
                _validate.positive_definite(name, c, semi=False)
    cov_q = jnp.broadcast_to(cov_q, (n, j, j))
    cov_p = jnp.broadcast_to(cov_p, (n, j, j))
    p_inv = jnp.linalg.inv(cov_p)
    diff = mu_p - mu_q  # (N, J)
    trace = jnp.einsum("njk,nkj->n", p_inv, cov_q)
    quad = jnp.einsum("nj,njk,nk->n", diff, p_inv, diff)
    logdet_p = jnp.linalg.slogdet(cov_p)[1]
    logdet_q = jnp.linalg.slogdet(cov_q)[1]
    return 0.5 * (trace + quad - j + logdet_p - logdet_q)


def set_linear_gaussian(model: VAE, w, b, sigma, *, posterior_scale: float = 1.0) -> VAE:
    """Turn a linear course_lib VAE into the linear-Gaussian model, with its exact posterior.

    ``model`` must be ``VAE(D, J, hidden=(), likelihood="gaussian")``: its decoder is then
    one linear layer (mean W z + b) with a learned log-variance (set to log sigma^2), and
    its encoder one linear layer, set to mu(x) = M^{-1} W^T (x - b) and a constant
    logvar = log diag(sigma^2 M^{-1}). That is the exact posterior when W^T W is diagonal
    (orthogonal columns), which is required. ``posterior_scale`` multiplies the posterior
    standard deviations (1 = exact; other values give a deliberately wrong q).

    Returns:
      ``model``, updated in place.
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_lib.models.VAE, got {type(model).__name__}")
    if model.hidden != () or model.likelihood != "gaussian":
        raise ValueError("model must be VAE(D, J, hidden=(), likelihood='gaussian') to hold a linear-Gaussian "
                         f"model, got hidden={model.hidden}, likelihood={model.likelihood!r}")
    w, b, sigma = _check_linear_gaussian(w, b, sigma)
    if w.shape != (model.x_dim, model.z_dim):
        raise ValueError(f"W must have shape (x_dim, z_dim) = {(model.x_dim, model.z_dim)}, got {tuple(w.shape)}")
    posterior_scale = _validate.positive_float("posterior_scale", posterior_scale)
    wtw = np.asarray(w.T @ w, np.float64)
    off = wtw - np.diag(np.diag(wtw))
    if np.max(np.abs(off)) > 1e-4 * np.max(np.abs(wtw)):
        raise ValueError("W must have orthogonal columns (W^T W diagonal) so that the exact posterior "
                         "has a diagonal covariance that the encoder can represent")
    j = model.z_dim
    m_inv = 1.0 / (np.diag(wtw) + sigma**2)  # (J,) diagonal of M^{-1}
    enc_kernel = np.zeros((model.x_dim, 2 * j), np.float32)
    enc_kernel[:, :j] = np.asarray(w) * m_inv  # mu = (x - b) W M^{-1}
    enc_bias = np.zeros(2 * j, np.float32)
    enc_bias[:j] = -(np.asarray(b) @ np.asarray(w)) * m_inv
    enc_bias[j:] = np.log(sigma**2 * m_inv) + 2.0 * math.log(posterior_scale)
    enc, dec = model.encoder.net.linear_0, model.decoder.net.linear_0
    # New Param objects rather than in-place writes: works the same on Flax 0.11 and 0.12.
    enc.kernel = nnx.Param(jnp.asarray(enc_kernel))
    enc.bias = nnx.Param(jnp.asarray(enc_bias))
    dec.kernel = nnx.Param(jnp.asarray(w.T))
    dec.bias = nnx.Param(jnp.asarray(b))
    model.decoder_logvar = nnx.Param(jnp.full((model.x_dim,), 2.0 * math.log(sigma), jnp.float32))
    return model
