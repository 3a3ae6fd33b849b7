"""Properties of the storage and lab modules added by the restructuring: checkpoints' writer and
``load_model``, ``model_state``, ``pretrained``, ``plotting.png_bytes``, ``data.load_vae_data``,
``lessons.games.dirac_gan``, ``models.ToyGenerator`` and ``training.gan_lab_session``."""
from __future__ import annotations

import math
import pathlib
import tempfile

import numpy as np
from flax import nnx
from hypothesis import given, settings, strategies as st

from course_lib import checkpoints as C
from course_lib import model_state as MS
from course_lib import plotting as PL
from course_lib import pretrained as PT
from course_lib.data import load_vae_data
from course_lib.lessons import games as G
from course_lib.models import MLP, ToyGenerator
from course_lib.training import gan_lab as LAB
from course_lib.training import gan_lab_session as S
from prop_harness import (BAD_COUNTS, BAD_FINITE_FLOATS, BAD_KEYS, BAD_POSITIVE_FLOATS, BAD_STRINGS, NOT_ARRAYS,
                          covers, finite, good, key, refused)


@covers("course_lib.checkpoints.encode_arrays", "course_lib.checkpoints.write_checkpoint",
        "course_lib.checkpoints.load_model", "course_lib.model_state.SAVED", "course_lib.model_state.array_info",
        "course_lib.model_state.flat_variables", "course_lib.model_state.is_variable",
        "course_lib.model_state.key_to_str", "course_lib.model_state.path_to_name",
        "course_lib.model_state.variable_type", "course_lib.model_state.variable_value")
@given(width=st.integers(1, 5), seed=st.integers(0, 50))
@settings(max_examples=3)
def test_load_model_round_trip(width, seed):
    model = MLP((2, width, 1), rngs=nnx.Rngs(seed))
    names, variables, _ = MS.flat_variables(model)
    assert names and all(MS.is_variable(v) for v in variables) and "/" in names[0]
    assert all(issubclass(MS.variable_type(v), nnx.Param) for v in variables)
    assert all(MS.array_info(v)["shape"] == list(np.shape(MS.variable_value(v))) for v in variables)
    assert isinstance(C.encode_arrays({n: np.asarray(MS.variable_value(v)) for n, v in zip(names, variables)}), bytes)
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "m.safetensors"
        gen = ToyGenerator(2, 2, (width,), scale=1.5, rngs=nnx.Rngs(seed))
        C.save_checkpoint(path, gen, config=gen.config)
        loaded, manifest = C.load_model(path)
        assert type(loaded) is ToyGenerator and manifest["format_version"] >= 2
        assert np.allclose(finite(loaded.sample(key(), 3), (3, 2)), gen.sample(key(), 3))
        refused(C.load_model, "scale", path, expected_config={**gen.config, "scale": 2.0})
        flat = {"w": np.zeros((2, 2), np.float32)}
        C.write_checkpoint(path, flat, config={"model": "nope"}, metadata={}, param_count=4, arrays={}, versions={})
        refused(C.load_model, ("nope", "model"), path)  # a config no registered class can build
        refused(C.write_checkpoint, "path", pathlib.Path(tmp) / "old.msgpack", flat, config={}, metadata={},
                param_count=4, arrays={}, versions={})
        refused(C.save_checkpoint, ("msgpack", "path"), pathlib.Path(tmp) / "old.msgpack", model, config={})
    assert MS.key_to_str("a") == "a" and MS.path_to_name(()) == ""


@given(bad=st.sampled_from([None, "x", 3, [np.zeros(2)], {1: np.zeros(2)}, {"a": "b"}, {"a": [1.0, 2.0]},
                            {"a": np.array(["s"])}]))
def test_encode_arrays_and_flat_variables_bad(bad):
    refused(C.encode_arrays, "flat", bad)
    refused(MS.flat_variables, "model", bad)
    refused(C.load_model, "path", 3)


@covers("course_lib.pretrained.Pretrained", "course_lib.pretrained.beta_vae", "course_lib.pretrained.path",
        "course_lib.pretrained.load")
@given(beta=st.sampled_from(PT.VAE_BETAS), bad_name=BAD_STRINGS, bad_beta=BAD_POSITIVE_FLOATS)
@settings(max_examples=3)
def test_pretrained(beta, bad_name, bad_beta):
    name = PT.beta_vae(beta)
    assert name in PT.CHECKPOINTS and isinstance(PT.CHECKPOINTS[name], PT.Pretrained)
    where = PT.path(name)
    assert where.suffix == ".safetensors"
    if where.is_file():
        model, manifest = PT.load(name)
        assert manifest["config"]["model"] == type(model).__name__
    good()
    refused(PT.beta_vae, "beta", bad_beta)
    refused(PT.path, "name", bad_name)
    refused(PT.load, "name", bad_name)


@covers("course_lib.plotting.png_bytes")
@given(h=st.integers(1, 12), w=st.integers(1, 12), rgb=st.booleans())
@settings(max_examples=4)
def test_png_bytes(h, w, rgb):
    pixels = np.arange(h * w * (3 if rgb else 1)).reshape((h, w, 3) if rgb else (h, w)) % 256
    assert PL.png_bytes(pixels)[:8] == b"\x89PNG\r\n\x1a\n"
    good()


@given(bad=st.sampled_from([None, "px", np.zeros((4, 4)), np.zeros((4, 4, 2), np.int32), np.full((2, 2), 300),
                            np.full((2, 2), -1), np.zeros(4, np.int32)]))
def test_png_bytes_bad(bad):
    refused(PL.png_bytes, "pixels", bad)


