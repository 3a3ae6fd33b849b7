"""Five families of generative models on one dataset, measured the same way (07_beyond.ipynb).

    python -m course_lib reproduce family-table --json          # trains all five, ~10 min on 2 cores
    python -m course_lib reproduce family-table --quick --json  # a smoke test (numbers mean nothing)

Protocol. The 8x8 digits split in scikit-learn's stored order, 1000 / 350 / 447 (the split of
github.com/jmtomczak/intro_dgm and of 04_vae.ipynb), 17 grey levels. Each family trains on the
1,000 training images with a fixed seed, keeps the parameters with the best validation score
(checked every few epochs), and is then measured on the 447 test images:

- ``test_nll_nats``: the negative log-likelihood in nats per image, with ``nll_kind`` saying
  what the number is: exact (autoregressive), an upper bound (the flow, through uniform
  dequantization; the diffusion model, through its variational bound), or an importance-
  weighted estimate that is an upper bound in expectation (the VAE). The GAN has none.
  ``test_bits_per_dim`` = nats / (64 ln 2).
- ``fd``, ``precision``, ``recall``: 1,000 samples against the test images in the feature
  space of the digit classifier (course_lib.evaluation.frechet; 05_gan.ipynb). A reference
  row scores the 1,000 *training images* the same way: the best a model can hope for.
- ``train_seconds``: wall time of training, compilation included, on this machine (the
  load average is recorded, since the machine may be shared); ``ms_per_sample``: wall time
  to draw 1,000 samples in one batch (after compilation), per sample.

Peer numbers (``ANCHORS``): github.com/jmtomczak/intro_dgm's own code, run with its author's
settings on the same split (measured for issue 16 of this project). Each is compared with the
course's number *of the same kind on the same images* (``anchor_course_field``): the VAE's test
negative ELBO with the peer's test negative ELBO, the autoregressive model's exact test NLL with
the peer's, the flow's dequantization bound with the peer's bound. A non-quick run also writes
``data/results/family_table.json``, which the notebook renders.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from course_lib import _validate, data, paths
from course_lib.checkpoints import load_checkpoint, save_checkpoint
from course_lib.models import diffusion as dm
from course_lib.models import flow as fl
from course_lib.models.autoregressive import MADE
from course_lib.training.generic import fit

NUM_LEVELS = 17
DIM = 64
NUM_SAMPLES = 1000
FAMILIES = ("autoregressive", "flow", "VAE", "diffusion", "GAN")

PEER = ("measured by running github.com/jmtomczak/intro_dgm's code (author's settings, PyTorch, 2-core CPU) "
        "on the same stored-order split")
ANCHORS = {
    "autoregressive": {"nats": 86.44, "val_nats": 88.88, "course_field": "test_nll_nats",
                       "what": "intro_dgm causal-convolution ARM (arms/arm_example.ipynb): test NLL, exact; " + PEER},
    "flow": {"nats": 166.87, "val_nats": None, "course_field": "test_nll_nats",
             "what": "intro_dgm RealNVP (flows/realnvp_example.ipynb), U(0, 0.5] dequantization: 122.51 nats of "
                     "continuous density in raw units = 166.87 as an upper bound on the discrete test NLL; " + PEER},
    "VAE": {"nats": 96.64, "val_nats": 100.47, "course_field": "test_nelbo_nats",
            "what": "intro_dgm VAE (vaes/vae_example.ipynb): test negative ELBO; " + PEER},
}
"""Peer reference runs on the same images (nats per image), each with the course number it is compared with."""

ON_PAR_NATS = 1.0
"""Differences smaller than this are reported as "on par": seeds alone move the numbers about this much."""

RESULTS_FILE = "family_table.json"


def results_path():
    """data/results/family_table.json: where a full run writes the table for the notebook."""
    return paths.data_dir() / "results" / RESULTS_FILE


def bits_per_dim(nats: float, dim: int = DIM) -> float:
    """Convert nats per image to bits per dimension: nats / (D ln 2)."""
    return float(nats) / (dim * math.log(2.0))


# --------------------------------------------------------------------------- settings


@dataclasses.dataclass(frozen=True)
class MADESettings:
    hidden: tuple = (512, 512)  # hidden widths of the masked MLP
    inputs: str = "scalar"  # pixels enter as level / 16
    num_orderings: int = 16  # pixel orders sharing the network; the model is their mixture
    dropout: float = 0.2  # on the hidden units, training only
    num_epochs: int = 500
    batch_size: int = 100
    lr: float = 2e-3  # peak; cosine decay to 0
    ema_decay: float = 0.998  # evaluate (and keep) the moving average of the parameters
    eval_every: int = 10  # epochs between validation checks (the best check is kept)


@dataclasses.dataclass(frozen=True)
class FlowSettings:
    num_layers: int = 8  # affine coupling layers, checkerboard / half-image masks
    hidden: tuple = (256, 256)  # conditioner widths
    num_epochs: int = 60  # the flow overfits after a few dozen epochs; the best check is kept
    batch_size: int = 100
    lr: float = 1e-3
    grad_clip: float = 100.0
    eval_every: int = 5
    num_test_draws: int = 10  # dequantization draws u averaged per test image


@dataclasses.dataclass(frozen=True)
class DDPMSettings:
    num_steps: int = 1000  # T
    beta_1: float = 4e-3  # larger than DDPM's 1e-4: the levels are 0.125 apart, see the notebook
    beta_T: float = 0.02
    hidden: tuple = (512, 512, 512)
    time_dim: int = 64
    num_epochs: int = 300
    batch_size: int = 100
    lr: float = 1e-3
    ema_decay: float = 0.999
    eval_every: int = 50
    bound_exact_t: int = 100  # the bound's terms t = 2..101 are computed exactly ...
    bound_strata: int = 50  # ... and the other 899 estimated with one random t per block


GAN_SETTINGS = {"noise_dim": 16, "g_hidden": (256, 256), "d_hidden": (256, 256), "batch_size": 64,
                "num_steps": 8000, "g_lr": 2e-4, "d_lr": 2e-4, "b1": 0.5, "loss": "non_saturating"}
"""The digit GAN of 05_gan.ipynb (scripts/train_gan_checkpoints.py), trained here with the same settings."""

QUICK = {"num_epochs": 2, "eval_every": 1}


def _quick(settings):
    return dataclasses.replace(settings, **QUICK)


def digits_splits() -> dict:
    """The 8x8 digits as int32 levels: {"train": (1000, 64), "val": (350, 64), "test": (447, 64)}."""
    return {s: np.asarray(data.load_digits(s).x, np.int32) for s in ("train", "val", "test")}


# --------------------------------------------------------------------------- autoregressive


def build_made(s: MADESettings, seed: int) -> MADE:
    return MADE(DIM, NUM_LEVELS, s.hidden, inputs=s.inputs, num_orderings=s.num_orderings, dropout=s.dropout,
                rngs=nnx.Rngs(seed))


def train_made(s: MADESettings, splits: dict, seed: int):
    """Fit a MADE by maximum likelihood, one random pixel order per minibatch; returns (model, FitResult).

    The objective, the mean over orders of log p_m(x), is a lower bound on the mixture's
    log (1/M) sum_m p_m(x) (Jensen); validation measures the mixture itself.
    """
    model = build_made(s, seed)
    graphdef, params = nnx.split(model, nnx.Param)

    def loss_fn(p, x, key):
        k_order, k_drop = jax.random.split(key)
        order = jax.random.randint(k_order, (), 0, s.num_orderings)
        return -jnp.mean(nnx.merge(graphdef, p).log_prob_ordering(x, order, dropout_key=k_drop)), {}

    def val_fn(p, x):
        return -jnp.mean(nnx.merge(graphdef, p).log_prob(x))

    result = fit(loss_fn, params, splits["train"], key=jax.random.key(seed), num_epochs=s.num_epochs,
                 batch_size=s.batch_size, lr=s.lr, lr_schedule="cosine", ema_decay=s.ema_decay, eval_fn=val_fn,
                 x_val=splits["val"], eval_every=s.eval_every, progress=False, desc="MADE")
    nnx.update(model, result.params)
    return model, result


def _jit_method(model, method: str, *static):
    """jax.jit of ``model.<method>(*args)`` as a pure function of the model's parameters."""
    graphdef, params = nnx.split(model)
    fn = jax.jit(lambda p, *args: getattr(nnx.merge(graphdef, p), method)(*args),
                 static_argnums=tuple(i + 1 for i in static))
    return lambda *args: fn(params, *args)


