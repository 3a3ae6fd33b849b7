"""Miniature generative models, one per family, fitted to 2-D points in milliseconds.

Taught in 01_concepts.ipynb ("The families in miniature"). None of these is a deep
model; each keeps the one property that defines its family, so that the difference
between "a density you can evaluate" and "a sampler you can run" is visible:

- ``autoregressive``: p(x) = p(x1) p(x2 | x1), each factor a histogram. Exact density;
  sampling goes one coordinate after the other.
- ``latent_mixture``: a latent class z ~ Categorical(pi), then x | z ~ N(mu_z, Sigma_z)
  (a Gaussian mixture fitted by EM). Exact density p(x) = sum_z p(z) p(x | z).
- ``affine_flow``: x = mu + L z with z ~ N(0, I), an invertible map. Exact density by
  the change of variables log p(x) = log N(L^{-1}(x - mu); 0, I) - log |det L|.
  One linear layer cannot bend space: deep flows stack many nonlinear invertible layers.
- ``implicit``: a procedure with no formula for p(x): pick a data point and one of its
  nearest neighbours and return a random point on the segment between them. It stands
  in for a GAN generator: samples only.
- ``energy_langevin``: an energy E(x) = -log sum_i exp(-|x - x_i|^2 / (2 h^2)) known up
  to a constant, sampled by running Langevin dynamics x <- x - (eta/2) grad E(x) + sqrt(eta) eps
  for many steps (as energy-based and score-based diffusion models do): slow sampling.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from course_lib import _validate

FAMILIES = ("autoregressive", "latent_mixture", "affine_flow", "implicit", "energy_langevin")
"""Names accepted by :func:`fit_family`."""

FAMILY_TITLES = {
    "autoregressive": "autoregressive (histograms)",
    "latent_mixture": "latent variable (Gaussian mixture)",
    "affine_flow": "flow (one affine layer)",
    "implicit": "implicit sampler (no density)",
    "energy_langevin": "energy-based (Langevin sampling)",
}

NUM_BINS = 24  # histogram bins per axis of the autoregressive model
NUM_COMPONENTS = 10  # components of the latent mixture
NUM_NEIGHBOURS = 5  # neighbours the implicit sampler mixes
MAX_FIT_POINTS = 1000  # the implicit model keeps at most this many data points
MAX_ENERGY_POINTS = 400  # the energy is a sum over at most this many data points
LANGEVIN_STEPS = 60


@dataclasses.dataclass(frozen=True)
class FittedFamily:
    """A fitted miniature model.

    Attributes:
      name: one of :data:`FAMILIES`.
      sample: ``sample(key, num_samples) -> (N, 2)`` array.
      log_density: ``log_density(points (M, 2)) -> (M,)`` or None when the model has none.
      normalized: False when ``log_density`` is only known up to an additive constant.
    """

    name: str
    sample: Callable
    log_density: Callable | None
    normalized: bool = True

    @property
    def has_density(self) -> bool:
        return self.log_density is not None


def fit_family(name: str, x, *, seed: int = 0) -> FittedFamily:
    """Fit the miniature model of family ``name`` to points ``x`` (N, 2), N >= 20.

    ``seed`` fixes the random parts of fitting (EM initialisation, the data subset).
    """
    _validate.one_of("name", name, FAMILIES)
    _validate.array("x", x, ndim=2, shape=(None, 2), dtype_kind="number")
    x = np.asarray(x, np.float64)
    if x.shape[0] < 20:
        raise ValueError(f"x must have at least 20 points to fit a model, got {x.shape[0]}")
    seed = _validate.positive_int("seed", seed, minimum=0)
    return _FITTERS[name](x, seed)


# --------------------------------------------------------------------------- autoregressive


@functools.partial(jax.jit, static_argnames="n")
def _autoregressive_sample(key, log_p1, log_p2, e0, e1, width, n):
    k1, k2, ku = jax.random.split(key, 3)
    b1 = jax.random.categorical(k1, log_p1, shape=(n,))  # x1's bin
    b2 = jax.random.categorical(k2, log_p2[b1])  # x2's bin, given x1's bin
    u = jax.random.uniform(ku, (n, 2))  # uniform position inside the bins
    return jnp.stack([e0[b1], e1[b2]], axis=1) + u * width


def _fit_autoregressive(x, seed):
    del seed  # histograms have no randomness
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = 0.05 * (hi - lo) + 1e-3
    edges = [np.linspace(lo[d] - pad[d], hi[d] + pad[d], NUM_BINS + 1) for d in range(2)]
    width = np.array([e[1] - e[0] for e in edges])
    i1 = np.clip(np.digitize(x[:, 0], edges[0]) - 1, 0, NUM_BINS - 1)
    i2 = np.clip(np.digitize(x[:, 1], edges[1]) - 1, 0, NUM_BINS - 1)
    counts = np.zeros((NUM_BINS, NUM_BINS))
    np.add.at(counts, (i1, i2), 1.0)
    # p(x1 bin) and p(x2 bin | x1 bin), with a small pseudo-count so no conditional is empty.
    p1 = counts.sum(axis=1) / counts.sum()
    p2_given_1 = (counts + 0.01) / (counts + 0.01).sum(axis=1, keepdims=True)
    log_p1, log_p2 = jnp.log(jnp.asarray(p1 + 1e-30)), jnp.log(jnp.asarray(p2_given_1))
    e0, e1 = jnp.asarray(edges[0][:-1]), jnp.asarray(edges[1][:-1])

    def sample(key, n):
        return np.asarray(_autoregressive_sample(key, log_p1, log_p2, e0, e1, jnp.asarray(width), n))

    def log_density(points):
        points = np.asarray(points, np.float64)
        j1 = np.floor((points[:, 0] - edges[0][0]) / width[0]).astype(int)
        j2 = np.floor((points[:, 1] - edges[1][0]) / width[1]).astype(int)
        inside = (j1 >= 0) & (j1 < NUM_BINS) & (j2 >= 0) & (j2 < NUM_BINS)
        j1, j2 = np.clip(j1, 0, NUM_BINS - 1), np.clip(j2, 0, NUM_BINS - 1)
        with np.errstate(divide="ignore"):
            # density = P(bin1) / width1 * P(bin2 | bin1) / width2
            logp = np.log(p1[j1]) + np.log(p2_given_1[j1, j2]) - np.log(width).sum()
        return np.where(inside, logp, -np.inf)

    return FittedFamily("autoregressive", sample, log_density)


# --------------------------------------------------------------------------- latent mixture


@functools.partial(jax.jit, static_argnames="n")
def _mixture_sample(key, weights, means, chol, n):
    kz, ke = jax.random.split(key)
    z = jax.random.choice(kz, weights.shape[0], (n,), p=weights)  # the latent class
    eps = jax.random.normal(ke, (n, 2))
    return means[z] + jnp.einsum("nij,nj->ni", chol[z], eps)  # x | z ~ N(mu_z, L_z L_z^T)


def _fit_latent_mixture(x, seed):
    from sklearn.mixture import GaussianMixture

    k = min(NUM_COMPONENTS, x.shape[0] // 10)
    gmm = GaussianMixture(n_components=k, covariance_type="full", random_state=seed, max_iter=50,
                          reg_covar=1e-4, init_params="k-means++").fit(x)
    weights = jnp.asarray(gmm.weights_)
    means = jnp.asarray(gmm.means_)
    chol = jnp.asarray(np.linalg.cholesky(gmm.covariances_))  # (K, 2, 2)

    def sample(key, n):
        return np.asarray(_mixture_sample(key, weights, means, chol, n))

    return FittedFamily("latent_mixture", sample, lambda pts: gmm.score_samples(np.asarray(pts, np.float64)))


# --------------------------------------------------------------------------- affine flow


@functools.partial(jax.jit, static_argnames="n")
def _standard_normal(key, n):
    return jax.random.normal(key, (n, 2))


def _fit_affine_flow(x, seed):
    del seed
    mu = x.mean(axis=0)
    chol = np.linalg.cholesky(np.cov(x.T, bias=True) + 1e-9 * np.eye(2))  # L with L L^T = Sigma
    log_det = float(np.sum(np.log(np.diag(chol))))

    def sample(key, n):
        z = np.asarray(_standard_normal(key, n), np.float64)
        return mu + z @ chol.T  # x = mu + L z

    def log_density(points):
        z = np.linalg.solve(chol, (np.asarray(points, np.float64) - mu).T).T  # z = L^{-1}(x - mu)
        return -0.5 * np.sum(z**2, axis=1) - math.log(2 * math.pi) - log_det

    return FittedFamily("affine_flow", sample, log_density)


# --------------------------------------------------------------------------- implicit


def _subset(x, seed, size):
    if x.shape[0] <= size:
        return x
    idx = np.random.default_rng(seed).choice(x.shape[0], size, replace=False)
    return x[idx]


@functools.partial(jax.jit, static_argnames="n")
def _neighbour_mix(key, x, neighbours, n):
    ka, kb, kt = jax.random.split(key, 3)
    a = jax.random.randint(ka, (n,), 0, x.shape[0])  # a random data point
    b = neighbours[a, jax.random.randint(kb, (n,), 0, neighbours.shape[1])]  # one of its neighbours
    t = jax.random.uniform(kt, (n, 1))
    return x[a] + t * (x[b] - x[a])  # a random point on the segment between them


def _fit_implicit(x, seed):
    from sklearn.neighbors import NearestNeighbors

    x = _subset(x, seed, MAX_FIT_POINTS)
    _, idx = NearestNeighbors(n_neighbors=NUM_NEIGHBOURS + 1).fit(x).kneighbors(x)
    neighbours = idx[:, 1:]  # (N, k): drop each point itself
    xj, nj = jnp.asarray(x), jnp.asarray(neighbours)

    def sample(key, n):
        return np.asarray(_neighbour_mix(key, xj, nj, n))

    return FittedFamily("implicit", sample, None)


# --------------------------------------------------------------------------- energy + Langevin


def _bandwidth(x) -> float:
    """Half of Scott's rule h = N^(-1/6) * std, which keeps thin structures visible."""
    return 0.5 * x.shape[0] ** (-1 / 6) * float(np.mean(x.std(axis=0)))


