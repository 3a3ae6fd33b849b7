"""The ladder of character-level language models of 09_language_models.ipynb, as one command.

    python -m course_lib reproduce text-ladder --json            # one row per model (seed 0)
    python -m course_lib reproduce text-ladder --json --seeds 3  # seeds 0, 1, 2

Protocol: the 5,163 first names of ``data/text/names.txt``, fixed split 4130 / 516 / 517
(:mod:`course_lib.data.text`). Each model is trained on the train split (the networks with
AdamW and a cosine-decayed learning rate, keeping the parameters with the best validation
NLL, measured every ``steps_per_call`` steps) and reported on the test split in nats and bits
per character, the end token counting as a character. ``train_seconds`` is wall time,
compilation included; it depends on the machine and its load.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import time

import jax
import numpy as np
from flax import nnx

from course_lib import _validate
from course_lib.data import text
from course_lib.models import language as lm
from course_lib.training import language as tl


@dataclasses.dataclass(frozen=True)
class Rung:
    """One model of the ladder and how it is trained."""

    name: str  # the row's label
    config: dict  # the model's config, minus vocab_size (see ``from_config``)
    num_steps: int = 0  # gradient steps (0: closed form)
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.0
    steps_per_call: int = 100  # steps fused into one lax.scan; validation after each


LADDER = (
    Rung("bigram counts", {"model": "BigramCounts", "alpha": 1.0}),
    Rung("bigram network", {"model": "BigramNet"}, num_steps=1000, batch_size=512, lr=0.5, steps_per_call=200),
    Rung("MLP, 4 characters of context", {"model": "ContextMLP", "context": 4, "embed": 16, "hidden": 128},
         num_steps=3000, steps_per_call=200),
    Rung("transformer", {"model": "Transformer", "context": 12, "width": 48, "num_heads": 4, "num_layers": 2},
         num_steps=1000, weight_decay=0.1),
)
"""The rungs, in order. The transformer is sized to train in well under 120 s on 2 CPU cores."""

QUICK_STEPS = 200
"""Steps per network under ``--quick`` (smoke tests)."""


def _check_splits(d):
    if not isinstance(d, dict) or not {"vocab", "tokens", "mask"} <= set(d):
        raise TypeError(f"d must be the dict of course_lib.data.text.load_text_splits(), got {type(d).__name__}")


def train_rung(rung: Rung, d: dict, seed: int, *, quick: bool = False):
    """Train one rung on the splits ``d`` of :func:`course_lib.data.text.load_text_splits`.

    Returns (model, seconds, cpu_seconds, val_curve): wall time, and the CPU time of this process
    (all threads), which hardly changes when other programs share the machine.
    """
    _validate.instance("rung", rung, Rung, "a reproduce.text_ladder.Rung")
    _check_splits(d)
    _validate.positive_int("seed", seed, minimum=0)
    _validate.boolean("quick", quick)
    wall, cpu = time.perf_counter(), time.process_time()
    config = {**rung.config, "vocab_size": d["vocab"].size}
    train = d["tokens"]["train"], d["mask"]["train"]
    if rung.num_steps == 0:
        model = lm.from_config(config).fit(*train)
        return model, time.perf_counter() - wall, time.process_time() - cpu, []
    model = lm.MODELS[config["model"]].from_config(config, rngs=nnx.Rngs(seed))
    steps = QUICK_STEPS if quick else rung.num_steps
    result = tl.train_language_model(
        model, *train, key=jax.random.key(seed), num_steps=steps, batch_size=rung.batch_size, lr=rung.lr,
        weight_decay=rung.weight_decay, steps_per_call=min(rung.steps_per_call, steps),
        val=(d["tokens"]["val"], d["mask"]["val"]))
    return model, time.perf_counter() - wall, time.process_time() - cpu, result.val_nll


def ladder_row(rung: Rung, model, seconds: float, cpu_seconds: float, seed: int, d: dict, steps: int) -> dict:
    """The table row of one trained rung."""
    _validate.instance("rung", rung, Rung, "a reproduce.text_ladder.Rung")
    _check_splits(d)
    test_nll = tl.evaluate_nll(model, d["tokens"]["test"], d["mask"]["test"])
    return {"experiment": "text-ladder", "model": rung.name, "seed": seed,
            "test_nll_nats": round(test_nll, 4), "test_bits_per_char": round(tl.nats_to_bits(test_nll), 4),
            "val_nll_nats": round(tl.evaluate_nll(model, d["tokens"]["val"], d["mask"]["val"]), 4),
            "params": lm.num_params(model), "train_seconds": round(seconds, 2),
            "train_cpu_seconds": round(cpu_seconds, 2), "steps": steps,
            "config": model.config, "backend": jax.default_backend()}


def run_ladder(seed: int = 0, *, quick: bool = False, d: dict | None = None):
    """Train every rung with one seed; returns (rows, models by rung name)."""
    _validate.positive_int("seed", seed, minimum=0)
    _validate.boolean("quick", quick)
    if d is not None:
        _check_splits(d)
    d = text.load_text_splits() if d is None else d
    rows, models = [], {}
    for rung in LADDER:
        model, seconds, cpu_seconds, _ = train_rung(rung, d, seed, quick=quick)
        steps = min(rung.num_steps, QUICK_STEPS) if quick else rung.num_steps
        rows.append({**ladder_row(rung, model, seconds, cpu_seconds, seed, d, steps), "quick": quick})
        models[rung.name] = model
    return rows, models


def text_ladder(seeds: int = 1, quick: bool = False) -> list:
    """Experiment ``text-ladder``: one row per model and seed (0..seeds-1)."""
    seeds = _validate.positive_int("seeds", seeds)
    d = text.load_text_splits()
    rows = []
    for seed in range(seeds):
        rows += run_ladder(seed, quick=quick, d=d)[0]
    if seeds > 1:
        for rung in LADDER:
            values = np.array([r["test_nll_nats"] for r in rows if r["model"] == rung.name])
            rows.append({"experiment": "text-ladder", "summary": True, "model": rung.name,
                         "test_nll_nats_mean": round(float(values.mean()), 4),
                         "test_nll_nats_std": round(float(values.std(ddof=1)), 4), "seeds": seeds})
    return rows


EXPERIMENTS = {"text-ladder": text_ladder}


CHECKPOINTS = {"bigram network": "language_bigram_net", "MLP, 4 characters of context": "language_mlp",
               "transformer": "language_transformer"}
"""Checkpoint file stems (in data/checkpoints) of the trained networks, by rung name."""

SCRIPT = "python scripts/train_language_checkpoints.py"


def results_path():
    """data/results/text_ladder.json, written by scripts/train_language_checkpoints.py."""
    from course_lib import paths

    return paths.data_dir() / "results" / "text_ladder.json"


def read_results(path=None) -> dict:
    """The ladder rows, sampling measurements and cache timings of the last full run."""
    import json

    if path is not None and (isinstance(path, bytes) or not isinstance(path, (str, os.PathLike))):
        raise TypeError(f"path must be a str or pathlib.Path (or None for the course's results), got {type(path).__name__}")
    path = results_path() if path is None else pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results at {path.name!r}; create them with: {SCRIPT}")
    return json.loads(path.read_text(encoding="utf-8"))


def load_language_model(name: str):
    """A trained network of the ladder, from its checkpoint: (model, manifest)."""
    from course_lib import pretrained

    _validate.one_of("name", name, CHECKPOINTS)
    return pretrained.load(CHECKPOINTS[name])
