"""Exercise checks of 01_concepts.ipynb (immediate feedback through the check API).

Each ``check_*`` takes the reader's answer (a function or a choice), prints one verdict
with a hint on failure, and returns a :class:`~course_lib.exercises.CheckResult`.
"""
from __future__ import annotations

import numpy as np

from course_lib.exercises.core import Case, CheckResult, check_choice, check_function


def reference_posterior(log_px_given_y, log_prior):
    """Bayes' rule in log space: p(y | x) = softmax_y [log p(x | y) + log p(y)].

    Args:
      log_px_given_y: (N, C) class-conditional log-densities log p(x_n | y = c).
      log_prior: (C,) log p(y = c).

    Returns:
      (N, C) posteriors; rows sum to 1.
    """
    a = np.asarray(log_px_given_y, np.float64) + np.asarray(log_prior, np.float64)
    a = a - a.max(axis=1, keepdims=True)  # subtracting the row maximum avoids exp underflow
    e = np.exp(a)
    return e / e.sum(axis=1, keepdims=True)


_POSTERIOR_CASES = [
    Case((np.log(np.array([[0.2, 0.1], [0.05, 0.4]])), np.log(np.array([0.5, 0.5]))),
         description="equal priors"),
    Case((np.log(np.array([[0.2, 0.1, 0.3]])), np.log(np.array([0.1, 0.6, 0.3]))),
         description="three classes, unequal priors"),
    Case((np.array([[-1000.0, -1001.0], [-2000.0, -1990.0]]), np.log(np.array([0.3, 0.7]))),
         description="very small likelihoods, as in high dimensions"),
]


def check_posterior(fn) -> CheckResult:
    """Check ``fn(log_px_given_y (N, C), log_prior (C,)) -> (N, C)`` posteriors p(y | x)."""
    return check_function(
        fn, reference_posterior, _POSTERIOR_CASES, name="posterior", rtol=1e-6, atol=1e-9,
        hint="p(y|x) = p(x|y) p(y) / sum_c p(x|c) p(c). Work with logs: add log p(y), subtract the "
             "row maximum before exp (or use scipy.special.softmax / jax.nn.softmax), then normalise each row.",
    )


def reference_ancestral_sample(weights, means, stds, u, eps):
    """Sample a Gaussian mixture with the noise given: z_n = first k with u_n < cumsum(weights)_k,
    then x_n = means[z_n] + stds[z_n] * eps_n.

    Args:
      weights: (K,) summing to 1; means: (K, D); stds: (K,); u: (N,) uniform in [0, 1);
      eps: (N, D) standard normal.

    Returns:
      (N, D) samples.
    """
    cdf = np.cumsum(np.asarray(weights, np.float64))
    z = np.minimum(np.searchsorted(cdf, np.asarray(u), side="right"), len(cdf) - 1)
    return np.asarray(means)[z] + np.asarray(stds)[z][:, None] * np.asarray(eps)


def _ancestral_cases():
    rng = np.random.default_rng(0)
    means = np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 4.0]])
    return [
        Case((np.array([0.5, 0.5]), means[:2], np.array([1.0, 0.5]), np.array([0.1, 0.7]),
              np.array([[0.3, -0.2], [1.0, 0.5]])), description="two components"),
        Case((np.array([0.7, 0.2, 0.1]), means, np.array([0.1, 0.2, 0.3]), rng.uniform(size=6),
              rng.normal(size=(6, 2))), description="unequal weights"),
    ]


def check_ancestral_sample(fn) -> CheckResult:
    """Check ``fn(weights, means, stds, u, eps) -> (N, D)`` ancestral samples of a mixture."""
    return check_function(
        fn, reference_ancestral_sample, _ancestral_cases(), name="ancestral_sample",
        hint="First pick the latent component: z = the first k with u < cumsum(weights)[k] "
             "(np.searchsorted(np.cumsum(weights), u, side='right')). Then x = means[z] + stds[z][:, None] * eps.",
    )


def check_generative_quiz(answer) -> CheckResult:
    """Which model can draw new inputs x? a) logistic regression, b) random forest,
    c) Gaussian naive Bayes, d) support vector machine."""
    return check_choice(
        answer, "c", name="generative_quiz", choices="abcd",
        explanation="Gaussian naive Bayes models p(x | y) and p(y), so it can sample y and then x given y.",
        why_wrong={
            "a": "Logistic regression models only p(y | x): it never describes how x is distributed.",
            "b": "A random forest predicts y from x; it has no model of x, so it cannot sample new inputs.",
            "d": "An SVM learns a decision boundary (not even a probability); it has no model of x.",
        },
    )


def check_gan_year(answer) -> CheckResult:
    """In which year were generative adversarial networks introduced? 1985, 1995, 2013 or 2014."""
    return check_choice(
        answer, "2014", name="gan_year", choices=["1985", "1995", "2013", "2014"],
        explanation="Goodfellow et al., 'Generative adversarial nets', NIPS 2014 (the conference is called "
                    "NeurIPS since 2018).",
        why_wrong={
            "1985": "1985 is the Boltzmann machine (Ackley, Hinton & Sejnowski), an energy-based model.",
            "1995": "1995 is the Helmholtz machine (Dayan, Hinton, Neal & Zemel), a latent-variable model.",
            "2013": "2013 is the variational autoencoder preprint (Kingma & Welling); GANs came a few months later.",
        },
    )


__all__ = ["check_posterior", "check_ancestral_sample", "check_generative_quiz", "check_gan_year",
           "reference_posterior", "reference_ancestral_sample"]