def made_nll(model: MADE, x) -> np.ndarray:
    """Exact -log p(x) per image (N,), in nats."""
    return -np.asarray(_jit_method(model, "log_prob")(jnp.asarray(x)))


# --------------------------------------------------------------------------- flow


def build_flow(s: FlowSettings, seed: int) -> fl.RealNVP:
    return fl.RealNVP(DIM, s.num_layers, s.hidden, masks="checkerboard", image_shape=(8, 8), rngs=nnx.Rngs(seed))


def train_flow(s: FlowSettings, splits: dict, seed: int):
    """Fit a RealNVP to uniformly dequantized digits; returns (model, FitResult)."""
    model = build_flow(s, seed)
    graphdef, params = nnx.split(model, nnx.Param)

    def loss_fn(p, x, key):
        u = jax.random.uniform(key, x.shape)  # fresh dequantization noise every step
        return -jnp.mean(fl.dequantized_log_prob(nnx.merge(graphdef, p), x, u, NUM_LEVELS)), {}

    def val_fn(p, x):
        u = jax.random.uniform(jax.random.key(12345), x.shape)  # the same u at every check
        return -jnp.mean(fl.dequantized_log_prob(nnx.merge(graphdef, p), x, u, NUM_LEVELS))

    result = fit(loss_fn, params, splits["train"], key=jax.random.key(seed), num_epochs=s.num_epochs,
                 batch_size=s.batch_size, lr=s.lr, grad_clip=s.grad_clip, eval_fn=val_fn, x_val=splits["val"],
                 eval_every=s.eval_every, progress=False, desc="flow")
    nnx.update(model, result.params)
    return model, result


