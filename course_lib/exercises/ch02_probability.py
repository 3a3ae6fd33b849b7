"""Exercise checks of 02_probability.ipynb (immediate feedback through the check API)."""
from __future__ import annotations

import numpy as np

from course_lib.exercises.core import Case, CheckResult, check_function


def reference_gaussian_mle(x):
    """Maximum-likelihood (mu, sigma) of a 1-D Gaussian: the mean and the *biased* std (divide by N).

    mu = 1/N sum_n x_n;  sigma^2 = 1/N sum_n (x_n - mu)^2
    """
    x = np.asarray(x, np.float64)
    mu = x.mean()
    return mu, np.sqrt(np.mean((x - mu) ** 2))


def check_gaussian_mle(fn) -> CheckResult:
    """Check ``fn(x (N,)) -> (mu, sigma)``."""
    rng = np.random.default_rng(1)
    cases = [
        Case((np.array([1.0, 2.0, 4.0]),), description="three points"),
        Case((np.array([-1.0, 1.0]),), description="two points"),
        Case((rng.normal(3.0, 2.0, size=7),), description="seven random points"),
    ]
    return check_function(
        fn, reference_gaussian_mle, cases, name="gaussian_mle",
        hint="Set the derivatives of sum_n log N(x_n; mu, sigma^2) to zero: mu is the sample mean and "
             "sigma^2 the mean squared deviation, dividing by N (np.std(x), ddof=0), not by N - 1.",
    )


def reference_kl_gaussian_1d(mu_q, sigma_q, mu_p, sigma_p):
    """KL(N(mu_q, sigma_q^2) || N(mu_p, sigma_p^2)) = log(sigma_p / sigma_q)
    + (sigma_q^2 + (mu_q - mu_p)^2) / (2 sigma_p^2) - 1/2."""
    return (np.log(sigma_p / sigma_q) + (sigma_q**2 + (mu_q - mu_p) ** 2) / (2 * sigma_p**2) - 0.5)


def check_kl_gaussian_1d(fn) -> CheckResult:
    """Check ``fn(mu_q, sigma_q, mu_p, sigma_p) -> KL(q || p)`` for 1-D Gaussians."""
    cases = [
        Case((0.0, 1.0, 0.0, 1.0), description="identical Gaussians"),
        Case((1.0, 1.0, 0.0, 1.0), description="shifted mean"),
        Case((0.0, 0.5, 0.0, 2.0), description="narrow q, wide p"),
        Case((1.0, 2.0, -1.0, 0.5), description="everything different"),
    ]
    return check_function(
        fn, reference_kl_gaussian_1d, cases, name="kl_gaussian_1d",
        hint="KL(q||p) = E_q[log q - log p]. With both Gaussian: log(sigma_p/sigma_q) + (sigma_q^2 + "
             "(mu_q - mu_p)^2) / (2 sigma_p^2) - 1/2. Check the order: q is the first argument, p divides.",
    )


def reference_inverse_cdf_exponential(u, rate):
    """Inverse CDF of Exponential(rate): F(x) = 1 - exp(-rate x), so x = -log(1 - u) / rate."""
    return -np.log1p(-np.asarray(u, np.float64)) / rate


def check_inverse_cdf_exponential(fn) -> CheckResult:
    """Check ``fn(u (N,), rate) -> (N,)`` samples by inverse-CDF sampling."""
    cases = [
        Case((np.array([0.1, 0.5, 0.9]), 1.0), description="rate 1"),
        Case((np.array([0.0, 0.25, 0.99]), 3.0), description="rate 3"),
    ]
    return check_function(
        fn, reference_inverse_cdf_exponential, cases, name="inverse_cdf_exponential",
        hint="Solve u = F(x) = 1 - exp(-rate * x) for x: x = -log(1 - u) / rate (np.log1p(-u) is the "
             "accurate way to write log(1 - u)). Note: -log(u) / rate also gives exponential samples (1 - U "
             "is uniform too), but it is not F^-1(u); the exercise asks for the inverse of the CDF.",
    )


__all__ = ["check_gaussian_mle", "check_kl_gaussian_1d", "check_inverse_cdf_exponential",
           "reference_gaussian_mle", "reference_kl_gaussian_1d", "reference_inverse_cdf_exponential"]
