"""The network of 08_vector_fields: one MLP that learns a vector field f_theta(x_t, t [, c]).

What the output means is part of the model's config: ``prediction`` = ``velocity`` (flow matching)
or ``eps`` (denoising score matching / DDPM's noise predictor), for the probability ``path`` it was
trained on (``linear`` or ``vp``, see :mod:`course_lib.fields.paths`). The conversions of
:mod:`course_lib.fields.paths` turn any of them into a velocity, a score or a denoiser.

Time enters through sinusoidal features of t in [0, 1] (``time_dim`` >= 2), or as the raw scalar
(``time_dim`` = 1, as in the TorchCFM tutorial). With ``num_classes`` = C > 0 the network also sees
a learned embedding of a label in 0..C, where C is the *null* label ("no class"), used for
classifier-free guidance (Ho & Salimans, 2021): training replaces labels by C with a probability
(label dropout), sampling evaluates both the label and C.

With ``x_features`` = m > 0 the point itself also enters through m random Fourier features
(Tancik et al., 2020, "Fourier features let networks learn high frequency functions in low
dimensional domains"): [sin(x B), cos(x B)] with a fixed B (D, m) of N(0, scale^2) entries, drawn
from NumPy's generator seeded 0, so the config alone rebuilds it. A plain MLP of (x, t) is smooth
at the scale of its input; near t = 0 the field of data with sharp edges (the checkerboard of
08_vector_fields, section 5) changes over a distance of order t, which these features let it follow.

Shapes: x (B, D), t (B,) floats, labels (B,) ints -> (B, D).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from course_lib import _validate
from course_lib.models.registry import build_from_config, register
from course_lib.fields.paths import PATHS

ACTIVATIONS = {"relu": jax.nn.relu, "gelu": jax.nn.gelu, "silu": jax.nn.silu, "selu": jax.nn.selu,
               "elu": jax.nn.elu, "tanh": jnp.tanh}
PREDICTIONS = ("velocity", "eps")


@functools.lru_cache(maxsize=16)
def _fourier_matrix(dim: int, num_features: int, scale: float) -> np.ndarray:
    return (scale * np.random.default_rng(0).standard_normal((dim, num_features))).astype(np.float32)


def fourier_matrix(dim: int, num_features: int, scale: float) -> np.ndarray:
    """The fixed (dim, num_features) matrix B of the random Fourier features: scale * N(0, 1), seed 0."""
    dim = _validate.positive_int("dim", dim)
    num_features = _validate.positive_int("num_features", num_features, maximum=4096,
                                          why="more features than a hidden layer has units help nothing")
    scale = _validate.positive_float("scale", scale)
    return _fourier_matrix(dim, num_features, scale).copy()  # a copy: the cached matrix stays as drawn


def fourier_features(x, num_features: int, scale: float) -> jax.Array:
    """(B, D) points -> (B, 2 m): [sin(x B), cos(x B)] with B = :func:`fourier_matrix` (D, m)."""
    _validate.array("x", x, ndim=2, dtype_kind="float")
    z = x @ fourier_matrix(x.shape[1], num_features, scale)  # (B, m)
    return jnp.concatenate([jnp.sin(z), jnp.cos(z)], axis=-1)


def time_features(t, dim: int) -> jax.Array:
    """(B,) times in [0, 1] -> (B, dim): sin and cos of t * f for dim/2 frequencies f from 1 to 1000
    (geometric); dim = 1 returns t itself as a column."""
    _validate.array("t", t, ndim=1, dtype_kind="number")
    dim = _validate.positive_int("dim", dim, maximum=4096, why="more features than a hidden layer has units help nothing")
    if dim > 1 and dim % 2:
        raise ValueError(f"dim must be 1 or even (sin and cos pairs), got {dim}")
    if dim == 1:
        return t[:, None].astype(jnp.float32)
    half = dim // 2
    freqs = jnp.exp(math.log(1000.0) * jnp.arange(half) / max(half - 1, 1))  # (dim/2,)
    angles = t.astype(jnp.float32)[:, None] * freqs[None, :]
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


@register
class VectorFieldMLP(nnx.Module):
    """f_theta([x, time_features(t), label_embedding(c)]) -> (B, D).

    Args:
      dim: D, the data dimension.
      hidden: hidden widths (one Linear + activation each).
      time_dim: size of the time features (1: the raw t; even >= 2: sinusoids).
      num_classes: C (0: unconditional); the embedding table has C + 1 rows, the last is the null label.
      label_dim: size of the label embedding.
      activation: one of :data:`ACTIVATIONS`.
      prediction: ``velocity`` or ``eps``; path: ``linear`` or ``vp`` (what the output means).
      x_features: m, the number of random Fourier features of x (0: none); x_feature_scale: the
        standard deviation of B's entries (frequencies in radians per unit of x).
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (128, 128, 128), *, time_dim: int = 32,
                 num_classes: int = 0, label_dim: int = 16, activation: str = "silu",
                 prediction: str = "velocity", path: str = "linear", x_features: int = 0,
                 x_feature_scale: float = 1.0, rngs: nnx.Rngs):
        self.dim = _validate.positive_int("dim", dim)
        if isinstance(hidden, (str, bytes)) or not all(isinstance(h, int) and h > 0 for h in hidden) or not hidden:
            raise ValueError(f"hidden must be a non-empty sequence of positive ints, got {hidden!r}")
        self.hidden = tuple(int(h) for h in hidden)
        self.time_dim = _validate.positive_int("time_dim", time_dim)
        if self.time_dim > 1 and self.time_dim % 2:
            raise ValueError(f"time_dim must be 1 or even, got {time_dim}")
        self.num_classes = _validate.positive_int("num_classes", num_classes, minimum=0)
        self.label_dim = _validate.positive_int("label_dim", label_dim)
        self.activation = _validate.one_of("activation", activation, ACTIVATIONS)
        self.prediction = _validate.one_of("prediction", prediction, PREDICTIONS)
        self.path = _validate.one_of("path", path, PATHS)
        self.x_features = _validate.positive_int("x_features", x_features, minimum=0, maximum=4096)
        self.x_feature_scale = _validate.positive_float("x_feature_scale", x_feature_scale)
        in_dim = dim + 2 * self.x_features + self.time_dim + (self.label_dim if self.num_classes else 0)
        if self.num_classes:
            self.label_embedding = nnx.Embed(self.num_classes + 1, self.label_dim, rngs=rngs)
        sizes = (in_dim, *self.hidden, dim)
        self.num_layers = len(sizes) - 1
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):  # attributes, as in models.mlp (flax 0.11 and 0.12)
            setattr(self, f"linear_{i}", nnx.Linear(d_in, d_out, rngs=rngs))

    @property
    def null_label(self) -> int:
        """The label index meaning "no class" (C)."""
        return self.num_classes

    @property
    def config(self) -> dict:
        """JSON-serialisable arguments that rebuild this architecture with :meth:`from_config`."""
        config = {"model": "VectorFieldMLP", "dim": self.dim, "hidden": list(self.hidden), "time_dim": self.time_dim,
                  "num_classes": self.num_classes, "label_dim": self.label_dim, "activation": self.activation,
                  "prediction": self.prediction, "path": self.path}
        if self.x_features:  # only then: configs of models without the features stay as they were saved
            config.update(x_features=self.x_features, x_feature_scale=self.x_feature_scale)
        return config

    @classmethod
    def from_config(cls, config: dict, *, rngs: nnx.Rngs | None = None) -> VectorFieldMLP:
        """The model described by ``config`` (as written by :attr:`config`), with fresh weights."""
        return build_from_config(cls, config, rngs)

    def __call__(self, x, t, labels=None):
        from course_lib.fields.paths import check_times

        _validate.array("x", x, ndim=2, dtype_kind="float", min_rows=1)
        _validate.width("x", x, self.dim, of="this VectorFieldMLP")
        b = x.shape[0]
        if np.ndim(check_times(t)) and tuple(np.shape(t)) != (b,):
            raise ValueError(f"t must be a number or have shape ({b},) (one time per point), got shape {tuple(np.shape(t))}")
        if labels is not None and self.num_classes:
            _validate.array("labels", labels, shape=(b,), dtype_kind="int")
            if _validate._is_concrete(labels):
                _validate.levels("labels", labels, self.num_classes + 1)  # the last one is the null label
        t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), (b,))
        parts = [x, time_features(t, self.time_dim)]
        if self.x_features:
            parts.append(fourier_features(x, self.x_features, self.x_feature_scale))
        if self.num_classes:
            if labels is None:
                labels = jnp.full((b,), self.null_label, jnp.int32)
            parts.append(self.label_embedding(labels))
        h = jnp.concatenate(parts, axis=-1)
        act = ACTIVATIONS[self.activation]
        for i in range(self.num_layers):
            h = getattr(self, f"linear_{i}")(h)
            if i < self.num_layers - 1:
                h = act(h)
        return h  # (B, D)