def flow_nll_bound(model: fl.RealNVP, x, key, num_draws: int = 10) -> np.ndarray:
    """E_u[-log p(x + u)] per image (N,), in nats, averaged over ``num_draws`` draws of u: an upper bound."""
    graphdef, params = nnx.split(model)
    fn = jax.jit(lambda p, v, u: -fl.dequantized_log_prob(nnx.merge(graphdef, p), v, u, NUM_LEVELS))
    x = jnp.asarray(x)
    draws = [np.asarray(fn(params, x, jax.random.uniform(jax.random.fold_in(key, i), x.shape)))
             for i in range(num_draws)]
    return np.mean(draws, axis=0)


# --------------------------------------------------------------------------- diffusion


def build_ddpm(s: DDPMSettings, seed: int):
    """(noise predictor, schedule) of the DDPM recipe."""
    model = dm.EpsModel(DIM, s.num_steps, s.hidden, time_dim=s.time_dim, rngs=nnx.Rngs(seed))
    return model, dm.make_schedule(s.num_steps, "linear", beta_1=s.beta_1, beta_T=s.beta_T)


def _eps_fn(graphdef, params):
    return lambda x_t, t: nnx.merge(graphdef, params)(x_t, t)


def bound_times(num_steps: int, num_exact: int, num_strata: int, key=None):
    """Times t and weights to estimate sum_{t=2}^T L_{t-1} as sum_i w_i L_{t_i - 1}.

    The first steps carry most of the bound and change fast with t, so t = 2..num_exact + 1 are
    all evaluated (weight 1); the remaining times are cut into ``num_strata`` blocks, each
    represented by one time (uniform in the block with ``key``, its middle without) weighted by
    the block's size: an unbiased estimate with ``key``, a deterministic one without.

    Returns:
      (ts (M,) int32, weights (M,) float32).
    """
    num_exact = min(num_exact, num_steps - 1)
    exact = np.arange(2, num_exact + 2)
    rest = num_steps - 1 - num_exact
    if rest <= 0 or num_strata == 0:
        return jnp.asarray(exact, jnp.int32), jnp.ones(len(exact), jnp.float32)
    num_strata = min(num_strata, rest)
    edges = np.round(np.linspace(num_exact + 2, num_steps + 1, num_strata + 1)).astype(np.int64)
    widths = np.diff(edges)
    offsets = (widths // 2) if key is None else np.floor(
        np.asarray(jax.random.uniform(key, (num_strata,))) * widths).astype(np.int64)
    ts = np.concatenate([exact, edges[:-1] + offsets])
    weights = np.concatenate([np.ones(len(exact)), widths])
    return jnp.asarray(ts, jnp.int32), jnp.asarray(weights, jnp.float32)


def ddpm_bound(model: dm.EpsModel, schedule: dm.Schedule, x_levels, key, *, num_exact: int = 100,
               num_strata: int = 50, batch_size: int = 150) -> dict:
    """The DDPM variational bound per image, in nats: {"prior", "diffusion", "decoder", "total"} each (N,).

    The middle term sum_{t=2}^T L_{t-1} is computed exactly for t <= num_exact + 1 and estimated
    with one random time in each of ``num_strata`` blocks of the rest (:func:`bound_times`),
    fresh times for every batch of images: an unbiased estimate of the bound.
    """
    graphdef, params = nnx.split(model, nnx.Param)

    @jax.jit
    def terms(params, x, ts, weights, key):
        eps = jax.random.normal(key, (ts.shape[0] + 1,) + x.shape)
        out = dm.vlb_terms(_eps_fn(graphdef, params), schedule, x, ts, eps, num_levels=NUM_LEVELS)
        return out["prior"], out["per_t"] @ weights, out["decoder"]

    x_levels = np.asarray(x_levels)
    parts = {"prior": [], "diffusion": [], "decoder": []}
    for i, start in enumerate(range(0, len(x_levels), batch_size)):
        xb = x_levels[start:start + batch_size]
        m = len(xb)
        if m < batch_size:  # pad so the shapes (and the compiled function) never change
            xb = np.concatenate([xb, np.repeat(xb[:1], batch_size - m, axis=0)])
        k_t, k_eps = jax.random.split(jax.random.fold_in(key, i))
        ts, weights = bound_times(schedule.num_steps, num_exact, num_strata, k_t)
        for name, v in zip(parts, terms(params, jnp.asarray(xb), ts, weights, k_eps)):
            parts[name].append(np.asarray(v)[:m])
    out = {k: np.concatenate(v) for k, v in parts.items()}
    out["total"] = out["prior"] + out["diffusion"] + out["decoder"]
    return out


