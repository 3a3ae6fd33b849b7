"""One run per family of the family table (07_beyond.ipynb): train it, measure it, describe it.

Each ``_run_<family>`` takes a :class:`FamilyRun` (settings, data, keys, the classifier that
scores samples, a ``save`` callback) and returns (model, row, samples in [0, 1], (wall ms,
CPU ms) per sample); :data:`RUNS` names them. The loop over the families, the peer
comparison and the table are in :mod:`course_lib.reproduce.family_table`; the recipes and
measures (settings, trainers, likelihood bounds) are in :mod:`course_lib.reproduce.family_models`.
"""
from __future__ import annotations

import dataclasses
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from course_lib.models import diffusion as dm
from course_lib.models import flow as fl
from course_lib.reproduce.family_models import (
    GAN_SETTINGS,
    NUM_LEVELS,
    bits_per_dim,
    ddpm_bound,
    ddpm_sample,
    flow_nll_bound,
    jit_method,
    made_nll,
    train_ddpm,
    train_flow,
    train_gan_family,
    train_made,
    train_vae_family,
    vae_nll,
    vae_sample_levels,
)


def timed_samples(sample_fn, num_samples: int):
    """Run ``sample_fn(n)`` once to compile, then time a second call.

    Returns (samples, wall ms per sample, CPU ms per sample).
    """
    jax.block_until_ready(sample_fn(num_samples))
    start, cpu_start = time.perf_counter(), time.process_time()
    x = jax.block_until_ready(sample_fn(num_samples))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return np.asarray(x), 1000.0 * wall / num_samples, 1000.0 * cpu / num_samples


def quality_fields(clf, real_feats, images01) -> dict:
    """FD, precision and recall of images in [0, 1] against ``real_feats`` (3 decimals).

    Both sides are in the feature space of the digit classifier ``clf``."""
    from course_lib.evaluation.classifier import classifier_features
    from course_lib.evaluation.frechet import sample_quality

    q = sample_quality(real_feats, classifier_features(clf, np.asarray(images01, np.float32)))
    return {k: round(float(v), 3) for k, v in q.items()}


def nll_fields(nats_test, nats_val, kind: str, family: str) -> dict:
    """The likelihood columns of a row: what the number is (``kind``), test and validation nats,
    test bits per dim (None where the family has no likelihood)."""
    out = {"nll_kind": kind,
           "test_nll_nats": None if nats_test is None else round(float(nats_test), 2),
           "val_nll_nats": None if nats_val is None else round(float(nats_val), 2),
           "test_bits_per_dim": None if nats_test is None else round(bits_per_dim(nats_test), 4)}
    return out


def jsonable(settings) -> dict:
    """A settings dataclass or dict as a JSON-ready dict (tuples become lists)."""
    d = dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else dict(settings)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


class FamilyRun(NamedTuple):
    """What every family's run needs: its settings, the data, the keys and the measuring tools."""

    settings: object
    splits: dict
    x_test: np.ndarray
    seed: int
    eval_key: jax.Array
    quick: bool
    num_samples: int
    clf: object
    real_feats: np.ndarray
    save: object  # save(name, model, config, metadata): writes a checkpoint when asked to


def _run_autoregressive(run: FamilyRun):
    s = run.settings
    model, result = train_made(s, run.splits, run.seed)
    test, val = made_nll(model, run.x_test).mean(), made_nll(model, run.splits["val"]).mean()
    sampler = jit_method(model, "sample", 1)
    samples, ms, cpu_ms = timed_samples(lambda n: sampler(run.eval_key, n), run.num_samples)
    row = {"model": f"MADE, masked MLP {list(s.hidden)}, mixture of {s.num_orderings} pixel orders, "
                    "categorical over 17 levels",
           **nll_fields(test, val, "exact", "autoregressive"), "train_seconds": round(result.seconds, 1),
           "train_cpu_seconds": round(result.cpu_seconds, 1), "best_epoch": result.best_epoch,
           "settings": jsonable(s)}
    images01 = samples / (NUM_LEVELS - 1)
    run.save("made", model, {**model.config, "dropout": 0.0}, {"settings": jsonable(s)})
    return model, row, images01, (ms, cpu_ms)


def _run_transformer(run: FamilyRun):
    from course_lib.reproduce.family_transformer import pixel_nll, pixel_sample, train_pixel_transformer

    s = run.settings
    model, result = train_pixel_transformer(s, run.splits, run.seed)
    test, val = pixel_nll(model, run.x_test).mean(), pixel_nll(model, run.splits["val"]).mean()
    samples, ms, cpu_ms = timed_samples(lambda n: pixel_sample(model, run.eval_key, n), run.num_samples)
    row = {"model": f"causal transformer over the 64 pixels in raster order, {s.num_layers} blocks of width "
                    f"{s.width}, categorical over 17 levels",
           **nll_fields(test, val, "exact", "transformer"), "train_seconds": round(result.seconds, 1),
           "train_cpu_seconds": round(result.cpu_seconds, 1), "best_epoch": result.best_epoch,
           "settings": jsonable(s)}
    run.save("transformer", model, model.config, {"settings": jsonable(s)})
    return model, row, samples / (NUM_LEVELS - 1), (ms, cpu_ms)


