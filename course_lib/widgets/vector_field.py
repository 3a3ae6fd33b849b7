"""Widgets of 08_vector_fields: the vector-field lab and the guidance explorer.

Both are thin shells over pure functions a test can call without a browser:
:func:`field_lab_state` (samples and trajectories), :func:`render_field_lab` (one figure) and
:func:`render_guidance` (a mosaic of samples and the classifier's verdicts).
"""
from __future__ import annotations

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from course_lib import _validate, plotting
from course_lib.fields import evaluate as ev
from course_lib.fields.guidance import check_weight, velocity_fn
from course_lib.fields.samplers import SAMPLERS, check_sampler, time_grid
from course_lib.widgets.core import Panel, Status, Timer, guarded

LAB_POINTS = 400  # samples drawn by the lab
LAB_LINES = 40  # trajectories drawn as lines
GRID = 15  # arrows per side


def field_lab_state(model, *, sampler: str = "euler", num_steps: int = 8, seed: int = 0) -> dict:
    """Sample ``LAB_POINTS`` points with their trajectories: {"ts": (S + 1,), "xs": (S + 1, N, 2)}."""
    import jax

    num_steps = check_sampler(sampler, num_steps)
    seed = _validate.positive_int("seed", seed, minimum=0)
    _, xs = ev.sample(model, jax.random.key(seed), LAB_POINTS, sampler=sampler, num_steps=num_steps, trajectory=True)
    ts = np.asarray(time_grid(model.path, num_steps))
    return {"ts": ts, "xs": xs, "sampler": sampler, "num_steps": num_steps}


def _arrows(model, t: float, limits: float):
    import jax.numpy as jnp

    ticks = np.linspace(-limits, limits, GRID)
    gx, gy = np.meshgrid(ticks, ticks)
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    v = np.asarray(_field_at(model)(jnp.asarray(pts), jnp.full((len(pts),), t, jnp.float32)))
    return pts, -v  # drawn as the direction of sampling (t decreasing): -v


_FIELDS: dict = {}


def _field_at(model):
    import jax
    from flax import nnx

    key = id(model)
    if key not in _FIELDS:
        graphdef, state = nnx.split(model)
        fn = jax.jit(lambda s, x, t: velocity_fn(nnx.merge(graphdef, s))(x, t))
        _FIELDS[key] = lambda x, t: fn(state, x, t)
    return _FIELDS[key]


def render_field_lab(model, state: dict, step: int, *, limits: float = 3.5):
    """Figure of the field at time t_step (arrows: the sampling direction), x_t, trajectories and samples.

    Returns (Figure, summary dict with t, the step and the spread of x_t).
    """
    if not isinstance(state, dict) or not {"xs", "ts"} <= set(state):
        raise TypeError(f"state must be the dict of field_lab_state(model, ...), got {type(state).__name__}")
    xs, ts = state["xs"], state["ts"]
    step = _validate.positive_int("step", step, minimum=0)
    if step >= len(ts):
        raise ValueError(f"step must be in 0..{len(ts) - 1}, got {step}")
    t = float(ts[step])
    fig = Figure(figsize=(7.0, 3.5))
    ax_field, ax_traj = fig.subplots(1, 2)
    pts, arrows = _arrows(model, t, limits)
    ax_field.quiver(pts[:, 0], pts[:, 1], arrows[:, 0], arrows[:, 1], color="0.5", angles="xy")
    ax_field.scatter(xs[step][:, 0], xs[step][:, 1], s=3, color="C0")
    ax_field.set_title(f"field and x_t at t = {t:.2f}", fontsize=9)
    ax_traj.add_collection(LineCollection(np.transpose(xs[:step + 1, :LAB_LINES], (1, 0, 2)), colors="C1",
                                          linewidths=0.6, alpha=0.7))
    ax_traj.scatter(xs[-1][:, 0], xs[-1][:, 1], s=3, color="C2")
    ax_traj.set_title(f"{state['sampler']}, {state['num_steps']} steps: paths and samples", fontsize=9)
    for ax in (ax_field, ax_traj):
        ax.set_xlim(-limits, limits)
        ax.set_ylim(-limits, limits)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.08, top=0.9, wspace=0.15)
    return fig, {"t": round(t, 3), "step": step, "std": round(float(np.std(xs[step])), 3)}


