"""Widgets of 07_beyond.ipynb: a flow warping the data layer by layer, and a time slider that
scrubs diffusion samples from noise to data.

Both are thin shells over pure ``render_*`` functions. The expensive part (pushing points
through the flow, running the reverse diffusion) is done once, when the widget is built;
moving a slider only redraws a picture that is already computed.
"""
from __future__ import annotations

import ipywidgets as widgets
import jax.numpy as jnp
import numpy as np

from course_lib import _validate, plotting
from course_lib.models.flow import RealNVP
from course_lib.widgets.core import Panel, figure_panel

DIRECTIONS = ("data_to_noise", "noise_to_data")


def _colours(x0: np.ndarray) -> np.ndarray:
    """One colour per point from its angle around the centre of the data: lets the eye track points."""
    centred = x0 - x0.mean(axis=0)
    angle = np.arctan2(centred[:, 1], centred[:, 0])
    return (angle + np.pi) / (2 * np.pi)


def flow_layer_stack(flow: RealNVP, x, *, direction: str = "data_to_noise") -> np.ndarray:
    """Points after each layer of a 2-D flow: (L + 1, N, 2).

    ``data_to_noise``: x, f_1(x), ..., f(x) = z.  ``noise_to_data``: z, ..., f^{-1}(z) = x.
    """
    if not isinstance(flow, RealNVP):
        raise TypeError(f"flow must be a RealNVP, got {type(flow).__name__}")
    if flow.dim != 2:
        raise ValueError(f"the layer-by-layer picture needs a 2-D flow, got dim={flow.dim}")
    _validate.one_of("direction", direction, DIRECTIONS)
    _validate.array("x", x, ndim=2, shape=(None, 2), dtype_kind="float")
    x = jnp.asarray(x, jnp.float32)
    layers = flow.forward_layers(x) if direction == "data_to_noise" else flow.inverse_layers(x)
    return np.stack([np.asarray(h) for h in layers])


def render_flow_layer(stack, layer: int, *, direction: str = "data_to_noise", limits: float | None = None):
    """Scatter the points after ``layer`` layers, coloured by where they started.

    Args:
      stack: (L + 1, N, 2) from :func:`flow_layer_stack`.
      layer: 0..L (0 = the starting points).
      direction: how the stack was made (only changes the titles).

    Returns:
      (Figure, summary dict with the layer, the mean and std of the points).
    """
    _validate.array("stack", stack, ndim=3, dtype_kind="float", finite=False)
    if stack.shape[2] != 2:
        raise ValueError(f"stack must have shape (L + 1, N, 2), got {tuple(stack.shape)}")
    num_layers = stack.shape[0] - 1
    layer = _validate.positive_int("layer", layer, minimum=0)
    if layer > num_layers:
        raise ValueError(f"layer must be in 0..{num_layers} for a flow with {num_layers} layers, got {layer}")
    _validate.one_of("direction", direction, DIRECTIONS)
    stack = np.asarray(stack)
    pts = stack[layer]
    if not np.all(np.isfinite(pts)):
        raise ValueError(f"the points after layer {layer} contain NaN or infinity (the flow blew up)")
    if limits is None:
        limits = float(np.percentile(np.abs(stack[np.isfinite(stack).all(-1)]), 99.5)) * 1.1 + 0.1
    fig, (ax,) = plotting.new_figure(1, size=(3.8, 3.8))
    ax.scatter(pts[:, 0], pts[:, 1], c=_colours(stack[0]), cmap="hsv", s=4, alpha=0.7, linewidths=0)
    ax.set_aspect("equal")
    ax.set_xlim(-limits, limits)
    ax.set_ylim(-limits, limits)
    start, end = ("data x", "base z") if direction == "data_to_noise" else ("base z", "sample x")
    label = start if layer == 0 else (end if layer == num_layers else f"after {layer} of {num_layers} layers")
    ax.set_title(label, fontsize=9)
    summary = {"layer": layer, "mean": [round(float(v), 3) for v in pts.mean(0)],
               "std": [round(float(v), 3) for v in pts.std(0)]}
    return fig, summary


