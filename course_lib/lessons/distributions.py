"""One-dimensional Gaussian mixtures, divergences between them, and Gaussian fits.

Taught in 02_probability.ipynb (sections "Mixtures", "KL divergence", "Forward vs
reverse KL", "Jensen-Shannon divergence") and reused in 03_gradient_descent.ipynb
("Fitting a density by gradient ascent").

A mixture p(x) = sum_k pi_k N(x; mu_k, sigma_k^2) is a :class:`Mixture1D`; a single
Gaussian is a mixture with one component. Expectations under a mixture are computed
component by component on a fine grid in standard units (the trapezoid rule):

    E_p[f(x)] = sum_k pi_k E_{eps ~ N(0,1)}[f(mu_k + sigma_k eps)]
              ~ sum_k pi_k sum_i w_i f(mu_k + sigma_k t_i),   t_i on [-9, 9], w_i = phi(t_i) dt

which is deterministic and differentiable, so KL and JS divergences can be minimised
with ``jax.grad``. (Gauss-Hermite rules converge slowly here: log p of a bimodal
mixture bends sharply between the modes.) Tests compare these against scipy
densities, an independent fine grid and Monte Carlo.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from course_lib import _validate

NUM_NODES = 1201
"""Grid points per mixture component used by :func:`expectation`."""
_GRID_HALF_WIDTH = 9.0  # standard deviations each side; the mass outside is below 1e-18

_LOG_2PI = math.log(2 * math.pi)


class Mixture1D(NamedTuple):
    """p(x) = sum_k weights[k] * N(x; means[k], scales[k]^2). All fields have shape (K,)."""

    weights: np.ndarray  # (K,) >= 0, sums to 1
    means: np.ndarray  # (K,)
    scales: np.ndarray  # (K,) standard deviations, > 0


def _vector(name: str, value) -> np.ndarray:
    if isinstance(value, (list, tuple)):
        try:
            value = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a list or array of numbers, got {value!r:.60}") from None
    _validate.array(name, value, ndim=1, dtype_kind="number")
    if value.shape[0] == 0:
        raise ValueError(f"{name} must have at least one entry, got an empty array")
    return np.asarray(value, dtype=np.float64)


def mixture(weights, means, scales) -> Mixture1D:
    """Build a validated 1-D Gaussian mixture; ``weights`` are normalised to sum to 1.

    Args:
      weights: (K,) non-negative numbers, not all zero (a list or an array).
      means: (K,) component means.
      scales: (K,) component standard deviations, each > 0.

    Raises:
      ValueError naming the argument when shapes differ, a weight is negative, all
      weights are zero, or a scale is not > 0.
    """
    w, m, s = _vector("weights", weights), _vector("means", means), _vector("scales", scales)
    if not (w.shape == m.shape == s.shape):
        raise ValueError(
            f"weights, means and scales must have the same length, got {w.shape[0]}, {m.shape[0]} and {s.shape[0]}"
        )
    if np.any(w < 0):
        raise ValueError(f"weights must be >= 0, got {np.round(w, 4).tolist()}")
    if w.sum() <= 0:
        raise ValueError("weights must not all be zero: at least one component needs a positive weight")
    if np.any(s <= 0):
        raise ValueError(f"scales must be > 0 (they are standard deviations), got {np.round(s, 6).tolist()}")
    return Mixture1D(w / w.sum(), m, s)


def gaussian(mu, sigma) -> Mixture1D:
    """N(mu, sigma^2) as a one-component :class:`Mixture1D`."""
    _validate.real_in_range("mu", mu, -math.inf, math.inf)
    sigma = _validate.positive_float("sigma", sigma)
    return Mixture1D(np.ones(1), np.array([float(mu)]), np.array([sigma]))


def _check_mixture(name: str, p) -> None:
    if not isinstance(p, Mixture1D):
        raise TypeError(
            f"{name} must be a Mixture1D (use distributions.mixture(...) or distributions.gaussian(...)), "
            f"got {type(p).__name__}"
        )


def _log_density(p: Mixture1D, x):
    """log p(x) for any shape of x (no validation; usable inside jit)."""
    x = jnp.asarray(x)[..., None]  # (..., 1) against (K,)
    means, scales = jnp.asarray(p.means, x.dtype), jnp.asarray(p.scales, x.dtype)
    log_n = -0.5 * ((x - means) / scales) ** 2 - jnp.log(scales) - 0.5 * _LOG_2PI  # (..., K)
    return jax.scipy.special.logsumexp(log_n + jnp.log(jnp.asarray(p.weights, x.dtype)), axis=-1)


def log_density(p: Mixture1D, x) -> jax.Array:
    """log p(x) = logsumexp_k [log pi_k + log N(x; mu_k, sigma_k^2)]        (02, "Mixtures")

    Args:
      p: a :class:`Mixture1D`.
      x: (N,) points.

    Returns:
      (N,) log-densities.
    """
    _check_mixture("p", p)
    _validate.array("x", x, dtype_kind="number")
    return _log_density_jit(_as_jax(p), jnp.asarray(x, jnp.float32))


def sample(p: Mixture1D, key, num_samples: int) -> jax.Array:
    """Ancestral sampling: k ~ Categorical(pi), then x = mu_k + sigma_k * eps, eps ~ N(0, 1).

    Returns:
      (N,) float32 samples; the same key gives the same samples.
    """
    _check_mixture("p", p)
    _validate.prng_key("key", key)
    n = _validate.positive_int("num_samples", num_samples)
    return _sample(_as_jax(p), key, n)


@functools.partial(jax.jit, static_argnames="n")
def _sample(p, key, n):
    k_comp, k_eps = jax.random.split(key)
    k = jax.random.choice(k_comp, p.weights.shape[0], (n,), p=p.weights)  # the latent component
    eps = jax.random.normal(k_eps, (n,))
    return p.means[k] + p.scales[k] * eps


def moments(p: Mixture1D) -> tuple[float, float]:
    """Mean and variance of a mixture.

    E[x] = sum_k pi_k mu_k;  Var[x] = sum_k pi_k (sigma_k^2 + mu_k^2) - E[x]^2
    """
    _check_mixture("p", p)
    mean = float(np.sum(p.weights * p.means))
    var = float(np.sum(p.weights * (p.scales**2 + p.means**2)) - mean**2)
    return mean, var


@functools.lru_cache(maxsize=8)
def _nodes(num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Trapezoid nodes t_i and weights w_i with sum_i w_i f(t_i) ~ E_{N(0,1)}[f]."""
    t = np.linspace(-_GRID_HALF_WIDTH, _GRID_HALF_WIDTH, num_nodes)
    w = np.exp(-0.5 * t**2) / math.sqrt(2 * math.pi) * (t[1] - t[0])
    w[[0, -1]] *= 0.5
    return t, w


