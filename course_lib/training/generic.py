"""A generic, scan-fused trainer for any per-batch loss over a pytree of parameters.

Taught in 07_beyond.ipynb: the flow, the diffusion model and the autoregressive model
all train with :func:`fit`, which only needs

    loss_fn(params, x (B, ...), key) -> (scalar loss, dict of scalar metrics)

Each call to the compiled function runs ``eval_every`` whole epochs inside one
``jax.lax.scan`` (over epochs) of ``jax.lax.scan`` (over minibatches), so Python runs a
handful of times per training run. Batches are cut from a device-side permutation and
split over every local device (:mod:`course_lib.training.parallel`); with one device
that is a no-op. With ``x_val`` and ``eval_fn``, the parameters with the best validation
score are the ones returned (early stopping without stopping: we keep the best).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from course_lib import _validate
from course_lib.data.batching import num_batches
from course_lib.training import parallel
from course_lib.training.core import (
    CompiledStep,
    DivergenceError,
    History,
    check_finite,
    progress_bar,
    should_show_progress,
    tree_is_finite,
)

LR_SCHEDULES = ("constant", "cosine")


class FitResult(NamedTuple):
    """What :func:`fit` returns.

    params: the trained parameters (the best on validation when ``x_val`` was given).
    history: per-epoch ``loss`` (train mean) and ``val_loss`` where evaluated.
    best_epoch: the epoch (1-based) whose parameters were kept.
    seconds: wall-clock training time, compilation included.
    epoch_fn: the compiled multi-epoch function (its ``num_traces`` stays 1).
    cpu_seconds: CPU time of this process over the same span (all threads): unlike the wall
      time, it hardly changes when other programs share the machine.
    """

    params: object
    history: History
    best_epoch: int
    seconds: float
    epoch_fn: CompiledStep
    cpu_seconds: float = float("nan")


def make_schedule(lr: float, total_steps: int, kind: str = "constant"):
    """A learning-rate schedule: ``constant`` lr, or ``cosine`` decay from lr to 0 over total_steps."""
    lr = _validate.positive_float("lr", lr)
    total_steps = _validate.positive_int("total_steps", total_steps)
    _validate.one_of("lr_schedule", kind, LR_SCHEDULES)
    if kind == "cosine":
        return optax.cosine_decay_schedule(lr, total_steps)
    return lr


def debiased_ema(ema, decay: float, num_steps: int):
    """The moving average started at zero, corrected: ema / (1 - decay^num_steps)."""
    return jax.tree_util.tree_map(lambda e: e / (1.0 - decay**num_steps), ema)


def make_train_epochs(loss_fn: Callable, tx: optax.GradientTransformation, *, batch_size: int,
                      num_epochs: int, mesh, ema_decay: float = 0.0) -> CompiledStep:
    """Compile ``num_epochs`` epochs of minibatch updates into one function.

    Returns a :class:`CompiledStep` ``run((params, ema), opt_state, x (N, ...), key) ->
    ((params, ema), opt_state, metrics)`` where each metric is (num_epochs,) epoch means and
    ``ema`` is the exponential moving average of the parameters,
    ema <- decay * ema + (1 - decay) * params after every step (Polyak averaging), started
    at zero; :func:`debiased_ema` removes the pull towards that zero start, as Adam does.
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a function (params, x, key) -> (loss, metrics), got {type(loss_fn).__name__}")
    num_epochs = _validate.positive_int("num_epochs", num_epochs)
    parallel.check_batch_size(batch_size, mesh)

    def step(carry, inputs):
        (params, ema), opt_state = carry
        x, key = inputs
        (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, key)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        ema = jax.tree_util.tree_map(lambda e, p: ema_decay * e + (1.0 - ema_decay) * p, ema, params)
        return ((params, ema), opt_state), {"loss": loss, **metrics}

    def epoch(carry, key):
        params, opt_state, x = carry
        k_perm, k_steps = jax.random.split(key)
        n = x.shape[0] // batch_size
        perm = jax.random.permutation(k_perm, x.shape[0])[: n * batch_size]
        batches = x[perm].reshape((n, batch_size) + x.shape[1:])  # (S, B, ...)
        batches = parallel.constrain_batch(batches, mesh, batch_axis=1)  # each device: B / n_dev rows
        (params, opt_state), metrics = jax.lax.scan(step, (params, opt_state),
                                                    (batches, jax.random.split(k_steps, n)))
        return (params, opt_state, x), {k: jnp.mean(v) for k, v in metrics.items()}

    def run(params, opt_state, x, key):
        (params, opt_state, _), metrics = jax.lax.scan(epoch, (params, opt_state, x),
                                                       jax.random.split(key, num_epochs))
        metrics["finite"] = tree_is_finite(params[0])
        return params, opt_state, metrics

    return CompiledStep(run, name="fit_epochs")


