"""Figures and the live widget of 01_concepts.ipynb.

- :func:`render_family` (pure): fit one family's miniature model (:mod:`course_lib.lessons.families`)
  to a toy distribution and draw data, model samples and, where the model has one, its density.
- :func:`render_family_gallery`: every family side by side (the static version of the widget).
- :func:`classifier_figure`: decision regions of fitted classifiers on 2-D data
  ("Generative vs discriminative").
- :func:`family_explorer`: the widget, a thin shell over :func:`render_family`.
"""
from __future__ import annotations

import functools
import math
import time

import ipywidgets as widgets
import jax
import numpy as np
from matplotlib.figure import Figure

from course_lib import _validate, plotting
from course_lib.lessons import families
from course_lib.data import toy
from course_lib.widgets.core import Panel, figure_panel

TRAIN_SIZE = 1000  # points each miniature model is fitted to
TEST_SIZE = 1000  # held-out points for the mean log-likelihood
MAX_SAMPLES = 2000  # the model's sample pool; the slider shows the first num_samples


@functools.lru_cache(maxsize=16)
def _data(name: str, seed: int, split: str) -> np.ndarray:
    key = jax.random.fold_in(jax.random.key(seed), 0 if split == "train" else 1)
    n = TRAIN_SIZE if split == "train" else TEST_SIZE
    return np.asarray(toy.sample_toy(name, key, n), np.float64)


@functools.lru_cache(maxsize=32)
def _fitted(name: str, family: str, seed: int):
    """(fitted model, sample pool (MAX_SAMPLES, 2), milliseconds it took to draw the pool)."""
    model = families.fit_family(family, _data(name, seed, "train"), seed=seed)
    start = time.perf_counter()
    pool = np.asarray(model.sample(jax.random.fold_in(jax.random.key(seed), 2), MAX_SAMPLES), np.float64)
    return model, pool, 1000 * (time.perf_counter() - start)


def _limits(x: np.ndarray) -> float:
    return float(np.max(np.abs(x))) * 1.15 + 0.1


def _check_args(name, family, num_samples, seed):
    _validate.one_of("name", name, toy.TOY_NAMES)
    _validate.one_of("family", family, families.FAMILIES)
    num_samples = _validate.positive_int("num_samples", num_samples)
    if num_samples > MAX_SAMPLES:
        raise ValueError(f"num_samples must be at most {MAX_SAMPLES}, got {num_samples}")
    seed = _validate.positive_int("seed", seed, minimum=0)
    return num_samples, seed


def _mean_test_log_likelihood(model, name, seed) -> float | None:
    if not model.has_density or not model.normalized:
        return None
    return float(np.mean(model.log_density(_data(name, seed, "test"))))


def _draw_message(ax, text, limits):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9)
    ax.set_xlim(-limits, limits)
    ax.set_ylim(-limits, limits)
    ax.set_aspect("equal")


LOG_DENSITY_FLOOR = -8.0  # log p(x) values below this share the darkest colour


def _draw_density(ax, model, limits, resolution=90):
    """log p(x) of a normalised model on the shared scale [LOG_DENSITY_FLOOR, 1]; the energy-based
    model's -E(x) on its own scale (it is known only up to a constant). Returns the image or None."""
    if not model.has_density:
        _draw_message(ax, "no density:\nthis model can only\ndraw samples", limits)
        return None
    image = plotting.density_heatmap(ax, lambda pts: np.maximum(model.log_density(pts), -1e4), limits=limits,
                                     resolution=resolution)
    if model.normalized:
        image.set_clim(LOG_DENSITY_FLOOR, 1.0)
    else:
        top = float(np.max(image.get_array()))
        image.set_clim(top + LOG_DENSITY_FLOOR, top)
    return image


def _density_title(model) -> str:
    if not model.has_density:
        return "no density"
    return "-E(x), unnormalised" if not model.normalized else "log p(x)"


