"""Tests for the GAN lab: the engine (course_lib.training.gan_lab) and the widget
(course_lib.widgets.gan_lab). One tiny configuration is shared, so everything compiles once."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from matplotlib.figure import Figure

from course_lib import checkpoints, losses, plotting
from course_lib.training import DivergenceError
from course_lib.training import gan_lab as engine
from course_lib.training import gan_lab_session as session
from course_lib.widgets import gan_lab as lab_widget

# Packing, a scale and R1 are on, so that one compilation of the burst covers every feature.
TINY = engine.LabConfig(target="ring", g_hidden=(16,), d_hidden=(16,), batch_size=16, g_lr=1e-2, d_lr=1e-2,
                        pack=2, scale=1.5, r1_gamma=0.5)


@pytest.fixture(scope="module")
def steps():
    return engine.make_lab_steps(TINY)


def _params_equal(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize("changes,error,match", [
    ({"g_lr": -1e-3}, ValueError, "g_lr must be a finite number > 0"),
    ({"d_lr": 0.0}, ValueError, "d_lr must be a finite number > 0"),
    ({"d_steps": 0}, ValueError, "d_steps must be an integer >= 1"),
    ({"loss": "wasserstein"}, ValueError, "unknown loss 'wasserstein'"),
    ({"target": "spiral"}, ValueError, "unknown target 'spiral'"),
    ({"optimizer": "adagrad"}, ValueError, "unknown optimizer"),
    ({"noise_dim": 0}, ValueError, "noise_dim must be an integer >= 1"),
    ({"noise_dim": 2.5}, TypeError, "noise_dim must be an integer"),
    ({"target_params": (("radius", -1.0),)}, ValueError, "radius"),
    ({"target_params": (("spacing", 1.0),)}, ValueError, "unknown parameter"),
    ({"num_steps": 10, "decay_steps": 20}, ValueError, "decay_steps"),
    ({"pack": 0}, ValueError, "pack must be"),
])
def test_config_rejects_bad_hyperparameters(changes, error, match):
    with pytest.raises(error, match=match):
        TINY.replace(**changes)


def test_lr_multiplier_schedule():
    steps_ = jnp.arange(0, 11)
    mult = np.asarray(engine.lr_multiplier(steps_, 10, 4))
    np.testing.assert_allclose(mult, [1, 1, 1, 1, 1, 1, 1, 0.75, 0.5, 0.25, 0.0])
    np.testing.assert_allclose(np.asarray(engine.lr_multiplier(steps_, 0, 0)), np.ones(11))


# --------------------------------------------------------------------------- engine


def test_burst_compiles_once_across_dynamic_changes(steps):
    state = engine.init_lab_state(TINY, jax.random.key(0))
    before = steps.burst.num_traces
    for i, cfg in enumerate([TINY, TINY.replace(g_lr=3e-3, loss="minimax", r1_gamma=2.0),
                             TINY.replace(d_steps=3, loss="least_squares")]):
        for mode in engine.LAB_MODES:
            state, metrics = engine.run_burst(steps, state, jax.random.key(i), 5, mode, cfg)
            assert set(metrics) == set(engine.METRICS) and metrics["d_loss"].shape == (5,)
    assert steps.burst.num_traces - before <= 1  # at most the first call traced
    assert engine.make_lab_steps(TINY.replace(d_lr=1.0)).burst is steps.burst  # cached by static fields


def test_switching_r1_on_recompiles_and_changing_its_weight_does_not():
    off = TINY.replace(r1_gamma=0.0)
    steps_off, steps_on = engine.make_lab_steps(off), engine.make_lab_steps(TINY)
    assert off.static_key != TINY.static_key and steps_off.burst is not steps_on.burst  # a new program
    assert engine.make_lab_steps(TINY.replace(r1_gamma=5.0)).burst is steps_on.burst  # same program
    state = engine.init_lab_state(TINY, jax.random.key(0))
    engine.run_burst(steps_on, state, jax.random.key(1), 3, "both", TINY)
    before = steps_on.burst.num_traces
    _, metrics = engine.run_burst(steps_on, state, jax.random.key(1), 3, "both", TINY.replace(r1_gamma=5.0))
    assert steps_on.burst.num_traces == before and np.all(metrics["r1"] > 0)


def test_modes_update_only_the_chosen_player(steps):
    state = engine.init_lab_state(TINY, jax.random.key(1))
    d_only, _ = engine.run_burst(steps, state, jax.random.key(2), 5, "d")
    assert _params_equal(d_only.g_params, state.g_params) and not _params_equal(d_only.d_params, state.d_params)
    assert int(d_only.step) == 0
    g_only, _ = engine.run_burst(steps, state, jax.random.key(2), 5, "g")
    assert _params_equal(g_only.d_params, state.d_params) and not _params_equal(g_only.g_params, state.g_params)
    assert int(g_only.step) == 5
    with pytest.raises(ValueError, match="unknown mode"):
        engine.run_burst(steps, state, jax.random.key(2), 3, "both players")
    with pytest.raises(ValueError, match="num_steps must be an integer >= 1"):
        engine.run_burst(steps, state, jax.random.key(2), 0)


def test_discriminator_steps_learn_to_separate(steps):
    state = engine.init_lab_state(TINY, jax.random.key(3))
    state, first = engine.run_burst(steps, state, jax.random.key(4), 5, "d")
    for i in range(12):
        state, later = engine.run_burst(steps, state, jax.random.key(5 + i), 5, "d")
    assert later["d_loss"].mean() < first["d_loss"][0]
    assert later["d_real"][-1] > later["d_fake"][-1]


def test_push_is_minus_the_gradient_of_the_generator_loss(steps):
    state = engine.init_lab_state(TINY, jax.random.key(6))
    _, d = engine.players_from_state(steps, state)

    def d_logits(v):  # each point judged as a pack of identical copies, in units of x / scale
        return d(jnp.repeat(v, TINY.pack, axis=0).reshape(-1, 2 * TINY.pack) / TINY.scale)

    x = jnp.array([[0.3, -0.2], [1.5, 0.5]])
    for kind in ("non_saturating", "least_squares"):
        want = -jax.grad(lambda v: jnp.sum(losses.generator_loss(d_logits(v), kind)))(x)
        got = steps.push(state.d_params, x, jnp.int32(losses.GAN_LOSSES.index(kind)))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(steps.discriminate(state.d_params, x), jax.nn.sigmoid(d_logits(x)), rtol=1e-6)


def test_packing_scale_and_r1(steps):
    g, d = engine.build_players(TINY, jax.random.key(0))
    assert d.in_dim == 2 * TINY.pack and g.out_dim == 2
    state = engine.init_lab_state(TINY, jax.random.key(0))
    g = engine.players_from_state(steps, state)[0]
    z = jnp.ones((4, TINY.noise_dim))
    np.testing.assert_allclose(steps.generate(state.g_params, z), TINY.scale * g(z), rtol=1e-6)
    assert steps.discriminate(state.d_params, jnp.zeros((5, 2))).shape == (5,)
    _, metrics = engine.run_burst(steps, state, jax.random.key(1), 5)
    assert np.all(metrics["r1"] > 0) and np.all(np.isfinite(metrics["r1"]))
    _, metrics = engine.run_burst(steps, state, jax.random.key(1), 5, "g")
    assert np.all(metrics["r1"] == 0)  # D is not updated, so no penalty is computed


def test_train_toy_gan_and_generator_checkpoint(tmp_path):
    cfg = TINY.replace(num_steps=20, decay_steps=10)
    s, state, metrics = engine.train_toy_gan(cfg, jax.random.key(0), burst_size=5)
    assert metrics["g_loss"].shape == (20,) and int(state.step) == 20
    x = engine.generate(s, state, jax.random.key(1), 50)
    assert x.shape == (50, 2) and np.all(np.isfinite(x))
    path = tmp_path / "toy.safetensors"
    engine.save_toy_generator(path, s, state, metadata={"note": "test"})
    loaded, manifest = checkpoints.load_model(path)
    assert manifest["config"]["scale"] == cfg.scale and manifest["metadata"] == {"note": "test"}
    np.testing.assert_allclose(loaded.sample(jax.random.key(1), 50), x, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="multiple of burst_size"):
        engine.train_toy_gan(cfg, jax.random.key(0), burst_size=7)


# --------------------------------------------------------------------------- rendering


def test_canvas_draws_where_expected():
    c = lab_widget.Canvas(11, 1.0)
    c.points(np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]]), (1.0, 0.0, 0.0), radius=0)
    img = c.to_uint8()
    assert tuple(img[5, 5]) == (255, 0, 0) and tuple(img[0, 10]) == (255, 0, 0)  # y up: (1, 1) is top right
    assert (img[:, :, 1] == 255).sum() == 11 * 11 - 2  # the off-canvas point is skipped
    c.segments(np.array([[-1.0, -1.0]]), np.array([[1.0, -1.0]]), (0.0, 0.0, 1.0))
    assert np.all(c.to_uint8()[10, :, 2] == 255) and np.all(c.to_uint8()[10, :, 0] == 0)


def test_render_views_and_static_figure(steps):
    state = engine.init_lab_state(TINY, jax.random.key(0))
    probes = session.make_probes(TINY)  # the widget's default sizes: compiled once for all tests
    view = session.lab_snapshot(steps, state, probes, np.linspace(1.5, 1.2, 30), np.linspace(0.6, 0.9, 30))
    images = lab_widget.render_lab_views(view, size=64)
    assert list(images) == list(lab_widget.VIEWS)
    assert all(im.shape == (64, 64, 3) and im.dtype == np.uint8 for im in images.values())
    assert view.x_fake.shape == (300, 2) and view.d_grid.shape == (48, 48) and view.push.shape == (120, 2)
    assert images["discriminator"].std() > 0 and images["losses"].std() > 0
    assert plotting.png_bytes(images["samples"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert isinstance(lab_widget.lab_figure(view, size=64), Figure)
    with pytest.raises(ValueError, match="unknown views"):
        lab_widget.render_lab_views(view, views=("histogram",))
    with pytest.raises(TypeError, match="LabView"):
        lab_widget.render_lab_views({"x": 1})


# --------------------------------------------------------------------------- widget


def _lab():
    return lab_widget.gan_lab(TINY, steps_per_frame=5, size=48)


def test_widget_frames_train_and_redraw():
    panel = _lab()
    assert "press Play" in panel.status.text
    assert repr(panel) == "[GAN lab: a live widget; run the notebook to interact with it]"
    before = {k: im.value for k, im in panel.images.items()}
    for i in range(1, 4):
        panel.controls["play"].value = i
    assert panel.lab.step == 15 and panel.status.text.startswith("step 15: D loss")
    assert all(panel.images[k].value != before[k] for k in ("samples", "discriminator", "losses"))
    assert len(panel.timer.samples_ms) == 3
    panel.controls["step"].click()
    assert panel.lab.step == 20
    panel.controls["reset"].click()
    assert panel.lab.step == 0 and "new players" in panel.status.text


def test_widget_modes_and_settings():
    panel = _lab()
    g_before = panel.lab.state.g_params
    panel.controls["mode"].value = "d"
    panel.controls["step"].click()
    assert _params_equal(panel.lab.state.g_params, g_before) and panel.lab.step == 0
    panel.controls["loss"].value = "least_squares"
    assert panel.lab.config.loss == "least_squares" and "loss = least_squares" in panel.status.text
    panel.controls["target"].value = "moons"
    assert panel.lab.config.target == "moons" and "players kept" in panel.status.text
    panel.controls["noise_dim"].value = 3
    assert panel.lab.config.noise_dim == 3 and "new players" in panel.status.text
    assert panel.lab.step == 0 and panel.lab.state.g_params["net"]["linear_0"]["kernel"].shape == (3, 16)


@pytest.mark.parametrize("control,value,match", [
    ("g_lr", -0.01, "g_lr must be a finite number > 0"),
    ("d_lr", 0.0, "d_lr must be a finite number > 0"),
    ("d_steps", 0, "d_steps must be an integer >= 1"),
    ("noise_dim", 0, "noise_dim must be an integer >= 1"),
    ("steps_per_frame", 0, "steps/frame must be an integer >= 1"),
])
def test_widget_bad_settings_show_a_message_and_keep_the_lab(control, value, match):
    panel = _lab()
    config = panel.lab.config
    panel.controls[control].value = value
    if control == "steps_per_frame":
        panel.controls["step"].click()
    assert match in panel.status.text and "#b00020" in panel.status.value  # shown as an error
    assert panel.lab.config == config
    if control != "steps_per_frame":
        assert "not applied" in panel.status.text


def test_widget_pauses_on_nan():
    panel = _lab()
    lab = panel.lab
    bad = jax.tree_util.tree_map(lambda p: p * jnp.nan, lab.state.d_params)
    lab.state = lab.state._replace(d_params=bad)
    play = panel.controls["play"]
    lab_widget._set_playing(play, True)
    play.value = 1
    assert "diverged" in panel.status.text and "NaN" in panel.status.text
    playing = play.playing if "playing" in play.trait_names() else play._playing
    assert playing is False
    assert lab.step == 0  # the players were not replaced by the NaN ones
    with pytest.raises(DivergenceError, match="smaller learning rates"):
        lab.advance(5)