def _check_fit_arguments(key, x_train, num_epochs, eval_every, batch_size, weight_decay, ema_decay, eval_fn,
                         x_val) -> tuple[int, int, float, float]:
    """Validate :func:`fit`'s arguments; returns (num_epochs, eval_every, weight_decay, ema_decay) as checked."""
    _validate.prng_key("key", key)
    _validate.array("x_train", x_train, dtype_kind="number")
    num_epochs = _validate.positive_int("num_epochs", num_epochs)
    eval_every = _validate.positive_int("eval_every", eval_every)
    num_batches(x_train.shape[0], batch_size)
    weight_decay = _validate.positive_float("weight_decay", weight_decay, allow_zero=True)
    ema_decay = _validate.real_in_range("ema_decay", ema_decay, 0.0, 0.99999)
    if (eval_fn is None) != (x_val is None):
        raise ValueError("give both eval_fn and x_val (for validation), or neither")
    if eval_fn is not None and not callable(eval_fn):
        raise TypeError(f"eval_fn must be a function (params, x_val) -> loss, got {type(eval_fn).__name__}")
    if num_epochs % eval_every:
        raise ValueError(f"num_epochs ({num_epochs}) must be a multiple of eval_every ({eval_every})")
    return num_epochs, eval_every, weight_decay, ema_decay


def _fit_optimizer(lr, total_steps: int, lr_schedule: str, weight_decay: float, grad_clip):
    """:func:`fit`'s optimizer: Adam (Kingma & Ba, 2015), or AdamW (Loshchilov & Hutter, 2019) with
    weight decay, on the learning-rate schedule, after global-norm clipping when ``grad_clip`` is set."""
    schedule = make_schedule(lr, total_steps, lr_schedule)
    tx = optax.adamw(schedule, weight_decay=weight_decay) if weight_decay > 0 else optax.adam(schedule)
    if grad_clip is not None:
        tx = optax.chain(optax.clip_by_global_norm(_validate.positive_float("grad_clip", grad_clip)), tx)
    return tx


def _check_chunk(metrics: dict, where: str, desc: str, lr) -> None:
    """Pop the chunk's ``finite`` flag; raise DivergenceError if a metric or the parameters are not finite."""
    finite = bool(metrics.pop("finite"))
    check_finite(metrics, where=where, hint=f"a smaller learning rate (lr={lr}) or gradient clipping (grad_clip)")
    if not finite:
        raise DivergenceError(f"training diverged during {desc}: the parameters became NaN or infinite. "
                              f"Try: a smaller learning rate (lr={lr}) or gradient clipping (grad_clip)")


