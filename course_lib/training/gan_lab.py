"""A GAN on 2-D toy data, built for experiments: the engine of the GAN lab and of the
mode-collapse section.

Taught in 05_gan.ipynb ("The GAN lab", "Mode collapse"). Compared with
:mod:`course_lib.training.gan` (the plain trainer), this one adds what the lab and the
mode-collapse fixes need:

- stepping both players, the discriminator only or the generator only (``mode``);
- hyperparameters that can change between bursts *without recompiling*: learning rates,
  loss kind, D steps per G step, the R1 weight (once R1 is on: switching it on or off, i.e.
  gamma = 0 <-> gamma > 0, builds another program, see :attr:`LabConfig.static_key`) and the
  learning-rate schedule travel into the compiled function as numbers (a :class:`Hyper`), so
  moving a slider costs nothing;
- packing (PacGAN, Lin et al., 2018): the discriminator judges ``pack`` samples at once,
  concatenated into one vector of size ``pack * 2``; a generator that puts all its samples
  on one mode produces packs that look nothing like packs of real data;
- the R1 gradient penalty (Mescheder et al., 2018) on real data, on the discriminator's
  *logit* l(x) (D(x) = sigmoid(l(x))):
      L_D <- L_D + gamma / 2 * E_x ||grad_x l(x)||^2;
- a linear learning-rate decay to zero over the last ``decay_steps`` of ``num_steps``;
- short bursts of steps fused with ``lax.scan`` (one compiled call per burst).

The run's configuration (:class:`LabConfig`, re-exported here) is in
:mod:`course_lib.training.gan_lab_config`. The players are :class:`course_lib.models.Generator` and
:class:`course_lib.models.Discriminator` (the latter with ``in_dim = pack * 2``).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from course_lib import _validate, losses
from course_lib.data import toy
from course_lib.models.gan import Discriminator, Generator, ToyGenerator
from course_lib.training.core import CompiledStep, make_optimizer, set_learning_rate
from course_lib.training.gan import GANState, discriminator_update, generator_update
from course_lib.training.gan_lab_config import LAB_MODES, METRICS, LabConfig



class Hyper(NamedTuple):
    """The dynamic hyperparameters, as numbers the compiled burst receives (a pytree)."""

    g_lr: jax.Array
    d_lr: jax.Array
    loss_id: jax.Array  # index into losses.GAN_LOSSES
    d_steps: jax.Array
    r1_gamma: jax.Array
    num_steps: jax.Array
    decay_steps: jax.Array

    @classmethod
    def from_config(cls, config: LabConfig) -> Hyper:
        return cls(jnp.float32(config.g_lr), jnp.float32(config.d_lr),
                   jnp.int32(losses.GAN_LOSSES.index(config.loss)), jnp.int32(config.d_steps),
                   jnp.float32(config.r1_gamma), jnp.int32(config.num_steps), jnp.int32(config.decay_steps))


class LabSteps(NamedTuple):
    """Compiled functions for one :attr:`LabConfig.static_key`.

    burst(state, hyper, key, train, num_steps) -> (state, metrics)   num_steps (static) fused steps;
        train (2,) bool says whether D and G are updated (see :func:`run_burst`'s mode);
        metrics: dict of (num_steps,) arrays, see :data:`METRICS`.
    generate(g_params, z (N, noise_dim)) -> x (N, 2)
    discriminate(d_params, x (N, 2)) -> D(x) (N,), probabilities; with packing each point is
        judged as a pack of identical copies.
    push(d_params, x (N, 2), loss_id) -> (N, 2): -grad_x of the generator loss, the direction in
        which the generator's update moves each generated point.
    """

    config: LabConfig
    g_graphdef: object
    d_graphdef: object
    burst: CompiledStep
    generate: CompiledStep
    discriminate: CompiledStep
    push: CompiledStep


def build_players(config: LabConfig, key) -> tuple[Generator, Discriminator]:
    """Fresh generator (noise_dim -> 2) and discriminator (pack * 2 -> logit) for ``config``."""
    _validate.prng_key("key", key)
    k_g, k_d = jax.random.split(key)
    g = Generator(config.noise_dim, 2, config.g_hidden, activation=config.g_activation,
                  rngs=nnx.Rngs(params=k_g))
    d = Discriminator(2 * config.pack, config.d_hidden, activation=config.d_activation,
                      rngs=nnx.Rngs(params=k_d))
    return g, d


def _optimizer(config: LabConfig) -> optax.GradientTransformation:
    """The lab's optimizer, its learning rate in its state (set before every update, so that
    it can change without recompiling); both players start from the same state structure."""
    kwargs = {"b1": config.b1} if config.optimizer in ("adam", "adamw") else {}
    return make_optimizer(config.optimizer, 1.0, dynamic_lr=True, **kwargs)


def lr_multiplier(step, num_steps, decay_steps):
    """1 until ``num_steps - decay_steps``, then linear to 0 at ``num_steps`` (1 if decay_steps = 0)."""
    step = jnp.asarray(step, jnp.float32)
    remaining = jnp.asarray(num_steps, jnp.float32) - step
    ramp = jnp.clip(remaining / jnp.maximum(jnp.asarray(decay_steps, jnp.float32), 1.0), 0.0, 1.0)
    return jnp.where(jnp.asarray(decay_steps) > 0, ramp, 1.0)


def _d_loss_kind(loss_id, real_logits, fake_logits):
    """discriminator_loss of the kind GAN_LOSSES[loss_id], with loss_id a traced integer.

    The losses are elementwise, so all kinds are computed and one is selected: cheaper to
    compile than a ``lax.switch`` (whose branches would each be differentiated).
    """
    kinds = [losses.discriminator_loss(real_logits, fake_logits, k) for k in losses.GAN_LOSSES]
    return jnp.select([loss_id == i for i in range(len(kinds))], kinds)


def _g_loss_kind(loss_id, fake_logits):
    """generator_loss of the kind GAN_LOSSES[loss_id], with loss_id a traced integer."""
    kinds = [losses.generator_loss(fake_logits, k) for k in losses.GAN_LOSSES]
    return jnp.select([loss_id == i for i in range(len(kinds))], kinds)


def _lab_networks(config: LabConfig, g_graphdef, d_graphdef):
    """The pure functions G(params, z), D(params, x) and real_batch(key) of a lab run."""
    batch, pack, scale = config.batch_size, config.pack, config.scale
    target, target_params = config.target, dict(config.target_params)

    # Input normalisation: both networks see x / scale, which keeps data of any spread near unit size.
    def G(params, z):  # (N, noise_dim) -> (N, 2)
        return scale * nnx.merge(g_graphdef, params)(z)

    def D(params, x):  # (N * pack, 2) -> (N,) logits, one per pack
        return nnx.merge(d_graphdef, params)(x.reshape(-1, 2 * pack) / scale)

    def real_batch(key):  # (batch * pack, 2)
        return toy.sample_toy(target, key, batch * pack, **target_params)

    return G, D, real_batch


def _lab_updates(config: LabConfig, G, D, real_batch):
    """The lab's player updates (a traced loss kind, R1, dynamic learning rates) and D's metrics when frozen."""
    tx = _optimizer(config)
    batch, pack, noise_dim = config.batch_size, config.pack, config.noise_dim
    use_r1 = config.r1_gamma > 0  # static: the penalty's double backward is only built when used

    def d_update(g_params, d_params, d_opt, hyper, lr_mult, key):
        k_real, k_z = jax.random.split(key)
        x_real = real_batch(k_real)
        x_fake = jax.lax.stop_gradient(G(g_params, jax.random.normal(k_z, (batch * pack, noise_dim))))

        def loss_fn(dp):
            real_logits, fake_logits = D(dp, x_real), D(dp, x_fake)
            base = jnp.mean(_d_loss_kind(hyper.loss_id, real_logits, fake_logits))
            if use_r1:  # R1: gradient of the summed real logits w.r.t. each (packed) real input
                grad_x = jax.grad(lambda v: jnp.sum(D(dp, v)))(x_real)  # (batch * pack, 2)
                r1 = jnp.sum(grad_x**2) / batch
            else:
                r1 = jnp.float32(0)
            return base + 0.5 * hyper.r1_gamma * r1, (base, r1, real_logits, fake_logits)

        d_opt = set_learning_rate(d_opt, hyper.d_lr * lr_mult)
        d_params, d_opt, _, (base, r1, real_logits, fake_logits) = discriminator_update(loss_fn, d_params, d_opt, tx)
        metrics = {"d_loss": base, "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
                   "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)), "r1": r1}
        return d_params, d_opt, metrics

    def g_update(g_params, g_opt, d_params, hyper, lr_mult, key):
        z = jax.random.normal(key, (batch * pack, noise_dim))

        def loss_fn(gp):
            return jnp.mean(_g_loss_kind(hyper.loss_id, D(d_params, G(gp, z)))), None

        g_opt = set_learning_rate(g_opt, hyper.g_lr * lr_mult)
        g_params, g_opt, g_loss, _ = generator_update(loss_fn, g_params, g_opt, tx)
        return g_params, g_opt, g_loss

    def current_d_metrics(g_params, d_params, hyper, key):
        """D's loss and outputs for the current players (when D is not being trained)."""
        k_real, k_z = jax.random.split(key)
        real_logits = D(d_params, real_batch(k_real))
        fake_logits = D(d_params, G(g_params, jax.random.normal(k_z, (batch * pack, noise_dim))))
        return {"d_loss": jnp.mean(_d_loss_kind(hyper.loss_id, real_logits, fake_logits)),
                "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
                "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)), "r1": jnp.float32(0)}

    return d_update, g_update, current_d_metrics


_STEP_CACHE: dict = {}


def make_lab_steps(config: LabConfig) -> LabSteps:
    """Compiled steps for ``config`` (cached by :attr:`LabConfig.static_key`)."""
    if not isinstance(config, LabConfig):
        raise TypeError(f"config must be a LabConfig, got {type(config).__name__}")
    cached = _STEP_CACHE.get(config.static_key)
    if cached is not None:
        return cached._replace(config=config)
    g, d = build_players(config, jax.random.key(0))
    g_graphdef, _ = nnx.split(g, nnx.Param)
    d_graphdef, _ = nnx.split(d, nnx.Param)
    batch, pack, noise_dim = config.batch_size, config.pack, config.noise_dim
    G, D, real_batch = _lab_networks(config, g_graphdef, d_graphdef)
    d_update, g_update, current_d_metrics = _lab_updates(config, G, D, real_batch)

    def one_step(state: GANState, hyper: Hyper, key, train: jax.Array):
        # train: (2,) bool, whether D and G are updated. Traced, so the three modes share one compilation.
        k_d, k_g = jax.random.split(key)
        lr_mult = lr_multiplier(state.step, hyper.num_steps, hyper.decay_steps)

        def train_d(_):
            def body(i, carry):
                dp, do, _ = carry
                return d_update(state.g_params, dp, do, hyper, lr_mult, jax.random.fold_in(k_d, i))

            zero = {k: jnp.float32(0) for k in ("d_loss", "d_real", "d_fake", "r1")}
            # d_steps is a traced number (a while loop), so changing it does not recompile.
            return jax.lax.fori_loop(0, hyper.d_steps, body, (state.d_params, state.d_opt, zero))

        def keep_d(_):
            return state.d_params, state.d_opt, current_d_metrics(state.g_params, state.d_params, hyper, k_d)

        d_params, d_opt, metrics = jax.lax.cond(train[0], train_d, keep_d, None)

        def train_g(_):
            return g_update(state.g_params, state.g_opt, d_params, hyper, lr_mult, k_g)

        def keep_g(_):
            fake_logits = D(d_params, G(state.g_params, jax.random.normal(k_g, (batch * pack, noise_dim))))
            return state.g_params, state.g_opt, jnp.mean(_g_loss_kind(hyper.loss_id, fake_logits))

        g_params, g_opt, g_loss = jax.lax.cond(train[1], train_g, keep_g, None)
        step = state.step + train[1].astype(jnp.int32)
        return GANState(g_params, d_params, g_opt, d_opt, step), {**metrics, "g_loss": g_loss}

    def burst(state, hyper, key, train, num_steps):
        return jax.lax.scan(lambda s, k: one_step(s, hyper, k, train), state, jax.random.split(key, num_steps))

    def generate(g_params, z):
        return G(g_params, z)

    def discriminate(d_params, x):
        return jax.nn.sigmoid(D(d_params, jnp.repeat(x, pack, axis=0)))

    def push(d_params, x, loss_id):
        def total_loss(xs):
            return jnp.sum(_g_loss_kind(loss_id, D(d_params, jnp.repeat(xs, pack, axis=0))))
        return -jax.grad(total_loss)(x)

    steps = LabSteps(config, g_graphdef, d_graphdef,
                     CompiledStep(burst, name="gan_lab_burst", static_argnums=(4,)),
                     CompiledStep(generate, name="gan_lab_generate"),
                     CompiledStep(discriminate, name="gan_lab_discriminate"),
                     CompiledStep(push, name="gan_lab_push"))
    _STEP_CACHE[config.static_key] = steps
    return steps


def init_lab_state(config: LabConfig, key) -> GANState:
    """Fresh players and optimizer states for ``config`` (same key, same initial players)."""
    g, d = build_players(config, key)
    tx = _optimizer(config)
    g_params, d_params = nnx.state(g, nnx.Param), nnx.state(d, nnx.Param)
    return GANState(g_params, d_params, tx.init(g_params), tx.init(d_params), jnp.int32(0))


def run_burst(steps: LabSteps, state: GANState, key, num_steps: int, mode: str = "both",
              config: LabConfig | None = None):
    """Run ``num_steps`` fused steps; returns (new state, metrics dict of (num_steps,) numpy arrays).

    ``config`` (default: ``steps.config``) supplies the dynamic hyperparameters; its static
    fields must match the steps'.
    """
    if not isinstance(steps, LabSteps):
        raise TypeError(f"steps must come from make_lab_steps, got {type(steps).__name__}")
    config = steps.config if config is None else config
    if not isinstance(config, LabConfig):
        raise TypeError(f"config must be a LabConfig, got {type(config).__name__}")
    if config.static_key != steps.config.static_key:
        raise ValueError("config changes a static field (architecture, optimizer, batch size, pack or "
                         "target); build new steps with make_lab_steps(config) and a new state")
    _validate.prng_key("key", key)
    num_steps = _validate.positive_int("num_steps", num_steps)
    _validate.one_of("mode", mode, LAB_MODES)
    train = jnp.array([mode in ("both", "d"), mode in ("both", "g")])
    state, metrics = steps.burst(state, Hyper.from_config(config), key, train, num_steps)
    return state, {k: np.asarray(v) for k, v in metrics.items()}


def players_from_state(steps: LabSteps, state: GANState) -> tuple[Generator, Discriminator]:
    """The state's parameters as :class:`Generator` and :class:`Discriminator` modules."""
    return nnx.merge(steps.g_graphdef, state.g_params), nnx.merge(steps.d_graphdef, state.d_params)


def train_toy_gan(config: LabConfig, key, num_steps: int | None = None, *, burst_size: int | None = None):
    """Train a fresh toy GAN for ``num_steps`` (default ``config.num_steps``) generator steps.

    The run is ``num_steps / burst_size`` compiled scans (one when ``burst_size`` is None), so a
    whole experiment costs one compilation however many seeds it runs.

    Returns:
      (steps, final state, metrics dict of (num_steps,) numpy arrays).
    """
    if not isinstance(config, LabConfig):
        raise TypeError(f"config must be a LabConfig, got {type(config).__name__}")
    _validate.prng_key("key", key)
    num_steps = config.num_steps if num_steps is None else num_steps
    num_steps = _validate.positive_int("num_steps", num_steps)
    burst_size = num_steps if burst_size is None else _validate.positive_int("burst_size", burst_size)
    if num_steps % burst_size:
        raise ValueError(f"num_steps ({num_steps}) must be a multiple of burst_size ({burst_size})")
    k_init, k_train = jax.random.split(key)
    steps = make_lab_steps(config)
    state = init_lab_state(config, k_init)
    parts = []
    for i in range(num_steps // burst_size):
        state, metrics = run_burst(steps, state, jax.random.fold_in(k_train, i), burst_size, "both", config)
        parts.append(metrics)
    return steps, state, {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def generate(steps: LabSteps, state: GANState, key, num_samples: int) -> np.ndarray:
    """``num_samples`` generated points x = G(z), z ~ N(0, I): (N, 2) numpy array."""
    _validate.prng_key("key", key)
    num_samples = _validate.positive_int("num_samples", num_samples)
    z = jax.random.normal(key, (num_samples, steps.config.noise_dim))
    return np.asarray(steps.generate(state.g_params, z))


def save_toy_generator(path, steps: LabSteps, state: GANState, *, metadata: dict | None = None) -> dict:
    """Save the generator of a toy run as a :class:`~course_lib.models.ToyGenerator` (it keeps the scale).

    Load it back with ``course_lib.checkpoints.load_model(path)``.
    """
    from course_lib import checkpoints

    g, _ = players_from_state(steps, state)
    toy = ToyGenerator.from_generator(g, steps.config.scale)
    return checkpoints.save_checkpoint(path, toy, config=toy.config, metadata=metadata)