def train_ddpm(s: DDPMSettings, splits: dict, seed: int):
    """Fit a DDPM with L_simple; keeps the best check of a small validation bound. Returns (model, schedule, fit)."""
    model, schedule = build_ddpm(s, seed)
    graphdef, params = nnx.split(model, nnx.Param)
    x_train = dm.levels_to_data(jnp.asarray(splits["train"]), NUM_LEVELS)
    big_t = s.num_steps

    def loss_fn(p, x0, key):
        k_t, k_eps = jax.random.split(key)
        t = jax.random.randint(k_t, (x0.shape[0],), 1, big_t + 1)
        eps = jax.random.normal(k_eps, x0.shape)
        return jnp.mean(dm.ddpm_loss(_eps_fn(graphdef, p), schedule, x0, t, eps)), {}

    ts_val, w_val = bound_times(big_t, 20, 20)  # deterministic: t = 2..21, then 20 block middles
    val_levels = jnp.asarray(splits["val"])

    def val_fn(p, _x):  # a cheap, fixed-noise estimate of the bound on the validation images
        eps = jax.random.normal(jax.random.key(12345), (ts_val.shape[0] + 1,) + val_levels.shape)
        out = dm.vlb_terms(_eps_fn(graphdef, p), schedule, val_levels, ts_val, eps, num_levels=NUM_LEVELS)
        return jnp.mean(out["prior"] + out["per_t"] @ w_val + out["decoder"])

    result = fit(loss_fn, params, x_train, key=jax.random.key(seed), num_epochs=s.num_epochs,
                 batch_size=s.batch_size, lr=s.lr, lr_schedule="cosine", ema_decay=s.ema_decay, eval_fn=val_fn,
                 x_val=val_levels, eval_every=s.eval_every, progress=False, desc="DDPM")
    nnx.update(model, result.params)
    return model, schedule, result


def ddpm_sample(model: dm.EpsModel, schedule: dm.Schedule, key, num_samples: int, *, trajectory: bool = False):
    """Samples in [-1, 1] (N, D) from the reverse process (or (x_0, xs) with the trajectory)."""
    graphdef, params = nnx.split(model, nnx.Param)
    fn = _ddpm_sampler(graphdef, schedule.num_steps, trajectory)
    k_T, k_z = jax.random.split(key)
    x_T = jax.random.normal(k_T, (num_samples, model.dim))
    z = jax.random.normal(k_z, (schedule.num_steps, num_samples, model.dim))
    return fn(params, schedule, x_T, z)


_SAMPLERS: dict = {}


def _ddpm_sampler(graphdef, num_steps, trajectory):
    key = (graphdef, num_steps, trajectory)
    if key not in _SAMPLERS:
        _SAMPLERS[key] = jax.jit(lambda p, sch, x_T, z: dm.sample_from_noise(_eps_fn(graphdef, p), sch, x_T, z,
                                                                              trajectory=trajectory))
    return _SAMPLERS[key]


# --------------------------------------------------------------------------- VAE and GAN


def train_vae_family(splits: dict, seed: int, quick: bool):
    """The VAE of 04_vae.ipynb (course_lib.reproduce.vae, 'vae-digits'); returns (model, settings, fit log)."""
    from course_lib.reproduce import vae as vae_rep

    settings = vae_rep.SETTINGS["vae-digits"]
    if quick:
        settings = dataclasses.replace(settings, **vae_rep.QUICK)
    model = vae_rep.build_vae(settings, DIM, "categorical", NUM_LEVELS, seed)
    log = vae_rep.fit_vae(model, splits["train"], splits["val"], settings, key=jax.random.key(seed))
    return model, settings, log


def vae_nll(model, x, key, num_samples: int) -> dict:
    """Importance-weighted -log p(x) and the negative ELBO per image (N,), K = num_samples."""
    from course_lib.evaluation.likelihood import iwae_bound, log_importance_weights

    log_w = log_importance_weights(model, jnp.asarray(x), key, num_samples=num_samples)
    return {"nll": -iwae_bound(log_w), "nelbo": -np.mean(log_w, axis=1)}


