"""Masked multi-head self-attention, written out (Vaswani et al., 2017, section 3.2).

Taught in 09_language_models.ipynb ("5. Attention"). For a sequence x of T vectors of width
D and each head h = 1..H of width D_h = D / H,

    q = x W_q,  k = x W_k,  v = x W_v                          (T, D_h) each
    A = softmax(q k^T / sqrt(D_h) + M)                         (T, T), rows sum to 1
    head_h = A v;   out = concat_h(head_h) W_o                 (T, D)

with the causal mask M_ij = 0 if j <= i and -inf otherwise, so position i only reads
positions 0..i and the model stays autoregressive. The weights are stored in the layout of
``flax.nnx.MultiHeadAttention`` (kernels (D, H, D_h) and (H, D_h, D)) so that a test can copy
them across and check that both compute the same thing.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from course_lib import _validate


def causal_mask(length: int) -> np.ndarray:
    """Boolean (T, T): entry (i, j) is True when position i may attend to position j, i.e. j <= i."""
    length = _validate.positive_int("length", length, maximum=4096,
                                    why="the course's contexts are a few dozen tokens; a (T, T) mask grows as T^2")
    return np.tril(np.ones((length, length), dtype=bool))


def masked_softmax(scores, mask):
    """Softmax over the last axis of ``scores`` where ``mask`` is True; masked entries get exactly 0.

    scores: (..., T_q, T_k); mask: broadcastable boolean. A fully masked row would be 0/0, so
    callers must leave at least one entry per row (the causal mask always keeps the diagonal).
    """
    _validate.array("scores", scores, dtype_kind="float", finite=False)
    _validate.array("mask", mask, finite=False)
    if mask.dtype != bool:
        raise TypeError(f"mask must be a boolean array, got dtype {mask.dtype}")
    try:
        np.broadcast_shapes(tuple(mask.shape), tuple(scores.shape))
    except ValueError:
        raise ValueError(f"mask must broadcast to the shape of scores {tuple(scores.shape)}, got shape {tuple(mask.shape)}") from None
    scores = jnp.where(mask, scores, -jnp.inf)
    return jax.nn.softmax(scores, axis=-1)


def attention_weights(q, k, mask):
    """A = softmax(q k^T / sqrt(D_h) + M).   q: (B, T_q, H, D_h), k: (B, T_k, H, D_h) -> (B, H, T_q, T_k)."""
    _validate.array("q", q, ndim=4, dtype_kind="float")
    _validate.array("k", k, ndim=4, dtype_kind="float")
    if (k.shape[0], k.shape[2], k.shape[3]) != (q.shape[0], q.shape[2], q.shape[3]):
        raise ValueError(f"k must have shape ({q.shape[0]}, T_k, {q.shape[2]}, {q.shape[3]}) to match q, got {tuple(k.shape)}")
    scale = 1.0 / np.sqrt(q.shape[-1])
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) * scale
    return masked_softmax(scores, mask)


class CausalSelfAttention(nnx.Module):
    """H heads of causal self-attention over (B, T, D) inputs; the equations are in the module docstring."""

    def __init__(self, width: int, num_heads: int, *, rngs: nnx.Rngs):
        self.width = _validate.positive_int("width", width)
        self.num_heads = _validate.positive_int("num_heads", num_heads)
        if width % num_heads:
            raise ValueError(f"width must be divisible by num_heads, got width={width}, num_heads={num_heads}")
        head = width // num_heads
        init = nnx.initializers.lecun_normal()
        shape_in, shape_out = (width, num_heads, head), (num_heads, head, width)
        self.w_q = nnx.Param(init(rngs.params(), shape_in, jnp.float32))
        self.w_k = nnx.Param(init(rngs.params(), shape_in, jnp.float32))
        self.w_v = nnx.Param(init(rngs.params(), shape_in, jnp.float32))
        self.b_q = nnx.Param(jnp.zeros((num_heads, head)))
        self.b_k = nnx.Param(jnp.zeros((num_heads, head)))
        self.b_v = nnx.Param(jnp.zeros((num_heads, head)))
        # lecun_normal of a (H, D_h, D) kernel would see fan-in D_h; scale by the true fan-in D.
        self.w_o = nnx.Param(jax.random.normal(rngs.params(), shape_out) / np.sqrt(width))
        self.b_o = nnx.Param(jnp.zeros((width,)))

    def project(self, x):
        """q, k, v for every position: (B, T, D) -> three (B, T, H, D_h)."""
        q = jnp.einsum("btd,dhk->bthk", x, self.w_q[...]) + self.b_q[...]
        k = jnp.einsum("btd,dhk->bthk", x, self.w_k[...]) + self.b_k[...]
        v = jnp.einsum("btd,dhk->bthk", x, self.w_v[...]) + self.b_v[...]
        return q, k, v

    def combine(self, weights, v):
        """out = concat_h(A_h v_h) W_o.   weights (B, H, T_q, T_k), v (B, T_k, H, D_h) -> (B, T_q, D)."""
        heads = jnp.einsum("bhqk,bkhd->bqhd", weights, v)
        return jnp.einsum("bqhd,hdo->bqo", heads, self.w_o[...]) + self.b_o[...]

    def __call__(self, x, *, return_weights: bool = False):
        """(B, T, D) -> (B, T, D), and the attention weights (B, H, T, T) if asked."""
        _validate.array("x", x, ndim=3, dtype_kind="float")
        _validate.width("x", x, self.width, of="this attention layer")
        q, k, v = self.project(x)
        weights = attention_weights(q, k, causal_mask(x.shape[1]))
        out = self.combine(weights, v)
        return (out, weights) if return_weights else out

    def decode(self, x, cache_k, cache_v, position):
        """One new position with a key-value cache.

        x: (B, 1, D), the new position's input; cache_k, cache_v: (B, T_max, H, D_h) holding the
        keys and values of positions 0..position-1; position: int scalar. Returns the output
        (B, 1, D) and the caches with this position's key and value written in.
        """
        q, k, v = self.project(x)
        cache_k = jax.lax.dynamic_update_slice(cache_k, k, (0, position, 0, 0))
        cache_v = jax.lax.dynamic_update_slice(cache_v, v, (0, position, 0, 0))
        visible = (jnp.arange(cache_k.shape[1]) <= position)[None, :]  # (1, T_max)
        weights = attention_weights(q, cache_k, visible)
        return self.combine(weights, cache_v), cache_k, cache_v

    def copy_to_flax(self, mha) -> None:
        """Write these weights into an ``nnx.MultiHeadAttention`` of the same sizes (for the check)."""
        for ours, theirs in (("q", mha.query), ("k", mha.key), ("v", mha.value), ("o", mha.out)):
            assign(theirs.kernel, getattr(self, f"w_{ours}")[...])
            assign(theirs.bias, getattr(self, f"b_{ours}")[...])


def assign(variable, value) -> None:
    """Replace a variable's array: ``set_value`` on flax >= 0.12, ``.value =`` on flax 0.11 (Colab)."""
    if not isinstance(variable, nnx.Variable):
        raise TypeError(f"variable must be a flax.nnx.Variable (e.g. an nnx.Param), got {type(variable).__name__}")
    _validate.array("value", value, finite=False)
    if tuple(value.shape) != tuple(variable.shape):
        raise ValueError(f"value must have the variable's shape {tuple(variable.shape)}, got {tuple(value.shape)}")
    setter = getattr(variable, "set_value", None)
    if callable(setter):
        setter(value)
    else:
        variable.value = value
