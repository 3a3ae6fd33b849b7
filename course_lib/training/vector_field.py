"""Training a vector field by denoising score matching or conditional flow matching (08_vector_fields).

One compiled function runs ``chunk`` optimizer steps inside ``jax.lax.scan``: draw a minibatch,
t ~ U(t_min, 1), eps ~ N(0, I), optionally drop labels to the null label (classifier-free guidance),
take the loss of :mod:`course_lib.fields.losses` that matches ``model.prediction``, and update with
Adam. Python only loops over chunks, checks the loss is finite after each (a diverging run stops with
:class:`~course_lib.training.core.DivergenceError`) and records the mean loss of each chunk.
``TRACES`` counts how often the chunk function was traced (a test checks: once).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from course_lib import _validate
from course_lib.fields.losses import LOSSES
from course_lib.fields.paths import get_path
from course_lib.training.core import DivergenceError
from course_lib.training.generic import make_schedule

TRACES = {"chunk": 0}


class TrainResult(NamedTuple):
    """losses: (num_chunks,) mean loss per chunk; steps: steps done; seconds: wall time (compilation included)."""

    losses: np.ndarray
    steps: int
    seconds: float


def _label_dropout(key, labels, p, null):
    drop = jax.random.bernoulli(key, p, labels.shape)
    return jnp.where(drop, null, labels)


def make_chunk_fn(graphdef, tx, *, path: str, prediction: str, batch_size: int, chunk: int,
                  label_dropout: float, null_label: int, transform: Callable | None, ema_decay: float):
    """The compiled function (state, opt_state, ema, x, labels, key) -> (..., losses (chunk,)) of ``chunk`` steps."""
    p = get_path(path)
    loss_per_example = LOSSES[prediction]

    def loss_fn(state, x0, t, eps, lab):
        model = nnx.merge(graphdef, state)
        return jnp.mean(loss_per_example(lambda xt, tt: model(xt, tt, lab), p, x0, t, eps))

    def step(carry, key):
        state, opt_state, ema, x, labels = carry
        k_idx, k_t, k_eps, k_drop, k_deq = jax.random.split(key, 5)
        idx = jax.random.randint(k_idx, (batch_size,), 0, x.shape[0])
        x0 = x[idx] if transform is None else transform(k_deq, x[idx])
        t = jax.random.uniform(k_t, (batch_size,), minval=p.t_min, maxval=1.0)
        eps = jax.random.normal(k_eps, x0.shape)
        lab = None if labels is None else _label_dropout(k_drop, labels[idx], label_dropout, null_label)
        loss, grads = jax.value_and_grad(loss_fn)(state, x0, t, eps, lab)
        updates, opt_state = tx.update(grads, opt_state, state)
        state = optax.apply_updates(state, updates)
        ema = jax.tree_util.tree_map(lambda e, s: ema_decay * e + (1.0 - ema_decay) * s, ema, state)
        return (state, opt_state, ema, x, labels), loss

    def run(state, opt_state, ema, x, labels, key):
        TRACES["chunk"] += 1  # runs only while tracing
        (state, opt_state, ema, _, _), losses = jax.lax.scan(step, (state, opt_state, ema, x, labels),
                                                             jax.random.split(key, chunk))
        return state, opt_state, ema, losses

    return jax.jit(run, donate_argnums=(0, 1, 2))


def train_vector_field(model, x, *, key, num_steps: int, batch_size: int = 256, lr: float = 1e-3,
                       labels=None, label_dropout: float = 0.0, transform: Callable | None = None,
                       chunk: int = 500, ema_decay: float = 0.0, grad_clip: float | None = None,
                       lr_schedule: str = "constant") -> TrainResult:
    """Train ``model`` (a VectorFieldMLP) in place on the rows of ``x`` (N, D); returns the loss curve.

    Args:
      x: (N, D) training data (or integer levels, with ``transform`` turning a batch into floats).
      key: JAX key of the whole run (batches, times, noise, label dropout).
      num_steps: optimizer steps, rounded up to a multiple of ``chunk``.
      labels: (N,) class labels for a conditional model; label_dropout: probability of the null label.
      transform: optional (key, batch) -> x_0, e.g. uniform dequantisation of image levels.
      ema_decay: if > 0, the model ends with the exponential moving average of the weights.
      lr_schedule: ``constant`` or ``cosine`` (decay from lr to 0 over the run's steps).
    """
    from course_lib.models.vector_field import VectorFieldMLP

    _validate.instance("model", model, VectorFieldMLP, "a course_lib.models.vector_field.VectorFieldMLP")
    _validate.prng_key("key", key)
    _validate.array("x", x, ndim=2, dtype_kind="number", min_rows=1)
    if transform is not None:
        _validate.callable_("transform", transform, "a function (key, batch) -> x_0, or None")
    if grad_clip is not None:
        _validate.positive_float("grad_clip", grad_clip)
    if x.shape[1] != model.dim:
        raise ValueError(f"x must have {model.dim} columns (the model's dim), got {x.shape[1]}")
    num_steps = _validate.positive_int("num_steps", num_steps)
    batch_size = _validate.positive_int("batch_size", batch_size)
    lr = _validate.positive_float("lr", lr)
    chunk = min(_validate.positive_int("chunk", chunk), num_steps)
    label_dropout = _validate.real_in_range("label_dropout", label_dropout, 0.0, 1.0)
    ema_decay = _validate.real_in_range("ema_decay", ema_decay, 0.0, 1.0 - 1e-9)
    if (labels is None) != (not model.num_classes):
        raise ValueError("pass labels exactly when the model is conditional (num_classes > 0), "
                         f"got labels={'None' if labels is None else 'an array'} and num_classes={model.num_classes}")
    if labels is not None:
        from course_lib.fields.guidance import check_labels

        labels = check_labels(labels, model.num_classes)
    num_chunks = -(-num_steps // chunk)
    adam = optax.adam(make_schedule(lr, num_chunks * chunk, lr_schedule))
    tx = adam if grad_clip is None else optax.chain(optax.clip_by_global_norm(grad_clip), adam)
    graphdef, state = nnx.split(model)
    opt_state = tx.init(state)
    ema = jax.tree_util.tree_map(jnp.copy, state)
    run = make_chunk_fn(graphdef, tx, path=model.path, prediction=model.prediction, batch_size=batch_size,
                        chunk=chunk, label_dropout=label_dropout, null_label=model.num_classes,
                        transform=transform, ema_decay=ema_decay)
    x = jnp.asarray(x)
    losses, start = [], time.perf_counter()
    for i in range(num_chunks):
        state, opt_state, ema, chunk_losses = run(state, opt_state, ema, x, labels, jax.random.fold_in(key, i))
        mean = float(jnp.mean(chunk_losses))
        if not np.isfinite(mean):
            raise DivergenceError(f"training diverged at chunk {i} (steps {i * chunk}..{(i + 1) * chunk}): the loss is "
                                  f"{mean}; lower lr (now {lr}) or set grad_clip")
        losses.append(mean)
    nnx.update(model, ema if ema_decay > 0 else state)
    return TrainResult(np.asarray(losses), num_chunks * chunk, time.perf_counter() - start)