@covers("course_lib.data.load_vae_data")
@given(bad=BAD_STRINGS)
@settings(max_examples=3)
def test_load_vae_data(bad):
    data = load_vae_data("digits")
    assert data["train"].dtype == np.int32 and data["train"].max() <= 16 and data["num_levels"] == 17
    finite(data["val"].astype(np.float32), (data["val"].shape[0], 64))
    refused(load_vae_data, "dataset", bad)


@covers("course_lib.lessons.games.dirac_gan")
@given(theta=st.floats(-3, 3), psi=st.floats(-3, 3), lr=st.floats(0.01, 1.0), n=st.integers(1, 100),
       mode=st.sampled_from(G.UPDATES), gamma=st.floats(0.0, 2.0))
def test_dirac_gan(theta, psi, lr, n, mode, gamma):
    path = finite(G.dirac_gan(theta, psi, lr=lr, num_steps=n, mode=mode, r1_gamma=gamma), (n + 1, 2))
    assert path[0, 0] == theta and path[0, 1] == psi


@given(bad_x=BAD_FINITE_FLOATS, bad_lr=BAD_POSITIVE_FLOATS, bad_n=BAD_COUNTS, bad_mode=BAD_STRINGS)
def test_dirac_gan_bad(bad_x, bad_lr, bad_n, bad_mode):
    refused(G.dirac_gan, "theta", bad_x, 0.0, lr=0.1, num_steps=3)
    refused(G.dirac_gan, "psi", 0.0, bad_x, lr=0.1, num_steps=3)
    refused(G.dirac_gan, "lr", 1.0, 0.0, lr=bad_lr, num_steps=3)
    refused(G.dirac_gan, "num_steps", 1.0, 0.0, lr=0.1, num_steps=bad_n)
    refused(G.dirac_gan, "mode", 1.0, 0.0, lr=0.1, num_steps=3, mode=bad_mode)
    refused(G.dirac_gan, "r1_gamma", 1.0, 0.0, lr=0.1, num_steps=3, r1_gamma=-1.0)


@covers("course_lib.models.ToyGenerator")
@given(noise=st.integers(1, 3), n=st.integers(1, 20), scale=st.floats(0.1, 5.0))
@settings(max_examples=4)
def test_toy_generator(noise, n, scale):
    g = ToyGenerator(noise, 2, (8,), scale=scale, rngs=nnx.Rngs(0))
    x = finite(g.sample(key(), n), (n, 2))
    assert isinstance(x, np.ndarray) and g.config["scale"] == scale
    assert np.allclose(ToyGenerator.from_generator(g, scale).sample(key(), n), x, atol=1e-6)


@given(bad_key=BAD_KEYS, bad_n=BAD_COUNTS, bad_scale=BAD_POSITIVE_FLOATS)
def test_toy_generator_bad(bad_key, bad_n, bad_scale):
    refused(lambda: ToyGenerator(2, 2, (4,), scale=bad_scale, rngs=nnx.Rngs(0)), "scale")
    g = ToyGenerator(2, 2, (4,), rngs=nnx.Rngs(0))
    refused(g.sample, "key", bad_key, 4)
    refused(g.sample, "num_samples", key(), bad_n)
    refused(ToyGenerator.from_generator, "generator", "G", 1.0)


_SMALL = S.LAB_DEFAULTS.replace(g_hidden=(8,), d_hidden=(8,), batch_size=16)


@covers("course_lib.training.gan_lab_session.LabSession", "course_lib.training.gan_lab_session.LabView",
        "course_lib.training.gan_lab_session.LabProbes", "course_lib.training.gan_lab_session.make_probes",
        "course_lib.training.gan_lab_session.lab_snapshot")
@given(n=st.integers(1, 4), mode=st.sampled_from(LAB.LAB_MODES))
@settings(max_examples=2)
def test_lab_session(n, mode):
    lab = S.LabSession(_SMALL, seed=1)
    lab.advance(n, mode)
    assert lab.step == (n if mode == "both" else lab.step) and lab.step <= n
    view = lab.snapshot()
    assert isinstance(view, S.LabView)
    finite(view.x_fake, view.x_real.shape)
    finite(view.d_grid)
    probes = S.make_probes(_SMALL, num_points=10, num_lines=3, points_per_line=4, resolution=5)
    assert isinstance(probes, S.LabProbes)
    v = S.lab_snapshot(lab.steps, lab.state, probes, num_arrows=3)
    finite(v.x_fake, (10, 2))
    finite(v.d_grid, (5, 5))
    finite(v.push, (3, 2))


@given(bad_n=BAD_COUNTS, bad_mode=BAD_STRINGS, bad=NOT_ARRAYS)
@settings(max_examples=4)
def test_lab_session_bad(bad_n, bad_mode, bad):
    refused(S.LabSession, "config", "ring")
    refused(S.LabSession, "seed", _SMALL, seed=-1)
    refused(S.make_probes, "config", bad)
    refused(S.make_probes, "num_points", _SMALL, num_points=bad_n)
    refused(S.make_probes, "seed", _SMALL, seed=-1)
    lab = _lab()
    refused(lab.advance, "num_steps", bad_n if bad_n != 10**12 else 10**9)
    refused(lab.advance, "mode", 1, bad_mode)
    refused(S.lab_snapshot, "steps", bad, lab.state, lab.probes)
    refused(S.lab_snapshot, "state", lab.steps, bad, lab.probes)
    refused(S.lab_snapshot, "probes", lab.steps, lab.state, bad)
    refused(S.lab_snapshot, "num_arrows", lab.steps, lab.state, lab.probes, num_arrows=bad_n)
    if bad_mode is not None:  # None means the session's own loss
        refused(S.lab_snapshot, "loss", lab.steps, lab.state, lab.probes, loss=bad_mode)


_LAB = []


def _lab():
    if not _LAB:
        _LAB.append(S.LabSession(_SMALL))
    return _LAB[0]
