"""Figures and live widgets of 02_probability.ipynb.

- :func:`render_mixture` (pure): a 1-D Gaussian mixture's density, its components, a
  histogram of its samples, and the log-likelihood of a fixed data set under it.
- :func:`render_kl` (pure): a Gaussian q = N(mu, sigma^2) against a two-mode target p;
  the forward KL(p || q) and reverse KL(q || p) landscapes with q and both optima marked.
- :func:`mixture_explorer`, :func:`kl_explorer`: thin widget shells over them.
"""
from __future__ import annotations

import functools
import math

import ipywidgets as widgets
import jax
import numpy as np
from matplotlib.figure import Figure

from course_lib import _validate
from course_lib.lessons import distributions
from course_lib.widgets.core import Panel, figure_panel

# --------------------------------------------------------------------------- mixture explorer

HIDDEN_MIXTURE = distributions.mixture([0.3, 0.5, 0.2], [-2.0, 0.5, 3.0], [0.5, 0.8, 0.4])
"""The mixture that generated :func:`mixture_data` (the reader tries to recover it)."""
NUM_DATA = 200
X_RANGE = (-6.0, 6.0)
MAX_SAMPLES = 20_000


@functools.lru_cache(maxsize=1)
def mixture_data() -> np.ndarray:
    """The fixed 1-D data set of the mixture explorer: (200,) points drawn with key 0."""
    return np.asarray(distributions.sample(HIDDEN_MIXTURE, jax.random.key(0), NUM_DATA), np.float64)


@functools.lru_cache(maxsize=1)
def _em_reference() -> tuple[distributions.Mixture1D, float]:
    fit = distributions.em_fit(mixture_data())
    return fit, float(np.mean(distributions.log_density(fit, mixture_data())))


def _curve_points(p: distributions.Mixture1D) -> np.ndarray:
    """A grid over X_RANGE, refined around each mean so that narrow peaks are drawn."""
    base = np.linspace(*X_RANGE, 600)
    near = (p.means[:, None] + p.scales[:, None] * np.linspace(-4, 4, 41)).ravel()
    near = near[(near >= X_RANGE[0]) & (near <= X_RANGE[1])]
    return np.unique(np.concatenate([base, near]))


def render_mixture(weights, means, scales, num_samples: int = 1000, seed: int = 0):
    """Draw a 1-D Gaussian mixture: density, components, sample histogram and the data.

    Args:
      weights, means, scales: (K,) mixture parameters (weights are normalised; zero allowed).
      num_samples: samples for the histogram (1..20000).
      seed: random key seed of the samples.

    Returns:
      (Figure, summary): ``log_likelihood`` (mean log p over :func:`mixture_data`),
      ``em_log_likelihood`` (the same for the EM fit), ``sample_mean``, ``sample_std``,
      ``mean`` and ``std`` (exact, from :func:`distributions.moments`), ``peak_clipped``.
    """
    p = distributions.mixture(weights, means, scales)
    num_samples = _validate.positive_int("num_samples", num_samples)
    if num_samples > MAX_SAMPLES:
        raise ValueError(f"num_samples must be at most {MAX_SAMPLES}, got {num_samples}")
    seed = _validate.positive_int("seed", seed, minimum=0)
    x = mixture_data()
    # Always draw MAX_SAMPLES and keep the first num_samples: one compiled sampler serves every slider value.
    samples = np.asarray(distributions.sample(p, jax.random.key(seed), MAX_SAMPLES))[:num_samples]
    grid = _curve_points(p)
    density = np.exp(np.asarray(distributions.log_density(p, grid), np.float64))
    fig = Figure(figsize=(7.0, 3.2))  # fixed margins, no layout engine: it is redrawn at every update
    ax = fig.subplots()
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.91)
    counts, edges = np.histogram(samples, bins=60, range=X_RANGE, density=True)
    inside = np.mean((samples >= X_RANGE[0]) & (samples <= X_RANGE[1]))
    counts = counts * inside  # density of all samples, not only the ones in range
    ax.stairs(counts, edges, fill=True, alpha=0.3, color="C0", label=f"{num_samples} samples")
    for k in range(len(p.weights)):
        if p.weights[k] > 0:
            comp = p.weights[k] * np.exp(-0.5 * ((grid - p.means[k]) / p.scales[k]) ** 2) / (
                p.scales[k] * math.sqrt(2 * math.pi))
            ax.plot(grid, comp, "--", lw=1, color="0.5")
    ax.plot(grid, density, color="C0", lw=2, label="p(x)")
    ax.plot(x, np.full_like(x, -0.02), "|", color="C3", ms=8, label=f"data ({len(x)} points)")
    # y range: the histogram and the curve, but a very narrow peak may go off the top.
    cap = 3.0 * max(counts.max(), 0.3)
    top = 1.15 * min(max(counts.max(), density.max()), cap)
    peak_clipped = bool(density.max() > top)
    ax.set_ylim(-0.05, top)
    ax.set_xlim(*X_RANGE)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.legend(fontsize=8, loc="upper left")
    log_lik = float(np.mean(distributions.log_density(p, x)))
    em, em_ll = _em_reference()
    ax.set_title(f"mean log-likelihood of the data: {log_lik:.3f} nats (EM fit: {em_ll:.3f})", fontsize=9)
    mean, var = distributions.moments(p)
    summary = {"log_likelihood": log_lik, "em_log_likelihood": em_ll,
               "sample_mean": float(samples.mean()), "sample_std": float(samples.std()),
               "mean": mean, "std": math.sqrt(max(var, 0.0)), "peak_clipped": peak_clipped}
    return fig, summary


