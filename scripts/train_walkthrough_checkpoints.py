"""Train the longer runs shown in 06_code_walkthrough.ipynb and save them as checkpoints.

    python scripts/train_walkthrough_checkpoints.py                 # both, full length
    python scripts/train_walkthrough_checkpoints.py --only gan      # just the GAN
    python scripts/train_walkthrough_checkpoints.py --quick --out-dir /tmp/ckpt   # a smoke test

Writes into data/checkpoints/ (``course_lib.paths.checkpoint_dir()``):

- ``walkthrough_gan_generator.safetensors`` (+ ``.json`` manifest): the generator of the fixed
  GAN, the article's layer sizes 100 -> 256 -> 512 -> 784 with a tanh output, trained with
  ``course_lib.training.train_gan`` and ``walkthrough.GAN_SETTINGS`` on MNIST-5k scaled to
  [-1, 1]. Default 10,000 steps of batch 64 (160 passes over the 4,000 digits).
- ``walkthrough_vae.safetensors`` (+ manifest): ``walkthrough.article_vae()`` (encoder 784 -> 512
  -> 256, decoder 20 -> 256 -> 512 -> 784, Bernoulli likelihood) trained with
  ``course_lib.training.train_vae`` on binarised MNIST-5k. Default 60 epochs.

The manifests record the final measures (Frechet distance in the PCA basis of the training
digits for the GAN, validation negative ELBO for the VAE), the seed and the command.
Runtime on a 2-core laptop CPU: roughly 5-10 minutes for the GAN and 2-4 minutes for the VAE.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import jax
import numpy as np

from course_lib import data, pretrained
from course_lib.lessons import walkthrough as wt
from course_lib.checkpoints import save_checkpoint
from course_lib.evaluation import pca
from course_lib.paths import checkpoint_dir
from course_lib.training import evaluate_vae, train_gan, train_vae

EVAL_SAMPLES = 500
"""Generated images compared with the 500 test digits."""


def train_gan_checkpoint(out_dir: pathlib.Path, *, num_steps: int, seed: int) -> dict:
    """Train the fixed GAN and save its generator; returns the manifest."""
    x_train = data.to_unit_interval(data.load_mnist5k("train").x, 256)  # (4000, 784) in [0, 1]
    x_test = data.to_unit_interval(data.load_mnist5k("test").x, 256)  # (500, 784)
    basis = pca.pca_basis(x_train)
    generator = wt.article_generator(seed, output="tanh")
    discriminator = wt.article_discriminator(seed + 1)

    def frechet() -> float:
        x_gen = wt.article_rescale(generator.sample(jax.random.key(10_000 + seed), EVAL_SAMPLES))  # [-1,1] -> [0,1]
        return pca.pca_frechet_distance(np.asarray(x_gen), x_test, basis)

    before = frechet()
    start = time.perf_counter()
    history = train_gan(generator, discriminator, 2.0 * x_train - 1.0, key=jax.random.key(seed),
                        num_steps=num_steps, steps_per_call=min(num_steps, 500), progress=True,
                        **wt.GAN_SETTINGS)
    seconds = time.perf_counter() - start
    after = frechet()
    print(f"GAN: {num_steps} steps in {seconds:.0f} s; Frechet distance {before:.2f} -> {after:.2f}")
    metadata = {"num_steps": num_steps, "seed": seed, "settings": wt.GAN_SETTINGS,
                "frechet_before": round(before, 3), "frechet_after": round(after, 3),
                "final_losses": {k: round(v, 4) for k, v in history.last().items()},
                "train_seconds": round(seconds, 1),
                "command": f"python scripts/train_walkthrough_checkpoints.py --gan-steps {num_steps} --seed {seed}"}
    return save_checkpoint(out_dir / pretrained.path("walkthrough_gan_generator").name, generator, config=generator.config,
                           metadata=metadata)


def train_vae_checkpoint(out_dir: pathlib.Path, *, num_epochs: int, seed: int) -> dict:
    """Train the VAE built from the article's layer widths and save it; returns the manifest."""
    x_train = data.binarize(data.load_mnist5k("train").x, 256)  # (4000, 784) in {0, 1}
    x_val = data.binarize(data.load_mnist5k("val").x, 256)  # (500, 784)
    model = wt.article_vae(seed)
    start = time.perf_counter()
    train_vae(model, x_train, key=jax.random.key(seed), num_epochs=num_epochs, batch_size=100, lr=1e-3,
              progress=True)
    seconds = time.perf_counter() - start
    val = evaluate_vae(model, x_val, jax.random.key(1))
    print(f"VAE: {num_epochs} epochs in {seconds:.0f} s; validation -ELBO {val['loss']:.2f} nats "
          f"(rec {val['rec']:.2f}, KL {val['kl']:.2f})")
    metadata = {"num_epochs": num_epochs, "seed": seed, "batch_size": 100, "lr": 1e-3,
                "val_negative_elbo": round(val["loss"], 3), "val_rec": round(val["rec"], 3),
                "val_kl": round(val["kl"], 3), "train_seconds": round(seconds, 1),
                "command": f"python scripts/train_walkthrough_checkpoints.py --vae-epochs {num_epochs} --seed {seed}"}
    return save_checkpoint(out_dir / pretrained.path("walkthrough_vae").name, model, config=model.config, metadata=metadata)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("gan", "vae"), help="train just one of the two")
    parser.add_argument("--gan-steps", type=int, default=10_000)
    parser.add_argument("--vae-epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a few steps only (smoke test)")
    parser.add_argument("--out-dir", type=pathlib.Path, default=None,
                        help="where to write (default: data/checkpoints)")
    args = parser.parse_args(argv)
    out_dir = args.out_dir or checkpoint_dir()
    gan_steps, vae_epochs = (20, 1) if args.quick else (args.gan_steps, args.vae_epochs)
    if args.only in (None, "gan"):
        train_gan_checkpoint(out_dir, num_steps=gan_steps, seed=args.seed)
    if args.only in (None, "vae"):
        train_vae_checkpoint(out_dir, num_epochs=vae_epochs, seed=args.seed)
    print(f"checkpoints written to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