def _run_flow(run: FamilyRun):
    s = run.settings
    model, result = train_flow(s, run.splits, run.seed)
    test = flow_nll_bound(model, run.x_test, run.eval_key, 2 if run.quick else s.num_test_draws).mean()
    val = flow_nll_bound(model, run.splits["val"], run.eval_key, 2 if run.quick else s.num_test_draws).mean()
    sampler = jit_method(model, "sample", 1)
    samples, ms, cpu_ms = timed_samples(lambda n: fl.quantize(sampler(run.eval_key, n), NUM_LEVELS), run.num_samples)
    row = {"model": f"RealNVP, {s.num_layers} affine couplings, uniform dequantization",
           **nll_fields(test, val, "upper bound: E_u[-log p(x + u)] (uniform dequantization)", "flow"),
           "train_seconds": round(result.seconds, 1), "train_cpu_seconds": round(result.cpu_seconds, 1),
           "best_epoch": result.best_epoch, "settings": jsonable(s)}
    images01 = samples / (NUM_LEVELS - 1)
    run.save("flow", model, model.config, {"settings": jsonable(s)})
    return model, row, images01, (ms, cpu_ms)


def _run_diffusion(run: FamilyRun):
    s = run.settings
    model, schedule, result = train_ddpm(s, run.splits, run.seed)
    sizes = {"num_exact": 3, "num_strata": 3} if run.quick else {"num_exact": s.bound_exact_t,
                                                                 "num_strata": s.bound_strata}
    bound = ddpm_bound(model, schedule, run.x_test, run.eval_key, **sizes)
    val = ddpm_bound(model, schedule, run.splits["val"], run.eval_key, **sizes)["total"].mean()
    samples, ms, cpu_ms = timed_samples(lambda n: ddpm_sample(model, schedule, run.eval_key, n), run.num_samples)
    row = {"model": f"DDPM, MLP noise predictor, T = {s.num_steps}",
           **nll_fields(bound["total"].mean(), val, "upper bound: variational bound (ELBO)", "diffusion"),
           "bound_terms_nats": {k: round(float(bound[k].mean()), 2) for k in ("prior", "diffusion", "decoder")},
           "train_seconds": round(result.seconds, 1), "train_cpu_seconds": round(result.cpu_seconds, 1),
           "best_epoch": result.best_epoch, "settings": jsonable(s)}
    images01 = np.asarray(dm.data_to_levels(jnp.asarray(samples), NUM_LEVELS)) / (NUM_LEVELS - 1)
    run.save("ddpm", model, {**model.config, "beta_1": s.beta_1, "beta_T": s.beta_T}, {"settings": jsonable(s)})
    return model, row, images01, (ms, cpu_ms)


def _run_vae(run: FamilyRun):
    start, cpu_start = time.perf_counter(), time.process_time()
    model, settings, log = train_vae_family(run.splits, run.seed, run.quick)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    k = 10 if run.quick else settings.num_samples
    test = vae_nll(model, run.x_test, run.eval_key, k)
    val = vae_nll(model, run.splits["val"], run.eval_key, k)
    graphdef, params = nnx.split(model)
    vae_sampler = jax.jit(lambda p, kk, n: vae_sample_levels(nnx.merge(graphdef, p), kk, n), static_argnums=2)
    samples, ms, cpu_ms = timed_samples(lambda n: vae_sampler(params, run.eval_key, n), run.num_samples)
    row = {"model": f"VAE, MLP {list(settings.hidden)}, z_dim {settings.z_dim}, categorical decoder",
           **nll_fields(test["nll"].mean(), val["nll"].mean(),
                         f"importance-weighted estimate, K = {k} (an upper bound in expectation)", "VAE"),
           "test_nelbo_nats": round(float(test["nelbo"].mean()), 2),
           "val_nelbo_nats": round(float(val["nelbo"].mean()), 2),
           "train_seconds": round(seconds, 1), "train_cpu_seconds": round(cpu_seconds, 1),
           "best_epoch": log["best_epoch"],
           "settings": jsonable(settings)}
    images01 = samples / (NUM_LEVELS - 1)
    mean01 = np.asarray(model.decode_mean(jax.random.normal(run.eval_key, (run.num_samples, model.z_dim))))
    row["quality_of_mean_images"] = quality_fields(run.clf, run.real_feats, mean01)
    run.save("vae", model, model.config, {"settings": jsonable(settings)})
    return model, row, images01, (ms, cpu_ms)


def _run_gan(run: FamilyRun):
    start, cpu_start = time.perf_counter(), time.process_time()
    model = train_gan_family(run.splits, run.seed, run.quick)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    sampler = jit_method(model, "sample", 1)
    samples, ms, cpu_ms = timed_samples(lambda n: sampler(run.eval_key, n), run.num_samples)
    row = {"model": f"GAN, MLP generator {list(GAN_SETTINGS['g_hidden'])}, non-saturating loss",
           **nll_fields(None, None, "none (implicit model: no likelihood)", "GAN"),
           "train_seconds": round(seconds, 1), "train_cpu_seconds": round(cpu_seconds, 1),
           "settings": jsonable(GAN_SETTINGS)}
    images01 = samples
    run.save("gan", model, model.config, {"settings": jsonable(GAN_SETTINGS)})
    return model, row, images01, (ms, cpu_ms)


RUNS = {"autoregressive": _run_autoregressive, "transformer": _run_transformer, "flow": _run_flow, "diffusion": _run_diffusion,
        "VAE": _run_vae, "GAN": _run_gan}
"""One function per family: train it, measure it; returns (model, row, samples in [0, 1], (ms, CPU ms) per sample)."""

__all__ = ["FamilyRun", "RUNS", "jsonable", "nll_fields", "timed_samples"]
