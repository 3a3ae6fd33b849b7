"""course_lib.fields: paths, exact mixture fields, losses, samplers, likelihood, guidance (08_vector_fields)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from course_lib.data.toy import GaussianMixture
from course_lib.fields import gmm, guidance, losses, paths, samplers
from course_lib.fields.ddpm_bridge import ddim_sample, ddim_times
from course_lib.fields.likelihood import divergence, ode_log_likelihood

MIX = GaussianMixture(np.array([0.3, 0.7]), np.array([[-1.5, 0.0], [1.0, 1.0]], np.float32), 0.4)


def _points(n=64, seed=0):
    return jax.random.normal(jax.random.key(seed), (n, 2)) * 1.5


@pytest.mark.parametrize("path", paths.PATHS)
def test_path_coefficients_match_autodiff_and_endpoints(path):
    t = jnp.linspace(0.05, 0.95, 7)
    a, s, da, ds = paths.coefficients(path, t)
    assert np.allclose(da, jax.vmap(jax.grad(lambda u: paths.coefficients(path, u)[0]))(t), rtol=1e-4)
    assert np.allclose(ds, jax.vmap(jax.grad(lambda u: paths.coefficients(path, u)[1]))(t), rtol=1e-3)
    a0, s0, _, _ = paths.coefficients(path, jnp.array([0.0, 1.0]))
    assert abs(float(a0[0]) - 1) < 1e-6 and float(s0[0]) < 1e-6 and float(a0[1]) < 0.01 and float(s0[1]) > 0.99


@pytest.mark.parametrize("path", paths.PATHS)
def test_gmm_score_is_the_gradient_of_the_noised_log_density(path):
    x, t = _points(), jnp.full((64,), 0.4)
    auto = jax.grad(lambda z: jnp.sum(gmm.log_density(MIX, path, z, t)))(x)
    assert np.allclose(gmm.score(MIX, path, x, t), auto, atol=1e-4)


def test_gmm_noised_density_matches_monte_carlo():
    key, t = jax.random.key(3), 0.5
    x0 = MIX.means[np.asarray(jax.random.choice(key, 2, (200_000,), p=jnp.asarray(MIX.weights)))] + \
        MIX.std * np.asarray(jax.random.normal(jax.random.key(4), (200_000, 2)))
    x_t = np.asarray(paths.sample_path("linear", jnp.asarray(x0), t, jax.random.normal(jax.random.key(5), (200_000, 2))))
    box = (np.abs(x_t[:, 0] - 0.5) < 0.1) & (np.abs(x_t[:, 1] - 0.5) < 0.1)
    exact = float(jnp.exp(gmm.log_density(MIX, "linear", jnp.array([[0.5, 0.5]]), t))[0]) * 0.04
    assert abs(box.mean() - exact) < 4 * np.sqrt(exact / 200_000) + 1e-4


@pytest.mark.parametrize("path", paths.PATHS)
def test_velocity_score_conversion_for_gaussian_paths(path):
    """Two routes to the velocity: posterior means (gmm.velocity) and f x - g^2/2 score from the exact score."""
    x = _points()
    for t in (0.1, 0.5, 0.9):
        tb = jnp.full((64,), t)
        v = gmm.velocity(MIX, path, x, tb)
        s = gmm.score(MIX, path, x, tb)
        assert np.allclose(paths.velocity_from_score(path, x, tb, s), v, rtol=1e-3, atol=1e-3)
        for kind in ("score", "eps", "x0"):
            value = paths.convert(path, x, tb, v, source="velocity", target=kind)
            assert np.allclose(paths.convert(path, x, tb, value, source=kind, target="velocity"), v, atol=2e-3)
        f, g2 = paths.sde_coefficients(path, jnp.float32(t))
        assert np.allclose(f * x - 0.5 * g2 * s, v, rtol=1e-3, atol=1e-3)


def test_conversion_rejects_unknown_path_and_prediction():
    with pytest.raises(ValueError, match="path"):
        paths.get_path("cosine")
    with pytest.raises(ValueError, match="target"):
        paths.convert("linear", _points(), 0.5, _points(), source="velocity", target="energy")


def test_cfm_loss_differs_from_the_marginal_loss_by_a_constant():
    """E||v - u_t(x|x0)||^2 = E||v - v_marginal||^2 + C: the difference between two networks is the same."""
    n, key = 400_000, jax.random.key(7)
    k1, k2, k3, k4 = jax.random.split(key, 4)
    comp = jax.random.choice(k1, 2, (n,), p=jnp.asarray(MIX.weights))
    x0 = jnp.asarray(MIX.means)[comp] + MIX.std * jax.random.normal(k2, (n, 2))
    t, eps = jax.random.uniform(k3, (n,)), jax.random.normal(k4, (n, 2))
    exact = lambda x, tt: gmm.velocity(MIX, "linear", x, tt)  # noqa: E731
    bent = lambda x, tt: exact(x, tt) + 0.5 * jnp.sin(x)  # noqa: E731
    diff_cfm = float(jnp.mean(losses.cfm_loss(bent, "linear", x0, t, eps) - losses.cfm_loss(exact, "linear", x0, t, eps)))
    x_t = paths.sample_path("linear", x0, t, eps)
    diff_marginal = float(jnp.mean(jnp.sum((bent(x_t, t) - exact(x_t, t)) ** 2, -1)))
    assert abs(diff_cfm - diff_marginal) < 0.02 * diff_marginal
    # and the exact field beats a perturbed one under the conditional loss alone
    assert diff_cfm > 0


def test_dsm_loss_is_smallest_at_the_exact_noise_prediction():
    x0 = jnp.asarray(MIX.means)[jnp.arange(20_000) % 2] + MIX.std * jax.random.normal(jax.random.key(1), (20_000, 2))
    t, eps = jax.random.uniform(jax.random.key(2), (20_000,), minval=0.05), jax.random.normal(jax.random.key(3), (20_000, 2))
    exact = lambda x, tt: gmm.posterior(MIX, "vp", x, tt)[2]  # noqa: E731
    base = float(jnp.mean(losses.dsm_loss(exact, "vp", x0, t, eps)))
    for scale in (0.9, 1.1):
        assert float(jnp.mean(losses.dsm_loss(lambda x, tt: scale * exact(x, tt), "vp", x0, t, eps))) > base


@pytest.mark.parametrize("sampler", samplers.SAMPLERS)
def test_samplers_on_the_exact_field_recover_the_mixture(sampler):
    from course_lib.evaluation.modes import mode_coverage

    for path in paths.PATHS:
        x1 = jax.random.normal(jax.random.key(0), (3000, 2))
        x = samplers.integrate(lambda x, t: gmm.velocity(MIX, path, x, t), path, x1, sampler=sampler,
                               num_steps=200, key=jax.random.key(1))
        cov = mode_coverage(np.asarray(x), MIX)
        assert cov.modes == 2 and cov.hq_fraction > 0.95, (path, cov)
        frac = float(np.mean(np.asarray(x)[:, 0] > -0.25))  # weight of the right-hand component
        assert abs(frac - 0.7) < 0.04, (path, frac)


def test_ddim_on_the_linear_path_is_euler_and_heun_beats_euler_at_few_steps():
    v = lambda x, t: gmm.velocity(MIX, "linear", x, t)  # noqa: E731
    x1 = jax.random.normal(jax.random.key(0), (500, 2))
    e = samplers.integrate(v, "linear", x1, sampler="euler", num_steps=7)
    assert np.allclose(samplers.integrate(v, "linear", x1, sampler="ddim", num_steps=7), e, atol=1e-4)
    ref = samplers.integrate(v, "linear", x1, sampler="heun", num_steps=400)
    err = {s: float(jnp.mean(jnp.abs(samplers.integrate(v, "linear", x1, sampler=s, num_steps=8) - ref)))
           for s in ("euler", "heun")}
    assert err["heun"] < err["euler"]


def test_sampler_arguments_and_divergence():
    v = lambda x, t: x  # noqa: E731
    x1 = jnp.ones((4, 2))
    with pytest.raises(ValueError, match="sampler"):
        samplers.integrate(v, "linear", x1, sampler="rk45")
    with pytest.raises(ValueError, match="num_steps"):
        samplers.integrate(v, "linear", x1, num_steps=0)
    with pytest.raises(ValueError, match="key"):
        samplers.integrate(v, "linear", x1, sampler="ancestral")
    blow_up = samplers.integrate(lambda x, t: 1e30 * x * x, "linear", x1, num_steps=5)
    with pytest.raises(samplers.SamplerDivergedError, match="diverged"):
        samplers.check_finite_samples(blow_up)


def test_langevin_samples_a_gaussian_and_annealed_langevin_finds_both_modes():
    score = lambda x: -(x - 2.0) / 0.25  # noqa: E731  N(2, 0.5^2)
    x = samplers.langevin(score, jnp.zeros((4000, 1)), jax.random.key(0), step_size=0.005, num_steps=800)
    assert abs(float(x.mean()) - 2.0) < 0.03 and abs(float(x.std()) - 0.5) < 0.03
    xs = samplers.annealed_langevin(lambda x, t: gmm.score(MIX, "vp", x, t), "vp",
                                    jax.random.normal(jax.random.key(1), (3000, 2)), jax.random.key(2),
                                    num_levels=20, steps_per_level=50, step_scale=0.1)
    frac = float(np.mean(np.asarray(xs)[:, 0] > -0.25))
    assert abs(frac - 0.7) < 0.06


def test_divergence_matches_finite_differences():
    v = lambda x, t: jnp.stack([jnp.sin(x[:, 0] * x[:, 1]), x[:, 1] ** 3 * t], axis=1)  # noqa: E731
    x, t = _points(8), jnp.full((8,), 0.7)
    h = 1e-3
    fd = sum((v(x + h * e, t)[:, i] - v(x - h * e, t)[:, i]) / (2 * h) for i, e in enumerate(jnp.eye(2)))
    assert np.allclose(divergence(v, x, t), fd, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("path", paths.PATHS)
def test_ode_likelihood_of_the_exact_field_is_the_mixture_density(path):
    x = jnp.asarray(np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32))
    exact = lambda z, t: gmm.velocity(MIX, path, z, t)  # noqa: E731
    log_p, _ = jax.jit(lambda z: ode_log_likelihood(exact, path, z, num_steps=400))(x)
    ref = gmm.log_density(MIX, path, x, jnp.full((32,), paths.get_path(path).t_min))
    assert np.allclose(log_p, ref, atol=0.02), float(jnp.max(jnp.abs(log_p - ref)))


def test_ode_likelihood_in_one_dimension_against_scipy():
    std = 0.6  # data N(0, std^2): on the linear path x_t ~ N(0, (1-t)^2 std^2 + t^2), v = d/dt log-std * x
    def v(x, t):
        var = (1 - t) ** 2 * std**2 + t**2
        return (((t - 1) * std**2 + t) / var)[:, None] * x
    x = jnp.linspace(-2, 2, 9)[:, None]
    log_p, x1 = ode_log_likelihood(v, "linear", x, num_steps=300)
    assert np.allclose(log_p, stats.norm(0, std).logpdf(np.asarray(x[:, 0])), atol=1e-3)
    assert np.allclose(x1[:, 0], x[:, 0] / std, atol=1e-3)


def test_cfg_combination_and_bad_weights_and_labels():
    vc, vu = jnp.ones(3), jnp.zeros(3)
    assert np.allclose(guidance.cfg_combine(vc, vu, 2.0), 3.0)
    assert np.allclose(guidance.cfg_combine(vc, vu, 0.0), vc)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite"):
            guidance.check_weight(bad)
    with pytest.raises(TypeError, match="real number"):
        guidance.check_weight("2")
    with pytest.raises(ValueError, match=r"0\.\.9, got 10"):
        guidance.check_labels(np.array([1, 10]), 10)
    with pytest.raises(ValueError, match="got -1"):
        guidance.check_labels(np.array([-1]), 10)


def test_ddim_on_a_discrete_schedule_with_the_exact_noise_prediction():
    from course_lib.models import diffusion as dm

    sch = dm.make_schedule(1000)
    std = 0.5

    def eps_fn(x, t):  # exact E[eps | x_t] for data N(0, std^2)
        ab = sch.alpha_bar[t][:, None]
        return jnp.sqrt(1 - ab) / (ab * std**2 + 1 - ab) * x

    x_T = jax.random.normal(jax.random.key(0), (20_000, 1))
    target = std * float(x_T.std())  # the exact ODE map is x_T -> std x_T for Gaussian data
    errors = [abs(float(ddim_sample(eps_fn, sch, x_T, n).std()) - target) for n in (10, 50, 1000)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.003, errors
    assert list(ddim_times(1000, 4)) == [1000, 667, 334, 1, 0]
    with pytest.raises(ValueError, match="num_steps"):
        ddim_times(10, 11)