def mixture_explorer(weights=(0.4, 0.3, 0.3), means=(-2.0, 0.0, 2.0), scales=(1.0, 1.0, 1.0),
                     num_samples: int = 2000, seed: int = 0) -> Panel:
    """Three components' weight, mean and scale sliders around :func:`render_mixture`."""
    if not (len(weights) == len(means) == len(scales) == 3):
        raise ValueError("the explorer has exactly three components: pass three weights, means and scales")
    for k in range(3):  # the sliders' ranges: no silent clamping
        _validate.real_in_range(f"weights[{k}]", weights[k], 0.0, 1.0)
        _validate.real_in_range(f"means[{k}]", means[k], -5.0, 5.0)
        _validate.real_in_range(f"scales[{k}]", scales[k], 1e-3, 10**0.5)
    _validate.int_in_range("num_samples", num_samples, 10, MAX_SAMPLES)
    _validate.int_in_range("seed", seed, 0, 2**31 - 1)
    w = [widgets.FloatSlider(value=v, min=0.0, max=1.0, step=0.05, description=f"weight {k + 1}",
                             continuous_update=False) for k, v in enumerate(weights)]
    m = [widgets.FloatSlider(value=v, min=-5.0, max=5.0, step=0.1, description=f"mean {k + 1}",
                             continuous_update=False) for k, v in enumerate(means)]
    s = [widgets.FloatLogSlider(value=v, base=10, min=-3, max=0.5, step=0.05, description=f"scale {k + 1}",
                                continuous_update=False) for k, v in enumerate(scales)]
    n = widgets.IntSlider(value=num_samples, min=10, max=MAX_SAMPLES, step=10, description="samples",
                          continuous_update=False)

    def render():
        return render_mixture([c.value for c in w], [c.value for c in m], [c.value for c in s], n.value, seed)

    def describe(summary, ms):
        gap = summary["em_log_likelihood"] - summary["log_likelihood"]
        note = " The density peak is taller than the plot." if summary["peak_clipped"] else ""
        return (f"mean log-likelihood {summary['log_likelihood']:.3f} nats, {gap:.3f} below the EM fit; "
                f"mean {summary['mean']:.2f}, std {summary['std']:.2f}.{note} ({ms:.0f} ms)")

    controls = {**{f"weight{k + 1}": c for k, c in enumerate(w)}, **{f"mean{k + 1}": c for k, c in enumerate(m)},
                **{f"scale{k + 1}": c for k, c in enumerate(s)}, "samples": n}
    columns = widgets.HBox([widgets.VBox([w[k], m[k], s[k]]) for k in range(3)])
    return figure_panel(render, describe, controls, [columns, n], title="Gaussian mixture explorer")


# --------------------------------------------------------------------------- KL explorer