def _expectation(p: Mixture1D, fn, num_nodes: int = NUM_NODES):
    t, w = _nodes(num_nodes)
    x = jnp.asarray(p.means)[:, None] + jnp.asarray(p.scales)[:, None] * jnp.asarray(t, jnp.float32)  # (K, I)
    values = fn(x)  # (K, I)
    # A zero-weight component contributes nothing, even where fn is infinite.
    per_component = jnp.sum(jnp.asarray(w, jnp.float32) * values, axis=-1)
    return jnp.sum(jnp.where(jnp.asarray(p.weights) > 0, jnp.asarray(p.weights) * per_component, 0.0))


def expectation(p: Mixture1D, fn, num_nodes: int = NUM_NODES) -> jax.Array:
    """E_{x ~ p}[fn(x)] by quadrature (``fn`` maps an array of points elementwise)."""
    _check_mixture("p", p)
    if not callable(fn):
        raise TypeError(f"fn must be a function of an array of points, got {type(fn).__name__}")
    num_nodes = _validate.positive_int("num_nodes", num_nodes, minimum=2, maximum=10**5)
    _validate.callback("fn", fn, (jnp.zeros((2, 3), jnp.float32),), (2, 3),
                       signature="of an array of points, elementwise (same shape out)")
    return _expectation(p, fn, num_nodes)


@jax.jit
def _kl(p: Mixture1D, q: Mixture1D):
    return _expectation(p, lambda x: _log_density(p, x) - _log_density(q, x))


_log_density_jit = jax.jit(_log_density)


def kl_divergence(p: Mixture1D, q: Mixture1D) -> jax.Array:
    """KL(p || q) = E_{x ~ p}[log p(x) - log q(x)] >= 0, in nats.           (02, "KL divergence")

    Exact up to quadrature error (below 1e-4 for the course's examples); for two
    Gaussians it agrees with the closed form ``losses.gaussian_kl_between``.
    """
    _check_mixture("p", p)
    _check_mixture("q", q)
    return _kl(_as_jax(p), _as_jax(q))


def js_divergence(p: Mixture1D, q: Mixture1D) -> jax.Array:
    """Jensen-Shannon divergence, in nats; always between 0 and log 2.     (02, "Jensen-Shannon")

    JS(p, q) = 1/2 KL(p || m) + 1/2 KL(q || m),  with m = (p + q) / 2.

    The midpoint m of two mixtures is itself a mixture (all components, half weights).
    """
    _check_mixture("p", p)
    _check_mixture("q", q)
    return _js(_as_jax(p), _as_jax(q))


