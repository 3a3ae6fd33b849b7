"""Benchmark 3: kernel-side latency of the live widgets.

A widget's latency is the time from a control's change to the end of its callback (the
new picture is in the Image widget; sending the bytes to the browser is not counted).
Callbacks run synchronously when a trait is set, so the benchmark sets the control and
reads the clock around it (``wall_ms``); it also reports the widget's own ``Timer``
(``timer_ms``), which covers the work inside the callback.

- Latent explorer (04_vae, ``course_lib.widgets.latent``): one update after moving the
  latent point. Target: 30 ms median.
- GAN lab (05_gan, ``course_lib.widgets.gan_lab``): one frame (a burst of training steps
  and a redraw of the four views). Target: 10 frames/s, i.e. a frame within 100 ms.
- Live sampler and attention viewer (09_language_models, ``course_lib.widgets.language``): one
  update after moving the temperature / typing a new name. Target: 50 ms median.

The first interactions (compilation) are timed separately as ``first_ms``.
"""
from __future__ import annotations

import dataclasses
import importlib
import time

from benchmarks import _common

TARGETS = {"latent_explorer_median_ms": 30.0, "gan_lab_frames_per_s": 10.0, "language_widgets_median_ms": 50.0}


@dataclasses.dataclass(frozen=True)
class Config:
    num_updates: int = 50  # timed interactions per widget
    warmup: int = 2  # untimed interactions first (compilation)
    quick: bool = False  # tiny untrained models instead of the pretrained ones (smoke test)


FULL = Config()
QUICK = Config(num_updates=3, warmup=1, quick=True)


def _time_interactions(interact, num_updates: int, warmup: int) -> tuple[list[float], list[float]]:
    first, wall = [], []
    for i in range(warmup + num_updates):
        start = time.perf_counter()
        interact(i)
        ms = 1000 * (time.perf_counter() - start)
        (first if i < warmup else wall).append(ms)
    return first, wall


def _status_error(panel) -> str | None:
    status = getattr(panel, "status", None)
    if status is not None and "color:#b00020" in getattr(status, "value", ""):
        return status.text
    return None


def gan_lab_frames(cfg: Config) -> dict:
    """Latency of one GAN-lab frame (the Step button), with the lab's default settings."""
    try:
        module = importlib.import_module("course_lib.widgets.gan_lab")
    except ImportError as err:
        return {"skipped": f"course_lib.widgets.gan_lab is not available ({err})"}
    panel = module.gan_lab(seed=0)
    button = panel.controls["step"]
    first, wall = _time_interactions(lambda i: button.click(), cfg.num_updates, cfg.warmup)
    timer = list(panel.timer.samples_ms)[-cfg.num_updates:]
    wall_summary = _common.summarize(wall)
    interval = panel.controls["play"].interval
    return {"steps_per_frame": panel.controls["steps_per_frame"].value, "play_interval_ms": interval,
            "first_ms": first, "wall_ms": wall_summary, "timer_ms": _common.summarize(timer),
            "frames_per_s_kernel": 1000.0 / wall_summary["median"],
            "frames_per_s_with_play_interval": 1000.0 / max(wall_summary["median"], interval),
            "status_error": _status_error(panel)}


def _latent_models(module, quick: bool):
    """The pretrained 2-D MNIST-5k VAEs of 04_vae, or an untrained one (quick, or no checkpoints)."""
    from flax import nnx

    from course_lib.models import VAE

    if not quick:
        try:
            return module.load_pretrained(), "pretrained checkpoints"
        except Exception as err:  # noqa: BLE001 - measure on an untrained model of the same size instead
            note = f"untrained stand-in ({type(err).__name__}: {err})"
            return {1.0: VAE(784, 2, (512, 256), likelihood="bernoulli", rngs=nnx.Rngs(0))}, note
    return {1.0: VAE(784, 2, (16,), likelihood="bernoulli", rngs=nnx.Rngs(0))}, "untrained tiny model (quick)"


