"""Figures for the course. Every function returns a matplotlib Figure (or PNG bytes)
and never calls ``plt.show()``; notebooks display what they get back.

Figures are made with ``matplotlib.figure.Figure`` directly (not pyplot), so nothing
accumulates in pyplot's global state when a widget redraws many times.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_lib import _validate


def new_figure(ncols: int = 1, *, size: tuple = (4.0, 4.0), nrows: int = 1):
    """A Figure with an (nrows, ncols) grid of axes; returns (fig, axes list)."""
    ncols = _validate.positive_int("ncols", ncols, maximum=100, why="a figure of more panels is unreadable")
    nrows = _validate.positive_int("nrows", nrows, maximum=100, why="a figure of more panels is unreadable")
    if isinstance(size, (str, bytes)) or not hasattr(size, "__len__") or len(size) != 2:
        raise TypeError(f"size must be a (width, height) pair in inches, got {size!r:.60}")
    size = (_validate.real_in_range("size[0]", size[0], 0.1, 100.0), _validate.real_in_range("size[1]", size[1], 0.1, 100.0))
    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    return fig, axes


def figure_to_png(fig: Figure, *, dpi: int = 80) -> bytes:
    """Render a Figure to PNG bytes (for ``ipywidgets.Image``)."""
    _validate.instance("fig", fig, Figure, "a matplotlib Figure (e.g. from new_figure())")
    dpi = _validate.positive_int("dpi", dpi, maximum=600, why="larger images only exhaust memory")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def png_bytes(pixels) -> bytes:
    """Encode (H, W) grey or (H, W, 3) RGB pixels, integers in 0..255, as PNG bytes.

    The course's one PNG encoder (Pillow, fast compression): the widgets send their frames
    through it. A 300x300 RGB frame takes a few milliseconds.
    """
    from PIL import Image

    _validate.array("pixels", pixels, dtype_kind="int")
    arr = np.asarray(pixels)
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ValueError(f"pixels must have shape (H, W) or (H, W, 3) with 3 channels, got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise ValueError(f"pixels must lie in 0..255, got values in [{arr.min()}, {arr.max()}]")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr, np.uint8)).save(buf, format="png", compress_level=1)
    return buf.getvalue()


def image_to_png(image, *, scale: int = 4) -> bytes:
    """Encode one grey image (H, W) with values in [0, 1] as PNG bytes, upscaled by ``scale``.

    Ink (1) is drawn black on white paper (0), as in :func:`image_grid`; a 28x28 image takes
    well under a millisecond, which keeps the latent explorer's update within its budget.
    """
    _validate.array("image", image, ndim=2, dtype_kind="number")
    scale = _validate.positive_int("scale", scale)
    img = np.clip(np.asarray(image, np.float32), 0.0, 1.0)
    img = (255 * (1.0 - img) + 0.5).astype(np.uint8)  # dark ink on white paper
    return png_bytes(np.repeat(np.repeat(img, scale, axis=0), scale, axis=1))


def image_grid(images, image_shape: Sequence[int], *, ncols: int = 10, titles: Sequence[str] | None = None,
               cell_size: float = 0.8, suptitle: str | None = None) -> Figure:
    """A grid of grey images.

    Args:
      images: (N, H*W) or (N, H, W) values in [0, 1] (ink = 1).
      image_shape: (H, W).
      ncols: images per row.
      titles: optional N short titles.
    """
    _validate.array("images", images, dtype_kind="number")
    images = np.asarray(images, np.float32)
    h, w = (_validate.positive_int("image_shape[0]", image_shape[0]),
            _validate.positive_int("image_shape[1]", image_shape[1]))
    n = images.shape[0]
    if images.reshape(n, -1).shape[1] != h * w:
        raise ValueError(f"images must have H*W = {h * w} values each for image_shape {tuple(image_shape)}, "
                         f"got shape {images.shape}")
    images = images.reshape(n, h, w)
    ncols = min(_validate.positive_int("ncols", ncols), n)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(cell_size * ncols, cell_size * nrows + (0.3 if suptitle else 0)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if i < n:
            ax.imshow(images[i], cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def scatter_2d(ax, x, *, color="C0", label: str | None = None, size: float = 4.0, alpha: float = 0.5,
               limits: float | None = None) -> None:
    """Scatter (N, 2) points on ``ax`` with equal aspect; optional symmetric limits."""
    _validate.instance("ax", ax, Axes, "a matplotlib Axes")
    if limits is not None:
        _validate.positive_float("limits", limits)
    _validate.array("x", x, ndim=2, shape=(None, 2), dtype_kind="number")
    x = np.asarray(x)
    ax.scatter(x[:, 0], x[:, 1], s=size, alpha=alpha, color=color, label=label, linewidths=0)
    ax.set_aspect("equal")
    if limits is not None:
        ax.set_xlim(-limits, limits)
        ax.set_ylim(-limits, limits)


def grid_points(limits: float, resolution: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A square grid over [-limits, limits]^2: returns (xx, yy, points (R*R, 2))."""
    limits = _validate.positive_float("limits", limits)
    resolution = _validate.positive_int("resolution", resolution, minimum=2)
    ticks = np.linspace(-limits, limits, resolution, dtype=np.float32)
    xx, yy = np.meshgrid(ticks, ticks)
    return xx, yy, np.stack([xx.ravel(), yy.ravel()], axis=1)


