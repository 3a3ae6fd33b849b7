"""Training a GAN: one jit-compiled update per player, fused with ``lax.scan``.

Taught in 05_gan.ipynb and 06_code_walkthrough.ipynb. One GAN step is

1. ``d_steps`` discriminator updates, each on a fresh real batch and fresh fakes:
   minimise mean discriminator_loss(D(x), D(G(z)))  (G held fixed);
2. one generator update: minimise mean generator_loss(D(G(z)))  (D held fixed).

Each player has its own optimizer state. Real data comes either from a dataset
array (a batch of random rows, drawn on the device) or from a pure sampler
``sample_real(key, n) -> (n, D)`` such as a toy distribution.

:func:`train_gan` is data-parallel over every local device (:mod:`course_lib.training.parallel`):
both players' parameters and optimizer states, and the dataset array, are replicated; the
batches drawn inside each step (real x, z, fake x) are split along their batch axis. With one
device that is a no-op.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from course_lib import _validate, losses
from course_lib.models.gan import Discriminator, Generator, check_players
from course_lib.training import parallel
from course_lib.training.core import (
    CompiledStep,
    History,
    check_finite,
    make_optimizer,
    progress_bar,
    should_show_progress,
)


class GANState(NamedTuple):
    """Both players' parameters, optimizer states and the generator updates done (a pytree).

    The one state of every GAN loop of the course: :func:`train_gan`, the GAN lab
    (:mod:`course_lib.training.gan_lab`) and the walkthrough's recipes.
    """

    g_params: object
    d_params: object
    g_opt: object
    d_opt: object
    step: jax.Array  # int32 scalar: generator updates done so far


def _player_update(loss_fn, params, opt_state, tx):
    (value, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value, aux


def discriminator_update(d_loss_fn: Callable, d_params, d_opt, tx: optax.GradientTransformation):
    """One discriminator step: ``d_params - lr * update(grad d_loss_fn(d_params))``.

    ``d_loss_fn(d_params) -> (loss, aux)`` closes over the real batch and the generated one
    (G held fixed: its samples carry no gradient), e.g. mean discriminator_loss(D(x), D(G(z))).
    A learning rate that changes between steps lives in the optimizer state
    (``make_optimizer(..., dynamic_lr=True)``, as in the GAN lab).

    Returns (new d_params, new d_opt, loss, aux).
    """
    return _player_update(d_loss_fn, d_params, d_opt, tx)


def generator_update(g_loss_fn: Callable, g_params, g_opt, tx: optax.GradientTransformation):
    """One generator step: ``g_params - lr * update(grad g_loss_fn(g_params))``.

    ``g_loss_fn(g_params) -> (loss, aux)`` closes over z and the discriminator's parameters
    (D held fixed: only G's parameters are differentiated), e.g. mean generator_loss(D(G(z))).

    Returns (new g_params, new g_opt, loss, aux).
    """
    return _player_update(g_loss_fn, g_params, g_opt, tx)


class GANSteps(NamedTuple):
    """Compiled GAN functions.

    step(state, data, key) -> (state, metrics)            one GAN step
    run(state, data, key, num_steps) -> (state, metrics)  num_steps fused steps (num_steps static)
    """

    g_graphdef: object
    d_graphdef: object
    step: CompiledStep
    run: CompiledStep


def _real_batch_fn(sample_real):
    """Return f(key, n, data) -> (n, D): rows of ``data`` or draws of ``sample_real``."""
    if sample_real is None:
        def from_data(key, n, data):
            idx = jax.random.randint(key, (n,), 0, data.shape[0])
            return data[idx]
        return from_data
    if not callable(sample_real):
        raise TypeError(f"sample_real must be a function (key, n) -> samples, got {type(sample_real).__name__}")
    return lambda key, n, data: sample_real(key, n)


def make_gan_steps(
    generator: Generator,
    discriminator: Discriminator,
    g_tx: optax.GradientTransformation,
    d_tx: optax.GradientTransformation,
    *,
    batch_size: int,
    loss: str = "non_saturating",
    d_steps: int = 1,
    sample_real: Callable | None = None,
    mesh=None,
) -> GANSteps:
    """Build the compiled GAN step for these players and optimizers.

    With ``mesh`` (from :func:`course_lib.training.parallel.data_mesh`), every batch drawn
    inside the step (real x, z, fake x; all (B, ...)) is kept split along axis 0 over its
    ``"data"`` axis; None leaves placement to JAX.
    """
    check_players(generator, discriminator)
    batch_size = _validate.positive_int("batch_size", batch_size)
    d_steps = _validate.positive_int("d_steps", d_steps)
    _validate.one_of("loss", loss, losses.GAN_LOSSES)
    for name, tx in (("g_tx", g_tx), ("d_tx", d_tx)):
        _validate.instance(name, tx, optax.GradientTransformation, "an optax optimizer (e.g. make_optimizer('adam', 1e-3))")
    if sample_real is not None:
        _validate.callback("sample_real", sample_real, (jax.random.key(0), batch_size),
                           (batch_size, generator.out_dim), signature="(key, n) -> (n, D) samples")
    g_graphdef, _ = nnx.split(generator, nnx.Param)
    d_graphdef, _ = nnx.split(discriminator, nnx.Param)
    noise_dim = generator.noise_dim
    real_batch = _real_batch_fn(sample_real)
    if mesh is not None:
        parallel.check_batch_size(batch_size, mesh)

    def split_batch(x):
        return x if mesh is None else parallel.constrain_batch(x, mesh)  # each device: B / n_dev rows

    def G(params, z):
        return nnx.merge(g_graphdef, params)(z)

    def D(params, x):
        return nnx.merge(d_graphdef, params)(x)

    def d_update(g_params, data, carry, key):
        d_params, d_opt = carry
        k_real, k_z = jax.random.split(key)
        x_real = split_batch(real_batch(k_real, batch_size, data))  # (B, D)
        z = split_batch(jax.random.normal(k_z, (batch_size, noise_dim)))  # (B, noise_dim)
        x_fake = split_batch(jax.lax.stop_gradient(G(g_params, z)))  # (B, D)

        def d_loss_fn(dp):
            real_logits, fake_logits = D(dp, x_real), D(dp, x_fake)
            value = jnp.mean(losses.discriminator_loss(real_logits, fake_logits, loss))
            return value, (real_logits, fake_logits)

        d_params, d_opt, d_loss, (real_logits, fake_logits) = discriminator_update(d_loss_fn, d_params, d_opt, d_tx)
        metrics = {"d_loss": d_loss, "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
                   "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits))}
        return (d_params, d_opt), metrics

    def gan_step(state: GANState, data, key):
        k_d, k_g = jax.random.split(key)
        (d_params, d_opt), d_metrics = jax.lax.scan(
            lambda c, k: d_update(state.g_params, data, c, k), (state.d_params, state.d_opt),
            jax.random.split(k_d, d_steps))
        z = split_batch(jax.random.normal(k_g, (batch_size, noise_dim)))  # (B, noise_dim)

        def g_loss_fn(gp):
            return jnp.mean(losses.generator_loss(D(d_params, split_batch(G(gp, z))), loss)), None

        g_params, g_opt, g_loss, _ = generator_update(g_loss_fn, state.g_params, state.g_opt, g_tx)
        metrics = {k: v[-1] for k, v in d_metrics.items()}  # the last D update's metrics
        metrics["g_loss"] = g_loss
        return GANState(g_params, d_params, g_opt, d_opt, state.step + 1), metrics

    def run(state, data, key, num_steps):
        def body(s, k):
            return gan_step(s, data, k)
        return jax.lax.scan(body, state, jax.random.split(key, num_steps))

    return GANSteps(g_graphdef, d_graphdef, CompiledStep(gan_step, name="gan_step"),
                    CompiledStep(run, name="gan_run", static_argnums=(3,)))


def init_gan_state(generator, discriminator, g_tx, d_tx) -> GANState:
    """Initial :class:`GANState` from the players' current parameters."""
    check_players(generator, discriminator)
    for name, tx in (("g_tx", g_tx), ("d_tx", d_tx)):
        _validate.instance(name, tx, optax.GradientTransformation, "an optax optimizer (e.g. make_optimizer('adam', 1e-3))")
    g_params = nnx.state(generator, nnx.Param)
    d_params = nnx.state(discriminator, nnx.Param)
    return GANState(g_params, d_params, g_tx.init(g_params), d_tx.init(d_params), jnp.int32(0))


def train_gan(
    generator: Generator,
    discriminator: Discriminator,
    data=None,
    *,
    key,
    num_steps: int,
    sample_real: Callable | None = None,
    batch_size: int = 128,
    g_lr: float = 1e-3,
    d_lr: float = 1e-3,
    optimizer: str = "adam",
    b1: float = 0.5,
    loss: str = "non_saturating",
    d_steps: int = 1,
    steps_per_call: int = 100,
    devices=None,
    progress: bool | None = None,
) -> History:
    """Train both players in place; returns the per-step history.

    Give either ``data`` (an (N, D) array of real examples) or ``sample_real`` (a pure
    function (key, n) -> (n, D)). Steps run in compiled chunks of ``steps_per_call``;
    after each chunk the losses are checked and a NaN stops training with
    :class:`DivergenceError`, keeping the last good parameters.

    Training is data-parallel (:mod:`course_lib.training.parallel`): both players' parameters
    and optimizer states, and ``data``, are replicated on every device, and each batch drawn
    inside a step (real x, z, fake x) is split along its batch axis, so the losses are those of
    one device up to the order of floating-point sums.

    Args:
      generator, discriminator: the players (updated in place).
      data: (N, D) real examples, or None with ``sample_real``.
      key: JAX random key.
      num_steps: GAN steps (each: ``d_steps`` discriminator updates, then one generator update).
      sample_real: pure ``(key, n) -> (n, D)`` sampler of real examples, or None with ``data``.
      batch_size: real and fake examples per update.
      g_lr, d_lr, optimizer, b1: each player's optimizer (``b1``: Adam's first-moment decay).
      loss: one of :data:`course_lib.losses.GAN_LOSSES`.
      d_steps: discriminator updates per generator update.
      steps_per_call: steps fused into one compiled call (and between divergence checks).
      devices: devices to split each batch over (default: all local devices); ``batch_size``
        must be a multiple of their number. With one device this changes nothing.
      progress: show a progress bar (None: only if the run looks longer than 2 s).

    Returns:
      History with ``d_loss``, ``g_loss``, ``d_real``, ``d_fake`` (mean D output on real and
      generated batches) for every step.
    """
    _validate.prng_key("key", key)
    num_steps = _validate.positive_int("num_steps", num_steps)
    steps_per_call = _validate.positive_int("steps_per_call", steps_per_call)
    g_lr = _validate.positive_float("g_lr", g_lr)
    d_lr = _validate.positive_float("d_lr", d_lr)
    b1 = _validate.real_in_range("b1", b1, 0.0, 0.999999)
    check_players(generator, discriminator)
    if (data is None) == (sample_real is None):
        raise ValueError("give exactly one of data (an (N, D) array) or sample_real (a function (key, n) -> samples)")
    if data is not None:
        _validate.array("data", data, ndim=2, shape=(None, generator.out_dim), dtype_kind="float", min_rows=1)
        data = jnp.asarray(data)
    else:
        data = jnp.zeros((1, generator.out_dim))
    mesh = parallel.data_mesh(devices)
    parallel.check_batch_size(batch_size, mesh)
    data = parallel.replicate(data, mesh)  # rows are drawn on the device, so every device needs them all
    kwargs = {} if optimizer in ("sgd", "momentum", "nesterov", "rmsprop") else {"b1": b1}
    g_tx = make_optimizer(optimizer, g_lr, **kwargs)
    d_tx = make_optimizer(optimizer, d_lr, **kwargs)
    steps = make_gan_steps(generator, discriminator, g_tx, d_tx, batch_size=batch_size, loss=loss,
                           d_steps=d_steps, sample_real=sample_real, mesh=mesh)
    state = parallel.replicate(init_gan_state(generator, discriminator, g_tx, d_tx), mesh)
    history = History()
    bar = None
    start = time.perf_counter()
    done = 0
    try:
        while done < num_steps:
            n = min(steps_per_call, num_steps - done)
            key, k = jax.random.split(key)
            new_state, metrics = steps.run(state, data, k, n)
            check_finite(metrics, where=f"GAN training, steps {done + 1}-{done + n}",
                         hint=f"smaller learning rates (g_lr={g_lr}, d_lr={d_lr}), the non_saturating "
                              "loss, or fewer d_steps")
            state = new_state
            history.append(metrics)
            done += n
            if bar is None:
                elapsed = time.perf_counter() - start
                bar = progress_bar(num_steps, desc="GAN steps",
                                   enabled=should_show_progress(progress, elapsed * num_steps / n))
            bar.update(n)
    finally:
        nnx.update(generator, state.g_params)
        nnx.update(discriminator, state.d_params)
        if bar is not None:
            bar.close()
    return history


# --------------------------------------------------------------------------- the optimal discriminator


def fit_discriminator(sample_real, sample_fake, key, *, dim: int, hidden=(64, 64), num_steps: int = 2000,
                      batch_size: int = 256, lr: float = 3e-3) -> Discriminator:
    """Train a discriminator alone to tell two fixed samplers apart (05_gan, "The optimal discriminator").

    Minimises E_real[-log D(x)] + E_fake[-log(1 - D(x))] with Adam; the minimiser over all
    functions is D*(x) = p_real(x) / (p_real(x) + p_fake(x)), which the notebook overlays.

    Args:
      sample_real, sample_fake: pure functions (key, n) -> (n, dim) samples.
      key: JAX random key (initial weights and batches).
      dim: dimension of the samples.

    Returns:
      the trained :class:`Discriminator` (one compiled ``lax.scan`` over all steps).
    """
    if not callable(sample_real) or not callable(sample_fake):
        raise TypeError("sample_real and sample_fake must be functions (key, n) -> (n, dim) samples")
    _validate.prng_key("key", key)
    dim = _validate.positive_int("dim", dim)
    num_steps = _validate.positive_int("num_steps", num_steps)
    batch_size = _validate.positive_int("batch_size", batch_size)
    lr = _validate.positive_float("lr", lr)
    k_init, k_train = jax.random.split(key)
    d = Discriminator(dim, hidden, activation="leaky_relu", rngs=nnx.Rngs(params=k_init))
    graphdef, params = nnx.split(d, nnx.Param)
    tx = make_optimizer("adam", lr)

    def step(carry, k):
        p, opt = carry
        k_r, k_f = jax.random.split(k)
        x_real, x_fake = sample_real(k_r, batch_size), sample_fake(k_f, batch_size)

        def loss_fn(q):
            model = nnx.merge(graphdef, q)
            return jnp.mean(losses.discriminator_loss(model(x_real), model(x_fake))), None

        p, opt, loss, _ = discriminator_update(loss_fn, p, opt, tx)
        return (p, opt), loss

    run = jax.jit(lambda p, opt, k: jax.lax.scan(step, (p, opt), jax.random.split(k, num_steps)))
    (params, _), _ = run(params, tx.init(params), k_train)
    nnx.update(d, params)
    return d
