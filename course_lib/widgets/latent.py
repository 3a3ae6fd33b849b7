"""Exploring a VAE's 2-D latent space live: decode a point, see where the test codes lie,
walk between two images, view the whole decoded manifold, switch beta.

Taught in 04_vae.ipynb ("Exploring the latent space"). The pure pieces are
:class:`LatentDecoder` (a jitted z -> image), :func:`render_code_scatter`,
:func:`render_interpolation` and :func:`render_manifold`; :func:`latent_explorer`
only wires ipywidgets controls to them.

Speed: moving a latent slider decodes one z with a compiled function, encodes the
28x28 image as PNG in NumPy and redraws a marker on a scatter that matplotlib
rendered once (per beta); no figure is drawn on that path, so an update takes a
few milliseconds.

Pretrained models: ``python scripts/train_vae_checkpoints.py`` writes the 2-D
MNIST-5k VAEs for each beta in :data:`PRETRAINED_BETAS` to ``data/checkpoints``
(listed in :mod:`course_lib.pretrained`).
"""
from __future__ import annotations

import functools
import math

import ipywidgets as widgets
import jax.numpy as jnp
import numpy as np
from flax import nnx

from course_lib import _validate, plotting, pretrained
from course_lib.models.vae import VAE
from course_lib.training.core import CompiledStep
from course_lib.widgets.core import Panel, Status, Timer, guarded

PRETRAINED_BETAS = pretrained.VAE_BETAS
"""KL weights of the pretrained 2-D MNIST-5k VAEs (beta-VAE, Higgins et al., 2017)."""

DIGIT_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
"""One colour per digit class 0..9 (matplotlib's tab10)."""


# --------------------------------------------------------------------------- checkpoints


def load_pretrained(betas=PRETRAINED_BETAS) -> dict:
    """The pretrained 2-D MNIST-5k VAEs as ``{beta: VAE}`` (see :data:`PRETRAINED_BETAS`)."""
    return {float(b): pretrained.load(pretrained.beta_vae(b))[0] for b in betas}


# --------------------------------------------------------------------------- pure pieces


@functools.lru_cache(maxsize=16)
def _decode_step(graphdef) -> CompiledStep:
    """One compiled (params, z (N, J)) -> mean images (N, D) per architecture, shared by all decoders."""

    def decode(params, z):
        return nnx.merge(graphdef, params).decode_mean(z)

    return CompiledStep(decode, name="latent_decode")


