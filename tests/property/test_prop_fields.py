"""Properties of course_lib.fields (paths, exact mixture fields, losses, samplers, DDIM bridge, ODE
likelihood, guidance, evaluation) and course_lib.models.vector_field."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from hypothesis import given, settings, strategies as st

from course_lib.data.toy import GaussianMixture
from course_lib.fields import ddpm_bridge as DB
from course_lib.fields import evaluate as EV
from course_lib.fields import gmm
from course_lib.fields import guidance as GU
from course_lib.fields import likelihood as LI
from course_lib.fields import losses as FL
from course_lib.fields import paths as P
from course_lib.fields import samplers as SA
from course_lib.models.diffusion import make_schedule
from course_lib.models.vector_field import VectorFieldMLP, time_features
from prop_harness import (BAD_CALLABLES, BAD_COUNTS, BAD_FINITE_FLOATS, BAD_KEYS, BAD_POSITIVE_FLOATS,
                          BAD_STRINGS, NOT_ARRAYS, bad_arrays, covers, finite, floats, good, key, refused)

MIX = GaussianMixture(np.array([0.3, 0.7]), np.array([[-1.5, 0.0], [1.0, 1.0]], np.float32), 0.4)
BAD_POINTS = st.sampled_from([None, "x", np.zeros(()), np.zeros((3, 2, 2), np.float32), np.zeros((0, 2), np.float32),
                              np.zeros(3, np.float32), [[1.0, 2.0]]])
"""Bad (B, D) point arrays for functions that take any width D."""
BAD_TIMES = st.sampled_from([-0.1, 1.5, math.nan, "0.5", None, np.array([2.0], np.float32)])
_MODELS = {}


def _model(num_classes=0, prediction="velocity", path="linear"):
    k = (num_classes, prediction, path)
    if k not in _MODELS:
        _MODELS[k] = VectorFieldMLP(2, (8,), time_dim=4, num_classes=num_classes, prediction=prediction,
                                    path=path, rngs=nnx.Rngs(0))
    return _MODELS[k]


def _identity(x, t):
    return -x


@covers("course_lib.fields.paths.GaussianPath", "course_lib.fields.paths.get_path",
        "course_lib.fields.paths.coefficients", "course_lib.fields.paths.sample_path",
        "course_lib.fields.paths.conditional_velocity", "course_lib.fields.paths.sde_coefficients",
        "course_lib.fields.paths.to_x0_eps", "course_lib.fields.paths.convert",
        "course_lib.fields.paths.velocity_from_score")
@given(name=st.sampled_from(P.PATHS), b=st.integers(1, 6), t=st.floats(0.05, 0.95),
       source=st.sampled_from(P.PREDICTIONS), target=st.sampled_from(P.PREDICTIONS))
@settings(max_examples=6)
def test_paths_valid(name, b, t, source, target):
    path = P.get_path(name)
    assert isinstance(path, P.GaussianPath)
    rng = np.random.default_rng(b)
    x0, eps = rng.normal(size=(2, b, 2)).astype(np.float32)
    for c in P.coefficients(path, np.full(b, t, np.float32)):
        finite(c, (b,))
    xt = finite(P.sample_path(path, x0, t, eps), (b, 2))
    finite(P.conditional_velocity(path, x0, np.full(b, t, np.float32), eps), (b, 2))
    f, g2 = P.sde_coefficients(path, t)
    assert math.isfinite(float(f)) and float(g2) >= 0
    x0_hat, eps_hat = P.to_x0_eps(path, xt, t, "eps", eps)
    assert np.allclose(x0_hat, x0, atol=1e-3 * max(1.0, 1 / float(P.coefficients(path, t)[0])))
    out = finite(P.convert(path, xt, t, P.convert(path, xt, t, eps, source="eps", target=source),
                           source=source, target=target), (b, 2))
    assert np.allclose(out, P.convert(path, xt, t, eps, source="eps", target=target), rtol=1e-3, atol=1e-3)
    finite(P.velocity_from_score(path, xt, t, P.convert(path, xt, t, eps, source="eps", target="score")), (b, 2))


@covers("course_lib.fields.paths.as_path", "course_lib.fields.paths.cols", "course_lib.fields.paths.check_times")
@given(name=st.sampled_from(P.PATHS), b=st.integers(1, 6), t=st.floats(0.0, 1.0), bad_name=BAD_STRINGS)
@settings(max_examples=6)
def test_path_helpers(name, b, t, bad_name):
    path = P.as_path(name)
    assert P.as_path(path) is path and path == P.get_path(name)
    like = np.zeros((b, 3), np.float32)
    cols = P.cols(path, t, like)
    assert len(cols) == 4
    for c, full in zip(cols, P.coefficients(path, np.full(b, t, np.float32))):
        finite(c, (b, 1))
        assert np.allclose(np.asarray(c)[:, 0], full)
    refused(P.as_path, "path", bad_name)
    assert P.check_times(t) == t
    assert np.array_equal(P.check_times(np.full(b, t, np.float32)), np.full(b, t, np.float32))
    refused(P.check_times, "t", t + 1.5)
    refused(P.check_times, "t", np.full(b, -0.5, np.float32))
    refused(P.check_times, "t", bad_name)


@given(bad_t=BAD_TIMES, bad_x=bad_arrays((4, 2)), bad_name=BAD_STRINGS)
def test_paths_bad(bad_t, bad_x, bad_name):
    x = np.zeros((4, 2), np.float32)
    refused(P.get_path, "path", bad_name)
    refused(P.coefficients, "t", "vp", bad_t)
    refused(P.sample_path, "t", "vp", x, bad_t, x)
    refused(P.sample_path, "t", "linear", x, np.zeros(3, np.float32), x)
    if not (hasattr(bad_x, "shape") and bad_x.shape == (4, 2)):  # NaN arrays of the right shape are data
        refused(P.sample_path, ("x0", "eps"), "vp", bad_x, 0.5, x) if not isinstance(bad_x, np.ndarray) \
            or bad_x.ndim != 2 or bad_x.shape[0] == 0 else refused(P.sample_path, "eps", "vp", x, 0.5, bad_x)
    refused(P.conditional_velocity, "eps", "vp", x, 0.5, np.zeros((4, 3), np.float32))
    refused(P.to_x0_eps, "prediction", "vp", x, 0.5, bad_name, x)
    refused(P.to_x0_eps, "value", "vp", x, 0.5, "eps", np.zeros((3, 2), np.float32))
    refused(P.convert, "target", "vp", x, 0.5, x, source="eps", target=bad_name)
    refused(P.sde_coefficients, "t", "vp", bad_t)
    refused(P.velocity_from_score, "score", "vp", x, 0.5, np.zeros((4, 1), np.float32))


@covers("course_lib.fields.gmm.posterior", "course_lib.fields.gmm.score", "course_lib.fields.gmm.velocity",
        "course_lib.fields.gmm.log_density")
@given(path=st.sampled_from(P.PATHS), x=floats((5, 2)), t=st.floats(0.05, 1.0))
@settings(max_examples=5)
def test_gmm_valid(path, x, t):
    r, x0, eps, s = gmm.posterior(MIX, path, x, t)
    assert np.allclose(finite(r, (5, 2)).sum(1), 1.0, atol=1e-5)
    finite(x0, (5, 2)), finite(eps, (5, 2))
    assert np.allclose(finite(gmm.score(MIX, path, x, t), (5, 2)), s, atol=1e-5)
    finite(gmm.velocity(MIX, path, x, t), (5, 2))
    finite(gmm.log_density(MIX, path, x, t), (5,))


@given(bad_t=BAD_TIMES, bad_x=bad_arrays((5, 2), nan=False), bad_mix=NOT_ARRAYS)
def test_gmm_bad(bad_t, bad_x, bad_mix):
    x = np.zeros((5, 2), np.float32)
    for fn in (gmm.posterior, gmm.score, gmm.velocity, gmm.log_density):
        refused(fn, "t", MIX, "vp", x, bad_t)
        refused(fn, "x", MIX, "vp", bad_x, 0.5)
        refused(fn, "mixture", bad_mix, "vp", x, 0.5)


@covers("course_lib.fields.losses.dsm_loss", "course_lib.fields.losses.cfm_loss")
@given(path=st.sampled_from(P.PATHS), x0=floats((6, 2)), t=st.floats(0.0, 1.0))
@settings(max_examples=5)
def test_losses_valid(path, x0, t):
    eps = np.ones_like(x0)
    tb = np.full(6, t, np.float32)
    assert np.allclose(finite(FL.dsm_loss(lambda x, s: jnp.ones_like(x), path, x0, tb, eps), (6,)), 0.0)
    finite(FL.cfm_loss(_identity, path, x0, tb, eps), (6,))


@given(bad_fn=BAD_CALLABLES, bad_t=BAD_TIMES)
def test_losses_bad(bad_fn, bad_t):
    x = np.zeros((4, 2), np.float32)
    t = np.full(4, 0.5, np.float32)
    refused(FL.dsm_loss, "eps_fn", bad_fn, "vp", x, t, x)
    refused(FL.cfm_loss, "v_fn", bad_fn, "vp", x, t, x)
    refused(FL.dsm_loss, "eps_fn", lambda a, b: a[:, :1], "vp", x, t, x)
    refused(FL.cfm_loss, "v_fn", lambda a, b: None, "vp", x, t, x)
    refused(FL.cfm_loss, "t", _identity, "vp", x, bad_t, x)
    refused(FL.cfm_loss, "eps", _identity, "vp", x, t, "eps")


@covers("course_lib.fields.samplers.SamplerDivergedError", "course_lib.fields.samplers.check_sampler",
        "course_lib.fields.samplers.nfe", "course_lib.fields.samplers.time_grid",
        "course_lib.fields.samplers.integrate", "course_lib.fields.samplers.check_finite_samples",
        "course_lib.fields.samplers.langevin", "course_lib.fields.samplers.annealed_langevin")
@given(sampler=st.sampled_from(SA.SAMPLERS), n=st.integers(1, 8), b=st.integers(1, 5),
       path=st.sampled_from(P.PATHS))
@settings(max_examples=6)
def test_samplers_valid(sampler, n, b, path):
    assert SA.check_sampler(sampler, n) == n and SA.nfe(sampler, n) == n * SA.EVALS_PER_STEP[sampler]
    finite(SA.time_grid(path, n), (n + 1,))
    x1 = np.ones((b, 2), np.float32)
    x, xs = SA.integrate(_identity, path, x1, sampler=sampler, num_steps=n, key=key(), trajectory=True)
    finite(x, (b, 2)), finite(xs, (n + 1, b, 2))
    assert SA.check_finite_samples(x).shape == (b, 2)
    finite(SA.langevin(lambda z: -z, x1, key(), step_size=0.1, num_steps=n), (b, 2))
    finite(SA.annealed_langevin(_identity, path, x1, key(), num_levels=2, steps_per_level=n), (b, 2))
    try:
        SA.check_finite_samples(np.full((b, 2), np.nan))
    except SA.SamplerDivergedError as err:
        assert "diverged" in str(err)
    else:
        raise AssertionError("NaN samples accepted")


@given(bad_n=BAD_COUNTS, bad_s=BAD_STRINGS, bad_key=BAD_KEYS, bad_fn=BAD_CALLABLES,
       bad_x=BAD_POINTS, bad_step=BAD_POSITIVE_FLOATS)
def test_samplers_bad(bad_n, bad_s, bad_key, bad_fn, bad_x, bad_step):
    x = np.ones((3, 2), np.float32)
    refused(SA.check_sampler, "sampler", bad_s, 3)
    refused(SA.check_sampler, "num_steps", "euler", bad_n)
    refused(SA.nfe, "num_steps", "heun", bad_n)
    refused(SA.time_grid, "num_steps", "vp", bad_n)
    refused(SA.integrate, "velocity_fn", bad_fn, "vp", x)
    refused(SA.integrate, "x1", _identity, "vp", bad_x)
    refused(SA.integrate, "num_steps", _identity, "vp", x, num_steps=bad_n)
    refused(SA.integrate, "key", _identity, "vp", x, sampler="ancestral", key=bad_key)
    refused(SA.integrate, "num_steps", _identity, "vp", np.ones((10**4, 100), np.float32), num_steps=10**5,
            trajectory=True)  # 10**11 numbers: refused before allocating
    refused(SA.check_finite_samples, "x", "x")
    refused(SA.langevin, "score_fn", bad_fn, x, key(), step_size=0.1, num_steps=3)
    refused(SA.langevin, "key", lambda z: z, x, bad_key, step_size=0.1, num_steps=3)
    refused(SA.langevin, "step_size", lambda z: z, x, key(), step_size=bad_step, num_steps=3)
    refused(SA.langevin, "num_steps", lambda z: z, x, key(), step_size=0.1, num_steps=bad_n)
    refused(SA.annealed_langevin, "num_levels", _identity, "vp", x, key(), num_levels=bad_n)
    refused(SA.annealed_langevin, ("steps_per_level", "num_levels"), _identity, "vp", x, key(), num_levels=10**5,
            steps_per_level=10**5)
    refused(SA.annealed_langevin, "t_min", _identity, "vp", x, key(), t_min=2.0)


@covers("course_lib.fields.ddpm_bridge.ddim_times", "course_lib.fields.ddpm_bridge.ddim_sample")
@given(big_t=st.integers(2, 50), data=st.data())
@settings(max_examples=5)
def test_ddim_valid(big_t, data):
    n = data.draw(st.integers(1, big_t))
    taus = DB.ddim_times(big_t, n)
    assert 1 <= taus[0] <= big_t and taus[-1] == 0 and len(taus) <= n + 1 and np.all(np.diff(taus) < 0)
    schedule = make_schedule(big_t)
    x, xs = DB.ddim_sample(lambda x, t: jnp.zeros_like(x), schedule, np.ones((3, 2), np.float32), n, trajectory=True)
    finite(x, (3, 2)), finite(xs, (len(taus), 3, 2))


@given(bad_n=BAD_COUNTS, bad_fn=BAD_CALLABLES, bad_x=BAD_POINTS)
def test_ddim_bad(bad_n, bad_fn, bad_x):
    schedule = make_schedule(10)
    x = np.ones((3, 2), np.float32)
    refused(DB.ddim_times, "num_steps", 10, bad_n if bad_n != 10**12 else 11)
    refused(DB.ddim_times, "big_t", bad_n, 1) if bad_n not in (True,) else None
    refused(DB.ddim_sample, "eps_fn", bad_fn, schedule, x, 3)
    refused(DB.ddim_sample, "schedule", lambda x, t: x, "linear", x, 3)
    refused(DB.ddim_sample, "x_T", lambda x, t: x, schedule, bad_x, 3)


@covers("course_lib.fields.likelihood.divergence", "course_lib.fields.likelihood.ode_log_likelihood",
        "course_lib.fields.likelihood.dequantized_nll_offset", "course_lib.fields.likelihood.dequantize_to_unit",
        "course_lib.fields.likelihood.levels_from_unit")
@given(b=st.integers(1, 4), k=st.integers(2, 17), n=st.integers(1, 6))
@settings(max_examples=4)
def test_likelihood_valid(b, k, n):
    x = np.ones((b, 2), np.float32)
    assert np.allclose(finite(LI.divergence(_identity, x, np.full(b, 0.5, np.float32)), (b,)), -2.0)
    ll, x1 = LI.ode_log_likelihood(lambda x, t: jnp.zeros_like(x), "linear", x, num_steps=n)
    assert np.allclose(finite(ll, (b,)), -1.0 - math.log(2 * math.pi), atol=1e-5)  # v = 0: the N(0, I) prior
    assert math.isfinite(LI.dequantized_nll_offset(4, k))
    levels = np.random.default_rng(k).integers(0, k, (b, 3)).astype(np.int32)
    y = finite(LI.dequantize_to_unit(levels, np.full((b, 3), 0.5, np.float32), k), (b, 3))
    assert np.array_equal(np.asarray(LI.levels_from_unit(y, k)), levels)


@given(bad_n=BAD_COUNTS, bad_fn=BAD_CALLABLES, bad=NOT_ARRAYS)
def test_likelihood_bad(bad_n, bad_fn, bad):
    x = np.ones((3, 2), np.float32)
    t = np.full(3, 0.5, np.float32)
    refused(LI.divergence, "velocity_fn", bad_fn, x, t)
    refused(LI.divergence, "x", _identity, bad, t)
    refused(LI.divergence, "t", _identity, x, np.zeros(2, np.float32))
    refused(LI.ode_log_likelihood, "num_steps", _identity, "vp", x, num_steps=bad_n)
    refused(LI.ode_log_likelihood, "x0", _identity, "vp", np.zeros(3, np.float32))
    refused(LI.dequantized_nll_offset, "dim", bad_n, 17)
    refused(LI.dequantized_nll_offset, "num_levels", 4, 1)
    refused(LI.dequantize_to_unit, "x_levels", np.full((2, 2), 17), np.zeros((2, 2), np.float32), 17)
    refused(LI.dequantize_to_unit, "u", np.zeros((2, 2), np.int32), np.full((2, 2), 1.0, np.float32), 17)
    refused(LI.levels_from_unit, "y", bad, 17)
    refused(LI.levels_from_unit, "num_levels", np.zeros(2), bad_n if bad_n != 10**12 else 1)


@covers("course_lib.fields.guidance.check_weight", "course_lib.fields.guidance.cfg_combine",
        "course_lib.fields.guidance.check_labels", "course_lib.fields.guidance.velocity_fn")
@given(w=st.floats(-3, 3), b=st.integers(1, 5), pred=st.sampled_from(["velocity", "eps"]))
@settings(max_examples=4)
def test_guidance_valid(w, b, pred):
    assert GU.check_weight(w) == w
    v = np.ones((b, 2), np.float32)
    assert np.allclose(finite(GU.cfg_combine(v, v, w), (b, 2)), v)
    assert np.asarray(GU.check_labels(np.arange(b) % 3, 3)).shape == (b,)
    model = _model(3, pred, "vp")
    fn = GU.velocity_fn(model, labels=np.zeros(b, np.int32), w=w)
    finite(fn(v, np.full(b, 0.5, np.float32)), (b, 2))


@given(bad_w=BAD_FINITE_FLOATS, bad=NOT_ARRAYS)
def test_guidance_bad(bad_w, bad):
    v = np.ones((3, 2), np.float32)
    refused(GU.check_weight, "w", bad_w)
    refused(GU.cfg_combine, "w", v, v, bad_w)
    refused(GU.cfg_combine, "v_uncond", v, np.ones((2, 2), np.float32), 1.0)
    refused(GU.cfg_combine, "v_cond", bad, v, 1.0)
    refused(GU.check_labels, "labels", np.array([0, 5]), 3)
    refused(GU.check_labels, "labels", np.array([0.5]), 3)
    refused(GU.velocity_fn, "model", bad)
    refused(GU.velocity_fn, "labels", _model(), labels=np.zeros(3, np.int32))
    refused(GU.velocity_fn, "w", _model(3), labels=np.zeros(3, np.int32), w=bad_w)


@covers("course_lib.fields.evaluate.relative_error", "course_lib.fields.evaluate.field_errors",
        "course_lib.fields.evaluate.sample", "course_lib.fields.evaluate.log_likelihood",
        "course_lib.models.vector_field.VectorFieldMLP", "course_lib.models.vector_field.time_features")
@given(n=st.integers(1, 6), sampler=st.sampled_from(SA.SAMPLERS), dim=st.sampled_from([1, 2, 8]))
@settings(max_examples=3)
def test_evaluate_and_model_valid(n, sampler, dim):
    a = np.ones((n, 2), np.float32)
    assert EV.relative_error(a, a) == 0.0
    model = _model()
    finite(model(a, 0.5), (n, 2))
    finite(time_features(np.linspace(0, 1, n, dtype=np.float32), dim), (n, dim))
    rows = EV.field_errors(model, MIX, a, key(), [0.5, 1.0])
    assert len(rows) == 2 and all(math.isfinite(r["velocity_rel_error"]) for r in rows)
    x, xs = EV.sample(model, key(), n, sampler=sampler, num_steps=2, trajectory=True)
    finite(x, (n, 2)), finite(xs, (3, n, 2))
    finite(EV.sample(_model(3), key(), n, num_steps=2, labels=np.zeros(n, np.int32), w=1.0), (n, 2))
    finite(EV.log_likelihood(model, a, num_steps=2, batch_size=4), (n,))


@given(bad_key=BAD_KEYS, bad_n=BAD_COUNTS, bad=NOT_ARRAYS, bad_x=bad_arrays((3, 2)))
@settings(max_examples=6)
def test_evaluate_and_model_bad(bad_key, bad_n, bad, bad_x):
    a = np.ones((3, 2), np.float32)
    model = _model()
    refused(EV.relative_error, "exact", a, np.ones((2, 2)))
    refused(EV.relative_error, "exact", a, np.zeros((3, 2)))
    refused(EV.relative_error, "approx", bad, a)
    refused(EV.field_errors, "model", bad, MIX, a, key(), [0.5])
    refused(EV.field_errors, "key", model, MIX, a, bad_key, [0.5])
    refused(EV.field_errors, "times[0]", model, MIX, a, key(), [1.5])
    refused(EV.field_errors, "x0", model, MIX, bad_x, key(), [0.5])
    refused(EV.sample, "model", bad, key(), 3)
    refused(EV.sample, "key", model, bad_key, 3)
    refused(EV.sample, "num_samples", model, key(), bad_n)
    refused(EV.sample, "labels", _model(3), key(), 3, labels=np.array([0, 1, 7]))
    refused(EV.log_likelihood, "x", model, bad_x)
    refused(EV.log_likelihood, "batch_size", model, a, batch_size=bad_n)
    refused(model, "x", np.ones((3, 3), np.float32), 0.5)
    refused(model, "t", a, 2.0)
    refused(_model(3), "labels", a, 0.5, np.array([0, 1, 9], np.int32))
    refused(time_features, "t", bad, 4)
    refused(time_features, "dim", np.zeros(3, np.float32), 3)
    refused(lambda: VectorFieldMLP(2, (8,), time_dim=bad_n, rngs=nnx.Rngs(0)), "time_dim")