KL_TARGETS = {
    "two equal modes": distributions.mixture([0.5, 0.5], [-2.0, 2.0], [0.6, 0.6]),
    "unequal modes": distributions.mixture([0.7, 0.3], [-1.5, 2.5], [0.5, 0.8]),
    "close modes": distributions.mixture([0.5, 0.5], [-0.8, 0.8], [0.6, 0.6]),
}
"""Targets p of the KL explorer."""
KL_MUS = np.linspace(-5.0, 5.0, 101)
KL_SIGMAS = np.geomspace(0.05, 8.0, 81)
_REVERSE_STARTS = ((-3.0, 0.5), (-1.0, 0.5), (0.0, 0.5), (1.0, 0.5), (3.0, 0.5), (0.0, 2.0))
"""(mu0, sigma0) starts of the reverse-KL descents: narrow ones slide into a mode; the wide,
centred one finds the wide compromise between the modes where it exists."""
KL_CONTOUR_LEVELS = (0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0, 1.15, 1.2, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0)
"""KL values of the landscape contours (1.15 and 1.2 outline the wide basin of "two equal modes")."""


@functools.lru_cache(maxsize=8)
def kl_optima(target: str) -> dict:
    """Landscapes and optima for a target: the forward optimum (moment matching) and every
    distinct local minimum of the reverse KL reached by Adam from a few starts."""
    _validate.one_of("target", target, KL_TARGETS)
    p = KL_TARGETS[target]
    forward = distributions.kl_landscape(p, KL_MUS, KL_SIGMAS, "forward")
    reverse = distributions.kl_landscape(p, KL_MUS, KL_SIGMAS, "reverse")
    minima = []
    for mu0, sigma0 in _REVERSE_STARTS:
        mu, sigma, hist = distributions.fit_reverse_kl(p, mu0, sigma0, num_steps=600)
        if all(abs(mu - m[0]) > 0.05 or abs(sigma - m[1]) > 0.05 for m in minima):
            minima.append((mu, sigma, float(distributions.gaussian_fit_kl(p, mu, sigma, "reverse"))))
    minima.sort(key=lambda m: m[2])
    return {"p": p, "forward": forward, "reverse": reverse, "forward_opt": distributions.fit_forward_kl(p),
            "reverse_minima": minima}


def _gaussian_pdf(x, mu, sigma):
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


