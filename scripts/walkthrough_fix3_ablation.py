"""Which part of 06_code_walkthrough's "Fix 3" matters? The ablation that the notebook loads.

    python scripts/walkthrough_fix3_ablation.py                 # 4 recipes x 2 seeds x 800 steps (minutes)
    python scripts/walkthrough_fix3_ablation.py --steps 20      # smoke test, not a result

Fix 3 changes three things at once: a tanh output with data in [-1, 1] (instead of a sigmoid
output with data in [0, 1]), Adam with step 2e-4 and b1 = 0.5 (instead of Keras' default 1e-3
and 0.9), and the least-squares loss (instead of the non-saturating loss of Fix 2). This script
trains the full recipe and the three recipes that each undo one change, with the article's
layer widths (course_lib.walkthrough), on the 4,000 MNIST-5k training digits, for ``--steps``
steps and seeds 0 and 1 (generator initialised with seed s, discriminator with seed s + 1,
training key ``jax.random.key(s)``). It scores 500 samples (key ``jax.random.key(9)``, as in the
notebook) by the PCA-space Frechet distance to the 500 test digits and writes
data/results/walkthrough_fix3_ablation.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import jax
import numpy as np

from course_lib import data
from course_lib import walkthrough as wt
from course_lib.training import train_gan

FULL = dict(wt.GAN_SETTINGS)
RECIPES = {
    "Fix 3 (all three changes)": {"output": "tanh", **FULL},
    "sigmoid output, data in [0, 1]": {"output": "sigmoid", **FULL},
    "Keras' default Adam (1e-3, b1 = 0.9)": {"output": "tanh", **FULL, "g_lr": 1e-3, "d_lr": 1e-3, "b1": 0.9},
    "non-saturating loss": {"output": "tanh", **FULL, "loss": "non_saturating"},
}
"""Each recipe: the generator's output and the settings passed to train_gan."""

OUT = Path(__file__).resolve().parents[1] / "data" / "results" / "walkthrough_fix3_ablation.json"


def run(settings: dict, seed: int, steps: int, x_train, x_test, basis) -> float:
    settings = dict(settings)
    output = settings.pop("output")
    g, d = wt.article_generator(seed=seed, output=output), wt.article_discriminator(seed=seed + 1)
    x = 2.0 * x_train - 1.0 if output == "tanh" else x_train
    train_gan(g, d, x, key=jax.random.key(seed), num_steps=steps, steps_per_call=min(steps, 200), progress=False,
              **settings)
    samples = np.asarray(g.sample(jax.random.key(9), 500))
    if output == "tanh":
        samples = np.asarray(wt.article_rescale(samples))  # [-1, 1] -> [0, 1]
    return float(wt.frechet_distance(samples, x_test, basis))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    x_train = data.to_unit_interval(data.load_mnist5k("train").x, 256)  # (4000, 784)
    x_test = data.to_unit_interval(data.load_mnist5k("test").x, 256)  # (500, 784)
    basis = wt.pca_basis(x_train, num_components=20)
    rows = {}
    start = time.perf_counter()
    for name, settings in RECIPES.items():
        fds = [run(settings, seed, args.steps, x_train, x_test, basis) for seed in range(args.seeds)]
        rows[name] = {"fd_per_seed": [round(v, 2) for v in fds], "fd_mean": round(float(np.mean(fds)), 2),
                      "settings": settings}
        print(json.dumps({name: rows[name]["fd_per_seed"]}), flush=True)
    load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    payload = {"script": "scripts/walkthrough_fix3_ablation.py", "steps": args.steps, "seeds": list(range(args.seeds)),
               "score": "PCA-space Frechet distance of 500 samples to the 500 MNIST-5k test digits",
               "wall_seconds": round(time.perf_counter() - start, 1), "load_average": load, "recipes": rows}
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
