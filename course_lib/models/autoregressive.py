"""An autoregressive model of images: MADE (Germain, Gregor, Murray & Larochelle, 2015).

Taught in 07_beyond.ipynb ("Autoregressive models"). The chain rule of probability
writes any distribution over D pixels as a product of one-dimensional conditionals,

    p(x) = prod_{d=1}^D p(x_d | x_1, ..., x_{d-1}),

here each a categorical over K levels (17 for the 8x8 digits), so log p(x) is exact.
MADE computes all D conditionals in one pass of an MLP whose weights are masked so
that output d only depends on inputs 1..d-1: every unit k of hidden layer l gets a
degree m_l(k) in 1..D-1 and

    input d -> hidden k     allowed iff  m_1(k) >= d
    hidden k' -> hidden k   allowed iff  m_l(k) >= m_{l-1}(k')
    hidden k -> output d    allowed iff  d > m_L(k)
    input d' -> output d    allowed iff  d > d'          (the direct connection)

Pixels come in raster order (row by row), or in several orders at once: with
``num_orderings`` M > 1 one network holds M autoregressive models, one per pixel order
(order-agnostic training, Germain et al., 2015, section 3.3), each minibatch trains one
of them, and the model is their uniform mixture,

    p(x) = (1/M) sum_m p_m(x),

still exact. Sampling needs D passes, one pixel at a time.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from course_lib import _validate, losses
from course_lib.models.mlp import ACTIVATIONS, check_sizes
from course_lib.models.registry import build_from_config, register

INPUTS = ("one_hot", "scalar")
"""How a pixel enters the network: a one-hot vector of its K levels, or its level scaled to [0, 1]."""


def hidden_degrees(dim: int, width: int) -> np.ndarray:
    """Degrees 1..D-1 of a hidden layer's units, assigned cyclically: (width,)."""
    return np.arange(width) % (dim - 1) + 1


@functools.lru_cache(maxsize=32)
def degree_tables(dim: int, hidden: tuple, num_orderings: int, seed: int = 0) -> tuple:
    """Degrees of every unit for each of M orders: (inputs (M, D), [hidden layer l (M, H_l)]).

    Order 0 is the plain MADE: raster order and cyclic hidden degrees. The others draw a random
    pixel order and random hidden degrees, uniform in 1..D-1 (connectivity-agnostic training,
    Germain et al., 2015), so that the M models differ in their connections, not only their order.
    """
    rng = np.random.default_rng(seed + 1)
    orders = orderings(dim, num_orderings, seed)
    inputs = np.stack([input_degrees(o) for o in orders])
    layers = []
    for width in hidden:
        rows = [hidden_degrees(dim, width)] + [rng.integers(1, dim, size=width) for _ in range(num_orderings - 1)]
        layers.append(np.stack(rows))
    return inputs, layers


def orderings(dim: int, num_orderings: int = 1, seed: int = 0) -> np.ndarray:
    """Pixel orders (M, D): row 0 is the raster order 0..D-1, the others random permutations."""
    dim = _validate.positive_int("dim", dim, minimum=2)
    num_orderings = _validate.positive_int("num_orderings", num_orderings)
    rng = np.random.default_rng(seed)
    rows = [np.arange(dim)] + [rng.permutation(dim) for _ in range(num_orderings - 1)]
    return np.stack(rows).astype(np.int32)


def input_degrees(order) -> np.ndarray:
    """Degree of each pixel under a pixel order: the pixel drawn first has degree 1. (D,) -> (D,)."""
    order = np.asarray(order)
    degrees = np.empty_like(order)
    degrees[order] = np.arange(1, len(order) + 1)
    return degrees


def made_masks(dim: int, hidden: Sequence[int], order=None) -> list[np.ndarray]:
    """The masks of a MADE over D inputs: one (in, out) 0/1 matrix per layer.

    Input and output unit of pixel d has the pixel's degree (d + 1 in raster order, or its
    position in ``order``); hidden units get :func:`hidden_degrees`. The last mask (hidden ->
    output) is over D outputs; a model with K values per output repeats its columns K times.
    """
    dim = _validate.positive_int("dim", dim, minimum=2)
    hidden = check_sizes("hidden", hidden)
    d_in = np.arange(1, dim + 1) if order is None else input_degrees(order)
    degrees = [d_in] + [hidden_degrees(dim, h) for h in hidden]
    masks = [(b[None, :] >= a[:, None]).astype(np.float32) for a, b in zip(degrees[:-1], degrees[1:])]
    masks.append((d_in[None, :] > degrees[-1][:, None]).astype(np.float32))
    return masks


