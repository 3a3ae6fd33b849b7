"""course_lib: the small JAX/Flax library behind the deep generative models course.

Submodules (one concept each) are imported lazily, so ``import course_lib`` is
fast and a notebook pays only for what it uses:

- ``course_lib.data``: 2-D toy distributions, 8x8 digits, MNIST-5k (offline)
- ``course_lib.losses``: per-example losses (Gaussian KL, log-likelihoods, GAN losses)
- ``course_lib.models``: Flax NNX MLPs, VAE, GAN players, flow, MADE, DDPM noise model, registry
- ``course_lib.training``: jit-compiled steps, scan-fused epochs, history, divergence guard
- ``course_lib.evaluation``: likelihood estimates and sample-quality metrics
- ``course_lib.plotting``: figures (never calls plt.show())
- ``course_lib.widgets``: live ipywidgets shells over pure render functions
- ``course_lib.checkpoints``: safe (safetensors + SHA-256) checkpoints, ``load_model``
- ``course_lib.pretrained``: every shipped checkpoint and the script that trains it
- ``course_lib.exercises``: the check API for exercises with immediate feedback
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "checkpoints",
    "data",
    "evaluation",
    "exercises",
    "info",
    "losses",
    "models",
    "paths",
    "plotting",
    "pretrained",
    "training",
    "widgets",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"course_lib.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'course_lib' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