def density_heatmap(ax, fn: Callable, *, limits: float, resolution: int = 100, log: bool = False,
                    cmap: str = "viridis", **imshow_kwargs):
    """Draw fn evaluated on a grid over [-limits, limits]^2 as an image on ``ax``.

    Args:
      fn: maps (M, 2) points to (M,) values (a density, a log-density or D(x)).
      log: if True, ``fn`` returns log-densities and exp() is shown.
    Returns:
      the AxesImage (for a colorbar).
    """
    if not callable(fn):
        raise TypeError(f"fn must be a function of (M, 2) points, got {type(fn).__name__}")
    _validate.instance("ax", ax, Axes, "a matplotlib Axes")
    xx, yy, pts = grid_points(limits, resolution)
    try:
        values = np.asarray(fn(pts), np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"fn must map (M, 2) points to (M,) numbers; it failed with: {err}") from err
    if values.size != xx.size:
        raise ValueError(f"fn must return one value per point ({xx.size}), got shape {values.shape}")
    values = values.reshape(xx.shape)
    if log:
        values = np.exp(values)
    return ax.imshow(values, origin="lower", extent=(-limits, limits, -limits, limits), cmap=cmap,
                     aspect="equal", **imshow_kwargs)


def loss_curves(history, keys: Sequence[str], *, ax=None, xlabel: str = "step", title: str | None = None,
                logy: bool = False):
    """Plot metrics of a :class:`~course_lib.training.History` against its step axis.

    Returns the Figure when it made one (``ax`` None), else None.
    """
    if not (hasattr(history, "__getitem__") and hasattr(history, "__contains__")):
        raise TypeError(f"history must be a training History, got {type(history).__name__}")
    if isinstance(keys, str) or not isinstance(keys, Sequence) or not keys:
        raise TypeError(f"keys must be a non-empty list of metric names, got {keys!r:.60}")
    for k in keys:
        if k not in history:
            raise ValueError(f"keys: no metric {k!r} in history; recorded: {list(getattr(history, 'keys', list)())}")
    if ax is not None:
        _validate.instance("ax", ax, Axes, "a matplotlib Axes or None")
    fig = None
    if ax is None:
        fig, (ax,) = new_figure(1, size=(5.0, 3.2))
    steps = history["step"]
    for k in keys:
        ax.plot(steps, history[k], label=k)
    ax.set_xlabel(xlabel)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    if title:
        ax.set_title(title)
    return fig
