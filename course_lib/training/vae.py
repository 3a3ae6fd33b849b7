"""Training a VAE: a jit-compiled step, a scan-fused epoch and a fit loop.

Taught in 04_vae.ipynb ("Training"). The objective per batch is the mean negative
ELBO, with two options used in the posterior-collapse section:

- ``beta``: weight of the KL term (beta-VAE). ``kl_warmup_epochs`` = W ramps it linearly,
  beta * min(1, (epoch + 1) / W), so from beta / W in the first epoch (not from 0) up to beta
  (KL warm-up / annealing: Bowman et al. 2016; Sonderby et al. 2016);
- ``free_bits`` (lambda, Kingma et al. 2016): the KL of each latent dimension,
  averaged over the batch, only counts above lambda nats:
      KL_obj = sum_j max(lambda, mean_b KL_bj).
The reported ``loss`` is always the true negative ELBO (rec + kl), whatever the options.

:func:`train_vae` is data-parallel over every local device (:mod:`course_lib.training.parallel`):
the parameters and optimizer state are replicated and each minibatch is split along its
batch axis; with one device that is a no-op.
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
from course_lib.data.batching import iterate_minibatches, num_batches
from course_lib.models.vae import VAE
from course_lib.training import parallel
from course_lib.training.core import (
    CompiledStep,
    History,
    check_finite,
    kl_warmup_weight,
    make_optimizer,
    mean_metrics,
    progress_bar,
    should_show_progress,
)


class VAESteps(NamedTuple):
    """The compiled functions for one VAE and optimizer.

    step(params, opt_state, x (B, D), key, beta) -> (params, opt_state, metrics)
    epoch(params, opt_state, batches (S, B, D), key, beta) -> (params, opt_state, metrics (S,))
    evaluate(params, x (B, D), key) -> metrics, each (B,)
    """

    graphdef: object
    step: CompiledStep
    epoch: CompiledStep
    evaluate: CompiledStep


def free_bits_kl(kl_per_dim, free_bits: float) -> jax.Array:
    """The free-bits KL objective sum_j max(lambda, mean_batch KL_j): kl_per_dim (B, J) -> scalar.

    A dimension whose batch-mean KL is below lambda = ``free_bits`` contributes the constant
    lambda, so its gradient is zero and the encoder is not pushed to close it further.
    """
    return jnp.sum(jnp.maximum(free_bits, jnp.mean(kl_per_dim, axis=0)))


def make_vae_steps(model: VAE, tx: optax.GradientTransformation, *, free_bits: float = 0.0,
                   mesh=None) -> VAESteps:
    """Build the jitted train step, scan-fused epoch and evaluation for ``model``.

    With ``mesh`` (from :func:`course_lib.training.parallel.data_mesh`), the training batches
    are kept split over its ``"data"`` axis inside the compiled step and epoch (axis 0 of a
    (B, D) batch, axis 1 of the (S, B, D) batches of an epoch); None leaves placement to JAX.
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_lib.models.VAE, got {type(model).__name__}")
    free_bits = _validate.positive_float("free_bits", free_bits, allow_zero=True)
    graphdef, _ = nnx.split(model, nnx.Param)

    def split_batch(x, batch_axis):
        return x if mesh is None else parallel.constrain_batch(x, mesh, batch_axis=batch_axis)

    def loss_fn(params, x, key, beta):
        terms = nnx.merge(graphdef, params).negative_elbo(x, key)
        if free_bits > 0:
            kl_obj = free_bits_kl(terms["kl_per_dim"], free_bits)
        else:
            kl_obj = jnp.mean(terms["kl"])
        objective = jnp.mean(terms["rec"]) + beta * kl_obj
        metrics = {"loss": jnp.mean(terms["rec"] + terms["kl"]), "rec": jnp.mean(terms["rec"]),
                   "kl": jnp.mean(terms["kl"])}
        return objective, metrics

    def train_step(params, opt_state, x, key, beta):
        x = split_batch(x, 0)  # each device: B / n_dev rows
        (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, key, beta)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, metrics

    def train_epoch(params, opt_state, batches, key, beta):
        keys = jax.random.split(key, batches.shape[0])
        batches = split_batch(batches, 1)  # (S, B, D): each device holds B / n_dev rows of every batch

        def body(carry, inputs):
            params, opt_state = carry
            x, k = inputs
            params, opt_state, metrics = train_step(params, opt_state, x, k, beta)
            return (params, opt_state), metrics

        (params, opt_state), metrics = jax.lax.scan(body, (params, opt_state), (batches, keys))
        return params, opt_state, metrics  # metrics: each (S,)

    def evaluate(params, x, key):
        terms = nnx.merge(graphdef, params).negative_elbo(x, key)
        return {"loss": terms["rec"] + terms["kl"], "rec": terms["rec"], "kl": terms["kl"]}

    return VAESteps(
        graphdef,
        CompiledStep(train_step, name="vae_step"),
        CompiledStep(train_epoch, name="vae_epoch"),
        CompiledStep(evaluate, name="vae_evaluate"),
    )