def vae_sample_levels(model, key, num_samples: int) -> jax.Array:
    """True samples of the VAE: z ~ N(0, I), then every pixel drawn from its categorical p(x_d | z)."""
    k_z, k_x = jax.random.split(key)
    logits = model.decode(jax.random.normal(k_z, (num_samples, model.z_dim)))  # (N, D, K)
    return jax.random.categorical(k_x, logits).astype(jnp.int32)


def train_gan_family(splits: dict, seed: int, quick: bool):
    """The digit GAN of 05_gan.ipynb; returns the trained Generator."""
    from course_lib.models import Discriminator, Generator
    from course_lib.training import train_gan

    s = GAN_SETTINGS
    rngs = nnx.Rngs(params=seed)
    g = Generator(s["noise_dim"], DIM, s["g_hidden"], activation="relu", output="sigmoid", rngs=rngs)
    d = Discriminator(DIM, s["d_hidden"], activation="leaky_relu", rngs=rngs)
    x = data.to_unit_interval(splits["train"], NUM_LEVELS)
    train_gan(g, d, x, key=jax.random.key(seed), num_steps=20 if quick else s["num_steps"],
              batch_size=s["batch_size"], g_lr=s["g_lr"], d_lr=s["d_lr"], b1=s["b1"], loss=s["loss"], progress=False)
    return g


# --------------------------------------------------------------------------- the table


def _timed_samples(sample_fn, num_samples: int):
    """Run ``sample_fn(n)`` once to compile, then time a second call.

    Returns (samples, wall ms per sample, CPU ms per sample).
    """
    jax.block_until_ready(sample_fn(num_samples))
    start, cpu_start = time.perf_counter(), time.process_time()
    x = jax.block_until_ready(sample_fn(num_samples))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return np.asarray(x), 1000.0 * wall / num_samples, 1000.0 * cpu / num_samples


def _quality(clf, real_feats, images01) -> dict:
    from course_lib.evaluation.classifier import classifier_features
    from course_lib.evaluation.frechet import sample_quality

    q = sample_quality(real_feats, classifier_features(clf, np.asarray(images01, np.float32)))
    return {k: round(float(v), 3) for k, v in q.items()}


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # not available on every OS
        return None


def _nll_fields(nats_test, nats_val, kind: str, family: str) -> dict:
    out = {"nll_kind": kind,
           "test_nll_nats": None if nats_test is None else round(float(nats_test), 2),
           "val_nll_nats": None if nats_val is None else round(float(nats_val), 2),
           "test_bits_per_dim": None if nats_test is None else round(bits_per_dim(nats_test), 4)}
    return out


def anchor_fields(row: dict) -> dict:
    """The peer comparison of one finished row: the peer's number, the course's number of the same kind.

    ``vs_anchor`` is "below", "on par" (within ON_PAR_NATS) or "above"; ``beats_anchor`` is True only
    when the course's number is lower by at least ON_PAR_NATS. None everywhere when there is no peer.
    """
    anchor = ANCHORS.get(row.get("family"))
    course = None if anchor is None else row.get(anchor["course_field"])
    if anchor is None or course is None:
        return {"anchor_nats": None, "anchor": None, "anchor_course_field": None, "vs_anchor": None,
                "beats_anchor": None}
    delta = float(course) - anchor["nats"]
    verdict = "on par" if abs(delta) < ON_PAR_NATS else ("below" if delta < 0 else "above")
    return {"anchor_nats": anchor["nats"], "anchor": anchor["what"], "anchor_course_field": anchor["course_field"],
            "vs_anchor": verdict, "beats_anchor": verdict == "below"}


