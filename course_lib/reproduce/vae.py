"""The VAE likelihood experiments of 04_vae.ipynb, as reproducible commands.

    python -m course_lib reproduce vae-digits --json      # 8x8 digits, categorical decoder
    python -m course_lib reproduce vae-mnist5k --json     # binarized MNIST-5k, Bernoulli decoder

Protocol (the same for both): train on the train split with Adam (cosine-decayed learning
rate) and a linear KL warm-up; every few epochs measure the negative ELBO on the
validation split and keep the best parameters (early stopping); then on the test split
report, in nats per image,

- ``test_nelbo``: the negative ELBO, averaged over K = 1000 samples per image;
- ``test_nll_is``: -L_K, the importance-weighted estimate of -log p(x) from the same
  K samples (Burda et al., 2016), an upper bound on the true NLL in expectation.

For the 8x8 digits (scikit-learn's stored order split 1000 / 350 / 447, 17 grey levels) the
peer numbers in ``ANCHORS_DIGITS`` were measured by running github.com/jmtomczak/intro_dgm's
code, with its author's settings, on the same split (issue 16 of this project). Compare like
with like: the peer VAE's negative ELBO with ``best_val_nelbo`` / ``test_nelbo``, the exact NLL
of the peer's autoregressive model with an exact NLL (or, as an upper bound on it, ``test_nll_is``).
"""
from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np
from flax import nnx

from course_lib import _validate
from course_lib.data.images import load_vae_data
from course_lib.evaluation.likelihood import log_importance_weights, iwae_bound
from course_lib.models.vae import VAE
from course_lib.training.vae import train_vae

ANCHORS_DIGITS = {
    "peer_vae_nelbo_val": 100.47,  # intro_dgm vaes/vae_example.ipynb: best validation negative ELBO
    "peer_vae_nelbo_test": 96.64,  # the same run: test negative ELBO
    "peer_arm_nll_val": 88.88,  # intro_dgm arms/arm_example.ipynb (causal convolutions): best validation NLL, exact
    "peer_arm_nll_test": 86.44,  # the same run: test NLL, exact
}
"""Peer numbers (nats per image) on the stored-order digits split, quoted in 04_vae.ipynb: measured by
running github.com/jmtomczak/intro_dgm's code with its author's settings (PyTorch, 2-core CPU)."""


@dataclasses.dataclass(frozen=True)
class VAESettings:
    """Everything that defines one likelihood experiment."""

    dataset: str  # "digits" (categorical decoder, 17 levels) or "mnist5k" (binarized, Bernoulli)
    z_dim: int  # J, latent size
    hidden: tuple  # encoder hidden widths; the decoder mirrors them
    activation: str  # hidden activation
    batch_size: int  # examples per step
    lr: float  # peak Adam learning rate; cosine decay to lr * lr_final_fraction
    lr_final_fraction: float
    max_epochs: int  # upper limit; early stopping usually ends sooner
    kl_warmup_epochs: int  # beta ramps linearly from 1/warmup to 1 over these epochs
    eval_every: int  # epochs between validation checks
    patience: int  # stop when the validation -ELBO has not improved for this many epochs
    num_samples: int  # K for the importance-weighted test estimate


SETTINGS = {
    "vae-digits": VAESettings("digits", z_dim=16, hidden=(128, 128), activation="tanh", batch_size=50, lr=1e-3,
                              lr_final_fraction=0.1, max_epochs=150, kl_warmup_epochs=20, eval_every=5,
                              patience=25, num_samples=1000),
    "vae-mnist5k": VAESettings("mnist5k", z_dim=16, hidden=(512, 256), activation="elu", batch_size=100, lr=1e-3,
                               lr_final_fraction=0.1, max_epochs=100, kl_warmup_epochs=20, eval_every=5,
                               patience=20, num_samples=1000),
}

QUICK = {"max_epochs": 2, "eval_every": 1, "num_samples": 10}
"""Overrides for ``--quick`` (smoke tests): a couple of epochs, few samples, 50 test images."""


def build_vae(settings: VAESettings, x_dim: int, likelihood: str, num_levels, seed: int) -> VAE:
    """The model of an experiment, initialised from ``seed``."""
    return VAE(x_dim, settings.z_dim, settings.hidden, likelihood=likelihood, num_levels=num_levels,
               activation=settings.activation, rngs=nnx.Rngs(seed))


