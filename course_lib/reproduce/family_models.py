"""The five families of the family table (07_beyond.ipynb): their settings, training recipes and measures.

One section per family: a settings dataclass (or dict), ``build_*``/``train_*`` on the digits
splits, and the family's own measure of test likelihood (exact for MADE, a bound for the flow
and the DDPM, an importance-sampling estimate for the VAE) and its sampler. The driver that
trains them all and writes the table is :mod:`course_lib.reproduce.family_table`; the table's second
autoregressive model, a transformer, has its recipe in :mod:`course_lib.reproduce.family_transformer`.
"""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from course_lib import data
from course_lib.models import diffusion as dm
from course_lib.models import flow as fl
from course_lib.models.autoregressive import MADE
from course_lib.training.generic import fit

NUM_LEVELS = 17
DIM = 64


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


def quick_settings(settings):
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


def jit_method(model, method: str, *static):
    """jax.jit of ``model.<method>(*args)`` as a pure function of the model's parameters."""
    graphdef, params = nnx.split(model)
    fn = jax.jit(lambda p, *args: getattr(nnx.merge(graphdef, p), method)(*args),
                 static_argnums=tuple(i + 1 for i in static))
    return lambda *args: fn(params, *args)


def made_nll(model: MADE, x) -> np.ndarray:
    """Exact -log p(x) per image (N,), in nats."""
    return -np.asarray(jit_method(model, "log_prob")(jnp.asarray(x)))


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