class LatentDecoder:
    """A compiled z -> mean image function for one VAE.

    ``decoder(z)`` with z of shape (J,) returns one (H, W) image; with (N, J), (N, H, W).
    Models with the same architecture share one compiled function (the weights are an
    argument), so switching between pretrained betas compiles nothing new.
    """

    def __init__(self, model: VAE, image_shape):
        if not isinstance(model, VAE):
            raise TypeError(f"model must be a course_lib.models.VAE, got {type(model).__name__}")
        h, w = (_validate.positive_int("image_shape[0]", image_shape[0]),
                _validate.positive_int("image_shape[1]", image_shape[1]))
        if h * w != model.x_dim:
            raise ValueError(f"image_shape {(h, w)} has {h * w} pixels but the VAE has x_dim={model.x_dim}")
        self.image_shape, self.z_dim = (h, w), model.z_dim
        graphdef, self._params = nnx.split(model, nnx.Param)
        self._decode = _decode_step(graphdef)

    @property
    def num_traces(self) -> int:
        """How often the shared decode function was compiled (once per distinct batch size)."""
        return self._decode.num_traces

    def check_z(self, z) -> np.ndarray:
        """z as a float32 (N, J) array, or a clear error for the wrong size or non-finite values."""
        arr = np.asarray(z, dtype=np.float32) if not hasattr(z, "dtype") else np.asarray(z)
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"z must be numbers, got dtype {arr.dtype}")
        if arr.ndim not in (1, 2) or arr.shape[-1] != self.z_dim:
            raise ValueError(f"z must have {self.z_dim} values per latent point (shape ({self.z_dim},) or "
                             f"(N, {self.z_dim})) for this VAE with z_dim={self.z_dim}, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("z contains NaN or infinite values")
        return arr.astype(np.float32).reshape(-1, self.z_dim)

    def __call__(self, z) -> np.ndarray:
        single = np.ndim(z) == 1
        zz = self.check_z(z)
        images = np.asarray(self._decode(self._params, jnp.asarray(zz))).reshape((-1,) + self.image_shape)
        return images[0] if single else images


def encode_means(model: VAE, x, *, batch_size: int = 500) -> np.ndarray:
    """Posterior means mu(x) of q(z|x), (N, J): where each image sits in latent space."""
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a course_lib.models.VAE, got {type(model).__name__}")
    _validate.array("x", x, ndim=2, shape=(None, model.x_dim), dtype_kind="number")
    return np.concatenate([np.asarray(model.encode(jnp.asarray(x[s : s + batch_size]))[0])
                           for s in range(0, x.shape[0], batch_size)])


def _check_codes(codes, labels):
    _validate.array("codes", codes, ndim=2, shape=(None, 2), dtype_kind="number")
    _validate.array("labels", labels, ndim=1, shape=(codes.shape[0],), dtype_kind="int")
    return np.asarray(codes), np.asarray(labels)


def render_code_scatter(codes, labels, *, limits: float = 3.0, z=None, path=None, title: str | None = None,
                        size: float = 4.0):
    """Scatter of 2-D latent codes coloured by digit, optionally with the point ``z`` and a path.

    Args:
      codes: (N, 2) posterior means; labels: (N,) digit classes 0..9.
      limits: the axes show [-limits, limits]^2 (the prior N(0, I) has 99% of its mass within 3).
      z: optional (2,) point to mark with a black cross.
      path: optional (S, 2) points to draw as a dashed line (an interpolation).

    Returns:
      matplotlib Figure.
    """
    codes, labels = _check_codes(codes, labels)
    limits = _validate.positive_float("limits", limits)
    fig, (ax,) = plotting.new_figure(1, size=(size, size))
    for digit in range(10):
        pts = codes[labels == digit]
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], s=7, color=DIGIT_COLORS[digit], label=str(digit), linewidths=0,
                       alpha=0.8)
    if path is not None:
        path = np.asarray(path)
        ax.plot(path[:, 0], path[:, 1], "k--", lw=1)
    if z is not None:
        ax.plot([z[0]], [z[1]], "kx", ms=10, mew=2.5)
    ax.set_xlim(-limits, limits)
    ax.set_ylim(-limits, limits)
    ax.set_aspect("equal")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, markerscale=2, title="digit",
              title_fontsize=7, frameon=False)
    ax.set_title(title or "test-set codes $\\mu(x)$", fontsize=9)
    return fig