def evaluate_params(steps: VAESteps, params, x, key, batch_size: int) -> dict:
    """Mean -ELBO terms of ``params`` on x (N, D), in batches of ``batch_size`` (compiled ``steps.evaluate``)."""
    totals = {}
    for i, start in enumerate(range(0, x.shape[0], batch_size)):
        m = steps.evaluate(params, jnp.asarray(x[start : start + batch_size]), jax.random.fold_in(key, i))
        for k, v in m.items():
            totals.setdefault(k, []).append(np.asarray(v))
    return {k: float(np.mean(np.concatenate(v))) for k, v in totals.items()}


def evaluate_vae(model: VAE, x, key, *, batch_size: int = 500) -> dict:
    """Mean negative ELBO, reconstruction and KL (nats per example) over ``x``, one z sample each."""
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_lib.models.VAE, got {type(model).__name__}")
    _validate.prng_key("key", key)
    _validate.array("x", x, ndim=2, shape=(None, model.x_dim), dtype_kind="number", min_rows=1)
    model._check_data("x", x)
    batch_size = _validate.positive_int("batch_size", batch_size)
    steps = make_vae_steps(model, optax.identity())
    return evaluate_params(steps, nnx.state(model, nnx.Param), x, key, batch_size)


VAE_LR_SCHEDULES = ("constant", "cosine")
"""Learning-rate schedules of :func:`train_vae`: constant, or cosine decay over the whole run."""


def vae_optimizer(optimizer: str, lr: float, *, lr_schedule: str = "constant", lr_final_fraction: float = 0.0,
                  total_steps: int = 1) -> optax.GradientTransformation:
    """The optimizer of :func:`train_vae`: ``optimizer`` at ``lr``, or at a cosine decay (Loshchilov &
    Hutter, 2017) from lr to ``lr_final_fraction * lr`` over ``total_steps`` steps."""
    _validate.one_of("lr_schedule", lr_schedule, VAE_LR_SCHEDULES)
    if lr_schedule == "cosine":
        lr_final_fraction = _validate.real_in_range("lr_final_fraction", lr_final_fraction, 0.0, 1.0)
        lr = optax.cosine_decay_schedule(_validate.positive_float("lr", lr), _validate.positive_int(
            "total_steps", total_steps), alpha=lr_final_fraction)
    return make_optimizer(optimizer, lr)


def _check_vae_data(model: VAE, x_train, x_val) -> None:
    """Both data sets have the model's width and convention (x_val may be None)."""
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_lib.models.VAE, got {type(model).__name__}")
    _validate.array("x_train", x_train, ndim=2, shape=(None, model.x_dim), dtype_kind="number", min_rows=1)
    model._check_data("x_train", x_train)
    if x_val is not None:
        _validate.array("x_val", x_val, ndim=2, shape=(None, model.x_dim), dtype_kind="number", min_rows=1)
        model._check_data("x_val", x_val)


def _check_validation_options(x_val, eval_every, patience, val_key, on_check) -> int:
    """Check :func:`train_vae`'s validation options; returns eval_every."""
    eval_every = _validate.positive_int("eval_every", eval_every)
    if patience is not None:
        _validate.positive_int("patience", patience)
        if x_val is None:
            raise ValueError("patience (early stopping) needs validation data: give x_val")
    if val_key is not None:
        _validate.prng_key("val_key", val_key)
    if on_check is not None and not callable(on_check):
        raise TypeError(f"on_check must be a function (epoch, val metrics) -> bool, got {type(on_check).__name__}")
    return eval_every


VAL_METRICS = ("loss", "rec", "kl")
"""What a validation check records (as ``val_loss``, ``val_rec``, ``val_kl``; NaN between checks)."""


