"""The GAN lab's session: one toy GAN that a controller steps, reconfigures and inspects.

Taught in 05_gan.ipynb ("The GAN lab"). :class:`LabSession` holds a :class:`LabConfig`, the
compiled steps of :mod:`course_lib.training.gan_lab`, the players' :class:`GANState`, the loss
history and fixed probes; it decides whether a change of settings updates, recompiles or
restarts, and stops on divergence (:func:`course_lib.training.core.check_finite`) keeping the last
finite players. :func:`lab_snapshot` evaluates the players on the probes: everything the views
of :mod:`course_lib.widgets.gan_lab` draw, as numpy arrays. Nothing here draws or imports
ipywidgets.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from course_lib import _validate, losses
from course_lib.data import toy
from course_lib.training import gan_lab as engine
from course_lib.training.core import DivergenceError, check_finite, tree_is_finite
from course_lib.training.gan import GANState

LAB_DEFAULTS = engine.LabConfig(target="ring", g_hidden=(64, 64), d_hidden=(64, 64), batch_size=128,
                                g_lr=2e-3, d_lr=2e-3)
"""The lab's default run: small players and batches, so that a frame stays fast."""


# --------------------------------------------------------------------------- the lab's data


class LabView(NamedTuple):
    """Everything the views show, as numpy arrays (see :func:`lab_snapshot`)."""

    limits: float
    x_real: np.ndarray  # (N, 2)
    x_fake: np.ndarray  # (N, 2)
    d_grid: np.ndarray  # (R, R) D(x) on the grid, row 0 = bottom
    push: np.ndarray  # (A, 2) -grad_x of the generator loss at x_fake[:A]
    warp: np.ndarray  # (L, P, 2) images of L grid lines of P points each
    d_loss: np.ndarray  # (S,) per-step losses so far
    g_loss: np.ndarray  # (S,)
    loss: str  # the loss kind (for the reference line)


class LabProbes(NamedTuple):
    """Fixed inputs of the views, so that frames change only because the players change."""

    x_real: np.ndarray  # (N, 2)
    z_show: jax.Array  # (N, noise_dim)
    z_lines: jax.Array  # (L * P, noise_dim)
    grid: jax.Array  # (R * R, 2)
    num_lines: int
    limits: float
    resolution: int