def render_interpolation(decoder: LatentDecoder, z_a, z_b, num_steps: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Decode the straight line z(t) = (1 - t) z_a + t z_b for t = 0 .. 1.

    Returns:
      (images (S, H, W), zs (S, J)).
    """
    if not isinstance(decoder, LatentDecoder):
        raise TypeError(f"decoder must be a LatentDecoder, got {type(decoder).__name__}")
    num_steps = _validate.positive_int("num_steps", num_steps, minimum=2)
    z_a, z_b = decoder.check_z(z_a)[0], decoder.check_z(z_b)[0]
    t = np.linspace(0.0, 1.0, num_steps, dtype=np.float32)[:, None]
    zs = (1.0 - t) * z_a + t * z_b  # (S, J)
    return decoder(zs), zs


def manifold_canvas(decoder: LatentDecoder, *, limits: float = 3.0, n: int = 15) -> np.ndarray:
    """Decode an n x n grid over [-limits, limits]^2 and tile it: (n*H, n*W), z_2 increasing upwards."""
    if not isinstance(decoder, LatentDecoder):
        raise TypeError(f"decoder must be a LatentDecoder, got {type(decoder).__name__}")
    if decoder.z_dim != 2:
        raise ValueError(f"the manifold view needs a 2-D latent, this VAE has z_dim={decoder.z_dim}")
    limits = _validate.positive_float("limits", limits)
    n = _validate.positive_int("n", n, minimum=2)
    ticks = np.linspace(-limits, limits, n, dtype=np.float32)
    zz1, zz2 = np.meshgrid(ticks, ticks[::-1])  # row 0 is the top: the largest z_2
    images = decoder(np.stack([zz1.ravel(), zz2.ravel()], axis=1))  # (n*n, H, W)
    h, w = decoder.image_shape
    return images.reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)


def render_manifold(decoder: LatentDecoder, *, limits: float = 3.0, n: int = 15, title: str | None = None):
    """The decoded latent grid as one picture with z axes (Kingma & Welling, 2013, Fig. 4).

    Returns:
      matplotlib Figure.
    """
    canvas = manifold_canvas(decoder, limits=limits, n=n)
    fig, (ax,) = plotting.new_figure(1, size=(4.2, 4.2))
    half = limits * n / (n - 1)  # each tile is centred on its grid point
    ax.imshow(canvas, cmap="gray_r", vmin=0.0, vmax=1.0, extent=(-half, half, -half, half),
              interpolation="nearest")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title or "decoded means $E[x|z]$ on a grid", fontsize=9)
    return fig


def _strip(images: np.ndarray, gap: int = 1) -> np.ndarray:
    """(S, H, W) -> (H, S*W + (S-1)*gap) with white gaps."""
    s, h, w = images.shape
    out = np.zeros((h, s * w + (s - 1) * gap), np.float32)
    for i in range(s):
        out[:, i * (w + gap) : i * (w + gap) + w] = images[i]
    return out


class CodeMap:
    """The code scatter rendered once to pixels; ``png(z, path)`` draws the live marker in NumPy."""

    def __init__(self, codes, labels, *, limits: float = 3.0, title: str | None = None, dpi: int = 80):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig = render_code_scatter(codes, labels, limits=limits, title=title)
        canvas = FigureCanvasAgg(fig)
        fig.set_dpi(dpi)
        canvas.draw()
        self.rgb = np.asarray(canvas.buffer_rgba())[..., :3].copy()  # (H, W, 3)
        ax = fig.axes[0]
        (x0, y0), (x1, y1) = ax.transData.transform([[0.0, 0.0], [1.0, 1.0]])  # linear axes: an affine map
        self._scale = np.array([x1 - x0, y1 - y0])
        self._offset = np.array([x0, y0])

    def pixel(self, z) -> tuple[float, float]:
        """(row, col) of the latent point z in the image."""
        x, y = self._offset + self._scale * np.asarray(z[:2], np.float64)
        return self.rgb.shape[0] - y, x

    def png(self, z=None, path=None) -> bytes:
        img = self.rgb.copy()
        if path is not None:
            for p in np.asarray(path):
                self._dot(img, p, radius=1.5, color=(0, 0, 0))
        if z is not None:
            self._cross(img, z)
        return plotting.png_bytes(img)

    def _dot(self, img, z, *, radius, color):
        r, c = self.pixel(z)
        r0, r1 = int(max(0, math.floor(r - radius))), int(min(img.shape[0], math.ceil(r + radius) + 1))
        c0, c1 = int(max(0, math.floor(c - radius))), int(min(img.shape[1], math.ceil(c + radius) + 1))
        if r0 >= r1 or c0 >= c1:
            return
        rr, cc = np.mgrid[r0:r1, c0:c1]
        mask = (rr - r) ** 2 + (cc - c) ** 2 <= radius**2
        img[r0:r1, c0:c1][mask] = color

    def _cross(self, img, z, half: int = 7, width: float = 1.6):
        r, c = self.pixel(z)
        r0, r1 = int(max(0, r - half - 2)), int(min(img.shape[0], r + half + 3))
        c0, c1 = int(max(0, c - half - 2)), int(min(img.shape[1], c + half + 3))
        if r0 >= r1 or c0 >= c1:
            return
        rr, cc = np.mgrid[r0:r1, c0:c1]
        dr, dc = rr - r, cc - c
        near = (np.abs(dr) <= half) & (np.abs(dc) <= half)
        outline = near & ((np.abs(dr - dc) <= width + 1.2) | (np.abs(dr + dc) <= width + 1.2))
        core = near & ((np.abs(dr - dc) <= width) | (np.abs(dr + dc) <= width))
        img[r0:r1, c0:c1][outline] = (255, 255, 255)
        img[r0:r1, c0:c1][core] = (0, 0, 0)


# --------------------------------------------------------------------------- the widget


class _BetaView:
    """Everything the explorer needs for one model, computed once."""

    def __init__(self, model, x, y, image_shape, limits, beta):
        self.decoder = LatentDecoder(model, image_shape)
        self.codes = encode_means(model, x)
        self.labels = y
        self.codemap = CodeMap(self.codes, y, limits=limits, title=f"test codes, beta = {beta:g}")
        self.manifold_png = plotting.image_to_png(manifold_canvas(self.decoder, limits=limits, n=15), scale=1)


def _check_models(models, beta) -> tuple[dict, float]:
    """Check ``models`` ({beta: VAE with z_dim = 2}) and ``beta`` (one of its keys); returns them with float betas."""
    if not isinstance(models, dict) or not models:
        raise TypeError("models must be a non-empty dict {beta: VAE}")
    for b, m in models.items():
        if not isinstance(m, VAE) or m.z_dim != 2:
            raise ValueError(f"models[{b}] must be a VAE with z_dim=2, got {type(m).__name__}"
                             f"{'' if not isinstance(m, VAE) else f' with z_dim={m.z_dim}'}")
    betas = sorted(float(b) for b in models)
    models = {float(b): m for b, m in models.items()}
    beta = float(_validate.positive_float("beta", beta))
    if beta not in models:
        raise ValueError(f"beta must be one of the models' betas {betas}, got {beta}")
    return models, beta


def _explorer_panel(images: dict, z1, z2, beta_slider, a_box, b_box, status: Status) -> Panel:
    """The explorer's layout: decoded image and controls, the code map, the manifold; the interpolation below."""
    label = lambda text: widgets.HTML(f"<b>{text}</b>")  # noqa: E731
    left = widgets.VBox([label("decoded E[x|z]"), images["decoded"], z1, z2, beta_slider])
    middle = widgets.VBox([label("where the test images sit"), images["codes"]])
    right = widgets.VBox([label("the decoded latent grid"), images["manifold"]])
    bottom = widgets.VBox([label("interpolation from image a to image b"), widgets.HBox([a_box, b_box]),
                           images["interpolation"]])
    return Panel([widgets.HBox([left, middle, right]), bottom, status], title="VAE latent explorer")


def latent_explorer(models: dict, x, y, image_shape=(28, 28), *, beta: float = 1.0, index_a: int = 0,
                    index_b: int = 1, limits: float = 3.0, num_steps: int = 9) -> Panel:
    """A live explorer of 2-D latent spaces.

    Controls: sliders ``z1``, ``z2`` (the decoded image follows them live), ``beta`` (switches
    between the models of ``models``), ``index_a``/``index_b`` (two test images whose codes
    are interpolated). Images: ``decoded``, ``codes`` (the scatter with the current z and the
    interpolation path), ``interpolation`` (a strip from image a to image b), ``manifold``.

    Args:
      models: {beta: VAE with z_dim=2}, e.g. :func:`load_pretrained`.
      x: (N, D) test images in the models' convention; y: (N,) their digits.
      image_shape: (H, W).
      beta: the model shown first (a key of ``models``).
      index_a, index_b: the test images interpolated first.
      limits: the latent square shown, [-limits, limits]^2.
    """
    models, beta = _check_models(models, beta)
    betas = sorted(models)
    _validate.array("x", x, ndim=2, shape=(None, models[beta].x_dim), dtype_kind="number")
    _validate.array("y", y, ndim=1, shape=(x.shape[0],), dtype_kind="int")
    n = x.shape[0]
    for name, idx in (("index_a", index_a), ("index_b", index_b)):
        if _validate.positive_int(name, idx, minimum=0) >= n:
            raise ValueError(f"{name} must be in 0..{n - 1}, got {idx}")
    limits = _validate.positive_float("limits", limits)
    num_steps = _validate.positive_int("num_steps", num_steps, minimum=2)
    x, y = np.asarray(x), np.asarray(y)
    views: dict = {}

    def view(b) -> _BetaView:
        if b not in views:
            views[b] = _BetaView(models[b], x, y, image_shape, limits, b)
        return views[b]

    slider = dict(min=-limits, max=limits, step=0.05, continuous_update=True, readout_format=".2f")
    z1 = widgets.FloatSlider(value=0.0, description="z1", **slider)
    z2 = widgets.FloatSlider(value=0.0, description="z2", **slider)
    beta_slider = widgets.SelectionSlider(options=[(f"{b:g}", b) for b in betas], value=beta, description="beta",
                                          continuous_update=False)
    a_box = widgets.BoundedIntText(value=index_a, min=0, max=n - 1, description="image a")
    b_box = widgets.BoundedIntText(value=index_b, min=0, max=n - 1, description="image b")
    images = {"decoded": widgets.Image(format="png"), "codes": widgets.Image(format="png"),
              "interpolation": widgets.Image(format="png"), "manifold": widgets.Image(format="png")}
    status = Status()
    timer = Timer()
    state = {"path": None}

    def current_z():
        return np.array([z1.value, z2.value], np.float32)

    def update_z(_=None):
        v = view(beta_slider.value)
        z = current_z()
        with timer:
            images["decoded"].value = plotting.image_to_png(v.decoder(z), scale=6)
            images["codes"].value = v.codemap.png(z, state["path"])
        nearest = int(np.argmin(np.sum((v.codes - z) ** 2, axis=1)))
        status.ok(f"z = ({z[0]:+.2f}, {z[1]:+.2f}), beta = {beta_slider.value:g}: nearest test code is a "
                  f"{int(v.labels[nearest])}  ({timer.last_ms:.0f} ms)")

    def update_pair(_=None):
        v = view(beta_slider.value)
        for name, box in (("image a", a_box), ("image b", b_box)):
            if not 0 <= box.value < n:
                raise ValueError(f"{name} must be in 0..{n - 1}, got {box.value}")
        strip, zs = render_interpolation(v.decoder, v.codes[a_box.value], v.codes[b_box.value], num_steps)
        state["path"] = zs
        images["interpolation"].value = plotting.image_to_png(_strip(strip), scale=3)
        update_z()

    def update_beta(_=None):
        v = view(beta_slider.value)
        images["manifold"].value = v.manifold_png
        update_pair()

    safe_z, safe_pair, safe_beta = guarded(update_z, status), guarded(update_pair, status), guarded(update_beta, status)
    z1.observe(safe_z, names="value")
    z2.observe(safe_z, names="value")
    a_box.observe(safe_pair, names="value")
    b_box.observe(safe_pair, names="value")
    beta_slider.observe(safe_beta, names="value")
    safe_beta()

    panel = _explorer_panel(images, z1, z2, beta_slider, a_box, b_box, status)
    panel.controls = {"z1": z1, "z2": z2, "beta": beta_slider, "index_a": a_box, "index_b": b_box}
    panel.images, panel.image = images, images["decoded"]
    panel.status, panel.timer = status, timer
    return panel
