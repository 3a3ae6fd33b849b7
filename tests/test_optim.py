"""Tests for course_lib.lessons.surfaces, games, gradient_estimators and widgets.optim (03_gradient_descent)."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from course_lib.lessons import games, gradient_estimators as G, surfaces
from course_lib.training import make_optimizer
from course_lib.widgets import optim as O

# --------------------------------------------------------------------------- surfaces


@pytest.mark.parametrize("name", surfaces.SURFACE_NAMES)
def test_listed_minima_are_stationary_zeros(name):
    s = surfaces.get_surface(name)
    for m in s.minima:
        p = jnp.array(m, jnp.float32)
        assert float(s.fn(p)) == pytest.approx(0.0, abs=1e-6)
        assert float(jnp.linalg.norm(jax.grad(s.fn)(p))) < 1e-3


def test_sgd_on_the_bowl_matches_the_closed_form():
    # theta_t = (1 - lr * lambda)^t theta_0 for each eigen-direction (lambda = 1 and 10).
    lr, t = 0.05, 60
    run = surfaces.run_optimizer("bowl", "sgd", lr, (-4.0, 2.0), t)
    np.testing.assert_allclose(run.trajectory[-1], [-4.0 * (1 - lr) ** t, 2.0 * (1 - 10 * lr) ** t], rtol=1e-4,
                               atol=1e-6)
    assert run.trajectory.shape == (t + 1, 2) and run.losses.shape == (t + 1,)
    assert run.losses[0] == pytest.approx(0.5 * (16 + 10 * 4))


@pytest.mark.parametrize("optimizer", ["momentum", "adam", "rmsprop", "nesterov"])
def test_run_matches_a_plain_optax_loop(optimizer):
    opt = make_optimizer(optimizer, 0.001)
    theta = jnp.array([-1.5, 2.5], jnp.float32)
    state = opt.init(theta)
    fn = surfaces.get_surface("rosenbrock").fn
    for _ in range(25):
        updates, state = opt.update(jax.grad(fn)(theta), state, theta)
        theta = optax.apply_updates(theta, updates)
    run = surfaces.run_optimizer("rosenbrock", optimizer, 0.001, (-1.5, 2.5), 25)
    np.testing.assert_allclose(run.trajectory[-1], np.asarray(theta), rtol=1e-4, atol=1e-5)


def test_learning_rate_stability_threshold_on_the_bowl():
    # Gradient descent on a quadratic converges iff lr < 2 / lambda_max = 0.2.
    assert surfaces.run_optimizer("bowl", "sgd", 0.19, num_steps=400).final_loss < 1e-6
    bad = surfaces.run_optimizer("bowl", "sgd", 0.21, num_steps=400)
    assert bad.diverged_at is not None and math.isnan(bad.final_loss)
    assert np.all(np.isfinite(bad.losses[: bad.diverged_at]))


def test_run_optimizer_validates():
    with pytest.raises(ValueError, match="unknown surface"):
        surfaces.run_optimizer("saddle", "sgd", 0.1)
    with pytest.raises(ValueError, match="unknown optimizer"):
        surfaces.run_optimizer("bowl", "lbfgs", 0.1)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        surfaces.run_optimizer("bowl", "sgd", 0.0)
    with pytest.raises(ValueError, match="num_steps must be at most"):
        surfaces.run_optimizer("bowl", "sgd", 0.1, num_steps=10**6)
    with pytest.raises(ValueError, match="start must be a pair"):
        surfaces.run_optimizer("bowl", "sgd", 0.1, start=(1.0, 2.0, 3.0))


# --------------------------------------------------------------------------- the bilinear game


def test_simultaneous_play_spirals_out_at_the_predicted_rate():
    lr = 0.1
    pts = games.bilinear_play(1.0, 0.5, lr, 50)
    r = games.radius(pts)
    np.testing.assert_allclose(r[1:] / r[:-1], math.sqrt(1 + lr**2), rtol=1e-12)


def test_alternating_play_conserves_its_invariant_and_stays_bounded():
    lr = 0.3
    pts = games.bilinear_play(1.0, 0.5, lr, 500, "alternating")
    q = games.alternating_invariant(pts, lr)
    np.testing.assert_allclose(q, q[0], rtol=1e-10)
    assert games.radius(pts).max() < 2 * games.radius(pts)[0]


def test_bilinear_play_validates():
    with pytest.raises(ValueError, match="unknown update"):
        games.bilinear_play(1.0, 0.0, 0.1, 5, "extragradient")
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        games.bilinear_play(1.0, 0.0, -0.1, 5)
    with pytest.raises(TypeError, match="num_steps must be an integer"):
        games.bilinear_play(1.0, 0.0, 0.1, 2.5)


# --------------------------------------------------------------------------- gradient estimators


def test_estimators_match_their_formulas():
    mu, sigma = 0.7, 1.3
    eps = np.array([-1.0, 0.2, 1.5], np.float32)
    z = mu + sigma * eps
    rep = np.asarray(G.reparameterization_gradient(lambda v: v**2, mu, sigma, eps))
    np.testing.assert_allclose(rep, np.stack([2 * z, 2 * z * eps], axis=1), rtol=1e-5)
    sco = np.asarray(G.score_function_gradient(lambda v: v**2, mu, sigma, eps))
    np.testing.assert_allclose(sco, np.stack([z**2 * eps / sigma, z**2 * (eps**2 - 1) / sigma], axis=1),
                               rtol=1e-5, atol=1e-6)


def test_both_estimators_are_unbiased_and_reparam_has_lower_variance():
    mu, sigma = 1.0, 1.0  # d/dmu E[z^2] = 2 mu, d/dsigma E[z^2] = 2 sigma
    s = G.estimator_spread(lambda v: v**2, mu, sigma, jax.random.key(0), num_samples=10, num_repeats=2000)
    for kind in ("reparam", "score"):
        se = np.sqrt(s[f"{kind}_var"] / 2000)
        assert np.all(np.abs(s[f"{kind}_mean"] - [2 * mu, 2 * sigma]) < 4 * se), kind
    np.testing.assert_allclose(s["reparam_var"], [4 * sigma**2 / 10, 12 * sigma**2 / 10], rtol=0.1)
    assert np.all(s["reparam_var"] < s["score_var"])


def test_estimators_validate():
    with pytest.raises(TypeError, match="f must be a function"):
        G.reparameterization_gradient(2.0, 0.0, 1.0, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        G.score_function_gradient(jnp.sin, 0.0, 0.0, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="eps must have 1 dimensions"):
        G.score_function_gradient(jnp.sin, 0.0, 1.0, np.zeros((3, 2), np.float32))


# --------------------------------------------------------------------------- widgets


def test_render_trajectories_and_optimizer_summary():
    fig, runs = O.render_trajectories("himmelblau", {"sgd": ("sgd", 0.01), "adam": ("adam", 0.1)}, num_steps=200)
    assert set(runs) == {"sgd", "adam"} and len(fig.axes) == 2
    _, summary = O.render_optimizer("himmelblau", "adam", 0.1, 0.0, -0.5, 300)
    assert summary["diverged_at"] is None and summary["distance_to_minimum"] < 1e-3
    _, bad = O.render_optimizer("bowl", "sgd", 3.0, 4.9, 4.9, 300)  # extreme lr and start
    assert bad["diverged_at"] is not None and bad["distance_to_minimum"] is None
    with pytest.raises(ValueError, match="runs must be a dict of 1 to 6"):
        O.render_trajectories("bowl", {})
    with pytest.raises(ValueError, match=r"must be \(optimizer, lr\)"):
        O.render_trajectories("bowl", {"x": "sgd"})
    assert len(O.render_bilinear(0.2, 30).axes) == 2


def test_optimizer_explorer_drives_and_reports_divergence():
    panel = O.optimizer_explorer("bowl", "sgd", 0.05, num_steps=100)
    first = panel.image.value
    assert "from the nearest minimum" in panel.status.text
    panel.controls["lr"].value = 0.3  # above 2 / 10: diverges
    assert "diverged at step" in panel.status.text and panel.image.value != first
    redraws = len(panel.timer.samples_ms)
    panel.controls["surface"].value = "rosenbrock"
    assert len(panel.timer.samples_ms) == redraws + 1  # the start point moves, and the figure is drawn once
    assert (panel.controls["start_x"].value, panel.controls["start_y"].value) == surfaces.get_surface("rosenbrock").start
    panel.controls["lr"].value = 1e-4
    assert "from the nearest minimum" in panel.status.text
    assert set(panel.controls) == {"surface", "optimizer", "lr", "start_x", "start_y", "steps"}