def latent_explorer_updates(cfg: Config) -> dict:
    """Latency of one latent-explorer update: moving the ``z1`` slider by one position."""
    import numpy as np

    try:
        module = importlib.import_module("course_lib.widgets.latent")
    except ImportError as err:
        return {"skipped": f"course_lib.widgets.latent is not available ({err})"}
    x, y = _common.mnist5k_binary("test"), _common.mnist5k_labels("test")
    if cfg.quick:
        x, y = x[:50], y[:50]
    models, source = _latent_models(module, cfg.quick)
    beta = 1.0 if 1.0 in models else sorted(models)[0]
    panel = module.latent_explorer(models, x, y, (28, 28), beta=beta)
    slider = panel.controls["z1"]
    # The path of 04_vae's timing cell: z1 swept across the square, one slider position at a time.
    values = np.linspace(-2.5, 2.5, max(cfg.num_updates + cfg.warmup, 2))

    def interact(i):
        slider.value = float(values[i % len(values)])

    first, wall = _time_interactions(interact, cfg.num_updates, cfg.warmup)
    timer = list(panel.timer.samples_ms)[-cfg.num_updates:]
    return {"models": source, "first_ms": first, "wall_ms": _common.summarize(wall),
            "timer_ms": _common.summarize(timer), "status_error": _status_error(panel)}


def language_widget_updates(cfg: Config) -> dict:
    """Latency of 09's live sampler (temperature slider moved) and attention viewer (a new name)."""
    from flax import nnx

    from course_lib.data import text
    from course_lib.models.language import Transformer
    from course_lib.reproduce import text_ladder
    from course_lib.widgets import language

    vocab = text.load_text_splits()["vocab"]
    try:
        model, source = text_ladder.load_language_model("transformer")[0], "pretrained checkpoint"
    except Exception as err:  # noqa: BLE001 - measure an untrained model of the same size instead
        model, source = Transformer(vocab.size, width=48, rngs=nnx.Rngs(0)), f"untrained ({type(err).__name__})"
    if cfg.quick:
        model, source = Transformer(vocab.size, width=16, num_heads=2, num_layers=1, rngs=nnx.Rngs(0)), "tiny (quick)"
    sampler = language.live_sampler(model, vocab, prefix="ma")
    temperatures = [0.5 + 0.05 * (i % 30) for i in range(cfg.num_updates + cfg.warmup)]
    s_first, s_wall = _time_interactions(lambda i: setattr(sampler.controls["temperature"], "value", temperatures[i]),
                                         cfg.num_updates, cfg.warmup)
    viewer = language.attention_viewer(model, vocab)
    words = ["anna", "isabella", "kristofer", "joe", "maria", "zoe"]
    v_first, v_wall = _time_interactions(lambda i: setattr(viewer.controls["word"], "value", words[i % 6] + "s" * (i % 2)),
                                         cfg.num_updates, cfg.warmup)
    return {"model": source,
            "sampler": {"first_ms": s_first, "wall_ms": _common.summarize(s_wall), "status_error": _status_error(sampler)},
            "attention": {"first_ms": v_first, "wall_ms": _common.summarize(v_wall), "status_error": _status_error(viewer)}}


def run(cfg: Config = FULL) -> dict:
    latent = latent_explorer_updates(cfg)
    lab = gan_lab_frames(cfg)
    lang = language_widget_updates(cfg)
    meets = {"language_widgets_median_ms": max(lang["sampler"]["wall_ms"]["median"],
                                               lang["attention"]["wall_ms"]["median"]) <= 50.0}
    if "wall_ms" in latent:
        meets["latent_explorer_median_ms"] = latent["wall_ms"]["median"] <= TARGETS["latent_explorer_median_ms"]
    if "wall_ms" in lab:
        meets["gan_lab_frames_per_s"] = lab["frames_per_s_kernel"] >= TARGETS["gan_lab_frames_per_s"]
    from benchmarks import widgets_vector_field  # 08_vector_fields' lab and guidance explorer

    fields = widgets_vector_field.run(cfg, _time_interactions, _common.summarize, _status_error)
    return {"latent_explorer": latent, "gan_lab": lab, "vector_fields": fields, "language": lang, "targets": TARGETS, "meets_targets": meets}