class MaskedLinear(nnx.Module):
    """y = x (W * M) + b with a 0/1 mask M given at call time: (B, in) -> (B, out)."""

    def __init__(self, in_features: int, out_features: int, *, use_bias: bool = True, rngs: nnx.Rngs):
        init = nnx.initializers.lecun_normal()
        self.kernel = nnx.Param(init(rngs.params(), (in_features, out_features)))
        self.bias = nnx.Param(jnp.zeros((out_features,))) if use_bias else None

    def __call__(self, x, mask):
        y = x @ (self.kernel[...] * mask)
        return y + self.bias[...] if self.bias is not None else y


@register
class MADE(nnx.Module):
    """A masked autoencoder for distribution estimation with a categorical likelihood.

    Args:
      dim: D, the number of pixels (64).
      num_levels: K, the values a pixel can take (17).
      hidden: hidden widths.
      inputs: ``scalar`` (a pixel enters as level / (K - 1)) or ``one_hot`` (K inputs per pixel).
      num_orderings: M pixel orders sharing the network (1 = plain MADE in raster order).
      dropout: dropout rate on the hidden units during training.
      activation: hidden activation.
      rngs: ``nnx.Rngs`` for the initial weights.

    Data convention: x is (B, D) integers in 0..K-1; logits are (B, D, K).
    """

    def __init__(self, dim: int, num_levels: int, hidden: Sequence[int] = (512, 512), *,
                 inputs: str = "scalar", num_orderings: int = 1, dropout: float = 0.0,
                 activation: str = "relu", rngs: nnx.Rngs):
        self.dim = _validate.positive_int("dim", dim, minimum=2)
        self.num_levels = _validate.positive_int("num_levels", num_levels, minimum=2)
        self.hidden = check_sizes("hidden", hidden)
        if not self.hidden:
            raise ValueError("hidden must have at least one layer width")
        self.activation = _validate.one_of("activation", activation, ACTIVATIONS)
        self.inputs = _validate.one_of("inputs", inputs, INPUTS)
        self.num_orderings = _validate.positive_int("num_orderings", num_orderings)
        self.dropout = _validate.real_in_range("dropout", dropout, 0.0, 0.95)
        self.in_repeat = self.num_levels if inputs == "one_hot" else 1
        sizes = (self.dim * self.in_repeat, *self.hidden, self.dim * self.num_levels)
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            setattr(self, f"masked_{i}", MaskedLinear(a, b, rngs=rngs))
        self.direct = MaskedLinear(sizes[0], sizes[-1], use_bias=False, rngs=rngs)

    @property
    def config(self) -> dict:
        return {"model": "MADE", "dim": self.dim, "num_levels": self.num_levels, "hidden": list(self.hidden),
                "inputs": self.inputs, "num_orderings": self.num_orderings, "dropout": self.dropout,
                "activation": self.activation}

    @classmethod
    def from_config(cls, config: dict, *, rngs: nnx.Rngs | None = None) -> MADE:
        """Rebuild the architecture from :attr:`config` (fresh weights; ``rngs`` defaults to seed 0)."""
        return build_from_config(cls, config, rngs)

    @property
    def orders(self) -> np.ndarray:
        """The M pixel orders, (M, D)."""
        return orderings(self.dim, self.num_orderings)

    def _check_x(self, x):
        _validate.array("x", x, ndim=2, shape=(None, self.dim), dtype_kind="int")
        _validate.levels("x", x, self.num_levels)  # an out-of-range level would be clamped silently

    def _masks(self, ordering):
        """The masks of ordering ``ordering`` (an int, or a traced scalar inside jit)."""
        inputs, layers = degree_tables(self.dim, self.hidden, self.num_orderings)
        degrees_in = jnp.asarray(inputs)[ordering]  # (D,)
        degrees = [degrees_in] + [jnp.asarray(table)[ordering] for table in layers]
        masks = [(b[None, :] >= a[:, None]).astype(jnp.float32) for a, b in zip(degrees[:-1], degrees[1:])]
        masks.append((degrees_in[None, :] > degrees[-1][:, None]).astype(jnp.float32))
        direct = (degrees_in[None, :] > degrees_in[:, None]).astype(jnp.float32)  # (D, D), strict
        # Every input unit of a pixel shares its degree; every output logit of a pixel too.
        masks[0] = jnp.repeat(masks[0], self.in_repeat, axis=0)  # (D*R, H_1)
        masks[-1] = jnp.repeat(masks[-1], self.num_levels, axis=1)  # (H_L, D*K)
        direct = jnp.repeat(jnp.repeat(direct, self.in_repeat, axis=0), self.num_levels, axis=1)
        return masks, direct

    def logits(self, x, *, ordering=0, dropout_key=None) -> jax.Array:
        """All D conditionals of one pixel order at once: logits of p_m(x_d | pixels before d), (B, D, K).

        With ``dropout_key`` (training only), each hidden unit is zeroed with probability
        ``dropout`` and the others scaled by 1 / (1 - dropout) (Srivastava et al., 2014).
        """
        self._check_x(x)
        masks, direct = self._masks(ordering)
        if self.inputs == "one_hot":
            h0 = jax.nn.one_hot(x, self.num_levels).reshape(x.shape[0], -1)  # (B, D*K)
        else:
            h0 = x.astype(jnp.float32) / (self.num_levels - 1)  # (B, D) in [0, 1]
        act = ACTIVATIONS[self.activation]
        h = h0
        for i, mask in enumerate(masks):
            h = getattr(self, f"masked_{i}")(h, mask)
            if i < len(masks) - 1:
                h = act(h)
                if dropout_key is not None and self.dropout > 0:
                    keep = jax.random.bernoulli(jax.random.fold_in(dropout_key, i), 1.0 - self.dropout, h.shape)
                    h = jnp.where(keep, h / (1.0 - self.dropout), 0.0)
        out = h + self.direct(h0, direct)  # (B, D*K)
        return out.reshape(x.shape[0], self.dim, self.num_levels)

    def log_prob_ordering(self, x, ordering=0, *, dropout_key=None) -> jax.Array:
        """log p_m(x) = sum_d log p_m(x_d | pixels before d) of one order m, in nats: (B,)."""
        return losses.categorical_log_likelihood(x, self.logits(x, ordering=ordering, dropout_key=dropout_key))

    def log_prob(self, x) -> jax.Array:
        """Exact log p(x) in nats, (B, D) -> (B,): log p_0(x), or log (1/M) sum_m p_m(x) for M orders."""
        if self.num_orderings == 1:
            return self.log_prob_ordering(x, 0)
        per_order = jax.lax.map(lambda m: self.log_prob_ordering(x, m), jnp.arange(self.num_orderings))  # (M, B)
        return jax.scipy.special.logsumexp(per_order, axis=0) - np.log(self.num_orderings)

    def sample(self, key, num_samples: int) -> jax.Array:
        """Ancestral sampling, one pixel per pass (D passes): (num_samples, D) int32.

        With M orders, each order draws ceil(num_samples / M) images (the mixture, sampled with
        equal shares); the rows are shuffled and the first ``num_samples`` kept.
        """
        _validate.prng_key("key", key)
        num_samples = _validate.sample_count("num_samples", num_samples, per_sample=self.dim * self.num_levels)
        if self.num_orderings == 1:
            return sample_autoregressive(self.logits, key, num_samples, self.orders[0])
        per_order = -(-num_samples // self.num_orderings)
        orders = jnp.asarray(self.orders)

        def one_order(inputs):
            m, k = inputs
            return sample_autoregressive(lambda v: self.logits(v, ordering=m), k, per_order, orders[m])

        keys = jax.random.split(key, self.num_orderings + 1)
        x = jax.lax.map(one_order, (jnp.arange(self.num_orderings), keys[1:]))  # (M, per_order, D)
        x = jax.random.permutation(keys[0], x.reshape(-1, self.dim))
        return x[:num_samples]


def sample_autoregressive(logits_fn, key, num_samples: int, order) -> jax.Array:
    """Draw the pixels one at a time in ``order``: D calls of ``logits_fn`` (B, D) -> (B, D, K), in a scan.

    Pixel order[i] is drawn from the logits computed once the pixels before it are set; the
    later pixels are still 0 then, which is fine because the masks hide them.
    """
    _validate.callable_("logits_fn", logits_fn, "a function (B, D) levels -> (B, D, K) logits")
    _validate.prng_key("key", key)
    order = jnp.asarray(order)
    if order.ndim != 1 or order.shape[0] == 0 or not jnp.issubdtype(order.dtype, jnp.integer):
        raise ValueError(f"order must be a non-empty 1-D integer array (a permutation of 0..D-1), got "
                         f"shape {tuple(order.shape)} and dtype {order.dtype}")
    num_samples = _validate.sample_count("num_samples", num_samples, per_sample=order.shape[0])
    x0 = jnp.zeros((num_samples, order.shape[0]), jnp.int32)

    def step(x, inputs):
        d, k = inputs
        logits = logits_fn(x)[:, d, :]  # (B, K)
        return x.at[:, d].set(jax.random.categorical(k, logits).astype(jnp.int32)), None

    x, _ = jax.lax.scan(step, x0, (order, jax.random.split(key, order.shape[0])))
    return x
