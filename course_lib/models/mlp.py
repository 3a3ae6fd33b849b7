"""A multilayer perceptron in Flax NNX: the building block of every model here.

Taught in 01_concepts.ipynb (deep learning as function fitting) and used by the
VAE's encoder/decoder and the GAN's generator/discriminator.
"""
from __future__ import annotations

from collections.abc import Sequence

import jax
from flax import nnx

from course_lib import _validate

ACTIVATIONS = {
    "relu": jax.nn.relu,
    "leaky_relu": lambda x: jax.nn.leaky_relu(x, 0.2),
    "tanh": jax.nn.tanh,
    "elu": jax.nn.elu,
    "gelu": jax.nn.gelu,
    "softplus": jax.nn.softplus,
}
"""Hidden-layer activations by name."""


def check_sizes(name: str, sizes) -> tuple[int, ...]:
    """Layer widths ``sizes`` as a tuple of positive ints, or a TypeError/ValueError naming ``name``."""
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(f"{name} must be a sequence of layer widths, got {type(sizes).__name__}")
    return tuple(_validate.positive_int(f"{name}[{i}]", s) for i, s in enumerate(sizes))


class MLP(nnx.Module):
    """y = W_L act(... act(W_1 x + b_1) ...) + b_L, with no activation after the last layer.

    Layers are stored as attributes ``linear_0 .. linear_{L-1}`` (plain attributes work the
    same on Flax 0.11 and 0.12, and give readable checkpoint names).

    Args:
      sizes: (in, hidden..., out) layer widths, at least two entries.
      activation: name in :data:`ACTIVATIONS`.
      rngs: ``nnx.Rngs`` for the initial weights.

    Shapes: (B, sizes[0]) -> (B, sizes[-1]).
    """

    def __init__(self, sizes: Sequence[int], *, activation: str = "relu", rngs: nnx.Rngs):
        sizes = check_sizes("sizes", sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least an input and an output width, got {sizes}")
        _validate.one_of("activation", activation, ACTIVATIONS)
        _validate.instance("rngs", rngs, nnx.Rngs, "an nnx.Rngs, e.g. nnx.Rngs(0)")
        num_weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        if num_weights > _validate.MAX_ELEMENTS:
            raise ValueError(f"sizes {sizes} give {num_weights:,} weights, more than the "
                             f"{_validate.MAX_ELEMENTS:,} that fit in memory with their gradients: use smaller widths")
        self.sizes = sizes
        self.activation = activation
        self.num_layers = len(sizes) - 1
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            setattr(self, f"linear_{i}", nnx.Linear(d_in, d_out, rngs=rngs))

    def __call__(self, x):
        _validate.array("x", x, dtype_kind="number", finite=False)
        _validate.width("x", x, self.sizes[0], of=f"this MLP, sizes={self.sizes}")
        act = ACTIVATIONS[self.activation]
        for i in range(self.num_layers):
            x = getattr(self, f"linear_{i}")(x)
            if i < self.num_layers - 1:
                x = act(x)
        return x


def count_params(model: nnx.Module) -> int:
    """Total number of trainable scalars (all ``nnx.Param`` leaves)."""
    _validate.instance("model", model, nnx.Module, "a Flax NNX module (e.g. a course_lib model)")
    state = nnx.state(model, nnx.Param)
    return int(sum(leaf.size for leaf in jax.tree_util.tree_leaves(state)))