def fit(
    loss_fn: Callable,
    params,
    x_train,
    *,
    key,
    num_epochs: int,
    batch_size: int = 100,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    lr_schedule: str = "constant",
    grad_clip: float | None = None,
    eval_fn: Callable | None = None,
    x_val=None,
    eval_every: int = 1,
    ema_decay: float = 0.0,
    devices=None,
    progress: bool | None = None,
    desc: str = "training",
) -> FitResult:
    """Minimise the mean of ``loss_fn`` over minibatches of ``x_train``.

    Args:
      loss_fn: ``(params, x (B, ...), key) -> (scalar loss, metrics dict)``, pure and jittable.
      params: initial parameter pytree (e.g. ``nnx.state(model, nnx.Param)``).
      x_train: (N, ...) training data.
      key: JAX random key (shuffling and whatever noise ``loss_fn`` draws).
      num_epochs, batch_size, lr: the usual; the optimizer is Adam, or AdamW when
        ``weight_decay`` > 0.
      lr_schedule: ``constant`` or ``cosine`` (decay to 0 over the whole run).
      grad_clip: clip the global gradient norm to this value (None: no clipping).
      eval_fn: ``(params, x_val) -> scalar`` validation loss (lower is better), jittable.
      x_val: validation data; with ``eval_fn``, evaluated every ``eval_every`` epochs and
        the best parameters are returned.
      ema_decay: if > 0, evaluate and return the exponential moving average of the parameters
        (decay per step, e.g. 0.999) instead of the last iterate.
      devices: devices to split each batch over (default: all local devices).
      progress: show a progress bar (None: only for runs that look longer than 2 s).

    Returns:
      :class:`FitResult`.
    """
    num_epochs, eval_every, weight_decay, ema_decay = _check_fit_arguments(
        key, x_train, num_epochs, eval_every, batch_size, weight_decay, ema_decay, eval_fn, x_val)
    mesh = parallel.data_mesh(devices)
    steps_per_epoch = x_train.shape[0] // batch_size
    tx = _fit_optimizer(lr, num_epochs * steps_per_epoch, lr_schedule, weight_decay, grad_clip)

    run = make_train_epochs(loss_fn, tx, batch_size=batch_size, num_epochs=eval_every, mesh=mesh,
                            ema_decay=ema_decay)
    evaluate = jax.jit(eval_fn) if eval_fn is not None else None
    params = parallel.replicate(params, mesh)
    opt_state = parallel.replicate(tx.init(params), mesh)
    params = (params, jax.tree_util.tree_map(jnp.zeros_like, params))  # (the iterate, its moving average)
    x_train = parallel.replicate(jnp.asarray(x_train), mesh)
    if x_val is not None:
        x_val = jnp.asarray(x_val)

    history = History()
    best = (np.inf, None, 0)
    bar = None
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        for chunk in range(num_epochs // eval_every):
            new_params, new_opt, metrics = run(params, opt_state, x_train, jax.random.fold_in(key, chunk))
            _check_chunk(metrics, f"{desc}, epochs {chunk * eval_every + 1}-{(chunk + 1) * eval_every}", desc, lr)
            params, opt_state = new_params, new_opt
            num_steps = (chunk + 1) * eval_every * steps_per_epoch
            current = debiased_ema(params[1], ema_decay, num_steps) if ema_decay > 0 else params[0]
            epoch = (chunk + 1) * eval_every
            record = {k: np.asarray(v) for k, v in metrics.items()}
            if evaluate is not None:
                val = float(evaluate(current, x_val))
                record["val_loss"] = np.full(eval_every, np.nan)
                record["val_loss"][-1] = val
                if val < best[0]:
                    best = (val, current, epoch)
            history.append(record)
            if bar is None:
                elapsed = time.perf_counter() - start
                bar = progress_bar(num_epochs, desc=desc,
                                   enabled=should_show_progress(progress, elapsed * num_epochs / eval_every))
            bar.update(eval_every)
            bar.set_postfix(loss=f"{float(record['loss'][-1]):.3f}")
    finally:
        if bar is not None:
            bar.close()
    final = current
    jax.block_until_ready(final)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    if evaluate is not None and best[2] > 0:
        return FitResult(best[1], history, best[2], seconds, run, cpu_seconds)
    return FitResult(final, history, num_epochs, seconds, run, cpu_seconds)
