"""Measurements of a trained vector field (08_vector_fields): field errors, samples, NFE curves, NLL.

Each function compiles one jitted program per (model structure, setting) and caches it, so a
notebook or a widget can call it repeatedly at no recompilation cost.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from course_lib import _validate
from course_lib.fields import gmm, paths
from course_lib.fields.guidance import check_labels, check_weight, velocity_fn
from course_lib.fields.likelihood import ode_log_likelihood
from course_lib.fields.samplers import check_finite_samples, check_sampler, integrate


def relative_error(approx, exact) -> float:
    """||approx - exact|| / ||exact|| over a whole batch (Frobenius norms)."""
    _validate.array("approx", approx, dtype_kind="number", min_rows=1)
    _validate.array("exact", exact, dtype_kind="number", min_rows=1)
    if tuple(approx.shape) != tuple(exact.shape):
        raise ValueError(f"exact must have the shape of approx {tuple(approx.shape)}, got {tuple(exact.shape)}")
    approx, exact = np.asarray(approx, np.float64), np.asarray(exact, np.float64)
    if not np.any(exact):
        raise ValueError("exact must not be all zeros (the relative error divides by its norm)")
    return float(np.linalg.norm(approx - exact) / np.linalg.norm(exact))


def field_errors(model, mixture, x0, key, times) -> list[dict]:
    """Relative errors of the network's score and velocity vs the exact noised-mixture ones at each t.

    Points are x_t = alpha_t x_0 + sigma_t eps (draws of p_t), x0 (B, D) draws of the mixture.
    """
    v = velocity_fn(model)
    _validate.array("x0", x0, ndim=2, shape=(None, model.dim), dtype_kind="float", min_rows=1)
    _validate.prng_key("key", key)
    if not hasattr(times, "__iter__") or isinstance(times, str):
        raise TypeError(f"times must be a sequence of times in [0, 1], got {type(times).__name__}")
    times = [_validate.real_in_range(f"times[{i}]", t, 0.0, 1.0) for i, t in enumerate(times)]
    out = []
    for i, t in enumerate(times):
        eps = jax.random.normal(jax.random.fold_in(key, i), x0.shape)
        x_t = paths.sample_path(model.path, x0, float(t), eps)
        tb = jnp.full((x0.shape[0],), float(t))
        v_net = v(x_t, tb)
        s_net = paths.convert(model.path, x_t, tb, v_net, source="velocity", target="score")
        out.append({"t": float(t), "score_rel_error": round(relative_error(s_net, gmm.score(mixture, model.path, x_t, tb)), 4),
                    "velocity_rel_error": round(relative_error(v_net, gmm.velocity(mixture, model.path, x_t, tb)), 4)})
    return out


def _check_model(model):
    from course_lib.models.vector_field import VectorFieldMLP

    _validate.instance("model", model, VectorFieldMLP, "a course_lib.models.vector_field.VectorFieldMLP")


@functools.lru_cache(maxsize=256)
def _sampler(graphdef, sampler: str, num_steps: int, conditional: bool, trajectory: bool):
    def run(state, x1, key, labels, w):
        model = nnx.merge(graphdef, state)
        v = velocity_fn(model) if not conditional else _guided(model, labels, w)
        return integrate(v, model.path, x1, sampler=sampler, num_steps=num_steps, key=key, trajectory=trajectory)

    return jax.jit(run)


def _guided(model, labels, w):
    def v(x, t):  # w is traced here, so one compilation serves every weight
        cond = velocity_fn(model, labels=labels)(x, t)
        uncond = velocity_fn(model, labels=jnp.full_like(labels, model.null_label))(x, t)
        return (1.0 + w) * cond - w * uncond

    return v


def sample(model, key, num_samples: int, *, sampler: str = "heun", num_steps: int = 20, labels=None,
           w: float = 0.0, trajectory: bool = False):
    """Samples (N, D) of a trained field from x_1 ~ N(0, I) (and the trajectory (S + 1, N, D) if asked).

    Raises SamplerDivergedError if the result is not finite.
    """
    _check_model(model)
    _validate.prng_key("key", key)
    num_samples = _validate.sample_count("num_samples", num_samples, per_sample=model.dim)
    num_steps = check_sampler(sampler, num_steps)
    _validate.boolean("trajectory", trajectory)
    if trajectory:
        _validate.sample_count("num_steps", num_steps, per_sample=num_samples * model.dim)
    w = check_weight(w)
    graphdef, state = nnx.split(model)
    conditional = labels is not None
    if conditional:
        labels = check_labels(labels, model.num_classes)
        if labels.shape != (num_samples,):
            raise ValueError(f"labels must have shape ({num_samples},), got {labels.shape}")
    k1, k2 = jax.random.split(key)
    x1 = jax.random.normal(k1, (num_samples, model.dim))
    lab = labels if conditional else jnp.zeros((num_samples,), jnp.int32)
    out = _sampler(graphdef, sampler, num_steps, conditional, trajectory)(state, x1, k2, lab, jnp.float32(w))
    check_finite_samples(out[0] if trajectory else out)
    return (np.asarray(out[0]), np.asarray(out[1])) if trajectory else np.asarray(out)


@functools.lru_cache(maxsize=32)
def _nll_fn(graphdef, num_steps: int):
    def run(state, x):
        model = nnx.merge(graphdef, state)
        return ode_log_likelihood(velocity_fn(model), model.path, x, num_steps=num_steps)[0]

    return jax.jit(run)


def log_likelihood(model, x, *, num_steps: int = 100, batch_size: int = 500) -> np.ndarray:
    """log p(x) (N,) through the probability-flow ODE, in batches (exact divergence, Heun steps)."""
    _check_model(model)
    _validate.array("x", x, ndim=2, shape=(None, model.dim), dtype_kind="number", min_rows=1)
    num_steps = _validate.positive_int("num_steps", num_steps)
    batch_size = _validate.positive_int("batch_size", batch_size)
    graphdef, state = nnx.split(model)
    fn = _nll_fn(graphdef, int(num_steps))
    x = np.asarray(x, np.float32)
    parts = []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        pad = batch_size - len(xb) if len(x) > batch_size else 0
        xb_full = np.concatenate([xb, np.zeros((pad, x.shape[1]), np.float32)]) if pad else xb
        parts.append(np.asarray(fn(state, jnp.asarray(xb_full)))[:len(xb)])
    return np.concatenate(parts)