@jax.jit
def _js(p, q):
    m = Mixture1D(*(jnp.concatenate([a, b]) for a, b in zip(p, q)))
    m = m._replace(weights=m.weights / 2)
    return 0.5 * _kl(p, m) + 0.5 * _kl(q, m)


def fit_forward_kl(p: Mixture1D) -> tuple[float, float]:
    """The Gaussian q = N(mu, sigma^2) minimising the forward KL(p || q): moment matching.

    argmin_q KL(p || q) = argmax_q E_p[log q]  gives  mu = E_p[x], sigma^2 = Var_p[x].
    q covers every mode of p ("mass covering").                            (02, "Forward vs reverse KL")
    """
    mean, var = moments(p)
    return mean, math.sqrt(var)


DIRECTIONS = ("forward", "reverse")
"""``forward`` is KL(p || q) (data first); ``reverse`` is KL(q || p) (model first)."""


def gaussian_fit_kl(p: Mixture1D, mu, sigma, direction: str) -> float:
    """KL between the target mixture p and the Gaussian q = N(mu, sigma^2) in the given direction."""
    _check_mixture("p", p)
    _validate.one_of("direction", direction, DIRECTIONS)
    mu = _validate.real_in_range("mu", mu, -math.inf, math.inf)
    sigma = _validate.positive_float("sigma", sigma)
    return float(_kl_scalar(_as_jax(p), jnp.float32(mu), jnp.float32(math.log(sigma)), direction))


def kl_landscape(p: Mixture1D, mus, sigmas, direction: str) -> np.ndarray:
    """KL between p and N(mu, sigma^2) on a grid of (mu, sigma).

    Args:
      mus: (A,) means; sigmas: (S,) standard deviations (> 0).

    Returns:
      (S, A) array of KL values in nats (rows: sigma, columns: mu), ready for ``imshow``.
    """
    _check_mixture("p", p)
    _validate.one_of("direction", direction, DIRECTIONS)
    mus = _vector("mus", mus)
    sigmas = _vector("sigmas", sigmas)
    if mus.size * sigmas.size > 10**6:
        raise ValueError(f"mus and sigmas give a grid of {mus.size * sigmas.size:,} points, more than the "
                         "1,000,000 a picture needs (each point integrates over 241 nodes per component)")
    if np.any(sigmas <= 0):
        raise ValueError("sigmas must all be > 0")
    values = _landscape(_as_jax(p), jnp.asarray(mus, jnp.float32), jnp.log(jnp.asarray(sigmas, jnp.float32)),
                        direction)
    return np.asarray(values)


def _as_jax(p: Mixture1D) -> Mixture1D:
    return Mixture1D(*(jnp.asarray(v, jnp.float32) for v in p))


def _moments_jax(p: Mixture1D):
    mean = jnp.sum(p.weights * p.means)
    return mean, jnp.sum(p.weights * (p.scales**2 + p.means**2)) - mean**2


def _kl_to_gaussian(p: Mixture1D, mu, log_sigma, direction: str, num_nodes: int = NUM_NODES):
    """KL between p and q = N(mu, exp(log_sigma)^2), traceable in (p, mu, log_sigma)."""
    q = Mixture1D(jnp.ones(1), jnp.reshape(mu, (1,)), jnp.reshape(jnp.exp(log_sigma), (1,)))
    if direction == "reverse":
        # KL(q || p) = -H[q] - E_q[log p],  H[q] = 1/2 log(2 pi e sigma^2)
        entropy = 0.5 * (_LOG_2PI + 1.0) + log_sigma
        return -entropy - _expectation(q, lambda x: _log_density(p, x), num_nodes)
    # KL(p || q) = E_p[log p] - E_p[log q];  E_p[log q] = -1/2 log(2 pi sigma^2) - (Var_p + (E_p x - mu)^2) / (2 sigma^2)
    mean, var = _moments_jax(p)
    expected_log_q = -0.5 * _LOG_2PI - log_sigma - (var + (mean - mu) ** 2) / (2 * jnp.exp(2 * log_sigma))
    return _expectation(p, lambda x: _log_density(p, x), num_nodes) - expected_log_q


_kl_scalar = jax.jit(_kl_to_gaussian, static_argnames=("direction", "num_nodes"))

LANDSCAPE_NODES = 241
"""Grid points per component for :func:`kl_landscape` (a picture; errors stay below 1e-3 nats)."""


