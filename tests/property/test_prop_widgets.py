"""Properties of course_lib.widgets: guarded callbacks, bounded controls, render functions.

- ``guarded``: an exception in a callback is shown in plain words, never raised; the control
  that triggered it is set back to its last good value.
- Every explorer: setting any control to any value its widget allows runs without an escaping
  exception (the status says what went wrong, if anything) and the picture stays.
- Render functions: valid input gives a figure/image, bad input a ValueError/TypeError naming it.
"""
from __future__ import annotations

import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from hypothesis import given, settings, strategies as st

from course_lib.widgets import Panel, Status, Timer, guarded
from course_lib.widgets import concepts as WC
from course_lib.widgets import optim as WO
from course_lib.widgets import probability as WP
from course_lib.lessons.distributions import em_fit
from course_lib.training import DivergenceError
from prop_harness import (BAD_COUNTS, BAD_FINITE_FLOATS, BAD_POSITIVE_FLOATS, BAD_STRINGS, COUNTS,
                          covers, good, refused)

RAW = ("Traceback", "IndexError", "KeyError", "AttributeError", "XlaRuntimeError")


@covers("course_lib.widgets.guarded", "course_lib.widgets.Status", "course_lib.widgets.Panel",
        "course_lib.widgets.Timer")
@given(err=st.sampled_from([ValueError("lr must be > 0"), MemoryError(), OverflowError("int too large"),
                            IndexError("index 3 is out of bounds"), DivergenceError("diverged: NaN"),
                            RuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating")]),
       old=st.integers(0, 10), new=st.integers(11, 10**9))
def test_guarded_reports_in_plain_words_and_reverts(err, old, new):
    status = Status()
    box = widgets.IntText(value=old)

    def callback(change):
        raise err

    safe = guarded(callback, status)
    box.observe(safe, names="value")
    with Timer() as timer:
        box.value = new  # must not raise
    assert box.value == old, "the bad setting was not reverted"
    text = status.text
    assert text and "#b00020" in status.value and not any(r in text for r in RAW[:1])
    if isinstance(err, (MemoryError, RuntimeError)):
        assert "memory" in text
    assert timer.last_ms >= 0
    panel = Panel([box, status], title="t")
    assert "live widget" in repr(panel)
    refused(guarded, "fn", None, status)
    refused(guarded, "status", callback, "status")
    good()


def _exercise_controls(panel, data):
    """Set every control of ``panel`` to a value its widget allows; nothing may escape."""
    for name, control in panel.controls.items():
        if isinstance(control, (widgets.Button, widgets.Play)):
            continue
        if hasattr(control, "options") and control.options:
            opts = list(control.options)
            value = data.draw(st.sampled_from(opts))
            control.value = value[1] if isinstance(value, tuple) else value
        elif isinstance(control, (widgets.FloatLogSlider,)):
            control.value = control.base ** data.draw(st.floats(control.min, control.max))
        elif hasattr(control, "min") and hasattr(control, "max"):
            lo, hi = control.min, control.max
            if isinstance(control.value, int):
                control.value = data.draw(st.integers(lo, hi))
            else:
                control.value = data.draw(st.floats(lo, hi))
        status = panel.status.text
        assert not any(r in status for r in RAW), f"{name}: raw exception in status: {status!r}"
        COUNTS["bad"] += 1


@covers("course_lib.widgets.concepts.family_explorer", "course_lib.widgets.optim.optimizer_explorer",
        "course_lib.widgets.probability.mixture_explorer", "course_lib.widgets.probability.kl_explorer")
@given(which=st.sampled_from(["optim", "mixture", "kl", "family"]), data=st.data())
@settings(max_examples=4)
def test_explorers_survive_every_control(which, data):
    panel = {"optim": lambda: WO.optimizer_explorer(num_steps=50),
             "mixture": lambda: WP.mixture_explorer(num_samples=200),
             "kl": WP.kl_explorer,
             "family": lambda: WC.family_explorer(num_samples=100)}[which]()
    _exercise_controls(panel, data)
    plt.close("all")


def test_explorer_constructors_refuse_bad_arguments():
    refused(WO.optimizer_explorer, "lr", lr=-1.0)
    refused(WO.optimizer_explorer, "surface", surface="nope")
    refused(WP.kl_explorer, "sigma", sigma=0.0)
    refused(WP.mixture_explorer, "num_samples", num_samples=10**12)
    refused(WC.family_explorer, "family", family="nope")


@covers("course_lib.widgets.concepts.render_family", "course_lib.widgets.concepts.render_family_gallery",
        "course_lib.widgets.concepts.classifier_figure")
@given(bad_n=BAD_COUNTS, bad_name=BAD_STRINGS)
@settings(max_examples=4)
def test_concepts_renders(bad_n, bad_name):
    refused(WC.render_family, "num_samples", "moons", "latent_mixture", bad_n)
    refused(WC.render_family, "name", bad_name, "latent_mixture")
    refused(WC.render_family_gallery, "name", bad_name)
    refused(WC.classifier_figure, "x", np.zeros((4, 3)), np.zeros(4, int), {})
    refused(WC.classifier_figure, "y", np.zeros((4, 2)), np.zeros(4), {})


def test_concepts_render_valid():
    fig = WC.render_family_gallery("moons", num_samples=100)
    assert fig.axes
    plt.close("all")
    good()


@covers("course_lib.widgets.optim.render_trajectories", "course_lib.widgets.optim.render_optimizer",
        "course_lib.widgets.optim.render_bilinear")
@given(lr=st.floats(1e-3, 0.5), steps=st.integers(1, 60), bad_lr=BAD_POSITIVE_FLOATS, bad_n=BAD_COUNTS)
@settings(max_examples=4)
def test_optim_renders(lr, steps, bad_lr, bad_n):
    WO.render_bilinear(lr, steps)
    out = WO.render_optimizer("rosenbrock", "adam", lr, 0.0, 0.0, steps)
    assert out is not None
    plt.close("all")
    good()
    refused(WO.render_bilinear, "lr", bad_lr)
    refused(WO.render_bilinear, "num_steps", 0.1, bad_n)
    refused(WO.render_optimizer, "lr", "rosenbrock", "adam", bad_lr, 0.0, 0.0)
    refused(WO.render_optimizer, "num_steps", "rosenbrock", "adam", 0.1, 0.0, 0.0, bad_n)
    refused(WO.render_trajectories, "surface", "nope", {})
    refused(WO.render_trajectories, "runs", "rosenbrock", None)


@covers("course_lib.widgets.probability.mixture_data", "course_lib.lessons.distributions.em_fit",
        "course_lib.widgets.probability.render_mixture", "course_lib.widgets.probability.kl_optima",
        "course_lib.widgets.probability.render_kl")
@given(mu=st.floats(-4, 4), sigma=st.floats(0.05, 3))
@settings(max_examples=2)
def test_probability_widgets_valid(mu, sigma):
    x = WP.mixture_data()
    p = em_fit(x, 2, 20)
    assert np.all(np.isfinite(p.weights)) and math.isclose(float(np.sum(p.weights)), 1.0, rel_tol=1e-5)
    WP.render_kl(mu, sigma)
    WP.render_mixture((0.5, 0.5), (-1.0, 1.0), (1.0, 1.0), num_samples=100)
    assert set(WP.kl_optima("two equal modes"))
    plt.close("all")
    good()


@given(bad=BAD_FINITE_FLOATS, bad_n=BAD_COUNTS)
@settings(max_examples=4)
def test_probability_widgets_bad(bad, bad_n):
    x = np.zeros(10)
    refused(WP.render_kl, "mu", bad, 1.0)
    refused(WP.render_kl, "sigma", 0.0, bad)
    refused(WP.render_mixture, "num_samples", (1.0,), (0.0,), (1.0,), bad_n)
    refused(em_fit, "x", np.zeros((0,)))
    refused(em_fit, "num_components", x, bad_n)
    refused(WP.kl_optima, "target", "nope")
