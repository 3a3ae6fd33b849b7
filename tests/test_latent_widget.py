"""Tests for course_lib.widgets.latent: the pure render pieces, the PNG encoder, the live
widget driven by its controls, checkpoint loading and bad input."""
from __future__ import annotations

import io
import shutil

import jax
import matplotlib.image
import numpy as np
import pytest
from flax import nnx
from matplotlib.figure import Figure

from course_lib import checkpoints, plotting
from course_lib.checkpoints import CheckpointError
from course_lib.models import VAE
from course_lib.widgets import latent


@pytest.fixture(scope="module")
def small():
    """Two untrained 2-D VAEs on 8x8 images (fast), and fake test data."""
    models = {0.5: VAE(64, 2, (16,), likelihood="bernoulli", rngs=nnx.Rngs(0)),
              1.0: VAE(64, 2, (16,), likelihood="bernoulli", rngs=nnx.Rngs(1))}
    x = np.asarray(jax.random.bernoulli(jax.random.key(0), 0.3, (40, 64)), np.float32)
    y = np.arange(40, dtype=np.int32) % 10
    return models, x, y


@pytest.fixture(scope="module")
def decoder(small):
    return latent.LatentDecoder(small[0][1.0], (8, 8))


def png_pixels(data: bytes) -> np.ndarray:
    return matplotlib.image.imread(io.BytesIO(data), format="png")  # Pillow's decoder, floats in [0, 1]


def test_decoder_matches_model_and_compiles_once(small, decoder):
    model = small[0][1.0]
    z = np.array([[0.3, -1.2], [2.0, 0.5]], np.float32)
    expected = np.asarray(model.decode_mean(z)).reshape(2, 8, 8)
    np.testing.assert_allclose(decoder(z), expected, rtol=1e-5, atol=1e-6)
    one = decoder([0.3, -1.2])
    assert one.shape == (8, 8)
    np.testing.assert_allclose(one, expected[0], rtol=1e-5, atol=1e-6)
    traces = decoder.num_traces
    for v in np.linspace(-2, 2, 5):
        decoder(np.array([v, v], np.float32))
    assert decoder.num_traces == traces  # single points reuse one compilation


