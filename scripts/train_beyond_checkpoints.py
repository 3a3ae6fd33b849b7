"""Train the models that 07_beyond.ipynb loads instead of training them live.

    python scripts/train_beyond_checkpoints.py               # everything (about 10 minutes on 2 CPU cores)
    python scripts/train_beyond_checkpoints.py --only toy    # the 2-D flow and diffusion model (~1 minute)
    python scripts/train_beyond_checkpoints.py --only digits # the six digit models + the family table
    python scripts/train_beyond_checkpoints.py --only digits --families transformer  # one row, others kept

Writes, with course_lib.checkpoints (safetensors + SHA-256 manifest), into data/checkpoints/:

- beyond_flow_moons, beyond_ddpm_moons: a RealNVP and a DDPM on the two-moons toy data;
- beyond_{made,transformer,flow,ddpm,vae,gan}_digits: the six models of the family table, trained by
  course_lib.reproduce.family_table (the same code as ``python -m course_lib reproduce
  family-table``), whose measurements go to data/results/family_table.json.

Every random key is seeded, so re-running gives the same weights on the same software stack
(the timings change with the machine and its load).
"""
from __future__ import annotations

import argparse
import sys
import time

import jax
import jax.numpy as jnp
from flax import nnx

from course_lib import paths, pretrained
from course_lib.checkpoints import save_checkpoint
from course_lib.data import sample_toy
from course_lib.models import diffusion as dm
from course_lib.models.flow import RealNVP
from course_lib.reproduce import family_table
from course_lib.training.generic import fit

TOY = "moons"
TOY_FLOW = {"num_layers": 8, "hidden": (64, 64), "num_train": 5000, "num_epochs": 100, "batch_size": 250,
            "lr": 3e-3, "seed": 0}
TOY_DDPM = {"num_steps": 1000, "hidden": (128, 128, 128), "time_dim": 32, "num_train": 5000, "num_epochs": 200,
            "batch_size": 250, "lr": 2e-3, "seed": 0}
COMMAND = "python scripts/train_beyond_checkpoints.py --only toy"


def train_toy_flow() -> None:
    s = TOY_FLOW
    x = sample_toy(TOY, jax.random.key(s["seed"]), s["num_train"])
    model = RealNVP(2, s["num_layers"], s["hidden"], rngs=nnx.Rngs(s["seed"]))
    graphdef, params = nnx.split(model, nnx.Param)

    def loss_fn(p, xb, key):
        return -jnp.mean(nnx.merge(graphdef, p).log_prob(xb)), {}

    result = fit(loss_fn, params, x, key=jax.random.key(s["seed"] + 1), num_epochs=s["num_epochs"],
                 batch_size=s["batch_size"], lr=s["lr"], lr_schedule="cosine", eval_every=10, progress=False)
    nnx.update(model, result.params)
    metadata = {**s, "hidden": list(s["hidden"]), "data": TOY, "final_nll": round(float(result.history["loss"][-1]), 4),
                "train_seconds": round(result.seconds, 1), "command": COMMAND}
    save_checkpoint(pretrained.path(f"beyond_flow_{TOY}"), model, config=model.config,
                    metadata=metadata)
    print(f"flow on {TOY}: NLL {metadata['final_nll']} nats in {result.seconds:.1f} s")


def train_toy_ddpm() -> None:
    s = TOY_DDPM
    x = sample_toy(TOY, jax.random.key(s["seed"]), s["num_train"])
    model = dm.EpsModel(2, s["num_steps"], s["hidden"], time_dim=s["time_dim"], rngs=nnx.Rngs(s["seed"]))
    schedule = dm.make_schedule(s["num_steps"])
    graphdef, params = nnx.split(model, nnx.Param)

    def loss_fn(p, x0, key):
        k_t, k_eps = jax.random.split(key)
        t = jax.random.randint(k_t, (x0.shape[0],), 1, s["num_steps"] + 1)
        eps = jax.random.normal(k_eps, x0.shape)
        return jnp.mean(dm.ddpm_loss(lambda a, b: nnx.merge(graphdef, p)(a, b), schedule, x0, t, eps)), {}

    result = fit(loss_fn, params, x, key=jax.random.key(s["seed"] + 1), num_epochs=s["num_epochs"],
                 batch_size=s["batch_size"], lr=s["lr"], lr_schedule="cosine", ema_decay=0.995, eval_every=20,
                 progress=False)
    nnx.update(model, result.params)
    config = {**model.config, "beta_1": 1e-4, "beta_T": 0.02}
    metadata = {**s, "hidden": list(s["hidden"]), "data": TOY,
                "final_loss": round(float(result.history["loss"][-1]), 4),
                "train_seconds": round(result.seconds, 1), "command": COMMAND}
    save_checkpoint(pretrained.path(f"beyond_ddpm_{TOY}"), model, config=config, metadata=metadata)
    print(f"DDPM on {TOY}: L_simple {metadata['final_loss']} in {result.seconds:.1f} s")


def train_digits(families=family_table.FAMILIES) -> None:
    """Train ``families`` and write their rows; with a subset, the other rows of the results file are kept."""
    start = time.perf_counter()
    rows = family_table.family_rows(0, families=families, save_dir=str(paths.checkpoint_dir()))
    if tuple(families) != family_table.FAMILIES:
        merged = {r["family"]: r for r in family_table.read_results()}
        merged.update({r["family"]: r for r in rows})  # the retrained rows (and the reference) replace theirs
        rows = [merged[f] for f in ("reference", *family_table.FAMILIES) if f in merged]
    path = family_table.write_results(rows)
    for row in rows:
        print({k: row.get(k) for k in ("family", "test_nll_nats", "nll_kind", "fd", "precision", "recall",
                                       "train_seconds", "ms_per_sample")})
    print(f"wrote the digit checkpoints and {path} in {time.perf_counter() - start:.0f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("toy", "digits"), default=None, help="train only one group")
    parser.add_argument("--families", default=",".join(family_table.FAMILIES),
                        help="digits: comma-separated subset of the family table's rows to retrain (the others "
                             "keep their recorded rows and checkpoints)")
    args = parser.parse_args(argv)
    families = tuple(f.strip() for f in args.families.split(",") if f.strip())
    unknown = sorted(set(families) - set(family_table.FAMILIES))
    if unknown:
        parser.error(f"unknown families {unknown}; choose from {', '.join(family_table.FAMILIES)}")
    if args.only in (None, "toy"):
        train_toy_flow()
        train_toy_ddpm()
    if args.only in (None, "digits"):
        train_digits(families)
    return 0


if __name__ == "__main__":
    sys.exit(main())