def _raster_segments(canvas, starts, ends, value: float, limits: float, samples: int = 16):
    """Draw segments (M, 2) -> (M, 2) of data coordinates on a square grey canvas, in place."""
    size = canvas.shape[0]
    u = np.linspace(0.0, 1.0, samples)[None, :, None]
    pts = starts[:, None, :] * (1 - u) + ends[:, None, :] * u  # (M, samples, 2)
    px = np.round((pts + limits) / (2 * limits) * (size - 1)).astype(int).reshape(-1, 2)
    ok = np.all((px >= 0) & (px < size), axis=1)
    rows, cols = size - 1 - px[ok, 1], px[ok, 0]
    canvas[rows, cols] = np.maximum(canvas[rows, cols], value)


def _raster_points(canvas, x, value: float, limits: float):
    """2x2-pixel dots at the points x (N, 2), in place."""
    size = canvas.shape[0]
    px = np.round((np.asarray(x) + limits) / (2 * limits) * (size - 2)).astype(int)
    ok = np.all((px >= 0) & (px < size - 1), axis=1)
    r, c = size - 2 - px[ok, 1], px[ok, 0]
    for dr in (0, 1):
        for dc in (0, 1):
            canvas[r + dr, c + dc] = value


def render_field_lab_image(model, state: dict, step: int, *, limits: float = 3.5, size: int = 200):
    """The lab's picture as a grey image (size, 2 size + 8) in [0, 1] (ink = 1), drawn with NumPy only.

    Left: arrows of the sampling direction -v at t_step (faint stroke, dark head) and the points x_t.
    Right: the first trajectories up to t_step (grey) and the final samples (dark).
    Returns (image, summary dict with t, the step and the spread of x_t).
    """
    if not isinstance(state, dict) or not {"xs", "ts"} <= set(state):
        raise TypeError(f"state must be the dict of field_lab_state(model, ...), got {type(state).__name__}")
    xs, ts = state["xs"], state["ts"]
    step = _validate.positive_int("step", step, minimum=0)
    if step >= len(ts):
        raise ValueError(f"step must be in 0..{len(ts) - 1}, got {step}")
    t = float(ts[step])
    left, right = np.zeros((size, size), np.float32), np.zeros((size, size), np.float32)
    pts, arrows = _arrows(model, t, limits)
    norm = np.linalg.norm(arrows, axis=1, keepdims=True)
    cell = 2 * limits / (GRID - 1)
    ends = pts + 0.8 * cell * arrows / np.maximum(norm, 1e-6) * np.minimum(1.0, norm / (np.median(norm) + 1e-6))
    _raster_segments(left, pts, ends, 0.3, limits)
    _raster_points(left, ends, 0.5, limits)
    _raster_points(left, xs[step], 1.0, limits)
    for k in range(step):
        _raster_segments(right, xs[k, :LAB_LINES], xs[k + 1, :LAB_LINES], 0.45, limits, samples=24)
    _raster_points(right, xs[-1], 0.9, limits)
    image = np.concatenate([left, np.full((size, 8), 0.15, np.float32), right], axis=1)
    return image, {"t": round(t, 3), "step": step, "std": round(float(np.std(xs[step])), 3)}


def vector_field_lab(models: dict, *, sampler: str = "euler", num_steps: int = 8) -> Panel:
    """Choose data, path, sampler and steps; scrub time. models: {(data, path): VectorFieldMLP}.

    Shows :func:`render_field_lab_image` (the static figure of the notebook is :func:`render_field_lab`).
    """
    import ipywidgets as widgets

    if not isinstance(models, dict) or not models:
        raise TypeError("models must be a non-empty dict {(data, path): VectorFieldMLP}")
    for k, m in models.items():
        if not (isinstance(k, tuple) and len(k) == 2):
            raise TypeError(f"models must be keyed by (data, path) pairs, got the key {k!r}")
        ev._check_model(m)
    datas = sorted({k[0] for k in models})
    path_names = sorted({k[1] for k in models})
    c = {"data": widgets.Dropdown(options=datas, value=datas[0], description="data"),
         "path": widgets.Dropdown(options=path_names, value=path_names[0], description="path"),
         "sampler": widgets.Dropdown(options=list(SAMPLERS), value=sampler, description="sampler"),
         "steps": widgets.IntSlider(value=num_steps, min=1, max=64, description="steps"),
         "time": widgets.IntSlider(value=0, min=0, max=num_steps, description="step (t: 1 → 0)")}
    image, status, timer = widgets.Image(format="png"), Status(), Timer()
    cache: dict = {}

    def update(_=None):
        with timer:
            key = (c["data"].value, c["path"].value)
            if key not in models:
                raise ValueError(f"no model for data {key[0]!r} on path {key[1]!r}")
            run = key + (c["sampler"].value, c["steps"].value)
            if run not in cache:
                cache[run] = field_lab_state(models[key], sampler=run[2], num_steps=run[3])
            c["time"].max = run[3]
            picture, summary = render_field_lab_image(models[key], cache[run], min(c["time"].value, run[3]))
            image.value = plotting.image_to_png(picture, scale=2)
        status.ok(f"t = {summary['t']} (step {summary['step']} of {run[3]})  ({timer.last_ms:.0f} ms)")

    safe = guarded(update, status)
    for w in c.values():
        w.observe(safe, names="value")
    safe()
    panel = Panel([widgets.HBox([c["data"], c["path"], c["sampler"]]), widgets.HBox([c["steps"], c["time"]]),
                   image, status], title="Vector-field lab")
    panel.controls, panel.image, panel.status, panel.timer = c, image, status, timer
    return panel


