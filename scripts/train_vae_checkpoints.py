"""Train the pretrained VAEs that 04_vae.ipynb loads, and save them with course_lib.checkpoints.

    python scripts/train_vae_checkpoints.py            # all betas, under a minute per model on 2 CPU cores
    python scripts/train_vae_checkpoints.py --beta 1   # just one
    python scripts/train_vae_checkpoints.py --quick --out /tmp/ckpt   # a smoke test

Each model is a VAE with a 2-D latent on binarized MNIST-5k (Bernoulli decoder), trained
with a KL weight beta (beta-VAE; beta = 1 is the plain VAE) for the latent explorer. Files:
``data/checkpoints/vae_mnist5k_2d_beta{beta}.safetensors`` and its ``.json`` manifest (SHA-256,
config, the training history, test metrics, seed and this command). Re-running with the
same arguments on the same software gives the same weights.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import jax
import numpy as np
from flax import nnx

from course_lib import checkpoints, pretrained
from course_lib.evaluation.likelihood import estimate_log_likelihood
from course_lib.models.vae import VAE
from course_lib.data import load_vae_data
from course_lib.training import train_vae

SETTINGS = {
    "z_dim": 2,  # a 2-D latent, so the whole latent space fits on screen
    "hidden": (128, 128),  # small on purpose: three models stay under 3 MB in total
    "activation": "elu",
    "num_epochs": 60,  # longer runs overfit the 4,000 training images
    "batch_size": 100,
    "lr": 1e-3,
    "kl_warmup_epochs": 10,
    "seed": 0,
}


def train_one(beta: float, settings: dict, out_dir: pathlib.Path | None, *, num_test: int | None = None,
              num_samples: int = 1000) -> dict:
    """Train, evaluate and save the 2-D MNIST-5k VAE with KL weight ``beta``; return its manifest."""
    d = load_vae_data("mnist5k")
    seed = settings["seed"]
    model = VAE(d["train"].shape[1], settings["z_dim"], settings["hidden"], likelihood="bernoulli",
                activation=settings["activation"], rngs=nnx.Rngs(seed))
    start = time.perf_counter()
    history = train_vae(model, d["train"], key=jax.random.key(seed), num_epochs=settings["num_epochs"],
                        batch_size=settings["batch_size"], lr=settings["lr"], beta=beta,
                        kl_warmup_epochs=settings["kl_warmup_epochs"], x_val=d["val"], progress=False)
    train_seconds = time.perf_counter() - start
    x_test = d["test"][:num_test] if num_test else d["test"]
    est = estimate_log_likelihood(model, x_test, jax.random.key(10_000 + seed), num_samples=num_samples)
    metadata = {
        "dataset": "mnist5k (binarized at 0.5)",
        "beta": beta,
        "settings": {**settings, "hidden": list(settings["hidden"])},
        "train_seconds": round(train_seconds, 1),
        "test_nelbo": round(-float(np.mean(est["elbo"])), 3),
        "test_nll_is": round(-float(np.mean(est["iwae"])), 3),
        "num_test": int(x_test.shape[0]),
        "num_samples": num_samples,
        "history": {k: [round(float(v), 4) for v in history[k]] for k in history.keys()},
        "command": pretrained.CHECKPOINTS[pretrained.beta_vae(beta)].command,
    }
    path = pretrained.path(pretrained.beta_vae(beta))
    path = path if out_dir is None else out_dir / path.name
    manifest = checkpoints.save_checkpoint(path, model, config=model.config, metadata=metadata)
    print(f"beta={beta:g}: test -ELBO {metadata['test_nelbo']:.2f} nats, IS NLL {metadata['test_nll_is']:.2f} nats, "
          f"{train_seconds:.0f} s, {manifest['num_bytes'] / 1e6:.2f} MB -> {path.name}", flush=True)
    return manifest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beta", type=float, action="append", help=f"train only this beta (default: all of "
                        f"{list(pretrained.VAE_BETAS)}); may be repeated")
    parser.add_argument("--out", type=pathlib.Path, default=None, help="output folder (default: data/checkpoints)")
    parser.add_argument("--quick", action="store_true", help="2 epochs, 50 test images, 20 importance samples (a smoke test)")
    args = parser.parse_args(argv)
    settings = dict(SETTINGS)
    if args.quick:
        settings["num_epochs"] = 2
    for beta in args.beta or pretrained.VAE_BETAS:
        train_one(float(beta), settings, args.out, num_test=50 if args.quick else None,
                  num_samples=20 if args.quick else 1000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
