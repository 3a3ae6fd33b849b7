"""Tests for course_lib.lessons.families, course_lib.lessons.timeline and course_lib.widgets.concepts (01_concepts)."""
from __future__ import annotations

import math

import jax
import numpy as np
import pytest
from scipy import stats

from course_lib.lessons import families, timeline
from course_lib.widgets import concepts as C


N = C.MAX_SAMPLES  # sample sizes match the widget's, so compiled samplers are shared


@pytest.fixture(scope="module")
def moons():
    return C._data("moons", 0, "train")  # (1000, 2), the widget's training set


@pytest.fixture(scope="module")
def fitted(moons):
    return {name: families.fit_family(name, moons) for name in families.FAMILIES}


def test_every_family_samples_deterministically(fitted):
    for name, model in fitted.items():
        a = np.asarray(model.sample(jax.random.key(3), N))
        b = np.asarray(model.sample(jax.random.key(3), N))
        assert a.shape == (N, 2) and np.all(np.isfinite(a)), name
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, np.asarray(model.sample(jax.random.key(4), N))), name


def test_which_families_have_a_density(fitted):
    assert {n for n, m in fitted.items() if m.has_density} == {
        "autoregressive", "latent_mixture", "affine_flow", "energy_langevin"}
    assert fitted["implicit"].log_density is None
    assert not fitted["energy_langevin"].normalized
    assert all(fitted[n].normalized for n in ("autoregressive", "latent_mixture", "affine_flow"))


def _integral(log_density, lo=-5.0, hi=5.0, n=400):
    ticks = np.linspace(lo, hi, n)
    xx, yy = np.meshgrid(ticks, ticks)
    p = np.exp(log_density(np.stack([xx.ravel(), yy.ravel()], axis=1)))
    return float(p.sum() * (ticks[1] - ticks[0]) ** 2)


@pytest.mark.parametrize("name", ["autoregressive", "latent_mixture", "affine_flow"])
def test_normalised_densities_integrate_to_one(fitted, name):
    assert _integral(fitted[name].log_density) == pytest.approx(1.0, abs=0.02)


def test_affine_flow_density_is_the_fitted_gaussian(fitted, moons):
    pts = moons[:20]
    expected = stats.multivariate_normal(moons.mean(axis=0), np.cov(moons.T, bias=True)).logpdf(pts)
    np.testing.assert_allclose(fitted["affine_flow"].log_density(pts), expected, rtol=1e-6)


def test_autoregressive_density_is_a_product_of_histograms(fitted, moons):
    # Samples from p(x1) p(x2 | x1) reproduce the marginal of x1 of the data.
    s = np.asarray(fitted["autoregressive"].sample(jax.random.key(0), N))
    assert abs(s[:, 0].mean() - moons[:, 0].mean()) < 0.06
    assert abs(s[:, 0].std() - moons[:, 0].std()) < 0.06
    assert np.all(np.isneginf(fitted["autoregressive"].log_density(np.array([[50.0, 50.0]]))))


def test_samplers_land_near_the_data():
    ring = C._data("ring", 0, "train")
    for name in ("latent_mixture", "implicit", "energy_langevin"):
        s = np.asarray(families.fit_family(name, ring).sample(jax.random.key(0), N))
        radius = np.hypot(s[:, 0], s[:, 1])
        assert abs(np.median(radius) - 2.0) < 0.15, name  # the ring has radius 2
    flow = np.asarray(families.fit_family("affine_flow", ring).sample(jax.random.key(0), N))
    assert np.median(np.hypot(flow[:, 0], flow[:, 1])) < 1.9  # one Gaussian fills the hole


def test_fit_family_validates(moons):
    with pytest.raises(ValueError, match="unknown name 'gan'"):
        families.fit_family("gan", moons)
    with pytest.raises(ValueError, match="at least 20 points"):
        families.fit_family("affine_flow", moons[:5])
    with pytest.raises(ValueError, match=r"x must have shape \(\*, 2\)"):
        families.fit_family("affine_flow", np.zeros((30, 3)))
    with pytest.raises(TypeError, match="x must be an array"):
        families.fit_family("affine_flow", [[0.0, 1.0]] * 30)


