"""The failure kinds of issue 17, each as a property (modules outside the enumerated API too).

Kernel aborts on huge sample counts, silent NaN/wraparound on out-of-range levels and time steps,
negative covariances, the GAN lab's unbounded controls and its recovery after a failure.
"""
from __future__ import annotations

import numpy as np
from flax import nnx
from hypothesis import given, settings, strategies as st

from course_lib.evaluation import frechet
from course_lib.models import autoregressive as AR
from course_lib.models import diffusion as DF
from course_lib.models import flow as FL
from course_lib.training import gan_lab as LAB
from course_lib.widgets import gan_lab as LW
from prop_harness import COUNTS, covers, finite, good, key, refused

HUGE = st.sampled_from([10**9, 10**12, 2**40, 2**31 - 1])


@given(n=HUGE)
@settings(max_examples=4)
def test_huge_sample_counts_are_refused_not_fatal(n):
    made = AR.MADE(4, 3, (8,), rngs=nnx.Rngs(0))
    flow = FL.RealNVP(4, 2, (8,), rngs=nnx.Rngs(0))
    for sampler in (made.sample, flow.sample):
        err = refused(sampler, "num_samples", key(), n)
        assert "at most" in str(err)


@given(level=st.sampled_from([-1, 3, 17, 255]), b=st.integers(1, 3))
@settings(max_examples=4)
def test_made_refuses_levels_out_of_range(level, b):
    made = AR.MADE(4, 3, (8,), rngs=nnx.Rngs(0))
    x = np.zeros((b, 4), np.int32)
    finite(made.log_prob(x), (b,))
    x[0, 2] = level
    refused(made.log_prob, "x", x)


@given(t=st.sampled_from([-1, 11, 12, 1000]))
def test_diffusion_refuses_time_steps_out_of_range(t):
    sched = DF.make_schedule(10)
    x0 = np.zeros((2, 3), np.float32)
    tt = np.array([1, t], np.int32)
    refused(DF.q_sample, "t", sched, x0, tt, x0)
    refused(DF.q_posterior, "t", sched, x0, x0, tt)
    refused(DF.p_variance, "t", sched, np.array([0], np.int32))
    model = DF.EpsModel(3, 10, (8,), rngs=nnx.Rngs(0))
    refused(model, "t", x0, tt)
    refused(model, "x_t", np.zeros((2, 4), np.float32), np.array([1, 2], np.int32))


@given(beta=st.sampled_from([-0.1, float("nan"), 1.5, 0.0]))
def test_diffusion_refuses_bad_beta(beta):
    refused(DF.make_schedule, "beta_1", 10, beta_1=beta)


@given(scale=st.floats(0.1, 10.0), d=st.integers(1, 4))
def test_frechet_refuses_negative_covariance(scale, d):
    mu = np.zeros(d)
    assert frechet.gaussian_frechet_distance(mu, scale * np.eye(d), mu, scale * np.eye(d)) == 0.0
    refused(frechet.gaussian_frechet_distance, "cov_a", mu, -scale * np.eye(d), mu, np.eye(d))
    refused(frechet.gaussian_frechet_distance, "cov_b", mu, np.eye(d), mu, -scale * np.eye(d))


@covers("course_lib.training.gan_lab_config.LabConfig")
@given(bad=st.sampled_from([("d_steps", 10**6), ("d_steps", 0), ("batch_size", 10**7), ("pack", 10**4),
                            ("noise_dim", 10**6), ("g_lr", float("inf")), ("g_hidden", (10**6, 10**6))]))
def test_lab_config_bounds(bad):
    name, value = bad
    refused(lambda: LAB.LabConfig(**{name: value}), name.split("_")[0] if name == "g_hidden" else name)
    config = LAB.LabConfig(g_hidden=(8,), d_hidden=(8,), batch_size=16)
    assert config.replace(g_lr=1e-3).g_lr == 1e-3 and config.static_key == config.replace(g_lr=1e-3).static_key
    good()


def _small_lab():
    return LW.gan_lab(LW.LAB_DEFAULTS.replace(g_hidden=(8,), d_hidden=(8,), batch_size=16),
                      steps_per_frame=2, size=32)


def test_gan_lab_bounds_steps_and_recovers():
    panel = _small_lab()
    lab = panel.lab
    refused(lab.advance, "num_steps", 10**9)
    panel.controls["steps_per_frame"].value = 10**7
    panel.controls["step"].click()  # must not hang: refused, reverted, shown
    assert "steps/frame" in panel.status.text and panel.controls["steps_per_frame"].value == 2
    panel.controls["d_steps"].value = 10**6
    assert "d_steps" in panel.status.text and panel.controls["d_steps"].value == lab.config.d_steps
    config = lab.config
    try:
        lab.configure(g_hidden=(10**5, 10**5))  # too many weights: refused before allocating
    except ValueError:
        pass
    assert lab.config == config
    panel.controls["step"].click()  # the lab still works after every failure
    assert lab.step == 2 and panel.status.text.startswith("step 2")
    COUNTS["bad"] += 3


@given(case=st.sampled_from(["x16", "empty", "key", "huge"]))
def test_likelihood_estimates_refuse_bad_input(case):
    from course_lib.evaluation import likelihood as L
    from course_lib.models import VAE

    vae = VAE(4, 2, (4,), rngs=nnx.Rngs(0))
    x = np.zeros((3, 4), np.float32)
    args = {"x16": (x + 16, key(), 4), "empty": (x[:0], key(), 4), "key": (x, 0, 4), "huge": (x, key(), 10**9)}[case]
    arg = {"x16": "x", "empty": "x", "key": "key", "huge": "num_samples"}[case]
    refused(lambda: L.log_importance_weights(vae, args[0], args[1], num_samples=args[2], batch_size=3), arg)
    if case in ("x16", "empty"):
        refused(L.active_units, "x", vae, args[0])


@given(bad=st.sampled_from([np.zeros((3, 0)), np.zeros((0, 4)), "w", np.zeros(4)]))
def test_iwae_bound_refuses_bad_log_weights(bad):
    from course_lib.evaluation import likelihood as L

    refused(L.iwae_bound, "log_w", bad)
    finite(L.iwae_bound(np.zeros((2, 3))), (2,))


@given(scale=st.floats(0.1, 5.0))
def test_gaussian_kl_full_refuses_non_pd(scale):
    from course_lib.evaluation import likelihood as L

    mu = np.zeros((2, 3), np.float32)
    eye = np.eye(3, dtype=np.float32)
    finite(L.gaussian_kl_full(mu, scale * eye, mu, eye), (2,))
    refused(L.gaussian_kl_full, "cov_q", mu, -scale * eye, mu, eye)
    refused(L.gaussian_kl_full, "cov_p", mu, eye, mu, np.zeros((2, 2), np.float32))
    refused(L.gaussian_kl_full, "mu_p", mu, eye, mu[:, :2], eye)