def render_family(name: str, family: str, num_samples: int = 1000, seed: int = 0):
    """Fit ``family``'s miniature model to ``name`` and draw data | samples | density.

    Args:
      name: a toy distribution (:data:`course_lib.data.TOY_NAMES`).
      family: one of :data:`course_lib.lessons.families.FAMILIES`.
      num_samples: model samples to draw (1..MAX_SAMPLES = 2000).
      seed: fixes the training data, the fit and the samples.

    Returns:
      (Figure, summary dict): ``has_density``, ``normalized``, ``test_log_likelihood``
      (mean log p over held-out points, None without a normalised density) and
      ``sample_ms`` (time to draw the sample pool when it was first made).
    """
    num_samples, seed = _check_args(name, family, num_samples, seed)
    train = _data(name, seed, "train")
    model, pool, sample_ms = _fitted(name, family, seed)
    samples = pool[:num_samples]
    limits = _limits(train)
    fig = Figure(figsize=(9.0, 3.2))  # fixed margins, no layout engine: it is redrawn at every update
    axes = fig.subplots(1, 3)
    fig.subplots_adjust(left=0.05, right=0.93, bottom=0.08, top=0.85, wspace=0.2)
    plotting.scatter_2d(axes[0], train, size=3, limits=limits)
    axes[0].set_title(f"{name}: {TRAIN_SIZE} training points", fontsize=9)
    plotting.scatter_2d(axes[1], samples, size=3, limits=limits, color="C3")
    axes[1].set_title(f"{num_samples} model samples", fontsize=9)
    image = _draw_density(axes[2], model, limits)
    if image is not None:
        fig.colorbar(image, ax=axes[2], fraction=0.05, pad=0.02)
    axes[2].set_title(_density_title(model), fontsize=9)
    fig.suptitle(families.FAMILY_TITLES[family], fontsize=10)
    summary = {
        "family": family,
        "has_density": model.has_density,
        "normalized": model.has_density and model.normalized,
        "test_log_likelihood": _mean_test_log_likelihood(model, name, seed),
        "sample_ms": sample_ms,
    }
    return fig, summary


def render_family_gallery(name: str, num_samples: int = 1000, seed: int = 0) -> Figure:
    """Every family's samples (top row) and density (bottom row) for one toy distribution."""
    num_samples, seed = _check_args(name, families.FAMILIES[0], num_samples, seed)
    train = _data(name, seed, "train")
    limits = _limits(train)
    cols = 1 + len(families.FAMILIES)
    fig, axes = plotting.new_figure(cols, nrows=2, size=(2.1, 2.1))
    plotting.scatter_2d(axes[0], train, size=2, limits=limits)
    axes[0].set_title("data", fontsize=8)
    shared = None  # an image on the shared log p(x) scale, for the colour bar
    if toy.has_density(name):
        shared = plotting.density_heatmap(axes[cols], lambda pts: np.maximum(toy.toy_log_density(name, pts), -1e4),
                                          limits=limits, resolution=90)
        shared.set_clim(LOG_DENSITY_FLOOR, 1.0)
        axes[cols].set_title("true log p(x)", fontsize=8)
    else:
        _draw_message(axes[cols], "true density:\nno closed form", limits)
    energy = None
    for j, family in enumerate(families.FAMILIES, start=1):
        model, pool, _ = _fitted(name, family, seed)
        plotting.scatter_2d(axes[j], pool[:num_samples], size=2, limits=limits, color="C3")
        axes[j].set_title(families.FAMILY_TITLES[family].replace(" (", "\n("), fontsize=8)
        image = _draw_density(axes[cols + j], model, limits, resolution=70)
        axes[cols + j].set_title(_density_title(model).replace(", ", ",\n"), fontsize=8)
        if image is not None and model.normalized:
            shared = image
        elif image is not None:
            energy = image
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    normalised_axes = [ax for ax, fam in zip(axes[cols + 1:], families.FAMILIES) if fam != "energy_langevin"]
    if shared is not None:
        fig.colorbar(shared, ax=[axes[cols]] + normalised_axes, fraction=0.02, pad=0.01,
                     label=f"log p(x), clipped at {LOG_DENSITY_FLOOR:g}")
    if energy is not None:
        fig.colorbar(energy, ax=axes[-1], fraction=0.05, pad=0.02, label="-E(x)")
    return fig


