"""The live GAN lab: train a GAN on 2-D data and watch both players, frame by frame.

Taught in 05_gan.ipynb ("The GAN lab"). Inspired by the browser-only GAN Lab (Kahng et
al., 2018), but running the course's own JAX code inside the notebook.

One *frame* is a burst of compiled training steps (:mod:`course_lib.training.gan_lab`)
followed by a redraw of four views:

- ``samples``: real data (green) and generated samples (purple);
- ``discriminator``: D(x) as a heatmap (green = "real", purple = "fake") with the generated
  samples and arrows showing where the generator's next update pushes each of them;
- ``warp``: the image G(z) of a square grid of lines in z space (the first two noise
  coordinates; the others held at 0), showing how the generator folds and stretches noise;
- ``losses``: the discriminator's and the generator's losses over the steps.

Drawing four matplotlib figures per frame costs a few hundred milliseconds, so the views are
rasterised directly with NumPy (points, line segments, a colour-mapped grid) and sent as PNG
bytes: a frame costs tens of milliseconds. :func:`render_lab_views` is the pure function;
:func:`lab_figure` puts the same views in a matplotlib figure with axes (the static version);
:func:`gan_lab` is the widget (an ``ipywidgets.Play`` drives the frames, no threads).
"""
from __future__ import annotations

import io
import math
from typing import NamedTuple

import ipywidgets as widgets
import jax
import jax.numpy as jnp
import numpy as np

from course_lib import _validate, losses
from course_lib.data import toy
from course_lib.training import gan_lab as engine
from course_lib.training.core import OPTIMIZERS
from course_lib.widgets.core import Panel, Status, Timer, guarded

VIEWS = ("samples", "discriminator", "warp", "losses")
"""The views drawn each frame, in display order."""

VIEW_TITLES = {
    "samples": "real (green) vs generated (purple)",
    "discriminator": "D(x): green = real, purple = fake; arrows = G's push",
    "warp": "G warps a grid of z (colour = z1)",
    "losses": "losses: D (blue), G (orange); dotted = D's loss at equilibrium",
}

LAB_DEFAULTS = engine.LabConfig(target="ring", g_hidden=(64, 64), d_hidden=(64, 64), batch_size=128,
                                g_lr=2e-3, d_lr=2e-3)
"""The lab's default run: small players and batches, so that a frame stays fast."""

REAL_COLOR = np.array([0.10, 0.62, 0.30])
FAKE_COLOR = np.array([0.47, 0.20, 0.62])
D_COLOR = np.array([0.12, 0.40, 0.75])
G_COLOR = np.array([0.95, 0.50, 0.05])


# --------------------------------------------------------------------------- rasteriser


