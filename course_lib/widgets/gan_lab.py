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

import math

import ipywidgets as widgets
import numpy as np

from course_lib import _validate, losses, plotting
from course_lib.data import toy
from course_lib.training import gan_lab as engine
from course_lib.training.core import OPTIMIZERS
from course_lib.training.gan_lab_session import LAB_DEFAULTS, LabSession, LabView
from course_lib.widgets.core import Panel, Status, Timer, guarded

VIEWS = ("samples", "discriminator", "warp", "losses")
"""The views drawn each frame, in display order."""

VIEW_TITLES = {
    "samples": "real (green) vs generated (purple)",
    "discriminator": "D(x): green = real, purple = fake; arrows = G's push",
    "warp": "G warps a grid of z (colour = z1)",
    "losses": "losses: D (blue), G (orange); dotted = D's loss at equilibrium",
}

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


MAX_FRAME_STEPS = 1000
"""Most steps one frame of the widget may run, so that Pause and the controls stay responsive."""


def _set_playing(play: widgets.Play, playing: bool) -> None:
    """Start/stop a Play widget (ipywidgets 8 names the trait ``playing``, 7.x ``_playing``)."""
    if "playing" in play.trait_names():
        play.playing = playing
    else:
        play._playing = playing


def _lab_controls(config: engine.LabConfig, steps_per_frame: int, interval_ms: int) -> dict:
    """The lab's control widgets, by name (the names of ``panel.controls``)."""
    style = {"description_width": "initial"}
    layout = widgets.Layout(width="190px")
    return {
        "play": widgets.Play(value=0, min=0, max=10**9, step=1, interval=interval_ms, description="Play"),
        "step": widgets.Button(description="Step", tooltip="one frame", layout=widgets.Layout(width="70px")),
        "reset": widgets.Button(description="Reset", tooltip="new players", layout=widgets.Layout(width="70px")),
        "mode": widgets.ToggleButtons(options=[("both", "both"), ("D only", "d"), ("G only", "g")], value="both",
                                      style={"button_width": "62px"}),
        "steps_per_frame": widgets.IntText(value=steps_per_frame, description="steps/frame", style=style,
                                           layout=layout),
        "target": widgets.Dropdown(options=list(toy.TOY_NAMES), value=config.target, description="target",
                                   style=style, layout=layout),
        "loss": widgets.Dropdown(options=list(losses.GAN_LOSSES), value=config.loss, description="loss",
                                 style=style, layout=layout),
        "optimizer": widgets.Dropdown(options=list(OPTIMIZERS), value=config.optimizer, description="optimizer",
                                      style=style, layout=layout),
        "g_lr": widgets.FloatText(value=config.g_lr, description="G lr", style=style, layout=layout),
        "d_lr": widgets.FloatText(value=config.d_lr, description="D lr", style=style, layout=layout),
        "d_steps": widgets.IntText(value=config.d_steps, description="D steps / G step", style=style,
                                   layout=layout),
        "noise_dim": widgets.IntText(value=config.noise_dim, description="noise dim", style=style, layout=layout),
    }


SETTINGS = ("target", "loss", "optimizer", "g_lr", "d_lr", "d_steps", "noise_dim")
"""The controls that change the lab's configuration (each is a LabConfig field of the same name)."""


def _show_views(lab: LabSession, images: dict, size: int) -> None:
    """Render the session's snapshot and put each view's PNG into its image widget."""
    rgb = render_lab_views(lab.snapshot(), size=size)
    for name, image in images.items():
        image.value = plotting.png_bytes(rgb[name])


def _lab_panel(controls: dict, size: int, status: Status) -> tuple[Panel, dict]:
    """The lab's layout: three rows of controls, the captioned views, the status line. Returns (panel, images)."""
    images = {name: widgets.Image(format="png", layout=widgets.Layout(width=f"{size}px", height=f"{size}px"))
              for name in VIEWS}
    captions = {name: widgets.HTML(f"<div style='font-size:11px;width:{size}px'>{VIEW_TITLES[name]}</div>")
                for name in VIEWS}
    c = controls
    panel = Panel([
        widgets.HBox([c["play"], c["step"], c["reset"], c["mode"], c["steps_per_frame"]]),
        widgets.HBox([c["target"], c["loss"], c["optimizer"]]),
        widgets.HBox([c["g_lr"], c["d_lr"], c["d_steps"], c["noise_dim"]]),
        widgets.HBox([widgets.VBox([captions[name], images[name]]) for name in VIEWS]),
        status,
    ], title="GAN lab")
    return panel, images


