"""The first live widget of the course: pick a toy distribution and a sample size,
see the samples (and the density where it has a closed form).

Taught in 00_start_here.ipynb. ``render_toy_samples`` is the pure function; the
widget only wires controls to it.
"""
from __future__ import annotations

import ipywidgets as widgets
import jax
import numpy as np

from course_lib import _validate, plotting
from course_lib.data import toy
from course_lib.widgets.core import Panel, figure_panel

MAX_SAMPLES = 20_000
POOL_SIZE = 5_000
LOG_DENSITY_RANGE = 12.0  # nats of log p(x) shown below the peak


def render_toy_samples(name: str, num_samples: int, seed: int = 0, *, show_density: bool = True):
    """Scatter ``num_samples`` points of a toy distribution (and its density, if known).

    Returns:
      (Figure, summary dict with the sample mean, std and, where defined, the mean log-density).
    """
    _validate.one_of("name", name, toy.TOY_NAMES)
    num_samples = _validate.positive_int("num_samples", num_samples)
    if num_samples > MAX_SAMPLES:
        raise ValueError(f"num_samples must be at most {MAX_SAMPLES} for a responsive plot, got {num_samples}")
    seed = _validate.positive_int("seed", seed, minimum=0)
    # Draw from a fixed pool so that moving the slider adds points (and compiles once per distribution).
    pool = max(num_samples, POOL_SIZE)
    x = np.asarray(toy.sample_toy(name, jax.random.key(seed), pool))[:num_samples]
    limits = float(np.max(np.abs(x))) * 1.15 + 0.1
    density = show_density and toy.has_density(name)
    fig, axes = plotting.new_figure(2 if density else 1, size=(3.6, 3.6))
    plotting.scatter_2d(axes[0], x, size=3, limits=limits)
    axes[0].set_title(f"{name}: {num_samples} samples (seed {seed})", fontsize=9)
    for ax in axes:
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    summary = {"mean": [round(float(v), 3) for v in x.mean(axis=0)],
               "std": [round(float(v), 3) for v in x.std(axis=0)]}
    if density:
        # log p(x), not p(x): on a linear scale the narrow modes are pin-pricks. Values more than
        # LOG_DENSITY_RANGE nats below the peak share the darkest colour.
        image = plotting.density_heatmap(axes[1], lambda pts: np.maximum(toy.toy_log_density(name, pts), -1e4),
                                         limits=limits, resolution=120)
        top = float(np.max(image.get_array()))
        image.set_clim(top - LOG_DENSITY_RANGE, top)
        fig.colorbar(image, ax=axes[1], shrink=0.8, label="log p(x) (nats)")
        axes[1].set_title("log-density log p(x)", fontsize=9)
        summary["mean_log_density"] = round(float(np.mean(toy.toy_log_density(name, x))), 3)
    return fig, summary


def toy_explorer(name: str = "ring", num_samples: int = 1000, seed: int = 0) -> Panel:
    """A live widget around :func:`render_toy_samples` (dropdown, sample-size slider, seed)."""
    _validate.one_of("name", name, toy.TOY_NAMES)
    _validate.int_in_range("num_samples", num_samples, 10, 5000)  # the slider's range
    _validate.int_in_range("seed", seed, 0, 2**31 - 1)
    dist = widgets.Dropdown(options=list(toy.TOY_NAMES), value=name, description="distribution")
    n = widgets.IntSlider(value=num_samples, min=10, max=5000, step=10, description="samples",
                          continuous_update=False)
    s = widgets.IntText(value=seed, description="seed")  # checked (0..2**31-1) by render_toy_samples

    def describe(summary, ms):
        extra = f", mean log p(x) = {summary['mean_log_density']}" if "mean_log_density" in summary else ""
        return f"mean {summary['mean']}, std {summary['std']}{extra}  ({ms:.0f} ms)"

    return figure_panel(lambda: render_toy_samples(dist.value, n.value, s.value), describe,
                        {"distribution": dist, "samples": n, "seed": s}, [widgets.HBox([dist, n, s])],
                        title="Toy distribution explorer")
