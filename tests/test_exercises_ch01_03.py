"""Every exercise check of notebooks 01-03 accepts the reference solution (and other correct
ones), rejects a plausible wrong answer with its hint, and reports a stub as not implemented."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from scipy import special, stats

from course_lib.exercises import ch01_concepts as ex1
from course_lib.exercises import ch02_probability as ex2
from course_lib.exercises import ch03_gradient_descent as ex3


def stub(*args, **kwargs):
    raise NotImplementedError


def verdict(capsys, result, status):
    out = capsys.readouterr().out
    assert result.status == status, out
    return out


# --------------------------------------------------------------------------- 01


def test_posterior(capsys):
    verdict(capsys, ex1.check_posterior(ex1.reference_posterior), "pass")
    # an independent correct answer: scipy's softmax
    verdict(capsys, ex1.check_posterior(lambda ll, lp: special.softmax(ll + lp, axis=1)), "pass")
    # the reference agrees with sklearn-style Bayes rule written with densities
    px = stats.norm.pdf(np.array([[0.3], [1.2]]), [0.0, 1.0], 1.0)  # (2, 2) p(x | y)
    prior = np.array([0.4, 0.6])
    np.testing.assert_allclose(ex1.reference_posterior(np.log(px), np.log(prior)),
                               px * prior / (px * prior).sum(axis=1, keepdims=True))

    def naive(ll, lp):  # exp without shifting: 0 / 0 for very small likelihoods
        e = np.exp(ll + lp)
        with np.errstate(invalid="ignore"):
            return e / e.sum(axis=1, keepdims=True)

    out = verdict(capsys, ex1.check_posterior(naive), "fail")
    assert "case 3" in out and "Hint:" in out
    out = verdict(capsys, ex1.check_posterior(lambda ll, lp: np.exp(ll + lp)), "fail")  # not normalised
    assert "case 1" in out
    verdict(capsys, ex1.check_posterior(stub), "not_implemented")


def test_ancestral_sample(capsys):
    verdict(capsys, ex1.check_ancestral_sample(ex1.reference_ancestral_sample), "pass")

    def uniform_components(weights, means, stds, u, eps):  # ignores the weights
        z = np.minimum((u * len(weights)).astype(int), len(weights) - 1)
        return means[z] + stds[z][:, None] * eps

    out = verdict(capsys, ex1.check_ancestral_sample(uniform_components), "fail")
    assert "case 2" in out and "cumsum" in out
    verdict(capsys, ex1.check_ancestral_sample(stub), "not_implemented")


def test_ancestral_sample_reference_has_the_right_distribution():
    rng = np.random.default_rng(0)
    w = np.array([0.2, 0.5, 0.3])
    x = ex1.reference_ancestral_sample(w, np.array([[0.0], [10.0], [20.0]]), np.full(3, 0.1),
                                       rng.uniform(size=20_000), rng.normal(size=(20_000, 1)))
    freq = np.bincount(np.rint(x[:, 0] / 10).astype(int), minlength=3) / 20_000
    np.testing.assert_allclose(freq, w, atol=0.015)


def test_quizzes(capsys):
    verdict(capsys, ex1.check_generative_quiz("c"), "pass")
    out = verdict(capsys, ex1.check_generative_quiz("b"), "fail")
    assert "random forest" in out.lower()
    verdict(capsys, ex1.check_generative_quiz(...), "not_implemented")
    verdict(capsys, ex1.check_gan_year("2014"), "pass")
    out = verdict(capsys, ex1.check_gan_year("1985"), "fail")
    assert "Boltzmann" in out
    out = verdict(capsys, ex1.check_gan_year(1980), "fail")
    assert "not one of the options" in out


# --------------------------------------------------------------------------- 02


def test_gaussian_mle(capsys):
    verdict(capsys, ex2.check_gaussian_mle(ex2.reference_gaussian_mle), "pass")
    verdict(capsys, ex2.check_gaussian_mle(lambda x: (np.mean(x), np.std(x))), "pass")
    x = np.random.default_rng(2).normal(1.0, 2.0, size=50)
    mu, sigma = ex2.reference_gaussian_mle(x)
    assert stats.norm.fit(x) == (mu, sigma) or np.allclose(stats.norm.fit(x), (mu, sigma))  # scipy's MLE
    out = verdict(capsys, ex2.check_gaussian_mle(lambda x: (np.mean(x), np.std(x, ddof=1))), "fail")
    assert "N - 1" in out
    verdict(capsys, ex2.check_gaussian_mle(stub), "not_implemented")


def test_kl_gaussian_1d(capsys):
    verdict(capsys, ex2.check_kl_gaussian_1d(ex2.reference_kl_gaussian_1d), "pass")
    # reference vs the course's closed form in losses (an independent implementation)
    from course_lib.losses import gaussian_kl_between

    expected = gaussian_kl_between(jnp.array([[1.0]]), jnp.array([[2 * np.log(2.0)]]), jnp.array([[-1.0]]),
                                   jnp.array([[2 * np.log(0.5)]]))[0]
    assert np.isclose(ex2.reference_kl_gaussian_1d(1.0, 2.0, -1.0, 0.5), float(expected), rtol=1e-5)

    def swapped(mu_q, sigma_q, mu_p, sigma_p):  # KL(p || q) instead of KL(q || p)
        return ex2.reference_kl_gaussian_1d(mu_p, sigma_p, mu_q, sigma_q)

    out = verdict(capsys, ex2.check_kl_gaussian_1d(swapped), "fail")
    assert "case 3" in out
    verdict(capsys, ex2.check_kl_gaussian_1d(stub), "not_implemented")


def test_inverse_cdf_exponential(capsys):
    verdict(capsys, ex2.check_inverse_cdf_exponential(ex2.reference_inverse_cdf_exponential), "pass")
    verdict(capsys, ex2.check_inverse_cdf_exponential(lambda u, rate: stats.expon.ppf(u, scale=1 / rate)), "pass")
    out = verdict(capsys, ex2.check_inverse_cdf_exponential(lambda u, rate: -np.log(1 - u) * rate), "fail")
    assert "case 2" in out
    # -log(u) / rate is a valid exponential sampler but not F^-1(u): rejected, and the hint says why
    out = verdict(capsys, ex2.check_inverse_cdf_exponential(lambda u, rate: -np.log(u) / rate), "fail")
    assert "case 1" in out and "not F^-1(u)" in out
    verdict(capsys, ex2.check_inverse_cdf_exponential(stub), "not_implemented")


# --------------------------------------------------------------------------- 03


def test_momentum_step(capsys):
    verdict(capsys, ex3.check_momentum_step(ex3.reference_momentum_step), "pass")
    # the reference follows optax.sgd(lr, momentum=beta) for several steps
    opt = optax.sgd(0.1, momentum=0.9)
    theta = jnp.array([1.0, -2.0])
    state = opt.init(theta)
    ref_theta, ref_v = np.array([1.0, -2.0]), np.zeros(2)
    for g in (np.array([0.5, 0.5]), np.array([-1.0, 0.2]), np.array([0.3, 0.3])):
        updates, state = opt.update(jnp.asarray(g), state)
        theta = optax.apply_updates(theta, updates)
        ref_theta, ref_v = ex3.reference_momentum_step(ref_theta, ref_v, g, 0.1, 0.9)
    np.testing.assert_allclose(ref_theta, np.asarray(theta), rtol=1e-6)

    def old_velocity(theta, v, g, lr, beta):  # steps with the velocity before the update
        return theta - lr * v, beta * v + g

    out = verdict(capsys, ex3.check_momentum_step(old_velocity), "fail")
    assert "case 1" in out and "Hint:" in out
    verdict(capsys, ex3.check_momentum_step(stub), "not_implemented")


def test_score_function_estimate(capsys):
    verdict(capsys, ex3.check_score_function_estimate(ex3.reference_score_function_estimate), "pass")
    # the reference agrees with jax.grad of log N in course_lib.lessons.gradient_estimators
    from course_lib.lessons.gradient_estimators import score_function_gradient

    eps = np.array([0.5, -1.0, 2.0], np.float32)
    expected = float(np.mean(np.asarray(score_function_gradient(lambda z: z**2, 0.5, 2.0, eps))[:, 0]))
    assert np.isclose(ex3.reference_score_function_estimate(0.5, 2.0, eps), expected, rtol=1e-5)

    def missing_square(mu, sigma, eps):  # (z - mu) / sigma instead of / sigma^2
        z = mu + sigma * eps
        return np.mean(z**2 * (z - mu) / sigma)

    out = verdict(capsys, ex3.check_score_function_estimate(missing_square), "fail")
    assert "case 2" in out and "sigma squared" in out
    verdict(capsys, ex3.check_score_function_estimate(stub), "not_implemented")


def test_alternating_step(capsys):
    verdict(capsys, ex3.check_alternating_step(ex3.reference_alternating_step), "pass")
    from course_lib.lessons import games

    pts = games.bilinear_play(0.5, -2.0, 0.3, 1, "alternating")
    np.testing.assert_allclose(ex3.reference_alternating_step(0.5, -2.0, 0.3), pts[1])
    out = verdict(capsys, ex3.check_alternating_step(lambda x, y, lr: (x - lr * y, y + lr * x)), "fail")
    assert "case 2" in out and "simultaneous" in out  # case 1 starts on the x axis, where both agree
    verdict(capsys, ex3.check_alternating_step(stub), "not_implemented")
    assert jax.numpy is jnp  # jnp inputs work as well:
    verdict(capsys, ex3.check_alternating_step(lambda x, y, lr: (jnp.asarray(x - lr * y),
                                                                 jnp.asarray(y + lr * (x - lr * y)))), "pass")