def family_rows(seed: int = 0, *, quick: bool = False, families=FAMILIES, save_dir=None,
                settings: dict | None = None) -> list[dict]:
    """Train every family with ``seed``, measure it, and return one row per family (plus the reference).

    Args:
      seed: training seed (evaluation noise and samples use seed + 10_000).
      quick: tiny settings for a smoke test.
      families: which families to run.
      save_dir: if given, save the trained models there as ``beyond_<family>_digits.msgpack``.
      settings: optional {"autoregressive": MADESettings(...), "flow": FlowSettings(...),
        "diffusion": DDPMSettings(...)} replacing the defaults (tests use tiny ones).
    """
    from course_lib.evaluation.classifier import classifier_features, load_classifier

    seed = _validate.positive_int("seed", seed, minimum=0)
    settings = dict(settings or {})
    defaults = {"autoregressive": MADESettings(), "flow": FlowSettings(), "diffusion": DDPMSettings()}
    for f, given in settings.items():
        if f not in defaults or not isinstance(given, type(defaults[f])):
            raise TypeError(f"settings[{f!r}] must be a {type(defaults.get(f, MADESettings())).__name__}, "
                            f"got {type(given).__name__}")
    chosen = {f: settings.get(f, _quick(d) if quick else d) for f, d in defaults.items()}
    for f in families:
        _validate.one_of("family", f, FAMILIES)
    splits = digits_splits()
    x_test = splits["test"]
    if quick:
        splits = {k: v[:200] if k == "train" else v[:50] for k, v in splits.items()}
        x_test = splits["test"]
    num_samples = 100 if quick else NUM_SAMPLES
    clf, _ = load_classifier("digits")
    real_feats = classifier_features(clf, x_test.astype(np.float32) / (NUM_LEVELS - 1))
    eval_key = jax.random.key(10_000 + seed)
    common = {"seed": seed, "quick": quick, "num_test": int(len(x_test)), "num_samples": num_samples,
              "backend": jax.default_backend(), "num_devices": jax.local_device_count()}
    rows = []
    ref = splits["train"][:num_samples]
    rows.append({"family": "reference", "model": "training images (not a model)",
                 **_nll_fields(None, None, "none", "reference"), **anchor_fields({"family": "reference"}),
                 **_quality(clf, real_feats, ref / (NUM_LEVELS - 1)), "train_seconds": None, "train_cpu_seconds": None,
                 "ms_per_sample": None, "num_params": None, **common})

    def save(name, model, config, metadata):
        if save_dir is not None:
            save_checkpoint(os.path.join(save_dir, f"beyond_{name}_digits.msgpack"), model, config=config,
                            metadata={**metadata, "command": "python scripts/train_beyond_checkpoints.py"})

    from course_lib.models import count_params

    for family in families:
        load = _load_average()
        if family == "autoregressive":
            s = chosen[family]
            model, result = train_made(s, splits, seed)
            test, val = made_nll(model, x_test).mean(), made_nll(model, splits["val"]).mean()
            sampler = _jit_method(model, "sample", 1)
            samples, ms, cpu_ms = _timed_samples(lambda n: sampler(eval_key, n), num_samples)
            row = {"model": f"MADE, masked MLP {list(s.hidden)}, mixture of {s.num_orderings} pixel orders, "
                            "categorical over 17 levels",
                   **_nll_fields(test, val, "exact", family), "train_seconds": round(result.seconds, 1),
                   "train_cpu_seconds": round(result.cpu_seconds, 1), "best_epoch": result.best_epoch,
                   "settings": _jsonable(s)}
            images01 = samples / (NUM_LEVELS - 1)
            save("made", model, {**model.config, "dropout": 0.0}, {"settings": _jsonable(s)})
        elif family == "flow":
            s = chosen[family]
            model, result = train_flow(s, splits, seed)
            test = flow_nll_bound(model, x_test, eval_key, 2 if quick else s.num_test_draws).mean()
            val = flow_nll_bound(model, splits["val"], eval_key, 2 if quick else s.num_test_draws).mean()
            sampler = _jit_method(model, "sample", 1)
            samples, ms, cpu_ms = _timed_samples(lambda n: fl.quantize(sampler(eval_key, n), NUM_LEVELS), num_samples)
            row = {"model": f"RealNVP, {s.num_layers} affine couplings, uniform dequantization",
                   **_nll_fields(test, val, "upper bound: E_u[-log p(x + u)] (uniform dequantization)", family),
                   "train_seconds": round(result.seconds, 1), "train_cpu_seconds": round(result.cpu_seconds, 1),
                   "best_epoch": result.best_epoch, "settings": _jsonable(s)}
            images01 = samples / (NUM_LEVELS - 1)
            save("flow", model, model.config, {"settings": _jsonable(s)})
        elif family == "diffusion":
            s = chosen[family]
            model, schedule, result = train_ddpm(s, splits, seed)
            sizes = {"num_exact": 3, "num_strata": 3} if quick else {"num_exact": s.bound_exact_t,
                                                                     "num_strata": s.bound_strata}
            bound = ddpm_bound(model, schedule, x_test, eval_key, **sizes)
            val = ddpm_bound(model, schedule, splits["val"], eval_key, **sizes)["total"].mean()
            samples, ms, cpu_ms = _timed_samples(lambda n: ddpm_sample(model, schedule, eval_key, n), num_samples)
            row = {"model": f"DDPM, MLP noise predictor, T = {s.num_steps}",
                   **_nll_fields(bound["total"].mean(), val, "upper bound: variational bound (ELBO)", family),
                   "bound_terms_nats": {k: round(float(bound[k].mean()), 2) for k in ("prior", "diffusion", "decoder")},
                   "train_seconds": round(result.seconds, 1), "train_cpu_seconds": round(result.cpu_seconds, 1),
                   "best_epoch": result.best_epoch, "settings": _jsonable(s)}
            images01 = np.asarray(dm.data_to_levels(jnp.asarray(samples), NUM_LEVELS)) / (NUM_LEVELS - 1)
            save("ddpm", model, {**model.config, "beta_1": s.beta_1, "beta_T": s.beta_T},
                 {"settings": _jsonable(s)})
        elif family == "VAE":
            start, cpu_start = time.perf_counter(), time.process_time()
            model, settings, log = train_vae_family(splits, seed, quick)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
            k = 10 if quick else settings.num_samples
            test = vae_nll(model, x_test, eval_key, k)
            val = vae_nll(model, splits["val"], eval_key, k)
            graphdef, params = nnx.split(model)
            vae_sampler = jax.jit(lambda p, kk, n: vae_sample_levels(nnx.merge(graphdef, p), kk, n), static_argnums=2)
            samples, ms, cpu_ms = _timed_samples(lambda n: vae_sampler(params, eval_key, n), num_samples)
            row = {"model": f"VAE, MLP {list(settings.hidden)}, z_dim {settings.z_dim}, categorical decoder",
                   **_nll_fields(test["nll"].mean(), val["nll"].mean(),
                                 f"importance-weighted estimate, K = {k} (an upper bound in expectation)", family),
                   "test_nelbo_nats": round(float(test["nelbo"].mean()), 2),
                   "val_nelbo_nats": round(float(val["nelbo"].mean()), 2),
                   "train_seconds": round(seconds, 1), "train_cpu_seconds": round(cpu_seconds, 1),
                   "best_epoch": log["best_epoch"],
                   "settings": _jsonable(settings)}
            images01 = samples / (NUM_LEVELS - 1)
            mean01 = np.asarray(model.decode_mean(jax.random.normal(eval_key, (num_samples, model.z_dim))))
            row["quality_of_mean_images"] = _quality(clf, real_feats, mean01)
            save("vae", model, model.config, {"settings": _jsonable(settings)})
        else:  # GAN
            start, cpu_start = time.perf_counter(), time.process_time()
            model = train_gan_family(splits, seed, quick)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
            sampler = _jit_method(model, "sample", 1)
            samples, ms, cpu_ms = _timed_samples(lambda n: sampler(eval_key, n), num_samples)
            row = {"model": f"GAN, MLP generator {list(GAN_SETTINGS['g_hidden'])}, non-saturating loss",
                   **_nll_fields(None, None, "none (implicit model: no likelihood)", family),
                   "train_seconds": round(seconds, 1), "train_cpu_seconds": round(cpu_seconds, 1),
                   "settings": _jsonable(GAN_SETTINGS)}
            images01 = samples
            save("gan", model, model.config, {"settings": _jsonable(GAN_SETTINGS)})
        row.update(_quality(clf, real_feats, images01))
        row["ms_per_sample"] = round(ms, 3)
        row["cpu_ms_per_sample"] = round(cpu_ms, 3)
        row["num_params"] = count_params(model)
        row["load_average_at_start"] = load
        row.update(anchor_fields({"family": family, **row}))
        rows.append({"family": family, **row, **common})
    return rows


