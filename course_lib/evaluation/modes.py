"""Mode coverage: how many modes of a Gaussian mixture a generator reaches, and how precisely.

Taught in 05_gan.ipynb ("Mode collapse: measure it"). The protocol of the mode-collapse
literature (Srivastava et al., 2017, VEEGAN; Lin et al., 2018, PacGAN) on the ring of 8 and
the grid of 25 Gaussians:

- a generated sample is *high quality* if it lies within ``num_std`` (3) standard deviations
  of its nearest mode: min_k ||x - m_k|| <= num_std * std;
- a mode is *captured* if at least ``min_count`` (1) high-quality samples are nearest to it;
- the score of a generator is (modes captured, fraction of high-quality samples), usually on
  2,500 samples, and the reverse KL between the histogram of high-quality samples over the
  modes and the mixture weights, KL(q || w) = sum_k q_k log(q_k / w_k).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from course_lib import _validate
from course_lib.data.toy import GaussianMixture


class ModeCoverage(NamedTuple):
    """Result of :func:`mode_coverage`.

    modes: number of captured modes.
    num_modes: K, the number of modes of the mixture.
    hq_fraction: fraction of samples within num_std * std of their nearest mode.
    counts: (K,) high-quality samples per mode.
    kl: KL(q || w) between the high-quality histogram q and the weights w (inf if no hq sample).
    """

    modes: int
    num_modes: int
    hq_fraction: float
    counts: np.ndarray
    kl: float

    def __repr__(self) -> str:
        return (f"ModeCoverage(modes={self.modes}/{self.num_modes}, hq_fraction={self.hq_fraction:.3f}, "
                f"kl={self.kl:.3f})")


def nearest_mode(x, means) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest mode and the distance to it for every sample.

    Args:
      x: (N, D) samples; means: (K, D) mode centres.

    Returns:
      (index (N,) int, distance (N,) float).
    """
    _validate.array("x", x, ndim=2, dtype_kind="number", finite=False)
    _validate.array("means", means, ndim=2, dtype_kind="number")
    x = np.asarray(x, np.float64)
    means = np.asarray(means, np.float64)
    if x.shape[1] != means.shape[1]:
        raise ValueError(f"x has {x.shape[1]} coordinates per sample but means have {means.shape[1]}")
    # ||x - m||^2 = ||x||^2 - 2 x.m + ||m||^2, (N, K); clipped at 0 against rounding.
    d2 = np.sum(x**2, 1)[:, None] - 2 * x @ means.T + np.sum(means**2, 1)[None, :]
    idx = np.argmin(d2, axis=1)
    dist = np.sqrt(np.maximum(d2[np.arange(len(x)), idx], 0.0))
    return idx, dist


def mode_coverage(x, mixture: GaussianMixture, *, num_std: float = 3.0, min_count: int = 1) -> ModeCoverage:
    """Score samples ``x`` (N, 2) against the modes of ``mixture`` (see the module docstring).

    Samples that are NaN or infinite count as low quality.
    """
    if not isinstance(mixture, GaussianMixture):
        raise TypeError(f"mixture must be a course_lib.data.GaussianMixture (from toy_mixture), "
                        f"got {type(mixture).__name__}")
    num_std = _validate.positive_float("num_std", num_std)
    min_count = _validate.positive_int("min_count", min_count)
    _validate.array("x", x, ndim=2, shape=(None, mixture.means.shape[1]), dtype_kind="number", finite=False)
    if x.shape[0] == 0:
        raise ValueError("x must contain at least one sample, got 0")
    x = np.asarray(x, np.float64)
    finite = np.all(np.isfinite(x), axis=1)
    idx, dist = nearest_mode(np.where(finite[:, None], x, 0.0), mixture.means)
    hq = finite & (dist <= num_std * mixture.std)
    k = len(mixture.means)
    counts = np.bincount(idx[hq], minlength=k)
    weights = np.asarray(mixture.weights, np.float64)
    if counts.sum() == 0:
        kl = float("inf")
    else:
        q = counts / counts.sum()
        nz = q > 0
        kl = float(np.sum(q[nz] * np.log(q[nz] / weights[nz])))
    return ModeCoverage(int(np.sum(counts >= min_count)), k, float(np.mean(hq)), counts, kl)
