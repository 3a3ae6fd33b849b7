"""Figures and the live widget of 03_gradient_descent.ipynb.

- :func:`render_trajectories` (pure): optimizer runs drawn on a loss surface's contours,
  with their loss curves.
- :func:`render_bilinear`: simultaneous vs alternating play on min_x max_y x*y.
- :func:`optimizer_explorer`: surface, optimizer, learning rate, start point and number
  of steps -> trajectory and loss curve (a thin shell over :func:`render_trajectories`).
"""
from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from course_lib import _validate
from course_lib.lessons import games, surfaces
from course_lib.widgets.core import Panel, figure_panel, guarded

_LOSS_FLOOR = 1e-12  # losses are drawn on a log axis; exact zeros are shown at this floor


def render_trajectories(surface: str, runs: dict, start=None, num_steps: int = 200):
    """Run each optimizer from the same start and draw trajectories and loss curves.

    Args:
      surface: one of :data:`course_lib.lessons.surfaces.SURFACE_NAMES`.
      runs: ``{label: (optimizer, lr)}``, e.g. ``{"SGD": ("sgd", 0.001)}`` (1 to 6 runs).
      start: (x, y); default: the surface's start.
      num_steps: steps per run.

    Returns:
      (Figure, {label: surfaces.Run}).
    """
    s = surfaces.get_surface(surface)
    if not isinstance(runs, dict) or not (1 <= len(runs) <= 6):
        raise ValueError(f"runs must be a dict of 1 to 6 {{label: (optimizer, lr)}} entries, got {runs!r}")
    results = {}
    for label, spec in runs.items():
        if not (isinstance(spec, (tuple, list)) and len(spec) == 2):
            raise ValueError(f"runs[{label!r}] must be (optimizer, lr), got {spec!r}")
        results[label] = surfaces.run_optimizer(surface, spec[0], spec[1], start, num_steps)
    x0, y0 = next(iter(results.values())).trajectory[0]
    # The view: the surface's own box, stretched to include the start.
    xlim = (min(s.xlim[0], x0 - 0.5), max(s.xlim[1], x0 + 0.5))
    ylim = (min(s.ylim[0], y0 - 0.5), max(s.ylim[1], y0 + 0.5))
    xx, yy = np.meshgrid(np.linspace(*xlim, 150), np.linspace(*ylim, 150))
    zz = np.asarray(s.fn(np.stack([xx, yy], axis=-1)), np.float64)
    # Fixed margins instead of a layout engine: the figure is redrawn at every widget update.
    fig = Figure(figsize=(9.0, 3.8))
    ax, ax_loss = fig.subplots(1, 2, width_ratios=[1.2, 1.0])
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.13, top=0.92, wspace=0.25)
    # The loss on a log colour scale (dark = low), drawn as an image: much cheaper than filled contours.
    ax.imshow(zz + 1e-3, origin="lower", extent=(*xlim, *ylim), norm=LogNorm(), cmap="Greys_r", alpha=0.8,
              aspect="equal")
    for m in s.minima:
        ax.plot(*m, "*", color="gold", ms=12, mec="k", zorder=4)
    for k, (label, run) in enumerate(results.items()):
        color = f"C{k}"
        ax.plot(run.trajectory[:, 0], run.trajectory[:, 1], ".-", color=color, ms=2, lw=1, label=label)
        steps = np.arange(len(run.losses))
        ax_loss.plot(steps, np.maximum(run.losses, _LOSS_FLOOR), color=color, label=label)
        if run.diverged_at is not None:
            ax_loss.axvline(run.diverged_at, color=color, ls=":", lw=1)
    ax.plot([x0], [y0], "o", color="C3", ms=7, mec="w", zorder=5)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"{surface}: {s.formula}", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("loss (log scale; dotted line: diverged)", fontsize=9)
    ax_loss.grid(alpha=0.3)
    return fig, results


def render_optimizer(surface: str, optimizer: str, lr: float, start_x: float, start_y: float,
                     num_steps: int = 200):
    """One optimizer run drawn by :func:`render_trajectories`; returns (Figure, summary dict).

    Summary: ``final_loss``, ``final_point``, ``diverged_at`` (None if it did not), and
    ``distance_to_minimum`` (to the nearest known minimum; None after divergence).
    """
    _validate.one_of("optimizer", optimizer, surfaces.OPTIMIZERS)
    lr = _validate.positive_float("lr", lr)
    fig, results = render_trajectories(surface, {f"{optimizer}, lr={lr:.3g}": (optimizer, lr)},
                                       (start_x, start_y), num_steps)
    run = next(iter(results.values()))
    final = run.trajectory[-1]
    summary = {
        "final_loss": run.final_loss,
        "final_point": (float(final[0]), float(final[1])),
        "diverged_at": run.diverged_at,
        "distance_to_minimum": None if run.diverged_at is not None
        else surfaces.distance_to_nearest_minimum(surface, final),
    }
    return fig, summary