def _jsonable(settings) -> dict:
    d = dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else dict(settings)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def write_results(rows: list[dict], path=None) -> str:
    """Write the rows (and how they were made) as JSON; returns the path."""
    path = results_path() if path is None else path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    payload = {"command": "python -m course_lib reproduce family-table --json", "cpu_count": os.cpu_count(),
               "jax": jax.__version__, "rows": rows}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=1)
        f.write("\n")
    return str(path)


def read_results(path=None) -> list[dict]:
    """The rows of the last full run (data/results/family_table.json)."""
    path = results_path() if path is None else path
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no results at {os.path.basename(str(path))!r}; create them with: "
                                "python -m course_lib reproduce family-table --json")
    with open(path, encoding="utf-8") as f:
        return json.load(f)["rows"]


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


NLL_SHORT = {"exact": "exact", "upper bound": "bound", "importance": "IS estimate", "none": "none"}


def training_budget(row: dict) -> str:
    """What a row's training cost in passes over the data: "best epoch / epochs run or allowed", or steps."""
    settings = row.get("settings") or {}
    if "num_steps" in settings and row.get("family") == "GAN":
        return f"{settings['num_steps']} steps"
    total = settings.get("num_epochs", settings.get("max_epochs"))
    if total is None:
        return "n/a"
    best = row.get("best_epoch")
    return f"{total} epochs" if best is None else f"best {best} of {total} epochs"


def _peer_cell(r: dict) -> str:
    if r.get("anchor_nats") is None:
        return "n/a"
    course = r.get(r["anchor_course_field"])
    return f"peer {r['anchor_nats']:.1f}, course {course:.1f}: {r['vs_anchor']}"


