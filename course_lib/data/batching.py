"""Minibatches as a (num_batches, batch_size, ...) array, ready for ``jax.lax.scan``.

Taught in 03_gradient_descent.ipynb (minibatch noise) and used by every
training loop: an epoch is one shuffled permutation cut into equal batches
(the remainder is dropped, so every step sees the same shape and the jitted
step compiles once).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from course_lib import _validate


def num_batches(num_examples: int, batch_size: int) -> int:
    """Number of full batches in one epoch: floor(num_examples / batch_size)."""
    num_examples = _validate.positive_int("num_examples", num_examples)
    batch_size = _validate.positive_int("batch_size", batch_size)
    if batch_size > num_examples:
        raise ValueError(
            f"batch_size ({batch_size}) is larger than the dataset ({num_examples} examples)"
        )
    return num_examples // batch_size


def iterate_minibatches(key, x, batch_size: int) -> jax.Array:
    """Shuffle ``x`` with ``key`` and cut it into full batches.

    Args:
      key: JAX random key for the permutation.
      x: (N, ...) array.
      batch_size: B.

    Returns:
      (N // B, B, ...) array: one epoch of batches.
    """
    _validate.prng_key("key", key)
    _validate.array("x", x, min_rows=1)
    batch_size = _validate.positive_int("batch_size", batch_size)
    if batch_size > x.shape[0]:
        raise ValueError(f"batch_size ({batch_size}) is larger than the dataset x ({x.shape[0]} rows)")
    return _shuffled_batches(key, x, int(batch_size))


@functools.partial(jax.jit, static_argnums=2)
def _shuffled_batches(key, x, batch_size: int) -> jax.Array:
    # One compiled program (permutation, gather, reshape): run op by op, the same work took
    # about 10 ms per MNIST-5k epoch, 5% of a VAE epoch; compiled, about 2 ms (benchmarks/README.md).
    n = x.shape[0] // batch_size
    perm = jax.random.permutation(key, x.shape[0])[: n * batch_size]  # (S*B,)
    return x[perm].reshape((n, batch_size) + tuple(x.shape[1:]))  # (S, B, ...)
