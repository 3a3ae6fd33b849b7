"""GAN players (Goodfellow et al., 2014) as Flax NNX MLPs.

Taught in 05_gan.ipynb and 06_code_walkthrough.ipynb. The generator maps noise
z ~ N(0, I) to a sample; the discriminator maps a sample to one logit, so that
D(x) = sigmoid(logit) is the probability that x came from the data.
"""
from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from course_lib import _validate
from course_lib.models.mlp import MLP, check_sizes
from course_lib.models.registry import build_from_config, register

OUTPUT_ACTIVATIONS = {"none": lambda x: x, "sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh}


@register
class Generator(nnx.Module):
    """G: z (B, noise_dim) -> x (B, out_dim).

    Args:
      noise_dim: size of z.
      out_dim: size of a sample (2 for toy data, 64 or 784 for digits).
      hidden: hidden widths.
      output: ``none`` (real-valued, toy data), ``sigmoid`` (pixels in [0, 1]) or ``tanh``.
    """

    def __init__(self, noise_dim: int, out_dim: int, hidden: Sequence[int] = (128, 128), *,
                 activation: str = "relu", output: str = "none", rngs: nnx.Rngs):
        self.noise_dim = _validate.positive_int("noise_dim", noise_dim)
        self.out_dim = _validate.positive_int("out_dim", out_dim)
        self.hidden = check_sizes("hidden", hidden)
        self.output = _validate.one_of("output", output, OUTPUT_ACTIVATIONS)
        self.activation = activation
        self.net = MLP((self.noise_dim, *self.hidden, self.out_dim), activation=activation, rngs=rngs)

    @property
    def config(self) -> dict:
        return {"model": "Generator", "noise_dim": self.noise_dim, "out_dim": self.out_dim,
                "hidden": list(self.hidden), "activation": self.activation, "output": self.output}

    @classmethod
    def from_config(cls, config: dict, *, rngs: nnx.Rngs | None = None) -> Generator:
        """Rebuild the architecture from :attr:`config` (fresh weights; ``rngs`` defaults to seed 0)."""
        return build_from_config(cls, config, rngs)

    def __call__(self, z):
        _validate.array("z", z, dtype_kind="number", finite=False)
        _validate.width("z", z, self.noise_dim, of=f"this Generator, noise_dim={self.noise_dim}")
        return OUTPUT_ACTIVATIONS[self.output](self.net(z))

    def sample(self, key, num_samples: int) -> jax.Array:
        """x = G(z), z ~ N(0, I). Returns (N, out_dim)."""
        _validate.prng_key("key", key)
        num_samples = _validate.sample_count("num_samples", num_samples, per_sample=self.out_dim)
        return self(jax.random.normal(key, (num_samples, self.noise_dim)))


@register
class ToyGenerator(Generator):
    """x = scale * G(z): a generator of 2-D toy data with a fixed output scale (05_gan.ipynb's lab).

    The lab trains a :class:`Generator` and multiplies its output by ``LabConfig.scale``; this
    class keeps that scale with the weights, so that a checkpoint samples what the lab sampled.
    Same parameters as :class:`Generator`; ``sample`` returns a numpy array (N, out_dim).
    """

    def __init__(self, noise_dim: int, out_dim: int, hidden: Sequence[int] = (128, 128), *,
                 activation: str = "relu", output: str = "none", scale: float = 1.0, rngs: nnx.Rngs):
        super().__init__(noise_dim, out_dim, hidden, activation=activation, output=output, rngs=rngs)
        self.scale = _validate.positive_float("scale", scale)

    @property
    def config(self) -> dict:
        return {**super().config, "model": "ToyGenerator", "scale": self.scale}

    @classmethod
    def from_generator(cls, generator: Generator, scale: float) -> ToyGenerator:
        """A ToyGenerator holding (a copy of) ``generator``'s weights and the output ``scale``."""
        if not isinstance(generator, Generator):
            raise TypeError(f"generator must be a course_lib.models.Generator, got {type(generator).__name__}")
        toy = cls.from_config({**generator.config, "model": cls.__name__, "scale": scale})
        nnx.update(toy, nnx.state(generator, nnx.Param))
        return toy

    def __call__(self, z):
        return self.scale * super().__call__(z)

    def sample(self, key, num_samples: int) -> np.ndarray:
        """(N, out_dim) samples scale * G(z), z ~ N(0, I), as a numpy array."""
        return np.asarray(super().sample(key, num_samples))


@register
class Discriminator(nnx.Module):
    """D: x (B, in_dim) -> logits (B,); D(x) = sigmoid(logits)."""

    def __init__(self, in_dim: int, hidden: Sequence[int] = (128, 128), *,
                 activation: str = "relu", rngs: nnx.Rngs):
        self.in_dim = _validate.positive_int("in_dim", in_dim)
        self.hidden = check_sizes("hidden", hidden)
        self.activation = activation
        self.net = MLP((self.in_dim, *self.hidden, 1), activation=activation, rngs=rngs)

    @property
    def config(self) -> dict:
        return {"model": "Discriminator", "in_dim": self.in_dim, "hidden": list(self.hidden),
                "activation": self.activation}

    @classmethod
    def from_config(cls, config: dict, *, rngs: nnx.Rngs | None = None) -> Discriminator:
        """Rebuild the architecture from :attr:`config` (fresh weights; ``rngs`` defaults to seed 0)."""
        return build_from_config(cls, config, rngs)

    def __call__(self, x):
        _validate.array("x", x, dtype_kind="number", finite=False)
        _validate.width("x", x, self.in_dim, of=f"this Discriminator, in_dim={self.in_dim}")
        return self.net(x)[..., 0]


def check_players(generator, discriminator) -> None:
    """Check that ``generator`` and ``discriminator`` are the course's players and fit together."""
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a course_lib.models.Generator, got {type(generator).__name__}")
    if not isinstance(discriminator, Discriminator):
        raise TypeError(f"discriminator must be a course_lib.models.Discriminator, got {type(discriminator).__name__}")
    if generator.out_dim != discriminator.in_dim:
        raise ValueError(f"generator.out_dim ({generator.out_dim}) must equal discriminator.in_dim "
                         f"({discriminator.in_dim})")
