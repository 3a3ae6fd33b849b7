"""Mode coverage of GANs on the ring of 8 and the grid of 25 Gaussians (05_gan.ipynb, "Mode collapse").

    python -m course_lib reproduce gan-ring --seeds 10 --json
    python -m course_lib reproduce gan-grid --seeds 10 --json
    python -m course_lib reproduce gan-ring-plain --seeds 10 --json   (the "before" numbers)
    python -m course_lib reproduce gan-grid-plain --seeds 10 --json   (the grid's "before")
    python scripts/gan_grid_ablation.py                                 (which change fixes the grid)

Protocol (Srivastava et al., 2017; Lin et al., 2018): ring = 8 Gaussians on a circle of radius
1 with std 0.01; grid = 25 Gaussians at {-4, -2, 0, 2, 4}^2 with std 0.05. After training,
2,500 generated samples are scored with :func:`course_lib.evaluation.modes.mode_coverage`:
a sample is high quality within 3 std of its nearest mode, a mode is captured with at least
one high-quality sample. Seed s trains from ``jax.random.key(s)`` and scores samples drawn
from ``jax.random.key(10_000 + s)``.

Each experiment prints one line: modes_mean, modes_min, hq_mean (fraction), kl_mean,
seconds_per_run (wall time including the one compilation, divided by the number of seeds),
cpu_seconds_per_run (the process's CPU time, the same divided; on a machine shared with other
jobs it is closer to what an idle machine would take), the load average at the end, and the
per-seed numbers.
"""
from __future__ import annotations

import os
import time

import jax
import numpy as np

from course_lib.data import toy_mixture
from course_lib.evaluation.modes import mode_coverage
from course_lib.training.gan_lab import LabConfig, generate, train_toy_gan

NUM_SAMPLES = 2500
RING_PARAMS = (("radius", 1.0), ("std", 0.01))
GRID_PARAMS = (("spacing", 2.0), ("std", 0.05))

_PLAYERS = {"g_hidden": (64, 64, 64), "d_hidden": (64, 64, 64), "batch_size": 64}
_RING = {**_PLAYERS, "target": "ring", "target_params": RING_PARAMS, "num_steps": 20_000, "decay_steps": 13_000}
_GRID = {**_PLAYERS, "target": "grid", "target_params": GRID_PARAMS, "scale": 4.0, "g_lr": 2e-3, "d_lr": 2e-3,
         "num_steps": 50_000, "decay_steps": 35_000}

RECIPES = {
    # The fixed recipe: packing (PacGAN, m = 2: the discriminator judges pairs of samples), a small
    # R1 penalty (Mescheder et al., 2018) on real data, and a learning rate that decays linearly to 0
    # over the last part of the run, which pulls the samples onto the modes.
    "gan-ring": LabConfig(**_RING, pack=2, r1_gamma=0.01),
    "gan-grid": LabConfig(**_GRID, pack=2, r1_gamma=0.1),
    # Plain GANs with the same players, steps and schedule, without packing or penalty: "before".
    "gan-ring-plain": LabConfig(**_RING),
    "gan-grid-plain": LabConfig(**_GRID),
    # The ablation of the grid fix (05_gan.ipynb, "Which change did it?"). ``batch_size`` counts
    # packs, so "gan-grid" shows each player 128 samples per step against the plain GAN's 64. These
    # three separate the causes at 128 samples per step: the plain GAN with twice the batch, packing
    # alone, R1 alone. With "gan-grid" (packing + R1) they form a 2 x 2 design at equal samples.
    "gan-grid-plain-128": LabConfig(**{**_GRID, "batch_size": 128}),
    "gan-grid-pack-only": LabConfig(**_GRID, pack=2),
    "gan-grid-r1-only": LabConfig(**{**_GRID, "batch_size": 128}, r1_gamma=0.1),
}
"""The configuration of each experiment (see course_lib.training.gan_lab.LabConfig)."""


def config_summary(config: LabConfig) -> dict:
    """The settings of a recipe as a JSON-friendly dict."""
    return {"target": config.target, **dict(config.target_params), "pack": config.pack,
            "batch_size": config.batch_size, "num_steps": config.num_steps, "decay_steps": config.decay_steps,
            "g_hidden": list(config.g_hidden), "d_hidden": list(config.d_hidden), "noise_dim": config.noise_dim,
            "loss": config.loss, "optimizer": config.optimizer, "g_lr": config.g_lr, "d_lr": config.d_lr,
            "r1_gamma": config.r1_gamma}


def _load_average() -> float | None:
    """The 1-minute load average of the machine (timings on a shared machine need it), if known."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # not available on Windows
        return None


def coverage_experiment(name: str, seeds: int, quick: bool = False) -> list[dict]:
    """Train ``seeds`` GANs with recipe ``name`` and score each on the mode-coverage protocol."""
    config = RECIPES[name]
    if quick:  # a smoke test of the whole pipeline, not a result
        config = config.replace(num_steps=20, decay_steps=10)
    mixture = toy_mixture(config.target, **dict(config.target_params))
    rows = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for seed in range(seeds):
        steps, state, _ = train_toy_gan(config, jax.random.key(seed))
        x = generate(steps, state, jax.random.key(10_000 + seed), NUM_SAMPLES)
        cov = mode_coverage(x, mixture)
        rows.append({"seed": seed, "modes": cov.modes, "hq": round(cov.hq_fraction, 4), "kl": round(cov.kl, 4)})
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    modes = np.array([r["modes"] for r in rows])
    hq = np.array([r["hq"] for r in rows])
    kl = np.array([r["kl"] for r in rows])
    return [{"experiment": name, "num_modes": len(mixture.means), "seeds": seeds,
             "modes_mean": round(float(modes.mean()), 3), "modes_min": int(modes.min()),
             "hq_mean": round(float(hq.mean()), 4), "hq_min": round(float(hq.min()), 4),
             "kl_mean": round(float(kl.mean()), 4), "seconds_per_run": round(seconds / seeds, 2),
             "cpu_seconds_per_run": round(cpu_seconds / seeds, 2), "load_average": _load_average(),
             "quick": quick, "config": config_summary(config), "per_seed": rows}]


EXPERIMENTS = {name: (lambda seeds, quick, _n=name: coverage_experiment(_n, seeds, quick)) for name in RECIPES}
