"""Training and evaluation of the language models of 09_language_models.ipynb.

The loss is the average negative log-likelihood per predicted character (the end token
counts as one), the chain rule's terms averaged over the n + 1 predictions of each name:

    NLL = - (1 / sum_{i,t} m_it) sum_{i,t} m_it log p(x_{i,t+1} | x_{i,0..t})    (nats per character)

with the mask m of :func:`course_lib.data.text.encode_batch`. Training draws each minibatch
with a key on the device and fuses ``steps_per_call`` Adam steps into one ``jax.lax.scan``,
compiled once (:class:`~course_lib.training.core.CompiledStep` counts the traces). After each
call the validation NLL is measured and the best parameters are kept.
"""
from __future__ import annotations

import functools
import math
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from course_lib import _validate
from course_lib.training.core import CompiledStep, History, check_finite


def token_nll(logits, targets):
    """-log softmax(logits)[target] per position: (B, T, V), (B, T) -> (B, T)."""
    _validate.array("logits", logits, ndim=3, dtype_kind="float", finite=False)
    _validate.array("targets", targets, shape=logits.shape[:2], dtype_kind="int")
    _validate.levels("targets", targets, logits.shape[-1])
    log_p = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]


def masked_nll(logits, tokens, mask):
    """Mean NLL per counted character (nats).   logits (B, T, V), tokens (B, T+1), mask (B, T)."""
    _validate.array("logits", logits, ndim=3, dtype_kind="float", finite=False)
    b, t = logits.shape[:2]
    _validate.array("tokens", tokens, shape=(b, t + 1), dtype_kind="int")
    _validate.array("mask", mask, shape=(b, t), dtype_kind="number")
    nll = token_nll(logits, tokens[:, 1:])
    return jnp.sum(nll * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def evaluate_nll(model, tokens, mask, *, batch_size: int = 1024) -> float:
    """Held-out NLL in nats per character of any model of the ladder (no gradient, float64 sum).

    nnx models run through one compiled function per model structure; batches are padded to
    ``batch_size`` rows (with zero mask) so that every batch reuses it.
    """
    from course_lib.models.language import BigramCounts

    if not isinstance(model, (BigramCounts, nnx.Module)):
        raise TypeError(f"model must be a language model (BigramCounts, BigramNet, ContextMLP or Transformer), "
                        f"got {type(model).__name__}")
    _validate.array("tokens", tokens, ndim=2, dtype_kind="int", min_rows=1)
    _validate.array("mask", mask, shape=(tokens.shape[0], tokens.shape[1] - 1), dtype_kind="number")
    batch_size = _validate.positive_int("batch_size", batch_size)
    tokens, mask = np.asarray(tokens), np.asarray(mask, np.float32)
    if not mask.sum() > 0:
        raise ValueError("mask must count at least one prediction (it is all zeros)")
    total, count = 0.0, 0.0
    for start in range(0, len(tokens), batch_size):
        x, m = tokens[start:start + batch_size], mask[start:start + batch_size]
        if isinstance(model, nnx.Module):
            pad = batch_size - len(x)
            x = np.concatenate([x, np.repeat(x[:1], pad, axis=0)]) if pad else x
            m = np.concatenate([m, np.zeros((pad, m.shape[1]), m.dtype)]) if pad else m
            graphdef, state = nnx.split(model)
            nll = _nll_fn(graphdef)(state, jnp.asarray(x))
        else:
            nll = token_nll(model(jnp.asarray(x[:, :-1])), jnp.asarray(x[:, 1:]))
        total += float(np.sum(np.asarray(nll, np.float64) * m))
        count += float(np.sum(m))
    return total / count


@functools.lru_cache(maxsize=32)
def _nll_fn(graphdef):
    """Compiled per-position NLL of the model ``graphdef`` describes: (state, x (B, T+1)) -> (B, T)."""
    return jax.jit(lambda state, x: token_nll(nnx.merge(graphdef, state)(x[:, :-1]), x[:, 1:]))


def nats_to_bits(nats: float) -> float:
    """Bits per character = nats / ln 2."""
    return _validate.finite_float("nats", nats) / math.log(2.0)


class TrainResult(NamedTuple):
    """What :func:`train_language_model` returns: the trained model (best validation NLL),
    the history, seconds of wall time (compilation included) and the compiled chunk."""

    model: object
    history: History
    seconds: float
    chunk_fn: CompiledStep
    val_nll: list  # validation NLL after each call (empty without ``val``)


def make_chunk(graphdef, optimizer, num_steps: int, batch_size: int):
    """``chunk(params, opt_state, tokens, mask, key) -> (params, opt_state, losses (num_steps,))``.

    One ``lax.scan`` over ``num_steps`` Adam steps; each step draws ``batch_size`` rows of the
    training set with its own key.
    """

    def loss_fn(params, x, m):
        return masked_nll(nnx.merge(graphdef, params)(x[:, :-1]), x, m)

    def step(carry, key):
        params, opt_state, tokens, mask = carry
        idx = jax.random.randint(key, (batch_size,), 0, tokens.shape[0])
        loss, grads = jax.value_and_grad(loss_fn)(params, tokens[idx], mask[idx])
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state, tokens, mask), loss

    def chunk(params, opt_state, tokens, mask, key):
        carry, losses = jax.lax.scan(step, (params, opt_state, tokens, mask), jax.random.split(key, num_steps))
        return carry[0], carry[1], losses

    return CompiledStep(chunk, name="language_chunk")