def make_probes(config: engine.LabConfig, *, num_points: int = 300, num_lines: int = 9,
                points_per_line: int = 40, resolution: int = 48, seed: int = 0) -> LabProbes:
    """Real samples, noise for the generated samples, z-grid lines and the D grid for ``config``."""
    _validate.instance("config", config, engine.LabConfig)
    seed = _validate.positive_int("seed", seed, minimum=0)
    num_points = _validate.positive_int("num_points", num_points)
    num_lines = _validate.positive_int("num_lines", num_lines, minimum=2)
    points_per_line = _validate.positive_int("points_per_line", points_per_line, minimum=2)
    resolution = _validate.positive_int("resolution", resolution, minimum=2)
    k_real, k_z = jax.random.split(jax.random.key(seed))
    x_real = np.asarray(toy.sample_toy(config.target, k_real, num_points, **dict(config.target_params)))
    limits = float(np.ceil(np.max(np.abs(x_real)) * 1.25 * 2) / 2)
    z_show = jax.random.normal(k_z, (num_points, config.noise_dim))
    # Lines z1 = c (varying z2) and z2 = c (varying z1), c in [-2, 2]; other noise coordinates 0.
    ticks = np.linspace(-2.0, 2.0, num_lines, dtype=np.float32)
    along = np.linspace(-2.0, 2.0, points_per_line, dtype=np.float32)
    lines = []
    for c in ticks:
        lines.append(np.stack([np.full_like(along, c), along], 1))  # z1 = c
    if config.noise_dim >= 2:
        for c in ticks:
            lines.append(np.stack([along, np.full_like(along, c)], 1))  # z2 = c
    z2 = np.concatenate(lines)  # (L * P, 2)
    z_lines = np.zeros((z2.shape[0], config.noise_dim), np.float32)
    z_lines[:, : min(2, config.noise_dim)] = z2[:, : min(2, config.noise_dim)]
    if config.noise_dim == 1:  # one line: z1 along [-2, 2]
        z_lines = along[:, None].copy()
    ticks_grid = np.linspace(-limits, limits, resolution, dtype=np.float32)
    xx, yy = np.meshgrid(ticks_grid, ticks_grid)
    grid = np.stack([xx.ravel(), yy.ravel()], 1)
    return LabProbes(x_real, jnp.asarray(z_show), jnp.asarray(z_lines), jnp.asarray(grid),
                     len(z_lines) // points_per_line if config.noise_dim > 1 else 1, limits, resolution)


def lab_snapshot(steps: engine.LabSteps, state: GANState, probes: LabProbes,
                 d_loss=(), g_loss=(), *, num_arrows: int = 120, loss: str | None = None) -> LabView:
    """Evaluate the players on the probes: what the four views need."""
    _validate.instance("steps", steps, engine.LabSteps, "the LabSteps of make_lab_steps(config)")
    _validate.instance("state", state, GANState)
    _validate.instance("probes", probes, LabProbes, "the LabProbes of make_probes(config)")
    num_arrows = _validate.positive_int("num_arrows", num_arrows)
    loss = steps.config.loss if loss is None else _validate.one_of("loss", loss, losses.GAN_LOSSES)
    x_fake = steps.generate(state.g_params, probes.z_show)
    d_grid = steps.discriminate(state.d_params, probes.grid)
    push = steps.push(state.d_params, x_fake[:num_arrows], jnp.int32(losses.GAN_LOSSES.index(loss)))
    warp = steps.generate(state.g_params, probes.z_lines)
    return LabView(probes.limits, probes.x_real, np.asarray(x_fake),
                   np.asarray(d_grid).reshape(probes.resolution, probes.resolution), np.asarray(push),
                   np.asarray(warp).reshape(probes.num_lines, -1, 2), np.asarray(d_loss, np.float32),
                   np.asarray(g_loss, np.float32), loss)


# --------------------------------------------------------------------------- the session


MAX_BURST_STEPS = 20_000
"""Most steps one :meth:`LabSession.advance` may run (about 20 s on a laptop CPU)."""


class LabSession:
    """One lab run: config, compiled steps, players (a GANState), loss history, probes.

    Methods raise ``ValueError``/``TypeError`` with a clear message for invalid settings and
    :class:`~course_lib.training.DivergenceError` when a burst produces NaN (the players keep
    their last finite values).
    """

    def __init__(self, config: engine.LabConfig = LAB_DEFAULTS, *, seed: int = 0):
        if not isinstance(config, engine.LabConfig):
            raise TypeError(f"config must be a LabConfig, got {type(config).__name__}")
        self.seed = _validate.positive_int("seed", seed, minimum=0)
        self.config = config
        self.reset()

    def reset(self) -> None:
        """New players (from the seed), empty history."""
        self.steps = engine.make_lab_steps(self.config)
        self.state = engine.init_lab_state(self.config, jax.random.key(self.seed))
        self.probes = make_probes(self.config, seed=self.seed)
        self.history = {"d_loss": [], "g_loss": []}
        self.num_bursts = 0

    def configure(self, **changes) -> str:
        """Change settings; returns what happened ("updated", "restarted" or "recompiled").

        Dynamic settings (learning rates, loss, D steps) apply from the next step. A new target
        keeps the players (watch them chase the new data); a new optimizer keeps the players and
        restarts the optimizer; new network sizes or noise dimension restart the players.
        """
        new = self.config.replace(**changes)  # validates; raises with a clear message
        old = self.config
        saved = (self.config, self.steps, self.state, self.probes, self.history, self.num_bursts)
        try:
            return self._apply(new, old)
        except BaseException:  # e.g. out of memory while building new players: keep the old lab
            self.config, self.steps, self.state, self.probes, self.history, self.num_bursts = saved
            raise

    def _apply(self, new: engine.LabConfig, old: engine.LabConfig) -> str:
        self.config = new
        if new.static_key == old.static_key:
            self.steps = self.steps._replace(config=new)
            return "updated"
        players_changed = (new.noise_dim, new.g_hidden, new.d_hidden, new.g_activation, new.d_activation,
                           new.pack) != (old.noise_dim, old.g_hidden, old.d_hidden, old.g_activation,
                                         old.d_activation, old.pack)
        if players_changed:
            self.reset()
            return "restarted"
        fresh = engine.init_lab_state(new, jax.random.key(self.seed))
        self.steps = engine.make_lab_steps(new)
        self.state = fresh._replace(g_params=self.state.g_params, d_params=self.state.d_params,
                                    step=self.state.step)
        if new.optimizer == old.optimizer and new.b1 == old.b1:
            self.state = self.state._replace(g_opt=self.state.g_opt, d_opt=self.state.d_opt)
        self.probes = make_probes(new, seed=self.seed)
        return "recompiled"

    def advance(self, num_steps: int, mode: str = "both") -> dict:
        """Train for ``num_steps`` steps; returns the burst's last metrics."""
        num_steps = _validate.int_in_range(
            "num_steps", num_steps, 1, MAX_BURST_STEPS,
            why="one burst must finish in interactive time; use training.gan_lab.train_toy_gan for long runs")
        _validate.one_of("mode", mode, engine.LAB_MODES)
        key = jax.random.fold_in(jax.random.key(self.seed + 1), self.num_bursts)
        state, metrics = engine.run_burst(self.steps, self.state, key, num_steps, mode, self.config)
        self.num_bursts += 1
        where = (f"steps {int(self.state.step) + 1}-{int(self.state.step) + num_steps} of the lab "
                 "(it keeps the last finite players)")
        hint = (f"smaller learning rates (now g_lr={self.config.g_lr}, d_lr={self.config.d_lr}) "
                "or the non_saturating loss, then press Play again (or Reset).")
        check_finite(metrics, where=where, hint=hint)
        if not bool(_params_finite((state.g_params, state.d_params))):
            raise DivergenceError(f"training diverged during {where}: the parameters became NaN or "
                                  f"infinite. Try: {hint}")
        self.state = state
        self.history["d_loss"].append(metrics["d_loss"])
        self.history["g_loss"].append(metrics["g_loss"])
        return {k: float(v[-1]) for k, v in metrics.items()}

    @property
    def step(self) -> int:
        return int(self.state.step)

    def snapshot(self, max_points: int = 4000) -> LabView:
        d = np.concatenate(self.history["d_loss"]) if self.history["d_loss"] else np.zeros(0)
        g = np.concatenate(self.history["g_loss"]) if self.history["g_loss"] else np.zeros(0)
        return lab_snapshot(self.steps, self.state, self.probes, d[-max_points:], g[-max_points:],
                            loss=self.config.loss)



_params_finite = jax.jit(tree_is_finite)  # one compiled reduction over all parameters, not one per array


__all__ = ["LAB_DEFAULTS", "LabProbes", "LabSession", "LabView", "lab_snapshot", "make_probes"]
