"""Properties of course_lib.checkpoints, course_lib.plotting, course_lib.info and course_lib.paths."""
from __future__ import annotations

import json
import pathlib
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from flax import nnx
from hypothesis import given, settings, strategies as st

from course_lib import checkpoints as C
from course_lib import info, paths, plotting as PL
from course_lib.models import MLP
from course_lib.training import History
from prop_harness import BAD_COUNTS, BAD_POSITIVE_FLOATS, NOT_ARRAYS, covers, finite, good, refused


@covers("course_lib.checkpoints.save_checkpoint", "course_lib.checkpoints.load_checkpoint",
        "course_lib.checkpoints.read_manifest", "course_lib.checkpoints.verify_checkpoint",
        "course_lib.checkpoints.manifest_path", "course_lib.checkpoints.CheckpointError")
@given(width=st.integers(1, 6), seed=st.integers(0, 99), field=st.sampled_from(
    ["sha256", "format_version", "arrays", "config"]), junk=st.sampled_from([None, 3, "x", [], {}]))
@settings(max_examples=5)
def test_checkpoint_round_trip_and_corrupt_manifest(width, seed, field, junk):
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "m.safetensors"
        model = MLP((2, width, 1), rngs=nnx.Rngs(seed))
        C.save_checkpoint(path, model, config={"width": width})
        assert C.verify_checkpoint(path)["config"] == {"width": width}
        other = MLP((2, width, 1), rngs=nnx.Rngs(seed + 1))
        C.load_checkpoint(path, other, expected_config={"width": width})
        x = np.ones((3, 2), np.float32)
        assert np.allclose(finite(other(x), (3, 1)), model(x))
        refused(C.load_checkpoint, "width", path, other, expected_config={"width": width + 1})
        manifest = json.loads(C.manifest_path(path).read_text())
        manifest[field] = junk
        C.manifest_path(path).write_text(json.dumps(manifest))
        err = refused(C.load_checkpoint, ("manifest", field, "checkpoint"), path, other)
        assert isinstance(err, (C.CheckpointError, TypeError, ValueError))


@given(bad=st.sampled_from([None, 3, b"m.msgpack", "m.pt", "m.safetensors.bak", ["m.msgpack"]]))
def test_checkpoint_bad_path(bad):
    refused(C.manifest_path, "path", bad)
    refused(C.save_checkpoint, "path", bad, MLP((1, 1), rngs=nnx.Rngs(0)), config={})
    refused(C.read_manifest, "path", bad)


def test_checkpoint_bad_model_and_config():
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "m.safetensors"
        refused(C.save_checkpoint, "model", path, "model", config={})
        refused(C.save_checkpoint, "config", path, MLP((1, 1), rngs=nnx.Rngs(0)), config={"a": np.zeros(2)})
        refused(C.save_checkpoint, "config", path, MLP((1, 1), rngs=nnx.Rngs(0)), config={"a": float("nan")})
        try:  # a missing file is an OSError that names the path
            C.load_checkpoint(path, MLP((1, 1), rngs=nnx.Rngs(0)))
        except FileNotFoundError as err:
            assert str(path) in str(err)
        else:
            raise AssertionError("missing checkpoint accepted")


@covers("course_lib.plotting.new_figure", "course_lib.plotting.figure_to_png",
        "course_lib.plotting.image_to_png", "course_lib.plotting.image_grid",
        "course_lib.plotting.scatter_2d", "course_lib.plotting.grid_points",
        "course_lib.plotting.density_heatmap", "course_lib.plotting.loss_curves")
@given(ncols=st.integers(1, 3), res=st.integers(2, 30), lim=st.floats(0.5, 5), n=st.integers(1, 12))
@settings(max_examples=4)
def test_plotting_valid(ncols, res, lim, n):
    fig, axes = PL.new_figure(ncols)
    assert len(axes) == ncols
    xx, yy, pts = PL.grid_points(lim, res)
    finite(pts, (res * res, 2))
    PL.scatter_2d(axes[0], pts, limits=lim)
    PL.density_heatmap(axes[0], lambda p: -np.sum(p**2, axis=1), limits=lim, resolution=res, log=True)
    assert PL.figure_to_png(fig, dpi=20)[:4] == b"\x89PNG"
    assert PL.image_to_png(np.random.default_rng(n).random((4, 5)), scale=2)[:4] == b"\x89PNG"
    g = PL.image_grid(np.zeros((n, 16)), (4, 4), ncols=4)
    h = History()
    h.append({"loss": np.arange(n, dtype=float)})
    PL.loss_curves(h, ["loss"], ax=axes[0])
    plt.close("all")
    good()


@given(bad_n=BAD_COUNTS, bad_f=BAD_POSITIVE_FLOATS, bad_a=NOT_ARRAYS)
@settings(max_examples=6)
def test_plotting_bad(bad_n, bad_f, bad_a):
    fig, (ax,) = PL.new_figure(1)
    refused(PL.new_figure, "ncols", bad_n)
    refused(PL.new_figure, "size", 1, size="big")
    refused(PL.figure_to_png, "fig", "fig")
    refused(PL.figure_to_png, "dpi", fig, dpi=bad_n)
    refused(PL.image_to_png, "image", bad_a)
    refused(PL.image_to_png, "image", np.zeros((2, 2, 2)))
    refused(PL.image_to_png, "scale", np.zeros((2, 2)), scale=bad_n)
    refused(PL.image_grid, "images", np.zeros((2, 15)), (4, 4))
    refused(PL.image_grid, "ncols", np.zeros((2, 16)), (4, 4), ncols=bad_n)
    refused(PL.scatter_2d, "x", ax, np.zeros((3, 3)))
    refused(PL.scatter_2d, "ax", None, np.zeros((3, 2)))
    refused(PL.grid_points, "limits", bad_f)
    refused(PL.grid_points, "resolution", 1.0, bad_n)
    refused(PL.density_heatmap, "fn", ax, None, limits=1.0)
    refused(PL.density_heatmap, "fn", ax, lambda p: np.zeros(3), limits=1.0, resolution=4)
    refused(PL.loss_curves, "history", None, ["loss"])
    h = History()
    h.append({"loss": [1.0]})
    refused(PL.loss_curves, "keys", h, ["nope"])
    refused(PL.loss_curves, "keys", h, "loss")
    plt.close("all")


@covers("course_lib.info.versions", "course_lib.info.datasets_offline", "course_lib.info.checkpoints",
        "course_lib.info.report", "course_lib.paths.data_dir", "course_lib.paths.checkpoint_dir")
def test_info_and_paths():
    assert isinstance(info.versions(), dict) and isinstance(info.datasets_offline(), dict)
    assert isinstance(info.checkpoints(), dict) and "jax" in info.report()
    assert isinstance(paths.data_dir(), pathlib.Path) and isinstance(paths.checkpoint_dir(), pathlib.Path)
    refused(info.versions, "packages", 3)
    refused(info.versions, "packages", "jax")
    good()
