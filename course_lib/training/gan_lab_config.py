"""What defines a toy-data GAN run of the GAN lab: :class:`LabConfig` (validated, frozen), the
step modes and the metric names. The compiled engine that runs it is
:mod:`course_lib.training.gan_lab`; taught in 05_gan.ipynb ("The GAN lab", "Mode collapse").
"""
from __future__ import annotations

import dataclasses

from course_lib import _validate, losses
from course_lib.data import toy
from course_lib.models.mlp import ACTIVATIONS, check_sizes
from course_lib.training.core import OPTIMIZERS

LAB_MODES = ("both", "d", "g")
"""What one step trains: both players (D then G), the discriminator only, the generator only."""

METRICS = ("d_loss", "g_loss", "d_real", "d_fake", "r1")
"""Per-step metrics returned by a burst (D(x) means are probabilities, sigmoid of the logit)."""


@dataclasses.dataclass(frozen=True)
class LabConfig:
    """Everything that defines a toy-data GAN run.

    Fields marked *static* fix array shapes or the optimizer's structure: changing them
    builds (and compiles) new steps. The others are *dynamic*: they are passed to the
    compiled burst as numbers, so they can change at any time.
    """

    target: str = "ring"  # static: a name in course_lib.data.TOY_NAMES
    target_params: tuple = ()  # static: ((name, value), ...) overrides of the toy defaults
    noise_dim: int = 2  # static: size of z ~ N(0, I)
    g_hidden: tuple = (128, 128)  # static: generator hidden widths
    d_hidden: tuple = (128, 128)  # static: discriminator hidden widths
    g_activation: str = "relu"  # static
    d_activation: str = "leaky_relu"  # static
    optimizer: str = "adam"  # static: a name in course_lib.training.OPTIMIZERS
    b1: float = 0.5  # static: Adam's first-moment decay (0.5 is the DCGAN choice)
    batch_size: int = 256  # static: packs per discriminator batch (samples = batch_size * pack)
    pack: int = 1  # static: samples per discriminator input (PacGAN's m; 1 = plain GAN)
    scale: float = 1.0  # static: the networks work in units of x / scale (G's output is multiplied by it)
    loss: str = "non_saturating"  # dynamic: one of course_lib.losses.GAN_LOSSES
    g_lr: float = 1e-3  # dynamic: generator learning rate
    d_lr: float = 1e-3  # dynamic: discriminator learning rate
    d_steps: int = 1  # dynamic: discriminator updates per generator update
    r1_gamma: float = 0.0  # dynamic: weight of the R1 penalty (static: whether it is 0)
    num_steps: int = 0  # dynamic: planned length of the run (0 = open-ended, as in the lab)
    decay_steps: int = 0  # dynamic: decay both lrs linearly to 0 over the last decay_steps

    def __post_init__(self):
        _validate.one_of("target", self.target, toy.TOY_NAMES)
        params = dict(self.target_params)
        toy._params(self.target, params)  # raises for unknown or invalid overrides
        object.__setattr__(self, "target_params", tuple(sorted(params.items())))
        _validate.positive_int("noise_dim", self.noise_dim, maximum=4096)
        object.__setattr__(self, "g_hidden", check_sizes("g_hidden", self.g_hidden))
        object.__setattr__(self, "d_hidden", check_sizes("d_hidden", self.d_hidden))
        for name, sizes in (("g_hidden", (self.noise_dim, *self.g_hidden, 2)), ("d_hidden", (2, *self.d_hidden, 1))):
            if sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) > 10**7:
                raise ValueError(f"{name} {tuple(sizes[1:-1])} gives more than 10,000,000 weights: a lab step "
                                 "would take seconds or exhaust memory; use widths of a few hundred")
        _validate.one_of("g_activation", self.g_activation, ACTIVATIONS)
        _validate.one_of("d_activation", self.d_activation, ACTIVATIONS)
        _validate.one_of("optimizer", self.optimizer, OPTIMIZERS)
        _validate.real_in_range("b1", self.b1, 0.0, 0.999)
        _validate.positive_int("batch_size", self.batch_size, maximum=65_536,
                               why="a lab step must take milliseconds")
        _validate.positive_int("pack", self.pack, maximum=64, why="PacGAN packs a few samples, not thousands")
        _validate.positive_float("scale", self.scale)
        _validate.one_of("loss", self.loss, losses.GAN_LOSSES)
        _validate.positive_float("g_lr", self.g_lr)
        _validate.positive_float("d_lr", self.d_lr)
        _validate.positive_int("d_steps", self.d_steps, maximum=100,
                               why="each D step is a full update; more per G step only slows every frame")
        _validate.positive_float("r1_gamma", self.r1_gamma, allow_zero=True)
        _validate.positive_int("num_steps", self.num_steps, minimum=0)
        _validate.positive_int("decay_steps", self.decay_steps, minimum=0)
        if self.decay_steps > self.num_steps:
            raise ValueError(f"decay_steps ({self.decay_steps}) must be <= num_steps ({self.num_steps}); "
                             "set num_steps to the planned length of the run")

    def replace(self, **changes) -> LabConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @property
    def static_key(self) -> tuple:
        """The fields that require new compiled steps when they change."""
        return (self.target, self.target_params, self.noise_dim, self.g_hidden, self.d_hidden,
                self.g_activation, self.d_activation, self.optimizer, self.b1, self.batch_size, self.pack,
                self.scale, self.r1_gamma > 0)
