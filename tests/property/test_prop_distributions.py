"""Properties of course_lib.distributions and course_lib.lessons.games."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings, strategies as st

from course_lib.lessons import distributions as P
from course_lib.lessons import games as G
from course_lib.training import DivergenceError
from prop_harness import (BAD_COUNTS, BAD_FINITE_FLOATS, BAD_KEYS, BAD_POSITIVE_FLOATS, BAD_STRINGS,
                          covers, finite, good, key, refused)

MIX = st.integers(1, 3).flatmap(lambda k: st.tuples(
    st.lists(st.floats(0.1, 1.0), min_size=k, max_size=k),
    st.lists(st.floats(-3, 3), min_size=k, max_size=k),
    st.lists(st.floats(0.2, 2.0), min_size=k, max_size=k)))


@covers("course_lib.lessons.distributions.mixture", "course_lib.lessons.distributions.gaussian",
        "course_lib.lessons.distributions.Mixture1D", "course_lib.lessons.distributions.log_density",
        "course_lib.lessons.distributions.sample", "course_lib.lessons.distributions.moments",
        "course_lib.lessons.distributions.expectation", "course_lib.lessons.distributions.kl_divergence",
        "course_lib.lessons.distributions.js_divergence", "course_lib.lessons.distributions.fit_forward_kl",
        "course_lib.lessons.distributions.gaussian_fit_kl", "course_lib.lessons.distributions.kl_landscape")
@given(mix=MIX, n=st.integers(1, 50), mu=st.floats(-2, 2), sigma=st.floats(0.3, 2))
@settings(max_examples=4)
def test_distributions_valid(mix, n, mu, sigma):
    p = P.mixture(*mix)
    assert isinstance(p, P.Mixture1D)
    q = P.gaussian(mu, sigma)
    x = finite(P.sample(p, key(), n), (n,))
    finite(P.log_density(p, x), (n,))
    mean, var = P.moments(p)
    assert math.isfinite(mean) and var > 0
    assert abs(float(P.expectation(p, lambda t: t)) - mean) < 1e-3
    assert float(P.kl_divergence(p, q)) >= -1e-4 and 0 <= float(P.js_divergence(p, q)) <= math.log(2) + 1e-4
    m, s = P.fit_forward_kl(p)
    assert math.isclose(m, mean, abs_tol=1e-6)
    assert P.gaussian_fit_kl(p, m, s, "forward") <= P.gaussian_fit_kl(p, m + 0.5, s, "forward") + 1e-6
    finite(P.kl_landscape(p, np.linspace(-1, 1, 3), np.array([0.5, 1.0]), "reverse"), (2, 3))


@given(bad=st.sampled_from([(["a"], [0.0], [1.0], "weights"), ([1.0], [0.0], [0.0], "scales"),
                            ([-1.0, 2.0], [0.0, 1.0], [1.0, 1.0], "weights"), ([], [], [], "weights"),
                            ([1.0], [math.nan], [1.0], "means"), ([1.0, 1.0], [0.0], [1.0], "weights"),
                            (None, [0.0], [1.0], "weights"), ([0.0], [0.0], [1.0], "weights")]))
def test_mixture_bad(bad):
    refused(P.mixture, bad[3], *bad[:3])


@given(bad_key=BAD_KEYS, bad_n=BAD_COUNTS, bad_s=BAD_POSITIVE_FLOATS, bad_dir=BAD_STRINGS)
def test_distribution_functions_bad(bad_key, bad_n, bad_s, bad_dir):
    p = P.gaussian(0.0, 1.0)
    refused(P.sample, "key", p, bad_key, 4)
    refused(P.sample, "num_samples", p, key(), bad_n)
    refused(P.sample, "p", "p", key(), 4)
    refused(P.gaussian, "sigma", 0.0, bad_s)
    refused(P.gaussian_fit_kl, "direction", p, 0.0, 1.0, bad_dir)
    refused(P.gaussian_fit_kl, "sigma", p, 0.0, bad_s, "forward")
    refused(P.kl_divergence, "q", p, None)
    refused(P.expectation, "fn", p, None)
    refused(P.log_density, "x", p, "x")
    refused(P.kl_landscape, "sigmas", p, np.zeros(3), np.array([-1.0]), "forward")
    refused(P.kl_landscape, ("mus", "sigmas"), p, np.zeros(2000), np.ones(2000), "forward")
    refused(P.fit_reverse_kl, "num_steps", p, 0.0, 1.0, num_steps=bad_n)


@covers("course_lib.lessons.distributions.fit_reverse_kl")
@given(mu0=st.floats(-2, 2), sigma0=st.floats(0.3, 2))
@settings(max_examples=2)
def test_fit_reverse_kl(mu0, sigma0):
    p = P.mixture([0.5, 0.5], [-2.0, 2.0], [0.5, 0.5])
    mu, sigma, hist = P.fit_reverse_kl(p, mu0, sigma0, num_steps=50)
    finite(hist, (50,))
    assert hist[-1] <= hist[0] + 1e-4


def test_fit_reverse_kl_divergence_is_an_error():
    p = P.mixture([0.5, 0.5], [-2.0, 2.0], [0.05, 0.05])
    try:
        out = P.fit_reverse_kl(p, 0.0, 0.001, lr=1e30, num_steps=20)
    except DivergenceError as err:
        assert "lr" in str(err)
    else:
        assert np.all(np.isfinite(out[2])) and math.isfinite(out[0]) and math.isfinite(out[1])


@covers("course_lib.lessons.games.bilinear_play", "course_lib.lessons.games.radius", "course_lib.lessons.games.alternating_invariant")
@given(x0=st.floats(-2, 2), y0=st.floats(-2, 2), lr=st.floats(0.01, 0.5), n=st.integers(1, 200),
       update=st.sampled_from(G.UPDATES))
def test_games_valid(x0, y0, lr, n, update):
    pts = finite(G.bilinear_play(x0, y0, lr, n, update), (n + 1, 2))
    finite(G.radius(pts), (n + 1,))
    q = finite(G.alternating_invariant(pts, lr), (n + 1,))
    if update == "alternating":
        assert np.allclose(q, q[0], atol=1e-6 * max(1.0, abs(q[0])))


@given(bad_lr=BAD_POSITIVE_FLOATS, bad_n=BAD_COUNTS, bad_x=BAD_FINITE_FLOATS)
def test_games_bad(bad_lr, bad_n, bad_x):
    refused(G.bilinear_play, "lr", 1.0, 0.0, bad_lr, 10)
    refused(G.bilinear_play, "num_steps", 1.0, 0.0, 0.1, bad_n)
    refused(G.bilinear_play, "x0", bad_x, 0.0, 0.1, 10)
    refused(G.bilinear_play, "update", 1.0, 0.0, 0.1, 10, "sideways")
    refused(G.radius, "points", np.zeros((3, 3)))
    refused(G.alternating_invariant, "lr", np.zeros((3, 2)), bad_lr)


def test_games_overflow_is_a_divergence_error():
    try:
        G.bilinear_play(1.0, 0.0, 1e6, 100_000)
    except DivergenceError as err:
        assert "lr" in str(err)
    else:
        raise AssertionError("overflow to infinity was returned silently")
    good()