def gan_lab(config: engine.LabConfig = LAB_DEFAULTS, *, steps_per_frame: int = 10, size: int = 200,
            interval_ms: int = 100, seed: int = 0) -> Panel:
    """The live GAN lab widget (see the module docstring).

    Controls: Play/Pause (an ``ipywidgets.Play``: each tick runs one frame), Step (one frame),
    Reset; what to train (both / D only / G only); steps per frame; target distribution; loss;
    optimizer; learning rates; D steps per G step; noise dimension. Invalid settings show a
    message in the status line and leave the lab as it was; a diverged run pauses the lab.
    """
    lab = LabSession(config, seed=seed)
    steps_per_frame = _validate.int_in_range("steps_per_frame", steps_per_frame, 1, MAX_FRAME_STEPS,
                                             why="a frame must finish in interactive time")
    size = _validate.int_in_range("size", size, 16, 1024, why="larger images only slow every frame")
    interval_ms = _validate.int_in_range("interval_ms", interval_ms, 1, 60_000)
    controls = _lab_controls(config, steps_per_frame, interval_ms)
    play, frame_steps = controls["play"], controls["steps_per_frame"]
    status = Status()
    timer = Timer()
    panel, images = _lab_panel(controls, size, status)
    setting_of = {controls[name]: name for name in SETTINGS}  # control -> LabConfig field

    def draw(message: str) -> None:
        _show_views(lab, images, size)
        status.ok(f"step {lab.step}: {message}  ({timer.last_ms:.0f} ms)" if timer.samples_ms
                  else f"step {lab.step}: {message}")

    good_frame_steps = [steps_per_frame]

    def frame(_=None) -> None:
        try:
            with timer:
                try:
                    n = _validate.int_in_range("steps/frame", frame_steps.value, 1, MAX_FRAME_STEPS,
                                               why="a frame must finish in interactive time")
                except (TypeError, ValueError):
                    frame_steps.value = good_frame_steps[0]  # back to the last value that ran
                    raise
                good_frame_steps[0] = n
                metrics = lab.advance(n, controls["mode"].value)
                _show_views(lab, images, size)
        except Exception:
            _set_playing(play, False)
            raise
        status.ok(f"step {lab.step}: D loss {metrics['d_loss']:.3f}, G loss {metrics['g_loss']:.3f}, "
                  f"D(real) {metrics['d_real']:.2f}, D(fake) {metrics['d_fake']:.2f}  ({timer.last_ms:.0f} ms)")

    def on_setting(change) -> None:  # takes the change dict, so that guarded() can revert the control
        name, value = setting_of[change["owner"]], change["new"]
        try:
            what = lab.configure(**{name: value})
        except (TypeError, ValueError) as err:
            _set_playing(play, False)  # pause, so that the message stays on screen
            raise type(err)(f"{err} (not applied: the lab keeps {name} = {getattr(lab.config, name)!r} "
                            "and is paused)") from None
        draw({"updated": f"{name} = {value}", "restarted": f"new players for {name} = {value}",
              "recompiled": f"{name} = {value} (players kept)"}[what])

    def on_reset(_=None) -> None:
        lab.reset()
        draw("new players")

    safe_frame = guarded(frame, status)
    play.observe(lambda change: safe_frame(), names="value")
    controls["step"].on_click(lambda _: safe_frame())
    controls["reset"].on_click(guarded(on_reset, status))
    safe_setting = guarded(on_setting, status)
    for control in setting_of:
        control.observe(safe_setting, names="value")
    guarded(lambda: draw("press Play (or Step) to train"), status)()

    panel.controls = controls
    panel.images = images
    panel.image = images["discriminator"]
    panel.status, panel.timer, panel.lab = status, timer, lab
    return panel