def render_kl(mu: float, sigma: float, target: str = "two equal modes", *, q_label: str = "your q"):
    """q = N(mu, sigma^2) against a target p: densities and both KL landscapes.

    ``q_label`` names q in the legends (the widget's q is "your q").

    Returns:
      (Figure, summary): ``forward_kl`` = KL(p || q), ``reverse_kl`` = KL(q || p),
      ``forward_opt`` (mu, sigma), ``reverse_minima`` [(mu, sigma, KL), ...] best first,
      ``off_grid`` (True when (mu, sigma) lies outside the drawn landscape).
    """
    mu = _validate.real_in_range("mu", mu, -1e3, 1e3)
    sigma = _validate.positive_float("sigma", sigma)
    if sigma < 1e-4:
        raise ValueError(f"sigma must be at least 1e-4 for a meaningful picture, got {sigma}")
    info = kl_optima(target)
    p = info["p"]
    fwd = distributions.gaussian_fit_kl(p, mu, sigma, "forward")
    rev = distributions.gaussian_fit_kl(p, mu, sigma, "reverse")
    fig = Figure(figsize=(11.0, 3.0))  # fixed margins, no layout engine: it is redrawn at every update
    axes = fig.subplots(1, 3)
    fig.subplots_adjust(left=0.05, right=0.95, bottom=0.15, top=0.91, wspace=0.42)
    xs = np.linspace(-6, 6, 800)
    xs = np.unique(np.concatenate([xs, mu + sigma * np.linspace(-4, 4, 41)]))
    xs = xs[(xs >= -6) & (xs <= 6)]
    axes[0].fill_between(xs, np.exp(np.asarray(distributions.log_density(p, xs))), color="0.8", label="target p")
    f_mu, f_sigma = info["forward_opt"]
    r_mu, r_sigma, _ = info["reverse_minima"][0]
    axes[0].plot(xs, _gaussian_pdf(xs, f_mu, f_sigma), "--", color="C0", label="forward-KL optimum")
    axes[0].plot(xs, _gaussian_pdf(xs, r_mu, r_sigma), ":", color="C1", lw=2, label="reverse-KL optimum")
    axes[0].plot(xs, _gaussian_pdf(xs, mu, sigma), color="C3", label=q_label)
    top = 1.3 * max(np.exp(np.asarray(distributions.log_density(p, xs))).max(), _gaussian_pdf(0, 0, r_sigma))
    axes[0].set_ylim(0, top)
    axes[0].legend(fontsize=7, loc="upper left")
    axes[0].set_xlabel("x")
    axes[0].set_ylabel("density")
    axes[0].set_title(f"KL(p||q) = {fwd:.3f},  KL(q||p) = {rev:.3f}", fontsize=9)
    extent = (KL_MUS[0], KL_MUS[-1], math.log10(KL_SIGMAS[0]), math.log10(KL_SIGMAS[-1]))
    off_grid = not (KL_MUS[0] <= mu <= KL_MUS[-1] and KL_SIGMAS[0] <= sigma <= KL_SIGMAS[-1])
    for ax, key, title in ((axes[1], "forward", "forward KL(p || q)"), (axes[2], "reverse", "reverse KL(q || p)")):
        values = np.log10(info[key] + 1e-3)  # log scale: KL spans several decades
        image = ax.imshow(values, origin="lower", extent=extent, aspect="auto", cmap="viridis_r")
        fig.colorbar(image, ax=ax, fraction=0.06, pad=0.02, label="log10 KL")
        ax.contour(KL_MUS, np.log10(KL_SIGMAS), values, levels=np.log10(np.array(KL_CONTOUR_LEVELS) + 1e-3),
                   colors="w", linewidths=0.4)
        ax.set_xlabel("mu")
        ax.set_ylabel("log10 sigma")
        ax.set_title(title + " (log scale, bright = small)", fontsize=9)
        ax.plot([mu], [math.log10(sigma)], "o", color="C3", ms=7, mec="w", label=q_label)
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
    axes[1].plot([f_mu], [math.log10(f_sigma)], "*", color="C0", ms=12, mec="w", label="minimum")
    best_kl = info["reverse_minima"][0][2]
    for k, (m_, s_, kl_) in enumerate(info["reverse_minima"]):
        kind = "best" if k == 0 else "equally good" if kl_ - best_kl < 1e-3 else "local"
        axes[2].plot([m_], [math.log10(s_)], "*" if k == 0 else "P", color="C1", ms=11 if k == 0 else 8, mec="w",
                     label=f"{kind} minimum, KL {kl_:.2f}")
    for ax in axes[1:]:
        ax.legend(fontsize=6, loc="upper left", framealpha=0.7)
    summary = {"forward_kl": fwd, "reverse_kl": rev, "forward_opt": info["forward_opt"],
               "reverse_minima": info["reverse_minima"], "off_grid": off_grid}
    return fig, summary


def kl_explorer(mu: float = 0.0, sigma: float = 1.0, target: str = "two equal modes") -> Panel:
    """Move q = N(mu, sigma^2) and watch both KL divergences (a shell over :func:`render_kl`)."""
    _validate.one_of("target", target, KL_TARGETS)
    _validate.real_in_range("mu", mu, -5.0, 5.0)  # the sliders' ranges: no silent clamping
    _validate.real_in_range("sigma", sigma, 1e-3, 10.0)
    t = widgets.Dropdown(options=list(KL_TARGETS), value=target, description="target p")
    m = widgets.FloatSlider(value=mu, min=-5.0, max=5.0, step=0.05, description="mu", continuous_update=False)
    s = widgets.FloatLogSlider(value=sigma, base=10, min=-3, max=1, step=0.02, description="sigma",
                               continuous_update=False)

    def describe(summary, ms):
        f_mu, f_sigma = summary["forward_opt"]
        r_mu, r_sigma, r_kl = summary["reverse_minima"][0]
        note = " Your q is outside the drawn landscape." if summary["off_grid"] else ""
        return (f"KL(p||q) = {summary['forward_kl']:.3f}, KL(q||p) = {summary['reverse_kl']:.3f} nats. "
                f"Forward optimum N({f_mu:.2f}, {f_sigma:.2f}^2); best reverse optimum "
                f"N({r_mu:.2f}, {r_sigma:.2f}^2).{note} ({ms:.0f} ms)")

    return figure_panel(lambda: render_kl(m.value, s.value, t.value), describe,
                        {"target": t, "mu": m, "sigma": s}, [widgets.HBox([t, m, s])],
                        title="KL divergence explorer")


__all__ = ["HIDDEN_MIXTURE", "KL_TARGETS", "mixture_data", "render_mixture", "mixture_explorer",
           "kl_optima", "render_kl", "kl_explorer"]