@functools.partial(jax.jit, static_argnames=("n", "num_steps"))
def _langevin(key, mu, std, data, h, n, num_steps):
    """Unadjusted Langevin dynamics on log p(x) = logsumexp_i -|x - x_i|^2 / (2 h^2) + const,
    started from broad Gaussian noise N(mu, diag(std^2))."""
    k0, key = jax.random.split(key)
    x0 = mu + std * jax.random.normal(k0, (n, 2))
    eta = 0.2 * h**2

    def score(x):  # grad log p(x) = sum_i softmax_i (x_i - x) / h^2
        d2 = jnp.sum((x[:, None, :] - data[None]) ** 2, axis=-1)  # (N, M)
        w = jax.nn.softmax(-d2 / (2 * h**2), axis=1)
        return (w @ data - x) / h**2

    def step(x, k):
        return x + 0.5 * eta * score(x) + jnp.sqrt(eta) * jax.random.normal(k, x.shape), None

    x, _ = jax.lax.scan(step, x0, jax.random.split(key, num_steps))
    return x


@jax.jit
def _neg_energy(points, data, h):
    """-E(x) = logsumexp_i -|x - x_i|^2 / (2 h^2), for (M, 2) points."""
    d2 = jnp.sum((points[:, None, :] - data[None]) ** 2, axis=-1)  # (M, N)
    return jax.scipy.special.logsumexp(-d2 / (2 * h**2), axis=1)


def _fit_energy(x, seed):
    x = _subset(x, seed, MAX_ENERGY_POINTS)
    h = _bandwidth(x)
    data = jnp.asarray(x, jnp.float32)
    mu, std = x.mean(axis=0), x.std(axis=0)

    def sample(key, n):
        return np.asarray(_langevin(key, jnp.asarray(mu, jnp.float32), jnp.asarray(std, jnp.float32), data,
                                    jnp.float32(h), n, LANGEVIN_STEPS))

    def unnormalized_log_density(points):  # -E(x)
        return np.asarray(_neg_energy(jnp.asarray(points, jnp.float32), data, jnp.float32(h)))

    return FittedFamily("energy_langevin", sample, unnormalized_log_density, normalized=False)


_FITTERS = {
    "autoregressive": _fit_autoregressive,
    "latent_mixture": _fit_latent_mixture,
    "affine_flow": _fit_affine_flow,
    "implicit": _fit_implicit,
    "energy_langevin": _fit_energy,
}

__all__ = ["FAMILIES", "FAMILY_TITLES", "FittedFamily", "fit_family"]
