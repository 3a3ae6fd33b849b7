"""DDPM: the schedule, q_sample against closed-form moments and step-by-step noising, the posterior
against Bayes' rule, the reverse step, the discretized decoder against scipy, the bound's terms,
deterministic sampling, training, and argument checks."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy import stats

from course_lib.models import diffusion as dm
from course_lib.training.generic import fit


def test_linear_schedule_matches_ho_et_al():
    s = dm.make_schedule(1000)
    betas = np.linspace(1e-4, 0.02, 1000)
    np.testing.assert_allclose(s.betas[1:], betas, rtol=1e-5)
    np.testing.assert_allclose(s.alpha_bar[1:], np.cumprod(1 - betas), rtol=1e-4)
    assert float(s.alpha_bar[0]) == 1.0 and s.num_steps == 1000
    assert float(s.alpha_bar[-1]) < 1e-4  # x_T is almost pure noise
    t = 500
    expected = (1 - np.prod(1 - betas[: t - 1])) / (1 - np.prod(1 - betas[:t])) * betas[t - 1]
    np.testing.assert_allclose(s.beta_tilde[t], expected, rtol=1e-4)


def test_cosine_schedule_is_monotone():
    s = dm.make_schedule(100, "cosine")
    ab = np.asarray(s.alpha_bar)
    assert np.all(np.diff(ab) < 0) and ab[0] == 1.0 and ab[-1] < 1e-3


def test_q_sample_moments_match_closed_form():
    s = dm.make_schedule(100)
    x0 = jnp.array([[1.5, -0.5]])
    t = 40
    eps = jax.random.normal(jax.random.key(0), (200_000, 2))
    x_t = dm.q_sample(s, jnp.broadcast_to(x0, eps.shape), jnp.full((200_000,), t), eps)
    ab = float(s.alpha_bar[t])
    np.testing.assert_allclose(x_t.mean(0), np.sqrt(ab) * x0[0], atol=0.01)
    np.testing.assert_allclose(x_t.var(0), 1 - ab, rtol=0.02)


def test_q_sample_equals_step_by_step_noising():
    """t steps of q(x_t | x_{t-1}) give the same distribution as one jump with alpha_bar_t."""
    s = dm.make_schedule(50)
    n, t = 100_000, 30
    x = jnp.full((n, 1), 0.8)
    for i, k in enumerate(jax.random.split(jax.random.key(1), t), start=1):
        x = jnp.sqrt(s.alphas[i]) * x + jnp.sqrt(s.betas[i]) * jax.random.normal(k, x.shape)
    ab = float(s.alpha_bar[t])
    assert abs(float(x.mean()) - np.sqrt(ab) * 0.8) < 0.01
    assert abs(float(x.var()) - (1 - ab)) < 0.01


def test_q_posterior_matches_bayes_rule():
    """Prior x_{t-1} ~ N(sqrt(ab_{t-1}) x0, 1 - ab_{t-1}); likelihood x_t ~ N(sqrt(a_t) x_{t-1}, b_t)."""
    s = dm.make_schedule(200)
    x0, x_t = jnp.array([[0.3], [-1.0]]), jnp.array([[0.1], [0.7]])
    t = jnp.array([10, 150])
    mean, var = dm.q_posterior(s, x0, x_t, t)
    for i in range(2):
        ti = int(t[i])
        ab_prev, a, b = float(s.alpha_bar[ti - 1]), float(s.alphas[ti]), float(s.betas[ti])
        prior_prec, like_prec = 1 / (1 - ab_prev), a / b
        post_var = 1 / (prior_prec + like_prec)
        post_mean = post_var * (prior_prec * np.sqrt(ab_prev) * float(x0[i, 0]) + np.sqrt(a) / b * float(x_t[i, 0]))
        np.testing.assert_allclose(var[i, 0], post_var, rtol=1e-4)
        np.testing.assert_allclose(mean[i, 0], post_mean, rtol=1e-4, atol=1e-6)


def test_true_noise_gives_the_posterior_mean():
    """With eps_hat = the noise that made x_t, predict_x0 recovers x_0 and mu_theta = mu_tilde."""
    s = dm.make_schedule(100)
    x0 = jax.random.normal(jax.random.key(2), (5, 3))
    eps = jax.random.normal(jax.random.key(3), (5, 3))
    t = jnp.array([1, 2, 30, 70, 100])
    x_t = dm.q_sample(s, x0, t, eps)
    np.testing.assert_allclose(dm.predict_x0(s, x_t, t, eps), x0, atol=1e-4)
    # float32 cancellation at t = 1, 2 (1 - alpha_bar_t ~ 1e-4) limits the agreement to ~1e-4 relative
    np.testing.assert_allclose(dm.p_mean(s, x_t, t, eps), dm.q_posterior(s, x0, x_t, t)[0], atol=5e-4)


def test_discretized_decoder_matches_scipy_and_sums_to_one():
    k = 5
    mean, var = 0.2, 0.09
    levels = jnp.arange(k)[:, None]  # (K, 1): one pixel, every level
    logp = dm.discretized_gaussian_log_likelihood(levels, jnp.full((k, 1), mean), var, k)
    centres = np.linspace(-1, 1, k)
    edges = np.concatenate([[-np.inf], (centres[:-1] + centres[1:]) / 2, [np.inf]])
    expected = np.diff(stats.norm(mean, np.sqrt(var)).cdf(edges))
    np.testing.assert_allclose(np.exp(logp), expected, rtol=1e-4)
    # Far tails stay finite (the stable difference of normal CDFs).
    far = dm.discretized_gaussian_log_likelihood(jnp.array([[2]]), jnp.array([[-40.0]]), 1e-4, k)
    assert np.isfinite(float(far[0]))


def test_vlb_prior_term_and_nonnegative_kls():
    s = dm.make_schedule(50, beta_1=1e-3)
    x = jnp.array([[0, 16, 8, 3]], jnp.int32)
    ts = jnp.array([2, 10, 50])
    eps = jax.random.normal(jax.random.key(0), (4, 1, 4))
    out = dm.vlb_terms(lambda x_t, t: jnp.zeros_like(x_t), s, x, ts, eps, num_levels=17)
    x0 = np.asarray(dm.levels_to_data(x, 17))[0]
    ab = float(s.alpha_bar[-1])
    kl = np.sum(0.5 * (ab * x0**2 + (1 - ab) - 1 - np.log(1 - ab)))  # KL(N(sqrt(ab) x0, 1 - ab) || N(0, 1))
    np.testing.assert_allclose(out["prior"][0], kl, rtol=1e-4)
    assert out["per_t"].shape == (1, 3) and bool(jnp.all(out["per_t"] >= -1e-5))
    assert float(out["decoder"][0]) > 0


def test_sampling_is_deterministic_and_matches_a_python_loop():
    s = dm.make_schedule(20, beta_1=1e-3, beta_T=0.2)
    eps_fn = lambda x_t, t: 0.1 * x_t + 0.01 * t[:, None]  # noqa: E731 - any fixed predictor
    x_T = jax.random.normal(jax.random.key(0), (4, 2))
    z = jax.random.normal(jax.random.key(1), (20, 4, 2))
    x0, xs = dm.sample_from_noise(eps_fn, s, x_T, z, trajectory=True)
    x = x_T
    for t in range(20, 0, -1):
        tt = jnp.full((4,), t)
        mean = (x - s.betas[t] / jnp.sqrt(1 - s.alpha_bar[t]) * eps_fn(x, tt)) / jnp.sqrt(s.alphas[t])
        x = mean + (jnp.sqrt(s.betas[t]) * z[t - 1] if t > 1 else 0.0)
    np.testing.assert_allclose(x0, x, atol=1e-5)
    assert xs.shape == (21, 4, 2)
    np.testing.assert_allclose(xs[20], x_T)
    np.testing.assert_allclose(xs[0], x0)
    np.testing.assert_allclose(dm.sample_from_noise(eps_fn, s, x_T, z), x0)


def test_levels_round_trip():
    x = jnp.arange(17)[None]
    np.testing.assert_allclose(dm.levels_to_data(x, 17)[0, [0, 8, 16]], [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(dm.data_to_levels(dm.levels_to_data(x, 17) + 0.05, 17), x)


def test_training_lowers_the_loss_and_compiles_once():
    s = dm.make_schedule(100)
    model = dm.EpsModel(2, 100, (32, 32), time_dim=8, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model, nnx.Param)
    x = jax.random.normal(jax.random.key(0), (256, 2)) * 0.1 + jnp.array([1.0, -1.0])

    def loss_fn(p, x0, key):
        k1, k2 = jax.random.split(key)
        t = jax.random.randint(k1, (x0.shape[0],), 1, 101)
        eps = jax.random.normal(k2, x0.shape)
        return jnp.mean(dm.ddpm_loss(lambda a, b: nnx.merge(graphdef, p)(a, b), s, x0, t, eps)), {}

    result = fit(loss_fn, params, x, key=jax.random.key(1), num_epochs=20, batch_size=64, lr=3e-3,
                 eval_every=10, progress=False)
    loss = result.history["loss"]
    assert loss[-1] < 0.7 * loss[0]
    assert result.epoch_fn.num_traces == 1


def test_timestep_embedding_shape_and_range():
    emb = dm.timestep_embedding(jnp.array([1, 500, 1000]), 1000, 16)
    assert emb.shape == (3, 16) and float(jnp.max(jnp.abs(emb))) <= 1.0


def test_bad_arguments():
    s = dm.make_schedule(10)
    x0 = jnp.zeros((2, 3))
    with pytest.raises(ValueError, match="num_steps"):
        dm.make_schedule(1)
    with pytest.raises(ValueError, match="kind"):
        dm.make_schedule(10, "quadratic")
    with pytest.raises(ValueError, match="beta_T"):
        dm.make_schedule(10, beta_1=0.1, beta_T=0.01)
    with pytest.raises(ValueError, match="t must have shape"):
        dm.q_sample(s, x0, jnp.array([1, 2, 3]), x0)
    with pytest.raises(TypeError, match="t must have an integer dtype"):
        dm.q_sample(s, x0, jnp.array([1.0, 2.0]), x0)
    with pytest.raises(ValueError, match="eps must have shape"):
        dm.q_sample(s, x0, jnp.array([1, 2]), jnp.zeros((2, 4)))
    with pytest.raises(ValueError, match="z must have shape"):
        dm.sample_from_noise(lambda a, b: a, s, x0, jnp.zeros((9, 2, 3)))
    with pytest.raises(ValueError, match="variance"):
        dm.sample_from_noise(lambda a, b: a, s, x0, jnp.zeros((10, 2, 3)), variance="learned")
    with pytest.raises(TypeError, match="x_levels must have an integer dtype"):
        dm.vlb_terms(lambda a, b: a, s, x0, jnp.array([2]), jnp.zeros((2, 2, 3)), num_levels=17)


# --------------------------------------------------------------------------- the widget and the exercise


def test_render_diffusion_step_points_and_images():
    from course_lib.widgets import beyond

    traj = np.random.default_rng(0).normal(size=(11, 16, 2)).astype(np.float32)
    fig, summary = beyond.render_diffusion_step(traj, 10)
    assert summary["t"] == 10 and "t = 10 of 10" in fig.axes[0].get_title()
    images = np.random.default_rng(1).normal(size=(11, 4, 64)).astype(np.float32)
    fig, _ = beyond.render_diffusion_step(images, 0, image_shape=(8, 8), noise_std=np.linspace(0, 1, 11))
    assert len(fig.axes) == 4
    with pytest.raises(ValueError, match="t must be in 0..10"):
        beyond.render_diffusion_step(traj, 11)
    with pytest.raises(ValueError, match="image_shape"):
        beyond.render_diffusion_step(images, 0)


def test_diffusion_scrubber_moves_and_survives_bad_data():
    from course_lib.widgets import beyond

    rng = np.random.default_rng(0)
    trajs = {"points": rng.normal(size=(6, 30, 2)).astype(np.float32),
             "digits": rng.normal(size=(6, 3, 64)).astype(np.float32)}
    panel = beyond.diffusion_scrubber(trajs, image_shapes={"digits": (8, 8)})
    first = panel.image.value
    assert panel.controls["t"].value == 5 and "t = 5" in panel.status.text
    panel.controls["t"].value = 0
    assert panel.image.value != first and "t = 0" in panel.status.text
    panel.controls["data"].value = "digits"
    assert "t = 0" in panel.status.text
    trajs["digits"][2] = np.nan
    panel.controls["t"].value = 2
    assert "NaN" in panel.status.text
    with pytest.raises(ValueError, match="same number of steps"):
        beyond.diffusion_scrubber({"a": np.zeros((3, 2, 2)), "b": np.zeros((4, 2, 2))})


def test_q_sample_exercise_check(capsys):
    from course_lib.exercises import ch07_beyond

    assert ch07_beyond.check_q_sample(ch07_beyond.reference_q_sample)
    assert not ch07_beyond.check_q_sample(lambda x0, ab, eps: ab * x0 + (1 - ab) * eps)  # forgot the square roots
    assert "Hint" in capsys.readouterr().out