class Canvas:
    """An RGB image (size, size, 3) in [0, 1] showing the square [-limits, limits]^2."""

    def __init__(self, size: int, limits: float, background=(1.0, 1.0, 1.0)):
        self.size = size
        self.limits = float(limits)
        self.rgb = np.empty((size, size, 3), np.float32)
        self.rgb[:] = background

    def to_pixels(self, xy) -> tuple[np.ndarray, np.ndarray]:
        """World (N, 2) -> (row, col) integer pixel indices (rows go down, y goes up)."""
        xy = np.asarray(xy, np.float32)
        scale = (self.size - 1) / (2 * self.limits)
        col = np.rint((xy[:, 0] + self.limits) * scale)
        row = np.rint((self.limits - xy[:, 1]) * scale)
        return row, col

    def heatmap(self, values, lut) -> None:
        """Fill with a (R, R) grid of values in [0, 1] (row 0 = bottom), colour-mapped by ``lut`` (256, 3)."""
        values = np.asarray(values, np.float32)
        r = values.shape[0]
        idx = (np.arange(self.size) * r // self.size)
        grid = values[::-1][idx][:, idx]  # (size, size), row 0 = top
        self.rgb[:] = lut[np.clip((grid * 255).astype(np.int32), 0, 255)]

    def points(self, xy, color, *, radius: int = 1, alpha: float = 1.0) -> None:
        """Draw (N, 2) points as small squares of side 2 * radius + 1 (off-canvas points are skipped)."""
        row, col = self.to_pixels(xy)
        ok = np.isfinite(row) & np.isfinite(col)
        row, col = row[ok].astype(np.int64), col[ok].astype(np.int64)
        offsets = np.arange(-radius, radius + 1)
        rr = (row[:, None, None] + offsets[None, :, None]).repeat(len(offsets), 2).ravel()
        cc = (col[:, None, None] + offsets[None, None, :]).repeat(len(offsets), 1).ravel()
        self._blend(rr, cc, color, alpha)

    def segments(self, start, end, color, *, alpha: float = 1.0, samples: int | None = None) -> None:
        """Draw line segments from start (N, 2) to end (N, 2).

        Each segment is drawn as ``samples`` dots; by default as many as the longest segment has
        pixels, so lines are continuous (pass a small number for a dotted line).
        """
        start, end = np.asarray(start, np.float32), np.asarray(end, np.float32)
        if samples is None:
            longest = np.nanmax(np.abs(end - start), initial=0.0) * (self.size - 1) / (2 * self.limits)
            samples = int(min(np.nan_to_num(longest), 2 * self.size)) + 2
        t = np.linspace(0.0, 1.0, samples, dtype=np.float32)[None, :, None]
        pts = start[:, None, :] * (1 - t) + end[:, None, :] * t
        row, col = self.to_pixels(pts.reshape(-1, 2))
        ok = np.isfinite(row) & np.isfinite(col)
        self._blend(row[ok].astype(np.int64), col[ok].astype(np.int64), color, alpha)

    def polyline_colored(self, xy, colors) -> None:
        """A continuous polyline through xy (N, 2), segment i coloured colors[i] (N - 1, 3)."""
        xy = np.asarray(xy, np.float32)
        longest = np.nanmax(np.abs(np.diff(xy, axis=0)), initial=0.0) * (self.size - 1) / (2 * self.limits)
        samples = int(min(np.nan_to_num(longest), 2 * self.size)) + 2
        t = np.linspace(0.0, 1.0, samples, dtype=np.float32)[None, :, None]
        pts = xy[:-1, None, :] * (1 - t) + xy[1:, None, :] * t  # (N-1, samples, 2)
        row, col = self.to_pixels(pts.reshape(-1, 2))
        rgb = np.repeat(np.asarray(colors, np.float32), samples, axis=0)
        ok = np.isfinite(row) & np.isfinite(col) & (row >= 0) & (row < self.size) & (col >= 0) & (col < self.size)
        self.rgb[row[ok].astype(np.int64), col[ok].astype(np.int64)] = rgb[ok]

    def _blend(self, rr, cc, color, alpha) -> None:
        inside = (rr >= 0) & (rr < self.size) & (cc >= 0) & (cc < self.size)
        rr, cc = rr[inside], cc[inside]
        color = np.asarray(color, np.float32)
        self.rgb[rr, cc] = (1 - alpha) * self.rgb[rr, cc] + alpha * color

    def axes(self, color=(0.75, 0.75, 0.75)) -> None:
        """Light lines along x = 0 and y = 0."""
        mid = self.size // 2
        self.rgb[mid, :] = 0.5 * self.rgb[mid, :] + 0.5 * np.asarray(color)
        self.rgb[:, mid] = 0.5 * self.rgb[:, mid] + 0.5 * np.asarray(color)

    def to_uint8(self) -> np.ndarray:
        return (np.clip(self.rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def _lut(name: str) -> np.ndarray:
    from matplotlib import colormaps

    return colormaps[name](np.linspace(0, 1, 256))[:, :3].astype(np.float32)


_LUTS: dict = {}


def _cached_lut(name: str) -> np.ndarray:
    if name not in _LUTS:
        _LUTS[name] = _lut(name)
    return _LUTS[name]


def rgb_to_png(rgb) -> bytes:
    """Encode an (H, W, 3) uint8 image as PNG bytes (fast compression)."""
    from PIL import Image

    _validate.array("rgb", rgb, ndim=3, shape=(None, None, 3), dtype_kind="int")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, np.uint8)).save(buf, format="png", compress_level=1)
    return buf.getvalue()


# --------------------------------------------------------------------------- the lab's data


class LabView(NamedTuple):
    """Everything the views show, as numpy arrays (see :func:`lab_snapshot`)."""

    limits: float
    x_real: np.ndarray  # (N, 2)
    x_fake: np.ndarray  # (N, 2)
    d_grid: np.ndarray  # (R, R) D(x) on the grid, row 0 = bottom
    push: np.ndarray  # (A, 2) -grad_x of the generator loss at x_fake[:A]
    warp: np.ndarray  # (L, P, 2) images of L grid lines of P points each
    d_loss: np.ndarray  # (S,) per-step losses so far
    g_loss: np.ndarray  # (S,)
    loss: str  # the loss kind (for the reference line)


class LabProbes(NamedTuple):
    """Fixed inputs of the views, so that frames change only because the players change."""

    x_real: np.ndarray  # (N, 2)
    z_show: jax.Array  # (N, noise_dim)
    z_lines: jax.Array  # (L * P, noise_dim)
    grid: jax.Array  # (R * R, 2)
    num_lines: int
    limits: float
    resolution: int


def make_probes(config: engine.LabConfig, *, num_points: int = 300, num_lines: int = 9,
                points_per_line: int = 40, resolution: int = 48, seed: int = 0) -> LabProbes:
    """Real samples, noise for the generated samples, z-grid lines and the D grid for ``config``."""
    num_points = _validate.positive_int("num_points", num_points)
    num_lines = _validate.positive_int("num_lines", num_lines, minimum=2)
    points_per_line = _validate.positive_int("points_per_line", points_per_line, minimum=2)
    resolution = _validate.positive_int("resolution", resolution, minimum=2)
    k_real, k_z = jax.random.split(jax.random.key(seed))
    x_real = np.asarray(toy.sample_toy(config.target, k_real, num_points, **dict(config.target_params)))
    limits = float(np.ceil(np.max(np.abs(x_real)) * 1.25 * 2) / 2)
    z_show = jax.random.normal(k_z, (num_points, config.noise_dim))
    # Lines z1 = c (varying z2) and z2 = c (varying z1), c in [-2, 2]; other noise coordinates 0.
    ticks = np.linspace(-2.0, 2.0, num_lines, dtype=np.float32)
    along = np.linspace(-2.0, 2.0, points_per_line, dtype=np.float32)
    lines = []
    for c in ticks:
        lines.append(np.stack([np.full_like(along, c), along], 1))  # z1 = c
    if config.noise_dim >= 2:
        for c in ticks:
            lines.append(np.stack([along, np.full_like(along, c)], 1))  # z2 = c
    z2 = np.concatenate(lines)  # (L * P, 2)
    z_lines = np.zeros((z2.shape[0], config.noise_dim), np.float32)
    z_lines[:, : min(2, config.noise_dim)] = z2[:, : min(2, config.noise_dim)]
    if config.noise_dim == 1:  # one line: z1 along [-2, 2]
        z_lines = along[:, None].copy()
    ticks_grid = np.linspace(-limits, limits, resolution, dtype=np.float32)
    xx, yy = np.meshgrid(ticks_grid, ticks_grid)
    grid = np.stack([xx.ravel(), yy.ravel()], 1)
    return LabProbes(x_real, jnp.asarray(z_show), jnp.asarray(z_lines), jnp.asarray(grid),
                     len(z_lines) // points_per_line if config.noise_dim > 1 else 1, limits, resolution)


def lab_snapshot(steps: engine.LabSteps, state: engine.LabState, probes: LabProbes,
                 d_loss=(), g_loss=(), *, num_arrows: int = 120, loss: str | None = None) -> LabView:
    """Evaluate the players on the probes: what the four views need."""
    loss = steps.config.loss if loss is None else _validate.one_of("loss", loss, losses.GAN_LOSSES)
    x_fake = steps.generate(state.g_params, probes.z_show)
    d_grid = steps.discriminate(state.d_params, probes.grid)
    push = steps.push(state.d_params, x_fake[:num_arrows], jnp.int32(losses.GAN_LOSSES.index(loss)))
    warp = steps.generate(state.g_params, probes.z_lines)
    return LabView(probes.limits, probes.x_real, np.asarray(x_fake),
                   np.asarray(d_grid).reshape(probes.resolution, probes.resolution), np.asarray(push),
                   np.asarray(warp).reshape(probes.num_lines, -1, 2), np.asarray(d_loss, np.float32),
                   np.asarray(g_loss, np.float32), loss)


# --------------------------------------------------------------------------- views


def _view_samples(view: LabView, size: int) -> np.ndarray:
    c = Canvas(size, view.limits)
    c.axes()
    c.points(view.x_real, REAL_COLOR, radius=1, alpha=0.6)
    c.points(view.x_fake, FAKE_COLOR, radius=1, alpha=0.6)
    return c.to_uint8()


def _view_discriminator(view: LabView, size: int) -> np.ndarray:
    c = Canvas(size, view.limits)
    # PRGn: purple (D = 0, "fake") to green (D = 1, "real"), softened towards white.
    c.heatmap(np.nan_to_num(view.d_grid, nan=0.5), 0.35 + 0.65 * _cached_lut("PRGn"))
    c.axes()
    c.points(view.x_fake, FAKE_COLOR, radius=1, alpha=0.9)
    push = np.nan_to_num(view.push)
    norms = np.linalg.norm(push, axis=1)
    ref = np.percentile(norms, 90) if norms.size else 0.0
    if ref > 0:
        arrows = push / ref * (0.12 * view.limits)  # the 90th-percentile arrow is 6% of the width
        arrows *= np.minimum(1.0, 1.5 * ref / np.maximum(norms, 1e-12))[:, None]  # cap the longest
        start = view.x_fake[: len(push)]
        c.segments(start, start + arrows, (0.1, 0.1, 0.1), alpha=0.8, samples=12)
        c.points(start + arrows, (0.1, 0.1, 0.1), radius=0, alpha=1.0)
    return c.to_uint8()


def _view_warp(view: LabView, size: int) -> np.ndarray:
    c = Canvas(size, view.limits)
    c.axes()
    c.points(view.x_real, REAL_COLOR, radius=0, alpha=0.35)
    lut = _cached_lut("viridis")
    num_lines, per_line, _ = view.warp.shape
    for i in range(num_lines):
        # Lines with z1 fixed get one colour each (by z1); lines with z2 fixed are coloured by z1 along them.
        if i < num_lines // 2 or num_lines == 1:
            frac = np.full(per_line - 1, i / max(num_lines // 2 - 1, 1)) if num_lines > 1 else np.linspace(0, 1, per_line - 1)
        else:
            frac = np.linspace(0, 1, per_line - 1)
        c.polyline_colored(view.warp[i], lut[(np.clip(frac, 0, 1) * 255).astype(int)])
    return c.to_uint8()


def _view_losses(view: LabView, size: int) -> np.ndarray:
    c = Canvas(size, 1.0)
    curves = [(view.d_loss, D_COLOR), (view.g_loss, G_COLOR)]
    values = np.concatenate([np.asarray(v, np.float32) for v, _ in curves])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return c.to_uint8()
    n = max(len(view.d_loss), 2)
    ref = math.log(4.0) if view.loss != "least_squares" else 0.5  # D's loss at equilibrium
    lo, hi = min(float(np.min(values)), ref), max(float(np.max(values)), ref)
    pad = 0.05 * (hi - lo) + 1e-3
    lo, hi = lo - pad, hi + pad

    def to_world(y, x_index):
        return np.stack([-1 + 2 * x_index / (n - 1), -1 + 2 * (y - lo) / (hi - lo)], 1)

    c.segments(to_world(np.array([ref, ref]), np.array([0, n - 1]))[:1], to_world(np.array([ref]), np.array([n - 1])),
               (0.6, 0.6, 0.6), samples=size // 4)  # a dotted reference line
    step = max(1, n // size)  # at most one point per pixel column
    window = max(1, n // 40)  # moving average over 2.5% of the run, for the bold curve
    for values_i, color in curves:
        raw = np.asarray(values_i, np.float32)
        x = np.arange(len(raw))[::step]
        if len(x) >= 2:
            pts = to_world(raw[::step], x)
            c.segments(pts[:-1], pts[1:], 0.3 * color + 0.7, alpha=1.0)  # raw values, pale
            kernel = np.ones(window)
            # A centred moving average that averages fewer points near the ends (no zero padding).
            smooth = np.convolve(raw, kernel, mode="same") / np.convolve(np.ones_like(raw), kernel, mode="same")
            pts = to_world(smooth[::step], x)
            c.segments(pts[:-1], pts[1:], color)
    return c.to_uint8()


_VIEW_FNS = {"samples": _view_samples, "discriminator": _view_discriminator, "warp": _view_warp,
             "losses": _view_losses}


def render_lab_views(view: LabView, *, size: int = 200, views=VIEWS) -> dict:
    """Rasterise the lab's views: {name: (size, size, 3) uint8 RGB image}."""
    if not isinstance(view, LabView):
        raise TypeError(f"view must be a LabView (from lab_snapshot), got {type(view).__name__}")
    size = _validate.positive_int("size", size, minimum=16)
    for name in views:
        _validate.one_of("views", name, VIEWS)
    return {name: _VIEW_FNS[name](view, size) for name in views}


def lab_figure(view: LabView, *, size: int = 200):
    """The static version: the same rasterised views in a matplotlib Figure, with axes and titles."""
    from course_lib import plotting

    images = render_lab_views(view, size=size)
    fig, axes = plotting.new_figure(len(images), size=(3.0, 3.1))
    for ax, (name, rgb) in zip(axes, images.items()):
        if name == "losses":
            n = len(view.d_loss)
            finite = np.concatenate([view.d_loss, view.g_loss])
            finite = finite[np.isfinite(finite)]
            ref = math.log(4.0) if view.loss != "least_squares" else 0.5
            lo = min(float(finite.min()), ref) if finite.size else 0.0
            hi = max(float(finite.max()), ref) if finite.size else 1.0
            pad = 0.05 * (hi - lo) + 1e-3
            ax.imshow(rgb, extent=(0, max(n - 1, 1), lo - pad, hi + pad), aspect="auto")
            ax.set_xlabel("step", fontsize=8)
        else:
            ax.imshow(rgb, extent=(-view.limits, view.limits, -view.limits, view.limits))
        ax.set_title(VIEW_TITLES[name], fontsize=7.5)
        ax.tick_params(labelsize=7)
    return fig


# --------------------------------------------------------------------------- the widget


class GANLab:
    """The state behind the widget: config, compiled steps, players, history, probes.

    Methods raise ``ValueError``/``TypeError`` with a clear message for invalid settings and
    :class:`~course_lib.training.DivergenceError` when a burst produces NaN (the players keep
    their last finite values).
    """

    def __init__(self, config: engine.LabConfig = LAB_DEFAULTS, *, seed: int = 0):
        if not isinstance(config, engine.LabConfig):
            raise TypeError(f"config must be a LabConfig, got {type(config).__name__}")
        self.seed = _validate.positive_int("seed", seed, minimum=0)
        self.config = config
        self.reset()

    def reset(self) -> None:
        """New players (from the seed), empty history."""
        self.steps = engine.make_lab_steps(self.config)
        self.state = engine.init_lab_state(self.config, jax.random.key(self.seed))
        self.probes = make_probes(self.config, seed=self.seed)
        self.history = {"d_loss": [], "g_loss": []}
        self.num_bursts = 0

    def configure(self, **changes) -> str:
        """Change settings; returns what happened ("updated", "restarted" or "recompiled").

        Dynamic settings (learning rates, loss, D steps) apply from the next step. A new target
        keeps the players (watch them chase the new data); a new optimizer keeps the players and
        restarts the optimizer; new network sizes or noise dimension restart the players.
        """
        new = self.config.replace(**changes)  # validates; raises with a clear message
        old = self.config
        self.config = new
        if new.static_key == old.static_key:
            self.steps = self.steps._replace(config=new)
            return "updated"
        players_changed = (new.noise_dim, new.g_hidden, new.d_hidden, new.g_activation, new.d_activation,
                           new.pack) != (old.noise_dim, old.g_hidden, old.d_hidden, old.g_activation,
                                         old.d_activation, old.pack)
        if players_changed:
            self.reset()
            return "restarted"
        fresh = engine.init_lab_state(new, jax.random.key(self.seed))
        self.steps = engine.make_lab_steps(new)
        self.state = fresh._replace(g_params=self.state.g_params, d_params=self.state.d_params,
                                    step=self.state.step)
        if new.optimizer == old.optimizer and new.b1 == old.b1:
            self.state = self.state._replace(g_opt=self.state.g_opt, d_opt=self.state.d_opt)
        self.probes = make_probes(new, seed=self.seed)
        return "recompiled"

    def advance(self, num_steps: int, mode: str = "both") -> dict:
        """Train for ``num_steps`` steps; returns the burst's last metrics."""
        from course_lib.training.core import DivergenceError

        num_steps = _validate.positive_int("num_steps", num_steps)
        _validate.one_of("mode", mode, engine.LAB_MODES)
        key = jax.random.fold_in(jax.random.key(self.seed + 1), self.num_bursts)
        state, metrics = engine.run_burst(self.steps, self.state, key, num_steps, mode, self.config)
        self.num_bursts += 1
        finite = all(np.all(np.isfinite(v)) for v in metrics.values()) and bool(
            engine_tree_is_finite((state.g_params, state.d_params)))
        if not finite:
            raise DivergenceError(
                f"training diverged (NaN or infinity) within steps {int(self.state.step) + 1}-"
                f"{int(self.state.step) + num_steps}; the lab keeps the last finite players. "
                f"Try smaller learning rates (now g_lr={self.config.g_lr}, d_lr={self.config.d_lr}) "
                "or the non_saturating loss, then press Play again (or Reset).")
        self.state = state
        self.history["d_loss"].append(metrics["d_loss"])
        self.history["g_loss"].append(metrics["g_loss"])
        return {k: float(v[-1]) for k, v in metrics.items()}

    @property
    def step(self) -> int:
        return int(self.state.step)

    def snapshot(self, max_points: int = 4000) -> LabView:
        d = np.concatenate(self.history["d_loss"]) if self.history["d_loss"] else np.zeros(0)
        g = np.concatenate(self.history["g_loss"]) if self.history["g_loss"] else np.zeros(0)
        return lab_snapshot(self.steps, self.state, self.probes, d[-max_points:], g[-max_points:],
                            loss=self.config.loss)

    def render(self, *, size: int = 200) -> dict:
        """{view name: (size, size, 3) uint8} for the current players."""
        return render_lab_views(self.snapshot(), size=size)


def engine_tree_is_finite(tree) -> bool:
    """True when every parameter is finite (one compiled reduction, not one call per array)."""
    return bool(_jitted_tree_is_finite(tree))


def _tree_is_finite(tree):
    from course_lib.training.core import tree_is_finite

    return tree_is_finite(tree)


_jitted_tree_is_finite = jax.jit(_tree_is_finite)


def _set_playing(play: widgets.Play, playing: bool) -> None:
    """Start/stop a Play widget (ipywidgets 8 names the trait ``playing``, 7.x ``_playing``)."""
    if "playing" in play.trait_names():
        play.playing = playing
    else:
        play._playing = playing


def gan_lab(config: engine.LabConfig = LAB_DEFAULTS, *, steps_per_frame: int = 10, size: int = 200,
            interval_ms: int = 100, seed: int = 0) -> Panel:
    """The live GAN lab widget (see the module docstring).

    Controls: Play/Pause (an ``ipywidgets.Play``: each tick runs one frame), Step (one frame),
    Reset; what to train (both / D only / G only); steps per frame; target distribution; loss;
    optimizer; learning rates; D steps per G step; noise dimension. Invalid settings show a
    message in the status line and leave the lab as it was; a diverged run pauses the lab.
    """
    lab = GANLab(config, seed=seed)
    size = _validate.positive_int("size", size, minimum=16)
    steps_per_frame = _validate.positive_int("steps_per_frame", steps_per_frame)
    interval_ms = _validate.positive_int("interval_ms", interval_ms)
    style = {"description_width": "initial"}
    layout = widgets.Layout(width="190px")
    play = widgets.Play(value=0, min=0, max=10**9, step=1, interval=interval_ms, description="Play")
    step_button = widgets.Button(description="Step", tooltip="one frame", layout=widgets.Layout(width="70px"))
    reset_button = widgets.Button(description="Reset", tooltip="new players", layout=widgets.Layout(width="70px"))
    mode = widgets.ToggleButtons(options=[("both", "both"), ("D only", "d"), ("G only", "g")], value="both",
                                 style={"button_width": "62px"})
    frame_steps = widgets.IntText(value=steps_per_frame, description="steps/frame", style=style, layout=layout)
    target = widgets.Dropdown(options=list(toy.TOY_NAMES), value=config.target, description="target",
                              style=style, layout=layout)
    loss = widgets.Dropdown(options=list(losses.GAN_LOSSES), value=config.loss, description="loss",
                            style=style, layout=layout)
    optimizer = widgets.Dropdown(options=list(OPTIMIZERS), value=config.optimizer, description="optimizer",
                                 style=style, layout=layout)
    g_lr = widgets.FloatText(value=config.g_lr, description="G lr", style=style, layout=layout)
    d_lr = widgets.FloatText(value=config.d_lr, description="D lr", style=style, layout=layout)
    d_steps = widgets.IntText(value=config.d_steps, description="D steps / G step", style=style, layout=layout)
    noise_dim = widgets.IntText(value=config.noise_dim, description="noise dim", style=style, layout=layout)
    images = {name: widgets.Image(format="png", layout=widgets.Layout(width=f"{size}px", height=f"{size}px"))
              for name in VIEWS}
    captions = {name: widgets.HTML(f"<div style='font-size:11px;width:{size}px'>{VIEW_TITLES[name]}</div>")
                for name in VIEWS}
    status = Status()
    timer = Timer()

    def draw(message: str) -> None:
        rgb = lab.render(size=size)
        for name, image in images.items():
            image.value = rgb_to_png(rgb[name])
        status.ok(f"step {lab.step}: {message}  ({timer.last_ms:.0f} ms)" if timer.samples_ms
                  else f"step {lab.step}: {message}")

    def frame(_=None) -> None:
        try:
            with timer:
                n = _validate.positive_int("steps/frame", frame_steps.value)
                metrics = lab.advance(n, mode.value)
                rgb = lab.render(size=size)
                for name, image in images.items():
                    image.value = rgb_to_png(rgb[name])
        except Exception:
            _set_playing(play, False)
            raise
        status.ok(f"step {lab.step}: D loss {metrics['d_loss']:.3f}, G loss {metrics['g_loss']:.3f}, "
                  f"D(real) {metrics['d_real']:.2f}, D(fake) {metrics['d_fake']:.2f}  ({timer.last_ms:.0f} ms)")

    def on_setting(change) -> None:
        names = {target: "target", loss: "loss", optimizer: "optimizer", g_lr: "g_lr", d_lr: "d_lr",
                 d_steps: "d_steps", noise_dim: "noise_dim"}
        name = names[change["owner"]]
        try:
            what = lab.configure(**{name: change["new"]})
        except (TypeError, ValueError) as err:
            _set_playing(play, False)  # pause, so that the message stays on screen
            raise type(err)(f"{err} (not applied: the lab keeps {name} = {getattr(lab.config, name)!r} "
                            "and is paused)") from None
        draw({"updated": f"{names[change['owner']]} = {change['new']}",
              "restarted": f"new players for {names[change['owner']]} = {change['new']}",
              "recompiled": f"{names[change['owner']]} = {change['new']} (players kept)"}[what])

    def on_reset(_=None) -> None:
        lab.reset()
        draw("new players")

    safe_frame = guarded(frame, status)
    play.observe(lambda change: safe_frame(), names="value")
    step_button.on_click(lambda _: safe_frame())
    reset_button.on_click(guarded(on_reset, status))
    safe_setting = guarded(on_setting, status)
    for control in (target, loss, optimizer, g_lr, d_lr, d_steps, noise_dim):
        control.observe(safe_setting, names="value")
    guarded(lambda: draw("press Play (or Step) to train"), status)()

    view_boxes = [widgets.VBox([captions[name], images[name]]) for name in VIEWS]
    panel = Panel([
        widgets.HBox([play, step_button, reset_button, mode, frame_steps]),
        widgets.HBox([target, loss, optimizer]),
        widgets.HBox([g_lr, d_lr, d_steps, noise_dim]),
        widgets.HBox(view_boxes),
        status,
    ], title="GAN lab")
    panel.controls = {"play": play, "step": step_button, "reset": reset_button, "mode": mode,
                      "steps_per_frame": frame_steps, "target": target, "loss": loss, "optimizer": optimizer,
                      "g_lr": g_lr, "d_lr": d_lr, "d_steps": d_steps, "noise_dim": noise_dim}
    panel.images = images
    panel.image = images["discriminator"]
    panel.status, panel.timer, panel.lab = status, timer, lab
    return panel