def classifier_figure(x, y, classifiers: dict, *, resolution: int = 150) -> Figure:
    """p(y = 1 | x) of each fitted classifier as a colour map, with the data on top.

    Args:
      x: (N, 2) points; y: (N,) labels in {0, 1}.
      classifiers: {title: fitted object with ``predict_proba``}.
    """
    _validate.array("x", x, ndim=2, shape=(None, 2), dtype_kind="number")
    _validate.array("y", y, ndim=1, dtype_kind="int")
    if not isinstance(classifiers, dict) or not classifiers:
        raise TypeError("classifiers must be a non-empty dict {title: fitted classifier}")
    x = np.asarray(x)
    pad = 0.5
    xs = np.linspace(x[:, 0].min() - pad, x[:, 0].max() + pad, resolution)
    ys = np.linspace(x[:, 1].min() - pad, x[:, 1].max() + pad, resolution)
    xx, yy = np.meshgrid(xs, ys)
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
    fig, axes = plotting.new_figure(len(classifiers), size=(3.6, 3.0))
    for ax, (title, clf) in zip(axes, classifiers.items()):
        prob = clf.predict_proba(grid)[:, 1].reshape(xx.shape)
        shading = ax.contourf(xx, yy, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
        ax.contour(xx, yy, prob, levels=[0.5], colors="k", linewidths=1)
        for label, color in ((0, "C0"), (1, "C3")):
            pts = x[np.asarray(y) == label]
            ax.scatter(pts[:, 0], pts[:, 1], s=6, color=color, linewidths=0, label=f"y = {label}")
        ax.set_title(title, fontsize=9)
        ax.set_aspect("equal")
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.legend(fontsize=7, loc="lower left", title="black line: p = 0.5", title_fontsize=7)
    fig.colorbar(shading, ax=axes, fraction=0.02, pad=0.01, label="p(y = 1 | x)")
    return fig


def family_explorer(name: str = "moons", family: str = "latent_mixture", num_samples: int = 1000,
                    seed: int = 0) -> Panel:
    """A live widget around :func:`render_family`: toy distribution, family, sample count, seed."""
    _validate.one_of("name", name, toy.TOY_NAMES)
    _validate.one_of("family", family, families.FAMILIES)
    _validate.int_in_range("num_samples", num_samples, 10, MAX_SAMPLES)  # the slider's range
    _validate.int_in_range("seed", seed, 0, 10_000)
    dist = widgets.Dropdown(options=list(toy.TOY_NAMES), value=name, description="data")
    fam = widgets.Dropdown(options=[(families.FAMILY_TITLES[f], f) for f in families.FAMILIES], value=family,
                           description="family")
    n = widgets.IntSlider(value=num_samples, min=10, max=MAX_SAMPLES, step=10, description="samples",
                          continuous_update=False)
    s = widgets.BoundedIntText(value=seed, min=0, max=10_000, description="seed")

    def describe(summary, ms):
        if summary["test_log_likelihood"] is not None:
            ll = summary["test_log_likelihood"]
            what = (f"mean log p(x) on held-out data = {ll:.3f}" if math.isfinite(ll) else
                    "mean log p(x) on held-out data = -inf: some held-out points fall where the model "
                    "puts zero density")
        elif summary["has_density"]:
            what = "density known only up to a constant (energy-based): no log-likelihood"
        else:
            what = "implicit model: samples only, no log-likelihood"
        return f"{what}. Drawing {MAX_SAMPLES} samples took {summary['sample_ms']:.0f} ms; this update ({ms:.0f} ms)"

    return figure_panel(lambda: render_family(dist.value, fam.value, n.value, s.value), describe,
                        {"data": dist, "family": fam, "samples": n, "seed": s},
                        [widgets.HBox([dist, fam]), widgets.HBox([n, s])], title="Generative model families explorer")


__all__ = ["render_family", "render_family_gallery", "classifier_figure", "family_explorer"]
