"""Plotting returns figures/PNGs; the toy widget's render function and shell work without a browser."""
import io

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

from course_lib import plotting
from course_lib.widgets.toy import render_toy_samples, toy_explorer


def _png_size(png: bytes):
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_image_to_png_roundtrip():
    img = np.zeros((3, 2))
    img[1, 0] = 1.0
    png = plotting.image_to_png(img, scale=2)
    assert _png_size(png) == (4, 6)
    # decoded by matplotlib's reader (independent of the encoder); ink (1.0) is black (0)
    rows = np.round(matplotlib.image.imread(io.BytesIO(png)) * 255).astype(np.uint8)  # (6, 4)
    assert rows.shape[:2] == (6, 4)
    assert rows[2, 0] == 0 and rows[0, 0] == 255 and rows[3, 1] == 0


def test_image_grid_and_figure_to_png():
    fig = plotting.image_grid(np.random.default_rng(0).random((12, 64)), (8, 8), ncols=5, titles=list("abcdefghijkl"))
    assert isinstance(fig, Figure) and len(fig.axes) == 15
    w, h = _png_size(plotting.figure_to_png(fig, dpi=50))
    assert w > 0 and h > 0


def test_image_grid_rejects_wrong_shape():
    with pytest.raises(ValueError, match="H\\*W = 64"):
        plotting.image_grid(np.zeros((2, 63)), (8, 8))


def test_density_heatmap_values():
    fig, (ax,) = plotting.new_figure(1)
    im = plotting.density_heatmap(ax, lambda p: -0.5 * (p**2).sum(1), limits=2.0, resolution=5, log=True)
    arr = im.get_array()
    assert arr.shape == (5, 5) and abs(arr[2, 2] - 1.0) < 1e-6 and arr[0, 0] < arr[2, 2]


def test_render_toy_samples():
    fig, summary = render_toy_samples("ring", 500, seed=1)
    assert len(fig.axes) == 3  # samples, log-density and its colour bar
    assert fig.axes[2].get_ylabel() == "log p(x) (nats)"
    assert all(ax.get_xlabel() == "x1" and ax.get_ylabel() == "x2" for ax in fig.axes[:2])
    assert set(summary) == {"mean", "std", "mean_log_density"}
    fig, summary = render_toy_samples("moons", 500, seed=1)
    assert len(fig.axes) == 1 and "mean_log_density" not in summary


@pytest.mark.parametrize("kwargs, words", [
    (dict(name="blob", num_samples=10), "unknown name"),
    (dict(name="ring", num_samples=0), "num_samples"),
    (dict(name="ring", num_samples=10**6), "at most"),
])
def test_render_toy_samples_bad_input(kwargs, words):
    with pytest.raises(ValueError, match=words):
        render_toy_samples(**kwargs)


def test_toy_explorer_responds_and_survives_bad_values():
    panel = toy_explorer("ring", 200, seed=0)
    first = panel.image.value
    assert first[:4] == b"\x89PNG" and "mean" in panel.status.text
    panel.controls["samples"].value = 400
    assert panel.image.value != first
    panel.controls["distribution"].value = "moons"
    assert "log p" not in panel.status.text
    shown = panel.image.value
    panel.controls["seed"].value = -3  # invalid: reported, picture kept
    assert "seed must be an integer >= 0" in panel.status.text
    assert panel.image.value == shown
    panel.controls["seed"].value = 2
    assert "mean" in panel.status.text and panel.image.value != shown
    assert "live widget" in repr(panel)
