"""A normalizing flow with affine coupling layers (RealNVP; Dinh, Sohl-Dickstein & Bengio, 2017).

Taught in 07_beyond.ipynb ("Normalizing flows"). A flow is an invertible map
f: x -> z = f_L(...f_1(x)) to a standard normal base z ~ N(0, I); the change of
variables gives the exact log-likelihood

    log p(x) = log N(f(x); 0, I) + sum_l log |det df_l / dh_{l-1}|.

An affine coupling layer keeps the masked part h_a = m * h and moves the rest:

    h'  = m * h + (1 - m) * (h * exp(s(m * h)) + t(m * h)),
    log |det| = sum_d (1 - m_d) s_d(m * h),

because its Jacobian is triangular with diagonal 1 (kept) or exp(s) (moved). The
inverse is as cheap: h = m * h' + (1 - m) * (h' - t(m * h')) * exp(-s(m * h')).

Images of discrete levels 0..K-1 are dequantized first (Uria et al., 2013; Theis et al.,
2016): v = x + u, u ~ U[0, 1)^D. For the discrete probability P(x) = int_{[0,1)^D} p(x + u) du,
Jensen's inequality gives  -log P(x) <= E_u[-log p(x + u)],  so the flow's NLL of the
dequantized data is an upper bound (a *bound*, not the exact NLL) on that of the images.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from course_lib import _validate
from course_lib.models.mlp import ACTIVATIONS, MLP, check_sizes
from course_lib.models.registry import build_from_config, register

_LOG_2PI = math.log(2 * math.pi)
MASK_KINDS = ("alternate", "checkerboard")


def standard_normal_log_prob(z) -> jax.Array:
    """log N(z; 0, I) summed over the last axis: -1/2 sum_d (z_d^2 + log 2 pi). (B, D) -> (B,)."""
    return -0.5 * jnp.sum(z**2 + _LOG_2PI, axis=-1)


def coupling_masks(dim: int, num_layers: int, kind: str = "alternate", image_shape: Sequence[int] | None = None
                   ) -> np.ndarray:
    """Binary masks (num_layers, dim): 1 = kept (conditions the layer), 0 = transformed.

    ``alternate`` flips one half-split every layer (for 2-D data: x_1 moves x_2, then x_2 moves x_1).
    ``checkerboard`` (images, RealNVP's spatial masks) alternates a checkerboard, its complement,
    the top half and the bottom half of the image, so every pixel is moved by its neighbours and by
    pixels far away.
    """
    dim = _validate.positive_int("dim", dim, minimum=2)
    num_layers = _validate.positive_int("num_layers", num_layers)
    _validate.one_of("kind", kind, MASK_KINDS)
    if kind == "alternate":
        half = (np.arange(dim) < dim // 2).astype(np.float32)
        return np.stack([half if i % 2 == 0 else 1.0 - half for i in range(num_layers)])
    if image_shape is None or int(np.prod(image_shape)) != dim:
        raise ValueError(f"checkerboard masks need image_shape with H*W = dim = {dim}, got {image_shape}")
    h, w = image_shape
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    board = ((rows + cols) % 2 == 0).astype(np.float32).ravel()
    top = (rows < h // 2).astype(np.float32).ravel()
    cycle = [board, 1.0 - board, top, 1.0 - top]
    return np.stack([cycle[i % 4] for i in range(num_layers)])


class AffineCoupling(nnx.Module):
    """One affine coupling layer; the conditioner is an MLP giving s and t.

    s = log_scale_max * tanh(raw_s), with a learned per-coordinate log_scale_max, keeps the
    log-scale bounded (RealNVP's trick against blow-ups); the conditioner's last layer starts at
    zero, so a fresh layer is the identity.
    """

    def __init__(self, dim: int, mask, hidden: Sequence[int], *, activation: str, rngs: nnx.Rngs):
        self.dim = dim
        self.mask = tuple(float(m) for m in np.asarray(mask).ravel())  # static: part of the structure
        self.net = MLP((dim, *hidden, 2 * dim), activation=activation, rngs=rngs)
        last = getattr(self.net, f"linear_{self.net.num_layers - 1}")
        last.kernel = nnx.Param(jnp.zeros_like(last.kernel[...]))
        last.bias = nnx.Param(jnp.zeros_like(last.bias[...]))
        self.log_scale_max = nnx.Param(jnp.ones((dim,)))

    def _s_t(self, h_kept):
        raw_s, t = jnp.split(self.net(h_kept), 2, axis=-1)  # (B, D) each
        s = self.log_scale_max[...] * jnp.tanh(raw_s)
        return s, t

    def forward(self, h):
        """Data direction -> base direction: (B, D) -> (h' (B, D), log|det| (B,))."""
        m = jnp.asarray(self.mask)
        s, t = self._s_t(m * h)
        s, t = (1.0 - m) * s, (1.0 - m) * t
        return m * h + (1.0 - m) * (h * jnp.exp(s) + t), jnp.sum(s, axis=-1)

    def inverse(self, h_out):
        """Base direction -> data direction: (B, D) -> (B, D)."""
        m = jnp.asarray(self.mask)
        s, t = self._s_t(m * h_out)
        s, t = (1.0 - m) * s, (1.0 - m) * t
        return m * h_out + (1.0 - m) * (h_out - t) * jnp.exp(-s)


@register
class RealNVP(nnx.Module):
    """A stack of affine coupling layers over a standard normal base.

    Args:
      dim: D, the data size (2 for toys, 64 for 8x8 digits).
      num_layers: number of coupling layers L.
      hidden: hidden widths of each conditioner MLP.
      masks: ``alternate`` (any D) or ``checkerboard`` (images; needs ``image_shape``).
      image_shape: (H, W) with H*W = D, for checkerboard masks.
      activation: hidden activation of the conditioners.
      rngs: ``nnx.Rngs`` for the initial weights.

    Shapes: x (B, D) -> z (B, D); log_prob (B,).
    """

    def __init__(self, dim: int, num_layers: int = 6, hidden: Sequence[int] = (64, 64), *,
                 masks: str = "alternate", image_shape: Sequence[int] | None = None,
                 activation: str = "relu", rngs: nnx.Rngs):
        self.dim = _validate.positive_int("dim", dim, minimum=2)
        self.num_layers = _validate.positive_int("num_layers", num_layers)
        self.hidden = check_sizes("hidden", hidden)
        self.masks_kind = _validate.one_of("masks", masks, MASK_KINDS)
        self.image_shape = None if image_shape is None else tuple(int(s) for s in image_shape)
        self.activation = _validate.one_of("activation", activation, ACTIVATIONS)
        all_masks = coupling_masks(self.dim, self.num_layers, masks, self.image_shape)
        for i in range(self.num_layers):
            setattr(self, f"coupling_{i}", AffineCoupling(self.dim, all_masks[i], self.hidden,
                                                          activation=activation, rngs=rngs))

    @property
    def config(self) -> dict:
        """The architecture as a JSON-serialisable dict (stored in checkpoints)."""
        return {"model": "RealNVP", "dim": self.dim, "num_layers": self.num_layers, "hidden": list(self.hidden),
                "masks": self.masks_kind, "image_shape": None if self.image_shape is None else list(self.image_shape),
                "activation": self.activation}

    @classmethod
    def from_config(cls, config: dict, *, rngs: nnx.Rngs | None = None) -> RealNVP:
        """Rebuild the architecture from :attr:`config` (fresh weights; ``rngs`` defaults to seed 0)."""
        return build_from_config(cls, config, rngs)

    def layers(self) -> list[AffineCoupling]:
        return [getattr(self, f"coupling_{i}") for i in range(self.num_layers)]

    def _check_x(self, name, x):
        _validate.array(name, x, ndim=2, shape=(None, self.dim), dtype_kind="float")

    def forward(self, x):
        """z = f(x) and log|det df/dx|: (B, D) -> ((B, D), (B,))."""
        self._check_x("x", x)
        log_det = jnp.zeros(x.shape[:1], x.dtype)
        for layer in self.layers():
            x, ld = layer.forward(x)
            log_det = log_det + ld
        return x, log_det

    def inverse(self, z):
        """x = f^{-1}(z): (B, D) -> (B, D)."""
        self._check_x("z", z)
        for layer in reversed(self.layers()):
            z = layer.inverse(z)
        return z

    def log_prob(self, x) -> jax.Array:
        """Exact log p(x) = log N(f(x); 0, I) + log|det df/dx|, in nats: (B, D) -> (B,)."""
        z, log_det = self.forward(x)
        return standard_normal_log_prob(z) + log_det

    def forward_layers(self, x) -> list[jax.Array]:
        """[x, f_1(x), f_2(f_1(x)), ..., z]: the data after each layer (L + 1 arrays (B, D))."""
        self._check_x("x", x)
        out = [x]
        for layer in self.layers():
            x, _ = layer.forward(x)
            out.append(x)
        return out

    def inverse_layers(self, z) -> list[jax.Array]:
        """[z, ..., x]: base samples pulled back through the layers, last to first (L + 1 arrays)."""
        self._check_x("z", z)
        out = [z]
        for layer in reversed(self.layers()):
            z = layer.inverse(z)
            out.append(z)
        return out

    def sample(self, key, num_samples: int) -> jax.Array:
        """x = f^{-1}(z), z ~ N(0, I): (num_samples, D)."""
        _validate.prng_key("key", key)
        num_samples = _validate.sample_count("num_samples", num_samples, per_sample=self.dim)
        return self.inverse(jax.random.normal(key, (num_samples, self.dim)))


# --------------------------------------------------------------------------- discrete images

LOGIT_ALPHA = 0.05
"""lambda of the logit transform: pixels are squeezed into [lambda, 1 - lambda] first (RealNVP)."""


def dequantize(x, u, num_levels: int) -> jax.Array:
    """y = (x + u) / K in (0, 1): integer levels x (B, D) plus uniform noise u in [0, 1)^D."""
    _validate.array("x", x, ndim=2, dtype_kind="number")
    _validate.array("u", u, ndim=2, shape=tuple(x.shape), dtype_kind="float")
    num_levels = _validate.positive_int("num_levels", num_levels, minimum=2)
    _validate.levels("x", x, num_levels)
    return (x.astype(jnp.float32) + u) / num_levels


def logit_transform(y, alpha: float = LOGIT_ALPHA):
    """w = logit(alpha + (1 - 2 alpha) y) and its log|det| per example.

    log|dw/dy| = sum_d [log(1 - 2 alpha) - log p_d - log(1 - p_d)],  p = alpha + (1 - 2 alpha) y.

    Returns:
      (w (B, D), log_det (B,)).
    """
    p = alpha + (1.0 - 2.0 * alpha) * y
    w = jnp.log(p) - jnp.log1p(-p)
    log_det = jnp.sum(math.log(1.0 - 2.0 * alpha) - jnp.log(p) - jnp.log1p(-p), axis=-1)
    return w, log_det


def inverse_logit_transform(w, alpha: float = LOGIT_ALPHA) -> jax.Array:
    """y = (sigmoid(w) - alpha) / (1 - 2 alpha): back to (0, 1)."""
    return (jax.nn.sigmoid(w) - alpha) / (1.0 - 2.0 * alpha)


def dequantized_log_prob(flow: RealNVP, x, u, num_levels: int, alpha: float = LOGIT_ALPHA) -> jax.Array:
    """log p(x + u): the flow's density of dequantized levels, in nats per image (B,).

    The density is over v = x + u (unit-width bins, one per level), so by the change of variables
    through y = v / K and w = logit(alpha + (1 - 2 alpha) y):

        log p(v) = log p_flow(w) + log|dw/dy| - D log K.

    Its negative, averaged over u ~ U[0, 1)^D, is an upper bound on -log P(x).   (07_beyond)
    """
    if not isinstance(flow, RealNVP):
        raise TypeError(f"flow must be a RealNVP, got {type(flow).__name__}")
    y = dequantize(x, u, num_levels)
    w, log_det_logit = logit_transform(y, alpha)
    return flow.log_prob(w) + log_det_logit - flow.dim * math.log(num_levels)


def quantize(w, num_levels: int, alpha: float = LOGIT_ALPHA) -> jax.Array:
    """Flow output w (B, D) -> integer levels (B, D) in 0..K-1: undo the logit, take the bin."""
    num_levels = _validate.positive_int("num_levels", num_levels, minimum=2)
    y = inverse_logit_transform(w, alpha)
    return jnp.clip(jnp.floor(y * num_levels), 0, num_levels - 1).astype(jnp.int32)


def sample_levels(flow: RealNVP, key, num_samples: int, num_levels: int, alpha: float = LOGIT_ALPHA) -> jax.Array:
    """Images of integer levels (num_samples, D) from a flow trained on dequantized data."""
    _validate.instance("flow", flow, RealNVP)
    num_levels = _validate.positive_int("num_levels", num_levels, minimum=2)
    return quantize(flow.sample(key, num_samples), num_levels, alpha)