@functools.partial(jax.jit, static_argnames="direction")
def _landscape(p, mus, log_sigmas, direction):
    one = lambda m, ls: _kl_to_gaussian(p, m, ls, direction, LANDSCAPE_NODES)  # noqa: E731
    return jax.vmap(jax.vmap(one, in_axes=(0, None)), in_axes=(None, 0))(mus, log_sigmas)  # (S, A)


@functools.partial(jax.jit, static_argnames="num_steps")
def _reverse_fit(p, theta, lr, num_steps):
    opt = optax.adam(lr)

    def step(carry, _):
        theta, state = carry
        value, grad = jax.value_and_grad(lambda t: _kl_to_gaussian(p, t[0], t[1], "reverse"))(theta)
        updates, state = opt.update(grad, state)
        return (optax.apply_updates(theta, updates), state), value

    (theta, _), values = jax.lax.scan(step, (theta, opt.init(theta)), None, length=num_steps)
    return theta, values


def fit_reverse_kl(p: Mixture1D, mu0: float, sigma0: float, *, lr: float = 0.05,
                   num_steps: int = 400) -> tuple[float, float, np.ndarray]:
    """Minimise the reverse KL(q || p) over q = N(mu, sigma^2) with Adam on (mu, log sigma).

    The result depends on the start: q settles on one mode of p ("mode seeking"), or,
    from a wide start between modes, on a wide compromise (another local minimum).

    Returns:
      (mu, sigma, kl_history (num_steps,)).
    """
    _check_mixture("p", p)
    mu0 = _validate.real_in_range("mu0", mu0, -math.inf, math.inf)
    sigma0 = _validate.positive_float("sigma0", sigma0)
    lr = _validate.positive_float("lr", lr)
    num_steps = _validate.positive_int("num_steps", num_steps, maximum=100_000,
                                       why="each step integrates over 1,201 nodes; the fit converges in hundreds")
    theta0 = jnp.array([mu0, math.log(sigma0)], jnp.float32)
    theta, values = _reverse_fit(_as_jax(p), theta0, jnp.float32(lr), num_steps)
    if not (np.all(np.isfinite(np.asarray(values))) and bool(jnp.all(jnp.isfinite(theta)))):
        from course_lib.training.core import DivergenceError

        raise DivergenceError(
            f"the reverse-KL fit diverged (NaN or infinity) with lr={lr}: Adam's steps overshot. "
            "Try a smaller lr (0.05 works for the course's targets) or a start closer to a mode.")
    return float(theta[0]), float(jnp.exp(theta[1])), np.asarray(values)


def em_fit(x, num_components: int = 3, num_iters: int = 200, seed: int = 0) -> Mixture1D:
    """Maximum-likelihood 1-D Gaussian mixture by expectation-maximisation (Dempster et al. 1977).

    E-step: r_nk = pi_k N(x_n; mu_k, s_k^2) / sum_j pi_j N(x_n; mu_j, s_j^2)
    M-step: pi_k = mean_n r_nk;  mu_k = sum_n r_nk x_n / sum_n r_nk;  s_k^2 = sum_n r_nk (x_n - mu_k)^2 / sum_n r_nk
    """
    _validate.array("x", x, ndim=1, dtype_kind="number", min_rows=1)
    k = _validate.positive_int("num_components", num_components, maximum=100)
    num_iters = _validate.positive_int("num_iters", num_iters)
    x = np.asarray(x, np.float64)
    rng = np.random.default_rng(_validate.positive_int("seed", seed, minimum=0))
    means = np.sort(rng.choice(x, k, replace=False))
    scales = np.full(k, x.std())
    weights = np.full(k, 1.0 / k)
    for _ in range(num_iters):
        log_r = np.log(weights) - np.log(scales) - 0.5 * ((x[:, None] - means) / scales) ** 2  # (N, K)
        log_r -= log_r.max(axis=1, keepdims=True)
        r = np.exp(log_r)
        r /= r.sum(axis=1, keepdims=True)
        nk = r.sum(axis=0) + 1e-12
        weights = nk / x.shape[0]
        means = (r * x[:, None]).sum(axis=0) / nk
        scales = np.sqrt((r * (x[:, None] - means) ** 2).sum(axis=0) / nk) + 1e-6
    return mixture(weights, means, scales)


__all__ = ["em_fit", 
    "NUM_NODES", "DIRECTIONS", "Mixture1D", "mixture", "gaussian", "log_density", "sample",
    "moments", "expectation", "kl_divergence", "js_divergence", "fit_forward_kl", "fit_reverse_kl",
    "gaussian_fit_kl", "kl_landscape",
]