def train_language_model(model, tokens, mask, *, key, num_steps: int = 2000, batch_size: int = 64,
                         lr: float = 3e-3, weight_decay: float = 0.0, steps_per_call: int = 200,
                         val=None) -> TrainResult:
    """Train an nnx language model with AdamW (cosine-decayed lr) on masked NLL.

    Args:
      model: an nnx model of :mod:`course_lib.models.language` (updated in place and returned).
      tokens, mask: the training split, (N, T+1) int and (N, T) float (see ``encode_batch``).
      key: PRNG key for the minibatches.
      num_steps: total steps, a multiple of ``steps_per_call``.
      val: optional ``(tokens, mask)``; then the parameters with the best validation NLL are kept.
    """
    _validate.instance("model", model, nnx.Module, "a trainable language model (BigramNet, ContextMLP or Transformer)")
    key = _validate.prng_key("key", key)
    _validate.array("tokens", tokens, ndim=2, dtype_kind="int", min_rows=1)
    _validate.levels("tokens", tokens, model.vocab_size)
    _validate.array("mask", mask, shape=(tokens.shape[0], tokens.shape[1] - 1), dtype_kind="number")
    if val is not None and not (isinstance(val, tuple) and len(val) == 2):
        raise TypeError(f"val must be a (tokens, mask) pair or None, got {type(val).__name__}")
    num_steps = _validate.positive_int("num_steps", num_steps)
    steps_per_call = _validate.positive_int("steps_per_call", steps_per_call)
    batch_size = _validate.positive_int("batch_size", batch_size)
    if num_steps % steps_per_call:
        raise ValueError(f"num_steps must be a multiple of steps_per_call={steps_per_call}, got {num_steps}")
    lr = _validate.positive_float("lr", lr)
    schedule = optax.cosine_decay_schedule(lr, num_steps, alpha=0.05)
    optimizer = optax.adamw(schedule, weight_decay=weight_decay)
    graphdef, params = nnx.split(model, nnx.Param)
    opt_state = optimizer.init(params)
    chunk = make_chunk(graphdef, optimizer, steps_per_call, batch_size)
    tokens, mask = jnp.asarray(tokens), jnp.asarray(mask, jnp.float32)
    history, best, val_curve = History(), (math.inf, params), []
    start = time.perf_counter()
    for call in range(num_steps // steps_per_call):
        params, opt_state, losses = chunk(params, opt_state, tokens, mask, jax.random.fold_in(key, call))
        check_finite({"loss": losses}, where=f"language model steps {call * steps_per_call}+", hint="lower lr")
        history.append({"loss": losses})
        if val is not None:
            nnx.update(model, params)
            val_nll = evaluate_nll(model, *val)
            val_curve.append(val_nll)
            if val_nll < best[0]:
                best = (val_nll, params)
    nnx.update(model, best[1] if val is not None else params)
    jax.block_until_ready(params)
    return TrainResult(model, history, time.perf_counter() - start, chunk, val_curve)
