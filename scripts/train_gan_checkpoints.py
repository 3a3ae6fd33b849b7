"""Train the GANs that 05_gan.ipynb loads instead of training them live.

    python scripts/train_gan_checkpoints.py                 # everything (a few minutes on 2 CPU cores)
    python scripts/train_gan_checkpoints.py --only digits   # just the digit GAN
    python scripts/train_gan_checkpoints.py --only toy      # just the mode-collapse generators

Writes, with course_lib.checkpoints (safetensors + SHA-256 manifest), into data/checkpoints/:

- gan_digits_generator.safetensors: an MLP GAN on the 1,000 training 8x8 digits (pixels in [0, 1]),
  scored against the test digits with the classifier of scripts/train_digit_classifier.py
  (run that first) when its checkpoint exists;
- gan_grid_<plain|packed>_generator.safetensors: seed 1 of the grid recipes of
  course_lib/reproduce/gan.py, before (plain) and after (packed + R1) the fix. Seed 1 is the
  first seed at which the plain GAN drops modes (at seed 0 it happens to cover all 25; the
  10-seed statistics are printed by ``python -m course_lib reproduce gan-grid-plain --seeds 10``).

Every random key is seeded, so re-running gives the same weights on the same software stack.
"""
from __future__ import annotations

import argparse
import sys
import time

import jax
from flax import nnx

from course_lib import data, pretrained
from course_lib.checkpoints import save_checkpoint
from course_lib.data import toy_mixture
from course_lib.evaluation.modes import mode_coverage
from course_lib.models import Discriminator, Generator
from course_lib.reproduce.gan import NUM_SAMPLES, RECIPES, config_summary
from course_lib.training import train_gan
from course_lib.training.gan_lab import generate, save_toy_generator, train_toy_gan

DIGITS_GAN = {
    "noise_dim": 16, "g_hidden": [256, 256], "d_hidden": [256, 256], "batch_size": 64, "num_steps": 8000,
    "g_lr": 2e-4, "d_lr": 2e-4, "b1": 0.5, "loss": "non_saturating", "seed": 0,
}
"""Settings of the digit GAN (the generator's config goes into its checkpoint manifest)."""

TOY_RUNS = {"grid_plain": "gan-grid-plain", "grid_packed": "gan-grid"}
"""Checkpoint name -> recipe in course_lib.reproduce.gan.RECIPES."""

TOY_SEED = 1
"""The seed of the toy checkpoints (see the module docstring for why 1)."""


def train_digits() -> None:
    s = DIGITS_GAN
    train = data.load_digits("train")
    x = data.to_unit_interval(train.x, train.num_levels)  # (1000, 64) in [0, 1]
    rngs = nnx.Rngs(params=s["seed"])
    g = Generator(s["noise_dim"], 64, tuple(s["g_hidden"]), activation="relu", output="sigmoid", rngs=rngs)
    d = Discriminator(64, tuple(s["d_hidden"]), activation="leaky_relu", rngs=rngs)
    start = time.perf_counter()
    history = train_gan(g, d, x, key=jax.random.key(s["seed"]), num_steps=s["num_steps"],
                        batch_size=s["batch_size"], g_lr=s["g_lr"], d_lr=s["d_lr"], b1=s["b1"], loss=s["loss"],
                        progress=False)
    seconds = time.perf_counter() - start
    metadata = {**s, "final": {k: round(v, 4) for k, v in history.last().items()},
                "command": "python scripts/train_gan_checkpoints.py --only digits"}
    try:
        from course_lib.evaluation.classifier import classifier_features, load_classifier
        from course_lib.evaluation.frechet import sample_quality

        clf, _ = load_classifier("digits")
        test = data.load_digits("test")
        x_test = data.to_unit_interval(test.x, test.num_levels)
        fake = g.sample(jax.random.key(1), len(x_test))
        quality = sample_quality(classifier_features(clf, x_test), classifier_features(clf, fake))
        metadata["test_quality"] = {k: round(v, 4) for k, v in quality.items()}
    except FileNotFoundError as err:
        print(f"(not scored: {err})")
    path = pretrained.path("gan_digits_generator")
    save_checkpoint(path, g, config=g.config, metadata=metadata)
    print(f"wrote {path.name} in {seconds:.1f} s: {metadata.get('test_quality')}")


def train_toy() -> None:
    for name, recipe in TOY_RUNS.items():
        config = RECIPES[recipe]
        start = time.perf_counter()
        steps, state, _ = train_toy_gan(config, jax.random.key(TOY_SEED))
        seconds = time.perf_counter() - start
        x = generate(steps, state, jax.random.key(10_000 + TOY_SEED), NUM_SAMPLES)
        cov = mode_coverage(x, toy_mixture(config.target, **dict(config.target_params)))
        metadata = {"recipe": recipe, "seed": TOY_SEED, "config": config_summary(config),
                    "coverage": {"modes": cov.modes, "hq": round(cov.hq_fraction, 4), "kl": round(cov.kl, 4)},
                    "command": "python scripts/train_gan_checkpoints.py --only toy"}
        path = pretrained.path(f"gan_{name}_generator")
        save_toy_generator(path, steps, state, metadata=metadata)
        print(f"wrote {path.name} in {seconds:.1f} s: {cov}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("digits", "toy"), default=None, help="train only one group")
    args = parser.parse_args(argv)
    if args.only in (None, "digits"):
        train_digits()
    if args.only in (None, "toy"):
        train_toy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