def train_vae(
    model: VAE,
    x_train,
    *,
    key,
    num_epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    optimizer: str = "adam",
    beta: float = 1.0,
    kl_warmup_epochs: int = 0,
    free_bits: float = 0.0,
    x_val=None,
    lr_schedule: str = "constant",
    lr_final_fraction: float = 0.0,
    eval_every: int = 1,
    patience: int | None = None,
    val_key=None,
    on_check: Callable | None = None,
    devices=None,
    progress: bool | None = None,
) -> History:
    """Fit ``model`` in place by minimising the negative ELBO; returns the per-epoch history.

    Each epoch is one compiled ``lax.scan`` over shuffled minibatches. After each epoch the
    metrics are checked: NaN or infinity stops training with :class:`DivergenceError`, and the
    model keeps the parameters of the last good epoch.

    Training is data-parallel (:mod:`course_lib.training.parallel`): the parameters and
    optimizer state are replicated on every device and each minibatch is split along its
    batch axis, so the losses are those of one device up to the order of floating-point sums.

    Args:
      model: a :class:`~course_lib.models.VAE` (updated in place).
      x_train: (N, D) data in the model's convention (see VAE).
      key: JAX random key (shuffling and the reparameterisation noise).
      num_epochs, batch_size, lr, optimizer: the usual.
      beta: final KL weight; ``kl_warmup_epochs`` ramps it linearly from beta/warmup to beta.
      free_bits: lambda in nats per latent dimension (0 = off).
      x_val: optional (M, D) validation data, evaluated every ``eval_every`` epochs and after the last.
      lr_schedule, lr_final_fraction: ``constant`` lr, or ``cosine`` decay to lr * lr_final_fraction
        over the run (see :func:`vae_optimizer`).
      patience: early stopping (needs x_val): stop when the validation -ELBO has not improved for
        this many epochs; the model then keeps the parameters of the best check (None: off).
      val_key: the same validation noise at every check (None: fresh noise at each check).
      on_check: ``on_check(epoch, val)`` after each validation check (epoch from 1, val the
        validation means); returning True stops training (e.g. a time-to-quality benchmark).
      devices: devices to split each minibatch over (default: all local devices); ``batch_size``
        must be a multiple of their number. With one device this changes nothing.
      progress: show a progress bar (None: only if the run looks longer than 2 s).

    Returns:
      History with ``loss``, ``rec``, ``kl``, ``beta`` per epoch (train means) and
      ``val_loss``, ``val_rec``, ``val_kl`` when ``x_val`` is given (NaN between checks).
    """
    _check_vae_data(model, x_train, x_val)
    _validate.prng_key("key", key)
    num_epochs = _validate.positive_int("num_epochs", num_epochs)
    beta = _validate.positive_float("beta", beta, allow_zero=True)
    kl_warmup_epochs = _validate.positive_int("kl_warmup_epochs", kl_warmup_epochs, minimum=0)
    batch_size = _validate.positive_int("batch_size", batch_size)
    steps_per_epoch = num_batches(x_train.shape[0], batch_size)  # validates batch_size against the data size
    eval_every = _check_validation_options(x_val, eval_every, patience, val_key, on_check)
    mesh = parallel.data_mesh(devices)
    parallel.check_batch_size(batch_size, mesh)

    tx = vae_optimizer(optimizer, lr, lr_schedule=lr_schedule, lr_final_fraction=lr_final_fraction,
                       total_steps=num_epochs * steps_per_epoch)
    steps = make_vae_steps(model, tx, free_bits=free_bits, mesh=mesh)
    params = parallel.replicate(nnx.state(model, nnx.Param), mesh)  # a full copy on every device
    opt_state = parallel.replicate(tx.init(params), mesh)
    x_train = parallel.replicate(jnp.asarray(x_train), mesh)
    history, best, bar = History(), {"loss": np.inf, "params": None, "epoch": 0}, None
    start = time.perf_counter()
    try:
        for epoch in range(num_epochs):
            key, k_perm, k_epoch, k_val = jax.random.split(key, 4)
            beta_t = beta * kl_warmup_weight(epoch, kl_warmup_epochs)
            batches = iterate_minibatches(k_perm, x_train, batch_size)  # (S, B, D), split inside the epoch
            new_params, new_opt_state, metrics = steps.epoch(params, opt_state, batches, k_epoch, beta_t)
            check_finite(metrics, where=f"VAE training, epoch {epoch + 1}",
                         hint=f"a smaller learning rate (lr={lr}), or check the data for extreme values")
            params, opt_state = new_params, new_opt_state
            record = {**mean_metrics(metrics), "beta": beta_t}
            if x_val is not None:
                checked = (epoch + 1) % eval_every == 0 or epoch + 1 == num_epochs
                val = (evaluate_params(steps, params, x_val, k_val if val_key is None else val_key, batch_size=500)
                       if checked else dict.fromkeys(VAL_METRICS, np.nan))
                record.update({f"val_{k}": v for k, v in val.items()})
            history.append(record)
            bar = _advance_bar(bar, progress, time.perf_counter() - start, num_epochs, record["loss"])
            if patience is not None and checked:  # patience implies x_val
                if val["loss"] < best["loss"]:
                    best = {"loss": val["loss"], "params": params, "epoch": epoch + 1}
                elif epoch + 1 - best["epoch"] >= patience:
                    break
            if on_check is not None and x_val is not None and checked and on_check(epoch + 1, val):
                break
    finally:
        nnx.update(model, params)  # keep the last good parameters, also on divergence
        if bar is not None:
            bar.close()
    if best["params"] is not None:
        nnx.update(model, best["params"])  # early stopping: the best check's parameters
    return history


def _advance_bar(bar, progress, elapsed: float, num_epochs: int, loss: float):
    """Open the progress bar after the first epoch (if the run looks long enough), then advance it."""
    if bar is None:
        bar = progress_bar(num_epochs, desc="VAE epochs", enabled=should_show_progress(progress, elapsed * num_epochs))
    bar.update(1)
    bar.set_postfix(loss=f"{loss:.2f}")
    return bar