def test_decoder_rejects_bad_latents(decoder, small):
    with pytest.raises(ValueError, match=r"z must have 2 values .* z_dim=2, got shape \(3,\)"):
        decoder([0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"got shape \(4, 5\)"):
        decoder(np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="NaN or infinite"):
        decoder([np.nan, 0.0])
    with pytest.raises(TypeError, match="numbers"):
        decoder(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="784 pixels but the VAE has x_dim=64"):
        latent.LatentDecoder(small[0][1.0], (28, 28))
    with pytest.raises(TypeError, match="course_lib.models.VAE"):
        latent.LatentDecoder(object(), (8, 8))


def test_rgb_png_round_trip():
    rgb = np.asarray(jax.random.randint(jax.random.key(1), (7, 5, 3), 0, 256), np.uint8)
    decoded = png_pixels(plotting.png_bytes(rgb))
    np.testing.assert_array_equal(np.round(decoded[..., :3] * 255).astype(np.uint8), rgb)
    with pytest.raises(ValueError, match="3 channels"):
        plotting.png_bytes(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="0..255"):
        plotting.png_bytes(np.full((2, 2), 300))


def test_code_scatter_figure(small):
    _, x, y = small
    codes = latent.encode_means(small[0][1.0], x)
    assert codes.shape == (40, 2)
    np.testing.assert_allclose(codes, np.asarray(small[0][1.0].encode(x)[0]), rtol=1e-5, atol=1e-6)
    fig = latent.render_code_scatter(codes, y, z=[0.5, 0.5], path=np.zeros((3, 2)))
    assert isinstance(fig, Figure)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == [str(d) for d in range(10)]
    with pytest.raises(ValueError, match=r"codes must have shape \(\*, 2\)"):
        latent.render_code_scatter(np.zeros((4, 3)), y[:4])
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        latent.render_code_scatter(np.zeros((4, 2)), y)


def test_code_map_places_marker_where_the_axes_say(small):
    _, x, y = small
    cmap = latent.CodeMap(np.zeros((40, 2)), y, limits=3.0)
    fig = latent.render_code_scatter(np.zeros((40, 2)), y, limits=3.0)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.set_dpi(80)
    fig.canvas.draw()
    box = fig.axes[0].get_window_extent()  # display pixels, origin bottom-left
    h = cmap.rgb.shape[0]
    np.testing.assert_allclose(cmap.pixel([-3.0, -3.0]), (h - box.y0, box.x0), atol=1.0)
    np.testing.assert_allclose(cmap.pixel([3.0, 3.0]), (h - box.y1, box.x1), atol=1.0)
    plain = png_pixels(cmap.png())
    marked = png_pixels(cmap.png(z=[1.5, -1.0]))
    changed = np.argwhere(np.any(plain != marked, axis=-1))
    r, c = cmap.pixel([1.5, -1.0])
    assert len(changed) > 20
    assert np.all(np.abs(changed[:, 0] - r) <= 10) and np.all(np.abs(changed[:, 1] - c) <= 10)
    np.testing.assert_array_equal(png_pixels(cmap.png(z=[50.0, 50.0])), plain)  # far outside: nothing drawn


def test_interpolation_and_manifold(decoder):
    images, zs = latent.render_interpolation(decoder, [-1.0, 0.0], [1.0, 2.0], num_steps=5)
    assert images.shape == (5, 8, 8) and zs.shape == (5, 2)
    np.testing.assert_allclose(zs[2], [0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(images[0], decoder([-1.0, 0.0]), atol=1e-6)
    np.testing.assert_allclose(images[-1], decoder([1.0, 2.0]), atol=1e-6)
    canvas = latent.manifold_canvas(decoder, limits=2.0, n=4)
    assert canvas.shape == (32, 32)
    np.testing.assert_allclose(canvas[:8, :8], decoder([-2.0, 2.0]), atol=1e-6)  # top-left: z1 low, z2 high
    np.testing.assert_allclose(canvas[-8:, -8:], decoder([2.0, -2.0]), atol=1e-6)
    assert isinstance(latent.render_manifold(decoder, limits=2.0, n=4), Figure)
    with pytest.raises(ValueError, match="num_steps must be an integer >= 2"):
        latent.render_interpolation(decoder, [0.0, 0.0], [1.0, 1.0], num_steps=1)
    with pytest.raises(ValueError, match="z must have 2 values"):
        latent.render_interpolation(decoder, [0.0], [1.0, 1.0])


def test_widget_follows_its_controls(small):
    models, x, y = small
    panel = latent.latent_explorer(models, x, y, (8, 8), beta=1.0)
    assert set(panel.controls) == {"z1", "z2", "beta", "index_a", "index_b"}
    assert set(panel.images) == {"decoded", "codes", "interpolation", "manifold"}
    assert "live widget" in repr(panel)
    before = {k: im.value for k, im in panel.images.items()}
    n = len(panel.timer.samples_ms)
    panel.controls["z1"].value = 1.5
    assert panel.image.value != before["decoded"] and panel.images["codes"].value != before["codes"]
    assert len(panel.timer.samples_ms) == n + 1
    assert "z = (+1.50, +0.00)" in panel.status.text
    np.testing.assert_allclose(png_pixels(panel.image.value)[::6, ::6], 1 - models[1.0].decode_mean(
        np.array([[1.5, 0.0]], np.float32)).reshape(8, 8), atol=1 / 255 + 1e-6)  # PNG shows dark ink on white
    panel.controls["index_b"].value = 7
    assert panel.images["interpolation"].value != before["interpolation"]
    panel.controls["beta"].value = 0.5
    assert panel.images["manifold"].value != before["manifold"]
    assert "beta = 0.5" in panel.status.text


def test_widget_reports_errors_in_status(small, monkeypatch):
    models, x, y = small
    panel = latent.latent_explorer(models, x, y, (8, 8))
    shown = panel.image.value

    def broken(*args, **kwargs):
        raise ValueError("cannot draw this")

    monkeypatch.setattr(latent.plotting, "image_to_png", broken)
    panel.controls["z2"].value = -2.0  # must not raise
    assert "cannot draw this" in panel.status.text  # plain words (widgets.core.plain_message)
    assert panel.image.value == shown  # the last good picture stays


def test_widget_bad_arguments(small):
    models, x, y = small
    with pytest.raises(TypeError, match="non-empty dict"):
        latent.latent_explorer({}, x, y, (8, 8))
    with pytest.raises(ValueError, match="z_dim=2, got VAE with z_dim=3"):
        latent.latent_explorer({1.0: VAE(64, 3, (8,), rngs=nnx.Rngs(0))}, x, y, (8, 8))
    with pytest.raises(ValueError, match=r"beta must be one of the models' betas \[0.5, 1.0\], got 2.0"):
        latent.latent_explorer(models, x, y, (8, 8), beta=2.0)
    with pytest.raises(ValueError, match="index_b must be in 0..39, got 40"):
        latent.latent_explorer(models, x, y, (8, 8), index_b=40)
    with pytest.raises(ValueError, match=r"y must have shape \(40,\)"):
        latent.latent_explorer(models, x, y[:5], (8, 8))


@pytest.fixture
def saved_vae(tmp_path):
    model = VAE(64, 2, (16,), likelihood="bernoulli", rngs=nnx.Rngs(3))
    path = tmp_path / "vae.safetensors"
    checkpoints.save_checkpoint(path, model, config=model.config, metadata={"beta": 1.0})
    return model, path


def test_load_model_round_trip_of_a_vae(saved_vae):
    model, path = saved_vae
    loaded, manifest = checkpoints.load_model(path, expected_config=model.config)
    z = np.array([[0.1, 0.2]], np.float32)
    np.testing.assert_array_equal(np.asarray(loaded.decode_mean(z)), np.asarray(model.decode_mean(z)))
    assert manifest["metadata"] == {"beta": 1.0} and loaded.config == model.config


def test_load_model_refuses_other_architecture_and_corruption(saved_vae, tmp_path):
    model, path = saved_vae
    other = VAE(64, 3, (16,), likelihood="bernoulli", rngs=nnx.Rngs(0))
    with pytest.raises(CheckpointError, match="different config; differing keys: z_dim: saved 2, expected 3"):
        checkpoints.load_model(path, expected_config=other.config)
    with pytest.raises(CheckpointError, match="does not match the model"):
        checkpoints.load_checkpoint(path, other)
    bad = tmp_path / "bad.safetensors"
    shutil.copy(path, bad)
    shutil.copy(checkpoints.manifest_path(path), checkpoints.manifest_path(bad))
    raw = bytearray(bad.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bad.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="corrupted"):
        checkpoints.load_model(bad)
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        checkpoints.load_model(tmp_path / "missing.safetensors")
    not_vae = tmp_path / "mlp.safetensors"
    checkpoints.save_checkpoint(not_vae, nnx.Linear(2, 2, rngs=nnx.Rngs(0)), config={"model": "Linear"})
    with pytest.raises(CheckpointError, match="unknown model 'Linear'"):
        checkpoints.load_model(not_vae)
