"""Every pretrained checkpoint the course ships, with the script that trains it.

A checkpoint is ``data/checkpoints/<name>.safetensors`` plus its manifest (see
:mod:`course_lib.checkpoints`); :func:`load` rebuilds the model from the manifest through the
model registry. The scripts are deterministic (fixed seeds): ``python scripts/train_checkpoints.py``
runs all of them.
"""
from __future__ import annotations

import pathlib
from typing import NamedTuple

from course_lib import _validate, checkpoints, paths


class Pretrained(NamedTuple):
    """One shipped checkpoint: the script (command) that writes it and the notebook that loads it."""

    command: str
    notebook: str


_VAE = "python scripts/train_vae_checkpoints.py"
_GAN = "python scripts/train_gan_checkpoints.py"
_BEYOND = "python scripts/train_beyond_checkpoints.py"
_WALK = "python scripts/train_walkthrough_checkpoints.py"
_FIELDS = "python scripts/train_vector_field_checkpoints.py"
_LANGUAGE = "python scripts/train_language_checkpoints.py"

CHECKPOINTS: dict[str, Pretrained] = {
    "vae_mnist5k_2d_beta0.5": Pretrained(_VAE, "04_vae"),
    "vae_mnist5k_2d_beta1": Pretrained(_VAE, "04_vae"),
    "vae_mnist5k_2d_beta4": Pretrained(_VAE, "04_vae"),
    "classifier_digits": Pretrained("python scripts/train_digit_classifier.py --dataset digits", "05_gan"),
    "gan_digits_generator": Pretrained(f"{_GAN} --only digits", "05_gan"),
    "gan_grid_plain_generator": Pretrained(f"{_GAN} --only toy", "05_gan"),
    "gan_grid_packed_generator": Pretrained(f"{_GAN} --only toy", "05_gan"),
    "walkthrough_gan_generator": Pretrained(_WALK, "06_code_walkthrough"),
    "walkthrough_vae": Pretrained(_WALK, "06_code_walkthrough"),
    "beyond_made_digits": Pretrained(_BEYOND, "07_beyond"),
    "beyond_transformer_digits": Pretrained(f"{_BEYOND} --only digits --families transformer", "07_beyond"),
    "beyond_flow_digits": Pretrained(_BEYOND, "07_beyond"),
    "beyond_ddpm_digits": Pretrained(_BEYOND, "07_beyond"),
    "beyond_vae_digits": Pretrained(_BEYOND, "07_beyond"),
    "beyond_gan_digits": Pretrained(_BEYOND, "07_beyond"),
    "beyond_flow_moons": Pretrained(f"{_BEYOND} --only toy", "07_beyond"),
    "beyond_ddpm_moons": Pretrained(f"{_BEYOND} --only toy", "07_beyond"),
    **{f"vf_{name}": Pretrained(_FIELDS, "08_vector_fields")
       for name in ("ring_linear", "ring_vp", "grid_linear", "grid_vp", "checkerboard_seed0", "digits_seed0",
                    "digits_guided_seed0")},
    **{f"language_{name}": Pretrained(_LANGUAGE, "09_language_models")
       for name in ("bigram_net", "mlp", "transformer")},
}
"""Shipped checkpoints by name (the file stem in ``data/checkpoints``)."""

VAE_BETAS = (0.5, 1.0, 4.0)
"""KL weights of the pretrained 2-D MNIST-5k VAEs (beta-VAE, Higgins et al., 2017)."""


def beta_vae(beta: float) -> str:
    """The name of the pretrained 2-D MNIST-5k VAE with KL weight ``beta`` (one of :data:`VAE_BETAS`)."""
    beta = _validate.positive_float("beta", beta)
    return f"vae_mnist5k_2d_beta{beta:g}"


def path(name: str) -> pathlib.Path:
    """Where the checkpoint ``name`` lives: ``<checkpoint folder>/<name>.safetensors``."""
    _validate.one_of("name", name, CHECKPOINTS)
    return paths.checkpoint_dir() / f"{name}{checkpoints.SUFFIX}"


def load(name: str, *, expected_config: dict | None = None):
    """The pretrained model ``name`` and its manifest: ``(model, manifest)``.

    Raises FileNotFoundError naming the command that makes the checkpoint when it is missing,
    and :class:`~course_lib.checkpoints.CheckpointError` when it is corrupted or does not fit.
    """
    where = path(name)
    if not where.is_file():
        raise FileNotFoundError(f"no pretrained checkpoint {where.name!r} in the checkpoint folder "
                                f"{str(where.parent)!r}; create it with: {CHECKPOINTS[name].command}")
    return checkpoints.load_model(where, expected_config=expected_config)


__all__ = ["CHECKPOINTS", "Pretrained", "VAE_BETAS", "beta_vae", "path", "load"]