def flow_explorer(flow: RealNVP, x, *, direction: str = "data_to_noise") -> Panel:
    """Slider over the layers of a 2-D flow; shows the points after each layer."""
    stack = flow_layer_stack(flow, x, direction=direction)
    limits = float(np.percentile(np.abs(stack), 99.5)) * 1.1 + 0.1
    layer = widgets.IntSlider(value=0, min=0, max=stack.shape[0] - 1, step=1, description="layer",
                              continuous_update=True)
    panel = figure_panel(lambda: render_flow_layer(stack, layer.value, direction=direction, limits=limits),
                         lambda summary, ms: (f"layer {summary['layer']}: mean {summary['mean']}, "
                                              f"std {summary['std']}  ({ms:.0f} ms)"),
                         {"layer": layer}, [layer], title="Flow, layer by layer")
    panel.stack = stack
    return panel


# --------------------------------------------------------------------------- diffusion


def render_diffusion_step(trajectory, t: int, *, image_shape=None, limits: float = 3.0, noise_std=None):
    """Draw the samples x_t of a reverse-diffusion trajectory at time t.

    Args:
      trajectory: (T + 1, N, D) with trajectory[t] = x_t (from ``sample_from_noise(..., trajectory=True)``).
      t: 0..T (T = pure noise, 0 = the samples).
      image_shape: (H, W) to draw images (values in [-1, 1]); None draws 2-D points.
      limits: axis limits for 2-D points.
      noise_std: optional (T + 1,) array of sqrt(1 - alpha_bar_t), shown in the title.

    Returns:
      (Figure, summary dict with t and the std of x_t).
    """
    _validate.array("trajectory", trajectory, ndim=3, dtype_kind="float", finite=False)
    num_steps = trajectory.shape[0] - 1
    t = _validate.positive_int("t", t, minimum=0)
    if t > num_steps:
        raise ValueError(f"t must be in 0..{num_steps}, got {t}")
    x_t = np.asarray(trajectory[t])
    if not np.all(np.isfinite(x_t)):
        raise ValueError(f"x_t at t={t} contains NaN or infinity")
    title = f"t = {t} of {num_steps}"
    if noise_std is not None:
        title += f"  (noise std {float(noise_std[t]):.2f})"
    if image_shape is None:
        if x_t.shape[1] != 2:
            raise ValueError(f"points need D = 2, got D = {x_t.shape[1]}; pass image_shape for images")
        fig, (ax,) = plotting.new_figure(1, size=(3.6, 3.6))
        plotting.scatter_2d(ax, x_t, size=3, limits=limits)
        ax.set_title(title, fontsize=9)
    else:
        fig = plotting.image_grid(np.clip((x_t + 1.0) / 2.0, 0.0, 1.0), image_shape, ncols=min(8, x_t.shape[0]),
                                  cell_size=0.6, suptitle=title)
    return fig, {"t": t, "std": round(float(x_t.std()), 3)}


def diffusion_scrubber(trajectories: dict, *, noise_std=None, image_shapes: dict | None = None,
                       limits: float = 3.0) -> Panel:
    """A time slider from t = T (noise) to t = 0 (data) over precomputed reverse trajectories.

    Args:
      trajectories: {name: (T + 1, N, D) array}; a dropdown picks one.
      noise_std: optional (T + 1,) sqrt(1 - alpha_bar_t), shown in the titles; a dict
        {name: array} when the trajectories come from different schedules.
      image_shapes: {name: (H, W)} for the image trajectories (others are 2-D points).
    """
    if not isinstance(trajectories, dict) or not trajectories:
        raise TypeError("trajectories must be a non-empty dict {name: (T + 1, N, D) array}")
    image_shapes = image_shapes or {}
    names = list(trajectories)
    num_steps = {n: int(np.asarray(trajectories[n]).shape[0]) - 1 for n in names}
    if len(set(num_steps.values())) != 1:
        raise ValueError(f"all trajectories must have the same number of steps, got {num_steps}")
    big_t = num_steps[names[0]]
    which = widgets.Dropdown(options=names, value=names[0], description="data")
    t = widgets.IntSlider(value=big_t, min=0, max=big_t, step=1, description="t", continuous_update=True)

    def render():
        std = noise_std.get(which.value) if isinstance(noise_std, dict) else noise_std
        return render_diffusion_step(trajectories[which.value], t.value, image_shape=image_shapes.get(which.value),
                                     limits=limits, noise_std=std)

    return figure_panel(render, lambda summary, ms: f"t = {summary['t']}: std of x_t {summary['std']}  ({ms:.0f} ms)",
                        {"data": which, "t": t}, [widgets.HBox([which, t])], title="Diffusion time slider")