def render_guidance(model, classifier, digit: int, w: float, *, num_steps: int = 10, num_samples: int = 16,
                    seed: int = 0):
    """Samples of ``digit`` at guidance weight ``w`` and the classifier's verdicts.

    Returns (mosaic (4 * 8, 4 * 8) in [0, 1], summary dict with the verdicts and the accuracy).
    """
    import jax
    import jax.numpy as jnp

    from course_lib.fields.likelihood import levels_from_unit

    ev._check_model(model)
    _validate.callable_("classifier", classifier, "a digit classifier images (N, 64) -> logits (N, 10)")
    digit = _validate.positive_int("digit", digit, minimum=0)
    num_samples = _validate.positive_int("num_samples", num_samples, maximum=256, why="the mosaic shows at most 16 x 16")
    if digit >= model.num_classes:
        raise ValueError(f"digit must be in 0..{model.num_classes - 1}, got {digit}")
    w = check_weight(w)
    labels = np.full((num_samples,), digit, np.int32)
    x = ev.sample(model, jax.random.key(seed), num_samples, sampler="heun", num_steps=num_steps, labels=labels, w=w)
    images = np.asarray(levels_from_unit(x, 17), np.float32) / 16.0
    verdict = np.asarray(classifier(jnp.asarray(images))).argmax(-1)
    side = int(np.ceil(np.sqrt(num_samples)))
    mosaic = np.zeros((side * 9, side * 9), np.float32)
    for i, img in enumerate(images):
        r, col = divmod(i, side)
        mosaic[r * 9:r * 9 + 8, col * 9:col * 9 + 8] = img.reshape(8, 8)
    return mosaic, {"digit": digit, "w": w, "verdicts": verdict.tolist(), "accuracy": float(np.mean(verdict == digit))}


def guidance_explorer(model, classifier, *, digit: int = 3, w: float = 2.0, num_steps: int = 10) -> Panel:
    """Choose a digit, the guidance weight and the number of steps; see samples and the classifier's verdict."""
    import ipywidgets as widgets

    c = {"digit": widgets.IntSlider(value=digit, min=0, max=model.num_classes - 1, description="digit"),
         "w": widgets.FloatSlider(value=w, min=0.0, max=8.0, step=0.5, description="weight w"),
         "steps": widgets.IntSlider(value=num_steps, min=1, max=32, description="Heun steps")}
    image, verdict, status, timer = widgets.Image(format="png"), widgets.HTML(), Status(), Timer()

    def update(_=None):
        with timer:
            mosaic, s = render_guidance(model, classifier, c["digit"].value, c["w"].value, num_steps=c["steps"].value)
            image.value = plotting.image_to_png(mosaic, scale=6)
            verdict.value = "classifier says: " + " ".join(str(v) for v in s["verdicts"])
        status.ok(f"digit {s['digit']}, w = {s['w']}: {s['accuracy']:.0%} classified as {s['digit']}  "
                  f"({timer.last_ms:.0f} ms)")

    safe = guarded(update, status)
    for ctl in c.values():
        ctl.observe(safe, names="value")
    safe()
    panel = Panel([widgets.HBox([c["digit"], c["w"], c["steps"]]), image, verdict, status],
                  title="Guidance explorer")
    panel.controls, panel.image, panel.status, panel.timer = c, image, status, timer
    return panel