def table_markdown(rows: list[dict]) -> str:
    """The rows as a Markdown table (the notebook's rendering of family_table.json).

    The peer column sets the peer's number beside the course's number *of the same kind* (for the
    VAE, test negative ELBO against test negative ELBO, not the importance-weighted estimate).
    """
    head = ("| family | test NLL (nats) | what the NLL is | bits/dim | peer vs course, same estimator (nats) "
            "| parameters | training | FD | precision | recall | train wall (s) | train CPU (s) | ms / sample |")
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        kind = next((v for k, v in NLL_SHORT.items() if str(r.get("nll_kind", "none")).startswith(k)), "")
        params = "n/a" if r.get("num_params") is None else f"{r['num_params'] / 1000:.0f}k"
        lines.append(
            f"| {r['family']} | {_fmt(r.get('test_nll_nats'), '.1f')} | {kind} "
            f"| {_fmt(r.get('test_bits_per_dim'), '.3f')} | {_peer_cell(r)} | {params} | {training_budget(r)} "
            f"| {_fmt(r.get('fd'), '.2f')} | {_fmt(r.get('precision'), '.2f')} "
            f"| {_fmt(r.get('recall'), '.2f')} | {_fmt(r.get('train_seconds'), '.0f')} "
            f"| {_fmt(r.get('train_cpu_seconds'), '.0f')} | {_fmt(r.get('ms_per_sample'), '.3f')} |")
    return "\n".join(lines)


def family_table(seeds: int = 1, quick: bool = False) -> list[dict]:
    """The ``family-table`` experiment: rows for seeds 0..seeds-1; a full run writes the results file."""
    seeds = _validate.positive_int("seeds", seeds)
    rows = [row for s in range(seeds) for row in family_rows(s, quick=quick)]
    if not quick:
        write_results(rows)
    return rows


EXPERIMENTS = {"family-table": family_table}


# --------------------------------------------------------------------------- loading for the notebook

CHECKPOINTS = ("made_digits", "flow_digits", "ddpm_digits", "vae_digits", "gan_digits", "flow_moons", "ddpm_moons")


def _skeleton(build):
    """The model ``build()`` would make, with zeros instead of random weights (no initializers run).

    Building the structure abstractly (``nnx.eval_shape``) skips compiling one random initializer
    per weight shape, which makes loading a checkpoint ten times faster.
    """
    graphdef, state = nnx.split(nnx.eval_shape(build))
    return nnx.merge(graphdef, jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), state))


def load_beyond(name: str):
    """Load a pretrained model of 07_beyond.ipynb: ``beyond_<name>.msgpack`` from the checkpoint folder.

    Returns:
      (model, manifest); for the DDPMs, (model, schedule, manifest).
    """
    _validate.one_of("name", name, CHECKPOINTS)
    path = paths.checkpoint_dir() / f"beyond_{name}.msgpack"
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint {path.name!r}; create it with: "
                                "python scripts/train_beyond_checkpoints.py")
    from course_lib.checkpoints import read_manifest
    from course_lib.models import VAE, Generator

    config = dict(read_manifest(path)["config"])
    kind = config.pop("model")
    builders = {
        "RealNVP": lambda: fl.RealNVP(config["dim"], config["num_layers"], tuple(config["hidden"]),
                                      masks=config["masks"], image_shape=config["image_shape"],
                                      activation=config["activation"], rngs=nnx.Rngs(0)),
        "MADE": lambda: MADE(config["dim"], config["num_levels"], tuple(config["hidden"]), inputs=config["inputs"],
                             num_orderings=config["num_orderings"], dropout=config["dropout"],
                             activation=config["activation"], rngs=nnx.Rngs(0)),
        "EpsModel": lambda: dm.EpsModel(config["dim"], config["num_steps"], tuple(config["hidden"]),
                                        time_dim=config["time_dim"], activation=config["activation"],
                                        rngs=nnx.Rngs(0)),
        "VAE": lambda: VAE(config["x_dim"], config["z_dim"], tuple(config["hidden"]), likelihood=config["likelihood"],
                           num_levels=config["num_levels"], activation=config["activation"], rngs=nnx.Rngs(0)),
        "Generator": lambda: Generator(config["noise_dim"], config["out_dim"], tuple(config["hidden"]),
                                       activation=config["activation"], output=config["output"], rngs=nnx.Rngs(0)),
    }
    if kind not in builders:
        raise ValueError(f"checkpoint {path.name!r} holds an unknown model {kind!r}")
    model = _skeleton(builders[kind])
    manifest = load_checkpoint(path, model)
    if kind == "EpsModel":
        schedule = dm.make_schedule(config["num_steps"], "linear", beta_1=config["beta_1"], beta_T=config["beta_T"])
        return model, schedule, manifest
    return model, manifest