def test_timeline_is_sorted_and_dates_are_right():
    years = [m.year for m in timeline.TIMELINE]
    assert years == sorted(years)
    by_name = {m.name: m.year for m in timeline.TIMELINE}
    assert by_name["Boltzmann machine"] == 1985
    assert by_name["Helmholtz machine (wake-sleep)"] == 1995
    assert by_name["Variational autoencoder"] == 2013
    assert by_name["Generative adversarial network"] == 2014
    assert by_name["DDPM"] == 2020
    assert by_name["Boltzmann machine, first presented"] == 1983
    assert by_name["Score-based generative model (NCSN)"] == 2019
    assert timeline.first_year("GAN") == 2014 and timeline.first_year("diffusion") == 2015
    assert timeline.first_year("energy-based") == 1983 and timeline.first_year("autoregressive") == 1992
    assert timeline.first_year("flow") == 2000
    assert by_name["Deep belief network"] == 2006
    assert {m.family for m in timeline.TIMELINE if m.name == "Deep belief network"} == {"hybrid"}
    assert not any("NeurIPS 2014" in m.reference for m in timeline.TIMELINE)  # it was NIPS until 2018
    assert set(m.family for m in timeline.TIMELINE) == set(timeline.FAMILY_COLORS)
    assert timeline.timeline_figure().axes
    with pytest.raises(ValueError, match="unknown family"):
        timeline.first_year("transformers")


def test_render_family_summary():
    fig, summary = C.render_family("moons", "affine_flow", num_samples=300, seed=0)
    assert len(fig.axes) == 4 and summary["has_density"] and summary["normalized"]  # 3 panels + colour bar
    assert fig.axes[2].get_title() == "log p(x)"
    fig_e, _ = C.render_family("moons", "energy_langevin", num_samples=300, seed=0)
    assert "unnormalised" in fig_e.axes[2].get_title()
    test = C._data("moons", 0, "test")
    train = C._data("moons", 0, "train")
    expected = stats.multivariate_normal(train.mean(axis=0), np.cov(train.T, bias=True)).logpdf(test).mean()
    assert summary["test_log_likelihood"] == pytest.approx(expected, rel=1e-6)
    _, implicit = C.render_family("moons", "implicit", num_samples=300, seed=0)
    assert implicit["test_log_likelihood"] is None and not implicit["has_density"]
    with pytest.raises(ValueError, match="num_samples must be at most"):
        C.render_family("moons", "implicit", num_samples=10**5)
    with pytest.raises(ValueError, match="unknown family"):
        C.render_family("moons", "vae")


def test_family_explorer_updates_and_reports_errors(monkeypatch):
    panel = C.family_explorer("moons", "affine_flow", num_samples=200)
    first = panel.image.value
    assert "held-out" in panel.status.text
    panel.controls["family"].value = "implicit"
    assert panel.image.value != first and "samples only" in panel.status.text
    shown = panel.image.value

    def broken(*args, **kwargs):
        raise ValueError("something went wrong")

    monkeypatch.setattr(C, "render_family", broken)
    panel.controls["samples"].value = 300
    assert "something went wrong" in panel.status.text and panel.image.value == shown
    assert "explorer" in repr(panel)


def test_classifier_figure():
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-1, 1, (50, 2)), rng.normal(1, 1, (50, 2))])
    y = np.repeat([0, 1], 50)
    fig = C.classifier_figure(x, y, {"nb": GaussianNB().fit(x, y), "lr": LogisticRegression().fit(x, y)},
                              resolution=40)
    assert len(fig.axes) == 3  # two panels and the shared colour bar of p(y = 1 | x)
    assert fig.axes[2].get_ylabel() == "p(y = 1 | x)"
    assert all(ax.get_legend() is not None for ax in fig.axes[:2])  # a legend in every panel
    with pytest.raises(TypeError, match="classifiers must be a non-empty dict"):
        C.classifier_figure(x, y, {})
    assert math.isfinite(float(x.sum()))
