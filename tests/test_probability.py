"""Tests for course_lib.lessons.distributions and course_lib.widgets.probability (02_probability)."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from course_lib.lessons import distributions as D
from course_lib.losses import gaussian_kl_between
from course_lib.widgets import probability as P

TWO_MODES = D.mixture([0.5, 0.5], [-2.0, 2.0], [0.6, 0.6])


def scipy_logpdf(p, x):
    return np.log(sum(w * stats.norm.pdf(x, m, s) for w, m, s in zip(p.weights, p.means, p.scales)))


def quad_kl(p, q):
    """KL(p || q) by adaptive quadrature with scipy (an independent reference)."""
    f = lambda x: math.exp(scipy_logpdf(p, x)) * (scipy_logpdf(p, x) - scipy_logpdf(q, x))  # noqa: E731
    lo = min(p.means - 12 * p.scales)
    hi = max(p.means + 12 * p.scales)
    return integrate.quad(f, lo, hi, limit=400, points=list(p.means))[0]


# --------------------------------------------------------------------------- mixtures


def test_mixture_normalises_weights_and_validates():
    p = D.mixture([1.0, 3.0], [0.0, 1.0], [1.0, 2.0])
    np.testing.assert_allclose(p.weights, [0.25, 0.75])
    with pytest.raises(ValueError, match="weights must be >= 0"):
        D.mixture([-0.1, 1.0], [0, 1], [1, 1])
    with pytest.raises(ValueError, match="must not all be zero"):
        D.mixture([0.0, 0.0], [0, 1], [1, 1])
    with pytest.raises(ValueError, match="scales must be > 0"):
        D.mixture([1.0, 1.0], [0, 1], [1, 0])
    with pytest.raises(ValueError, match="same length"):
        D.mixture([1.0, 1.0], [0, 1, 2], [1, 1])
    with pytest.raises(TypeError, match="weights must be an array"):
        D.mixture("1, 2", [0, 1], [1, 1])
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        D.gaussian(0.0, -1.0)
    with pytest.raises(TypeError, match="p must be a Mixture1D"):
        D.log_density((1.0, 0.0, 1.0), np.zeros(3))


def test_log_density_matches_scipy_and_integrates_to_one():
    p = D.mixture([0.2, 0.5, 0.3], [-3.0, 0.0, 2.5], [0.4, 1.0, 0.2])
    x = np.linspace(-8, 8, 4001)
    got = np.asarray(D.log_density(p, x), np.float64)
    np.testing.assert_allclose(got, scipy_logpdf(p, x), rtol=1e-4, atol=1e-4)
    assert abs(integrate.trapezoid(np.exp(got), x) - 1.0) < 1e-4


def test_zero_weight_component_is_ignored():
    p = D.mixture([1.0, 0.0], [0.0, 5.0], [1.0, 1e-3])
    x = np.array([-1.0, 0.0, 5.0])
    np.testing.assert_allclose(np.asarray(D.log_density(p, x)), stats.norm.logpdf(x), rtol=1e-5)
    assert float(D.kl_divergence(p, D.gaussian(0.0, 1.0))) == pytest.approx(0.0, abs=1e-5)


def test_samples_follow_moments():
    p = D.mixture([0.3, 0.7], [-1.0, 2.0], [0.5, 1.5])
    x = np.asarray(D.sample(p, jax.random.key(0), 40_000), np.float64)
    mean, var = D.moments(p)
    assert mean == pytest.approx(0.3 * -1 + 0.7 * 2)
    assert abs(x.mean() - mean) < 4 * math.sqrt(var / x.size)
    assert abs(x.var() - var) < 0.06 * var
    np.testing.assert_array_equal(x, np.asarray(D.sample(p, jax.random.key(0), 40_000)))  # same key
    with pytest.raises(TypeError, match="key"):
        D.sample(p, 0, 10)


def test_expectation_reproduces_moments():
    p = D.mixture([0.3, 0.7], [-1.0, 2.0], [0.5, 1.5])
    mean, var = D.moments(p)
    assert float(D.expectation(p, lambda x: x)) == pytest.approx(mean, abs=1e-5)
    assert float(D.expectation(p, lambda x: x**2)) == pytest.approx(var + mean**2, rel=1e-5)
    with pytest.raises(TypeError, match="fn must be a function"):
        D.expectation(p, 3.0)


# --------------------------------------------------------------------------- divergences


@pytest.mark.parametrize("q_params,p_params", [((0.0, 1.0), (0.0, 1.0)), ((1.0, 2.0), (0.5, 0.7)),
                                               ((-1.0, 0.3), (2.0, 3.0))])
def test_gaussian_kl_matches_closed_form(q_params, p_params):
    q, p = D.gaussian(*q_params), D.gaussian(*p_params)
    closed = gaussian_kl_between(jnp.array([[q_params[0]]]), jnp.array([[2 * math.log(q_params[1])]]),
                                 jnp.array([[p_params[0]]]), jnp.array([[2 * math.log(p_params[1])]]))[0]
    assert float(D.kl_divergence(q, p)) == pytest.approx(float(closed), abs=1e-4, rel=1e-4)


def test_mixture_kl_matches_scipy_quadrature_and_is_asymmetric():
    q = D.gaussian(0.5, 1.2)
    fwd, rev = float(D.kl_divergence(TWO_MODES, q)), float(D.kl_divergence(q, TWO_MODES))
    assert fwd == pytest.approx(quad_kl(TWO_MODES, q), abs=1e-4)
    assert rev == pytest.approx(quad_kl(q, TWO_MODES), abs=1e-4)
    assert abs(fwd - rev) > 0.1


def test_kl_monte_carlo_agrees():
    q = D.gaussian(0.5, 1.2)
    x = D.sample(TWO_MODES, jax.random.key(1), 40_000)
    terms = np.asarray(D.log_density(TWO_MODES, x) - D.log_density(q, x), np.float64)
    se = terms.std() / math.sqrt(terms.size)
    assert abs(terms.mean() - float(D.kl_divergence(TWO_MODES, q))) < 4 * se


def test_js_divergence_bounds_and_reference():
    p, q = D.gaussian(0.0, 1.0), D.gaussian(1.5, 0.7)
    js = float(D.js_divergence(p, q))
    m = D.mixture([0.5, 0.5], [0.0, 1.5], [1.0, 0.7])
    assert js == pytest.approx(0.5 * quad_kl(p, m) + 0.5 * quad_kl(q, m), abs=1e-4)
    assert js == pytest.approx(float(D.js_divergence(q, p)), abs=1e-6)  # symmetric
    assert float(D.js_divergence(p, p)) == pytest.approx(0.0, abs=1e-6)
    far = float(D.js_divergence(p, D.gaussian(40.0, 1.0)))
    assert far == pytest.approx(math.log(2), abs=1e-5) and far <= math.log(2) + 1e-6


# --------------------------------------------------------------------------- fitting one Gaussian


def test_forward_kl_optimum_is_moment_matching():
    mu, sigma = D.fit_forward_kl(TWO_MODES)
    assert mu == pytest.approx(0.0) and sigma == pytest.approx(math.sqrt(0.36 + 4.0))
    best = D.gaussian_fit_kl(TWO_MODES, mu, sigma, "forward")
    for dm, ds in ((0.1, 0), (-0.1, 0), (0, 0.1), (0, -0.1)):
        assert D.gaussian_fit_kl(TWO_MODES, mu + dm, sigma + ds, "forward") > best
    assert best == pytest.approx(float(D.kl_divergence(TWO_MODES, D.gaussian(mu, sigma))), abs=1e-5)


def test_reverse_kl_seeks_a_mode_or_a_wide_local_minimum():
    mu, sigma, hist = D.fit_reverse_kl(TWO_MODES, 1.0, 0.5)
    assert mu == pytest.approx(2.0, abs=0.05) and sigma == pytest.approx(0.6, abs=0.05)
    assert hist.shape == (400,) and hist[-1] < hist[0]
    at_mode = D.gaussian_fit_kl(TWO_MODES, mu, sigma, "reverse")
    assert at_mode == pytest.approx(float(D.kl_divergence(D.gaussian(mu, sigma), TWO_MODES)), abs=1e-5)
    assert at_mode == pytest.approx(math.log(2), abs=0.01)  # q covers one of two equal modes
    mu_w, sigma_w, _ = D.fit_reverse_kl(TWO_MODES, 0.0, 2.0)  # symmetric wide start
    assert abs(mu_w) < 1e-3 and 1.5 < sigma_w < 2.0
    assert D.gaussian_fit_kl(TWO_MODES, mu_w, sigma_w, "reverse") > at_mode + 0.3


def test_kl_landscape_agrees_with_pointwise_values():
    mus, sigmas = np.array([-2.0, 0.0, 1.0]), np.array([0.3, 1.0, 3.0])
    for direction in D.DIRECTIONS:
        grid = D.kl_landscape(TWO_MODES, mus, sigmas, direction)
        assert grid.shape == (3, 3)
        for i, s in enumerate(sigmas):
            for j, m in enumerate(mus):
                assert grid[i, j] == pytest.approx(D.gaussian_fit_kl(TWO_MODES, m, s, direction), rel=1e-3, abs=1e-3)
    with pytest.raises(ValueError, match="unknown direction"):
        D.kl_landscape(TWO_MODES, mus, sigmas, "sideways")
    with pytest.raises(ValueError, match="sigmas must all be > 0"):
        D.kl_landscape(TWO_MODES, mus, np.array([0.0, 1.0]), "forward")


# --------------------------------------------------------------------------- widgets


def test_em_fit_reaches_at_least_the_true_likelihood():
    x = P.mixture_data()
    assert x.shape == (P.NUM_DATA,)
    fit = D.em_fit(x)
    ll_fit = float(np.mean(scipy_logpdf(fit, x)))
    ll_true = float(np.mean(scipy_logpdf(P.HIDDEN_MIXTURE, x)))
    assert ll_fit >= ll_true - 1e-6  # maximum likelihood beats the generating parameters on its data
    np.testing.assert_allclose(np.sort(fit.means), P.HIDDEN_MIXTURE.means, atol=0.3)


def test_render_mixture_summary_matches_scipy():
    w, m, s = [0.3, 0.5, 0.2], [-2.0, 0.5, 3.0], [0.5, 0.8, 0.4]
    fig, summary = P.render_mixture(w, m, s, num_samples=500, seed=1)
    expected = np.mean(scipy_logpdf(D.mixture(w, m, s), P.mixture_data()))
    assert summary["log_likelihood"] == pytest.approx(expected, abs=1e-4)
    assert summary["em_log_likelihood"] >= summary["log_likelihood"] - 1e-6
    assert fig.axes and not summary["peak_clipped"]
    _, tiny = P.render_mixture([0.3, 0.0, 0.7], m, [0.5, 0.8, 1e-3], num_samples=500)
    assert tiny["peak_clipped"] and math.isfinite(tiny["log_likelihood"])
    with pytest.raises(ValueError, match="must not all be zero"):
        P.render_mixture([0.0, 0.0, 0.0], m, s)
    with pytest.raises(ValueError, match="num_samples must be at most"):
        P.render_mixture(w, m, s, num_samples=10**6)


def test_mixture_explorer_updates_and_reports_errors():
    panel = P.mixture_explorer(num_samples=200)
    first = panel.image.value
    assert "log-likelihood" in panel.status.text
    panel.controls["mean1"].value = -3.0
    assert panel.image.value != first and "log-likelihood" in panel.status.text
    panel.controls["weight1"].value = 0.0
    panel.controls["weight2"].value = 0.0  # one component left: still a valid mixture
    assert "log-likelihood" in panel.status.text
    shown = panel.image.value
    panel.controls["weight3"].value = 0.0
    assert "must not all be zero" in panel.status.text
    assert panel.image.value == shown  # the last good picture stays
    panel.controls["weight2"].value = 0.5
    assert "log-likelihood" in panel.status.text
    assert "Gaussian mixture explorer" in repr(panel)


def test_render_kl_values_and_extremes():
    fig, summary = P.render_kl(0.5, 1.0, "two equal modes")
    assert summary["forward_kl"] == pytest.approx(D.gaussian_fit_kl(TWO_MODES, 0.5, 1.0, "forward"), rel=1e-6)
    assert summary["reverse_kl"] == pytest.approx(D.gaussian_fit_kl(TWO_MODES, 0.5, 1.0, "reverse"), rel=1e-6)
    f_mu, f_sigma = summary["forward_opt"]
    assert f_mu == pytest.approx(0.0) and f_sigma == pytest.approx(math.sqrt(4.36))
    best = summary["reverse_minima"][0]
    assert abs(abs(best[0]) - 2.0) < 0.05 and best[2] < summary["reverse_kl"]
    # every reverse local minimum is found: one per mode and the wide one at N(0, 1.79^2) (KL 1.138)
    minima = sorted(summary["reverse_minima"])
    assert len(minima) == 3 and abs(minima[1][0]) < 0.01 and abs(minima[1][1] - 1.79) < 0.01
    assert minima[1][2] == pytest.approx(1.1384, abs=1e-3)
    assert len(fig.axes) == 5  # three panels and the two landscapes' colour bars
    assert len(fig.axes[2].get_legend().get_texts()) == 4  # q and the three minima
    fig, _ = P.render_kl(0.0, 1.0, "two equal modes", q_label="q = N(0, 1)")
    assert "q = N(0, 1)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    _, far = P.render_kl(30.0, 1e-3)
    assert far["off_grid"] and math.isfinite(far["forward_kl"]) and math.isfinite(far["reverse_kl"])
    with pytest.raises(ValueError, match="sigma must be at least"):
        P.render_kl(0.0, 1e-6)
    with pytest.raises(ValueError, match="unknown target"):
        P.render_kl(0.0, 1.0, "three modes")


def test_kl_explorer_drives():
    panel = P.kl_explorer()
    first = panel.image.value
    panel.controls["mu"].value = 2.0
    assert panel.image.value != first and "KL(q||p)" in panel.status.text
    panel.controls["sigma"].value = 0.001  # slider minimum: still a clear picture, no error
    assert "KL(p||q)" in panel.status.text
    assert set(panel.controls) == {"target", "mu", "sigma"}