def fit_vae(model: VAE, x_train, x_val, settings: VAESettings, *, key) -> dict:
    """Train ``model`` in place with early stopping on the validation negative ELBO.

    One call of :func:`course_lib.training.train_vae` (one compiled scan per epoch) with an Adam
    optimizer whose learning rate follows a cosine decay over ``max_epochs``, KL warm-up, a check
    every ``eval_every`` epochs with the same validation noise, and ``patience``.

    Returns:
      dict with ``best_epoch``, ``epochs_run``, ``best_val_nelbo`` and per-check lists
      ``val_epochs``, ``val_nelbo``.
    """
    history = train_vae(model, x_train, key=key, num_epochs=settings.max_epochs, batch_size=settings.batch_size,
                        lr=settings.lr, lr_schedule="cosine", lr_final_fraction=settings.lr_final_fraction,
                        kl_warmup_epochs=settings.kl_warmup_epochs, x_val=x_val, eval_every=settings.eval_every,
                        patience=settings.patience, val_key=jax.random.key(12345),
                        devices=jax.devices()[:1], progress=False)  # one device, as the recipe was measured
    val = history["val_loss"]
    checks = np.flatnonzero(~np.isnan(val))  # epochs - 1 of the validation checks
    best = checks[np.argmin(val[checks])]  # the first of equal minima, as the strict "<" of the loop
    return {"best_epoch": int(best) + 1, "epochs_run": len(val), "best_val_nelbo": float(val[best]),
            "val_epochs": [int(i) + 1 for i in checks], "val_nelbo": [round(float(val[i]), 3) for i in checks]}


def run_experiment(name: str, seed: int, *, quick: bool = False) -> dict:
    """Train and evaluate one seed of experiment ``name``; return one JSON-serialisable row."""
    _validate.one_of("name", name, SETTINGS)
    seed = _validate.positive_int("seed", seed, minimum=0)
    settings = SETTINGS[name]
    if quick:
        settings = dataclasses.replace(settings, **QUICK)
    d = load_vae_data(settings.dataset)
    x_test = d["test"][:50] if quick else d["test"]
    model = build_vae(settings, d["train"].shape[1], d["likelihood"], d["num_levels"], seed)

    start = time.perf_counter()
    fit = fit_vae(model, d["train"], d["val"], settings, key=jax.random.key(seed))
    train_seconds = time.perf_counter() - start

    start = time.perf_counter()
    log_w = log_importance_weights(model, x_test, jax.random.key(10_000 + seed), num_samples=settings.num_samples)
    eval_seconds = time.perf_counter() - start
    row = {
        "experiment": name,
        "seed": seed,
        "test_nelbo": round(-float(np.mean(log_w)), 3),
        "test_nll_is": round(-float(np.mean(iwae_bound(log_w))), 3),
        "train_seconds": round(train_seconds, 2),
        "eval_seconds": round(eval_seconds, 2),
        "best_val_nelbo": round(fit["best_val_nelbo"], 3),
        "best_epoch": fit["best_epoch"],
        "epochs_run": fit["epochs_run"],
        "num_test": int(x_test.shape[0]),
        "quick": quick,
        "settings": {**dataclasses.asdict(settings), "hidden": list(settings.hidden),
                     "likelihood": d["likelihood"], "num_levels": d["num_levels"]},
        "backend": jax.default_backend(),
    }
    if settings.dataset == "digits":
        row["anchors"] = ANCHORS_DIGITS
    return row


def _summary(name: str, rows: list) -> dict:
    out = {"experiment": name, "summary": True, "seeds": [r["seed"] for r in rows]}
    for key in ("test_nelbo", "test_nll_is", "train_seconds"):
        values = np.array([r[key] for r in rows])
        out[f"{key}_mean"] = round(float(values.mean()), 3)
        out[f"{key}_std"] = round(float(values.std(ddof=1)), 3)
    return out


def _runner(name: str):
    def run(seeds: int = 1, quick: bool = False) -> list:
        seeds = _validate.positive_int("seeds", seeds)
        rows = [run_experiment(name, s, quick=quick) for s in range(seeds)]
        return rows + ([_summary(name, rows)] if seeds > 1 else [])

    run.__doc__ = f"Experiment {name!r}: one row per seed (0..seeds-1), plus a summary row for several seeds."
    return run


EXPERIMENTS = {name: _runner(name) for name in SETTINGS}