def render_bilinear(lr: float = 0.2, num_steps: int = 40, start=(1.0, 0.0)) -> Figure:
    """Simultaneous and alternating gradient play on min_x max_y x*y, and the radius over time."""
    sim = games.bilinear_play(start[0], start[1], lr, num_steps, "simultaneous")
    alt = games.bilinear_play(start[0], start[1], lr, num_steps, "alternating")
    fig = Figure(figsize=(9.0, 3.6))
    ax, ax_r = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.92, wspace=0.25)
    lim = 1.1 * max(np.abs(sim).max(), np.abs(alt).max())
    ax.plot(sim[:, 0], sim[:, 1], ".-", color="C3", ms=3, lw=1, label="simultaneous")
    ax.plot(alt[:, 0], alt[:, 1], ".-", color="C0", ms=3, lw=1, label="alternating")
    ax.plot([0], [0], "*", color="gold", ms=12, mec="k", label="equilibrium (0, 0)")
    ax.plot([start[0]], [start[1]], "o", color="k", ms=5)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("x (minimises x*y)")
    ax.set_ylabel("y (maximises x*y)")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(f"gradient play on x*y, lr = {lr}", fontsize=9)
    steps = np.arange(num_steps + 1)
    ax_r.plot(steps, games.radius(sim), color="C3", label="simultaneous")
    ax_r.plot(steps, games.radius(alt), color="C0", label="alternating")
    ax_r.plot(steps, math.hypot(*start) * (1 + lr**2) ** (steps / 2), "k:", lw=1, label="r0 (1 + lr^2)^(t/2)")
    ax_r.set_xlabel("step t")
    ax_r.set_ylabel("distance to equilibrium")
    ax_r.legend(fontsize=7)
    ax_r.grid(alpha=0.3)
    return fig


def optimizer_explorer(surface: str = "rosenbrock", optimizer: str = "adam", lr: float = 0.05,
                       num_steps: int = 300) -> Panel:
    """A live widget around :func:`render_optimizer`."""
    _validate.one_of("optimizer", optimizer, surfaces.OPTIMIZERS)
    _validate.real_in_range("lr", lr, 1e-4, 10**0.5)  # the slider's range: no silent clamping
    _validate.int_in_range("num_steps", num_steps, 1, surfaces.MAX_STEPS)
    s0 = surfaces.get_surface(surface)
    surf = widgets.Dropdown(options=list(surfaces.SURFACE_NAMES), value=surface, description="surface")
    opt = widgets.Dropdown(options=list(surfaces.OPTIMIZERS), value=optimizer, description="optimizer")
    rate = widgets.FloatLogSlider(value=lr, base=10, min=-4, max=0.5, step=0.05, description="lr",
                                  continuous_update=False, readout_format=".2g")
    sx = widgets.FloatSlider(value=s0.start[0], min=-5, max=5, step=0.1, description="start x",
                             continuous_update=False)
    sy = widgets.FloatSlider(value=s0.start[1], min=-5, max=5, step=0.1, description="start y",
                             continuous_update=False)
    steps = widgets.IntSlider(value=num_steps, min=1, max=surfaces.MAX_STEPS, step=1, description="steps",
                              continuous_update=False)
    busy = {"moving_start": False}

    def render():
        return render_optimizer(surf.value, opt.value, rate.value, sx.value, sy.value, steps.value)

    def describe(summary, ms):
        if summary["diverged_at"] is not None:
            return ("error", f"diverged at step {summary['diverged_at']}: the loss became infinite or NaN. "
                             f"Try a smaller learning rate. ({ms:.0f} ms)")
        x, y = summary["final_point"]
        return (f"after {steps.value} steps: loss {summary['final_loss']:.3g} at ({x:.3f}, {y:.3f}), "
                f"{summary['distance_to_minimum']:.3g} from the nearest minimum ({ms:.0f} ms)")

    redrawing = {"optimizer": opt, "lr": rate, "start_x": sx, "start_y": sy, "steps": steps}
    layout = [widgets.HBox([surf, opt, rate]), widgets.HBox([sx, sy, steps])]
    panel = figure_panel(render, describe, redrawing, layout, title="Optimizer explorer",
                         paused=lambda: busy["moving_start"])

    def new_surface(change):
        # Jump to the new surface's start point, redrawing once rather than three times.
        busy["moving_start"] = True
        try:
            sx.value, sy.value = surfaces.get_surface(change["new"]).start
        finally:
            busy["moving_start"] = False
        panel.update()

    surf.observe(guarded(new_surface, panel.status), names="value")
    panel.controls = {"surface": surf, **redrawing}
    return panel


__all__ = ["render_trajectories", "render_optimizer", "render_bilinear", "optimizer_explorer"]
