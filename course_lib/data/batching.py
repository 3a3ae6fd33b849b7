"""Minibatches as a (num_batches, batch_size, ...) array, ready for ``jax.lax.scan``.

Taught in 03_gradient_descent.ipynb (minibatch noise) and used by every
training loop: an epoch is one shuffled permutation cut into equal batches
(the remainder is dropped, so every step sees the same shape and the jitted
step compiles once).
"""
from __future__ import annotations

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
    _validate.array("x", x)
    n = num_batches(x.shape[0], batch_size)
    perm = jax.random.permutation(key, x.shape[0])[: n * batch_size]
    return jnp.asarray(x)[perm].reshape((n, batch_size) + tuple(x.shape[1:]))
