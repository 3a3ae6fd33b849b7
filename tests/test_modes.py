"""Tests for course_lib.evaluation.modes: the mode-coverage protocol of 05_gan.ipynb."""
from __future__ import annotations

import jax
import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import cdist

from course_lib.data import sample_toy, toy_mixture
from course_lib.evaluation.modes import ModeCoverage, mode_coverage, nearest_mode

RING = {"radius": 1.0, "std": 0.01}
GRID = {"spacing": 2.0, "std": 0.05}


def test_nearest_mode_matches_scipy_cdist():
    rng = np.random.default_rng(0)
    x, means = rng.normal(size=(200, 2)), rng.normal(size=(7, 2))
    idx, dist = nearest_mode(x, means)
    d = cdist(x, means)
    np.testing.assert_array_equal(idx, np.argmin(d, axis=1))
    np.testing.assert_allclose(dist, np.min(d, axis=1), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name,params", [("ring", RING), ("grid", GRID)])
def test_true_samples_capture_every_mode_with_chi2_quality(name, params):
    mix = toy_mixture(name, **params)
    n = 20_000
    x = np.asarray(sample_toy(name, jax.random.key(3), n, **params))
    cov = mode_coverage(x, mix)
    assert cov.modes == cov.num_modes == len(mix.means)
    # ||x - m||^2 / std^2 ~ chi2(2) for a sample of the right mode: P(within 3 std) = chi2.cdf(9, 2).
    expected = stats.chi2.cdf(9.0, df=2)
    assert abs(cov.hq_fraction - expected) < 4 * np.sqrt(expected * (1 - expected) / n)
    assert cov.counts.sum() == round(cov.hq_fraction * n)
    # Equal weights and well-spread samples: the histogram is close to uniform, KL small.
    assert 0 <= cov.kl < 0.01


def test_collapsed_generator_scores_one_mode_and_log_k():
    mix = toy_mixture("ring", **RING)
    x = np.repeat(mix.means[3:4], 2500, axis=0) + 0.001
    cov = mode_coverage(x, mix)
    assert (cov.modes, cov.hq_fraction) == (1, 1.0)
    assert cov.kl == pytest.approx(np.log(8))
    assert isinstance(cov, ModeCoverage) and "modes=1/8" in repr(cov)


def test_threshold_is_three_std_and_min_count():
    mix = toy_mixture("grid", **GRID)
    m = mix.means[0]
    x = np.stack([m + [0.149, 0.0], m + [0.151, 0.0], mix.means[1] + [0.0, 0.01]])
    cov = mode_coverage(x, mix)
    np.testing.assert_array_equal(cov.counts[:2], [1, 1])
    assert cov.modes == 2 and cov.hq_fraction == pytest.approx(2 / 3)
    assert mode_coverage(x, mix, min_count=2).modes == 0
    assert mode_coverage(x, mix, num_std=4.0).hq_fraction == 1.0


def test_non_finite_samples_are_low_quality():
    mix = toy_mixture("ring", **RING)
    x = np.concatenate([mix.means[:2], [[np.nan, 0.0], [np.inf, 1.0]]])
    cov = mode_coverage(x, mix)
    assert cov.modes == 2 and cov.hq_fraction == 0.5


def test_no_high_quality_sample_gives_infinite_kl():
    cov = mode_coverage(np.full((5, 2), 10.0), toy_mixture("ring", **RING))
    assert cov.modes == 0 and cov.hq_fraction == 0.0 and cov.kl == np.inf


def test_bad_input_is_reported():
    mix = toy_mixture("ring", **RING)
    with pytest.raises(TypeError, match="mixture must be"):
        mode_coverage(np.zeros((3, 2)), "ring")
    with pytest.raises(ValueError, match="x must have shape"):
        mode_coverage(np.zeros((3, 3)), mix)
    with pytest.raises(ValueError, match="at least one sample"):
        mode_coverage(np.zeros((0, 2)), mix)
    with pytest.raises(ValueError, match="num_std"):
        mode_coverage(np.zeros((3, 2)), mix, num_std=-1.0)
    with pytest.raises(TypeError, match="x must be an array"):
        mode_coverage([[0.0, 0.0]], mix)
    with pytest.raises(ValueError, match="coordinates"):
        nearest_mode(np.zeros((2, 3)), np.zeros((4, 2)))
