"""Experiments of 08_vector_fields: ``fm-checkerboard``, ``fm-digits`` and ``fm-guidance``.

    python -m course_lib reproduce fm-checkerboard [--seeds N] [--json]   # test NLL vs the entropy ln 8
    python -m course_lib reproduce fm-digits [--seeds N] [--json]         # test NLL in the family table's units
    python -m course_lib reproduce fm-guidance [--seeds N] [--json]       # one row per guidance weight

``scripts/train_vector_field_checkpoints.py`` runs the same functions, saves the models of the
notebook under data/checkpoints/ and the rows under data/results/vector_fields.json.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time

import jax
import numpy as np
from flax import nnx

from course_lib import _validate, data, paths
from course_lib.fields import evaluate as ev
from course_lib.fields.likelihood import dequantize_to_unit, dequantized_nll_offset, levels_from_unit
from course_lib.models.vector_field import VectorFieldMLP
from course_lib.reproduce.family_runs import jsonable
from course_lib.training.vector_field import train_vector_field

NUM_LEVELS, DIM = 17, 64
CHECKERBOARD_ENTROPY = math.log(8.0)  # uniform on 8 unit squares: h = log(area) = log 8 nats
GUIDANCE_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
RESULTS_FILE = "vector_fields.json"


@dataclasses.dataclass(frozen=True)
class Settings:
    hidden: tuple = (128, 128, 128)  # MLP widths
    time_dim: int = 32  # sinusoidal time features
    num_steps: int = 6000  # Adam steps
    batch_size: int = 256
    lr: float = 2e-3
    ema_decay: float = 0.999  # the model kept is the moving average of the weights
    num_classes: int = 0  # > 0: conditional, with label dropout
    label_dropout: float = 0.0
    lr_schedule: str = "constant"  # or "cosine"
    x_features: int = 0  # random Fourier features of x (models.vector_field); 0: none
    x_feature_scale: float = 1.0


TOY = Settings(num_steps=4000)
CHECKERBOARD = Settings(hidden=(256, 256, 256), num_steps=24000, batch_size=256, lr=1e-3, lr_schedule="cosine",
                        x_features=64, x_feature_scale=3.0)
DIGITS = Settings(hidden=(256, 256, 256), num_steps=10000, batch_size=128, lr=1e-3)
GUIDED = dataclasses.replace(DIGITS, num_classes=10, label_dropout=0.2)
QUICK_STEPS = 200
ODE_STEPS_DIGITS = 20  # Heun steps of the probability-flow ODE for the digits NLL (40 evaluations)


def _check_run(seed, quick) -> None:
    _validate.positive_int("seed", seed, minimum=0)
    _validate.boolean("quick", quick)


def _quick(s: Settings, quick: bool) -> Settings:
    return dataclasses.replace(s, num_steps=QUICK_STEPS) if quick else s


def _dequantize(key, levels):
    return dequantize_to_unit(levels, jax.random.uniform(key, levels.shape), NUM_LEVELS)


def train(name: str, s: Settings, x, *, path: str, prediction: str, seed: int, labels=None, transform=None):
    """Build and train one VectorFieldMLP; returns (model, TrainResult)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (the run's label), got {type(name).__name__}")
    _validate.instance("s", s, Settings, "a reproduce.vector_field.Settings")
    _validate.array("x", x, ndim=2, dtype_kind="number", min_rows=1)
    _validate.positive_int("seed", seed, minimum=0)
    for field in ("time_dim", "num_steps", "batch_size"):
        _validate.positive_int(f"s.{field}", getattr(s, field))
    _validate.positive_float("s.lr", s.lr)
    model = VectorFieldMLP(x.shape[1], s.hidden, time_dim=s.time_dim, num_classes=s.num_classes,
                           activation="silu", prediction=prediction, path=path, x_features=s.x_features,
                           x_feature_scale=s.x_feature_scale, rngs=nnx.Rngs(seed))
    result = train_vector_field(model, x, key=jax.random.key(1000 + seed), num_steps=s.num_steps,
                                batch_size=s.batch_size, lr=s.lr, labels=labels, label_dropout=s.label_dropout,
                                transform=transform, ema_decay=s.ema_decay, chunk=min(500, s.num_steps),
                                lr_schedule=s.lr_schedule)
    return model, result


def train_toy(name: str, path: str, seed: int = 0, quick: bool = False):
    """A field on 50,000 draws of a 2-D toy set: velocity on the linear path, noise (DSM) on the VP path."""
    _check_run(seed, quick)
    x = data.sample_toy(name, jax.random.key(seed), 50_000)
    return train(name, _quick(TOY, quick), x, path=path, prediction="velocity" if path == "linear" else "eps",
                 seed=seed)


def toy_nfe_rows(model, name: str, *, steps=(1, 2, 4, 8, 16, 32), samplers=("euler", "heun", "ddim"),
                 num_samples: int = 2000, seed: int = 0) -> list[dict]:
    """Mode coverage and high-quality fraction of samples against the number of network evaluations."""
    from course_lib.evaluation.modes import mode_coverage

    ev._check_model(model)
    _validate.positive_int("seed", seed, minimum=0)
    mixture, rows = data.toy_mixture(name), []
    for sampler in samplers:
        for n in steps:
            x = ev.sample(model, jax.random.key(seed), num_samples, sampler=sampler, num_steps=n)
            cov = mode_coverage(x, mixture)
            rows.append({"data": name, "path": model.path, "sampler": sampler, "num_steps": n,
                         "nfe": n * (2 if sampler == "heun" else 1), "modes": cov.modes, "num_modes": cov.num_modes,
                         "hq_fraction": round(float(cov.hq_fraction), 3)})
    return rows


def checkerboard_row(seed: int = 0, quick: bool = False, save_dir=None, *, fourier: bool = True) -> dict:
    """Train a flow-matching field on the checkerboard; test NLL by the probability-flow ODE vs ln 8.

    ``fourier=False`` trains the same MLP without the random Fourier features of x (the ablation of
    08_vector_fields, section 5); only the model with them is saved.
    """
    _check_run(seed, quick)
    _validate.boolean("fourier", fourier)
    settings = _quick(CHECKERBOARD if fourier else dataclasses.replace(CHECKERBOARD, x_features=0), quick)
    x = data.sample_toy("checkerboard", jax.random.key(seed), 200_000)
    model, result = train("checkerboard", settings, x, path="linear", prediction="velocity", seed=seed)
    x_test = np.asarray(data.sample_toy("checkerboard", jax.random.key(50_000 + seed), 500 if quick else 5000))
    nll = {n: float(-np.mean(ev.log_likelihood(model, x_test, num_steps=n))) for n in ((10, 20) if quick else (50, 100))}
    n_best = max(nll)
    row = {"experiment": "fm-checkerboard", "seed": seed, "x_features": settings.x_features,
           "x_feature_scale": settings.x_feature_scale, "test_nll_nats": round(nll[n_best], 4),
           "entropy_nats": round(CHECKERBOARD_ENTROPY, 4), "gap_nats": round(nll[n_best] - CHECKERBOARD_ENTROPY, 4),
           "ode_steps": n_best, "nll_by_ode_steps": {str(k): round(v, 4) for k, v in nll.items()},
           "num_test": len(x_test), "train_seconds": round(result.seconds, 1), "train_steps": result.steps,
           "settings": jsonable(settings)}
    if fourier:
        _save(save_dir, f"vf_checkerboard_seed{seed}", model, row)
    return row


def digits_nll(model, levels, key, *, num_draws: int = 1, ode_steps: int = 50) -> np.ndarray:
    """E_u[-log p(x + u)] per image (N,), nats per discrete 17-level 8x8 image: an upper bound on -log P(x)."""
    ev._check_model(model)
    _validate.array("levels", levels, ndim=2, shape=(None, model.dim), dtype_kind="number", min_rows=1)
    _validate.levels("levels", levels, NUM_LEVELS)
    _validate.prng_key("key", key)
    num_draws = _validate.positive_int("num_draws", num_draws, maximum=1000)
    draws = []
    for i in range(num_draws):
        u = jax.random.uniform(jax.random.fold_in(key, i), levels.shape)
        y = dequantize_to_unit(np.asarray(levels), u, NUM_LEVELS)
        draws.append(-ev.log_likelihood(model, y, num_steps=ode_steps) + dequantized_nll_offset(DIM, NUM_LEVELS))
    return np.mean(draws, axis=0)


def digit_quality(clf, real_feats, y_samples) -> dict:
    """Classifier-feature FD, precision and recall of samples in [-1, 1] (quantised to levels first)."""
    from course_lib.evaluation.classifier import classifier_features
    from course_lib.evaluation.frechet import sample_quality

    return levels_quality(clf, real_feats, np.asarray(levels_from_unit(y_samples, NUM_LEVELS)))


def levels_quality(clf, real_feats, levels) -> dict:
    """Classifier-feature FD, precision and recall of integer-level images (N, 64)."""
    from course_lib.evaluation.classifier import classifier_features
    from course_lib.evaluation.frechet import sample_quality

    _validate.array("real_feats", real_feats, ndim=2, dtype_kind="float", min_rows=2)
    _validate.array("levels", levels, ndim=2, shape=(None, DIM), dtype_kind="number", min_rows=2)
    _validate.levels("levels", levels, NUM_LEVELS)
    levels = np.asarray(levels, np.float32)
    q = sample_quality(real_feats, classifier_features(clf, levels / (NUM_LEVELS - 1)))
    return {k: round(float(v), 3) for k, v in q.items()}


def _digits_setup(quick: bool):
    from course_lib.evaluation.classifier import classifier_features, load_classifier

    splits = {s: data.load_digits(s) for s in ("train", "val", "test")}
    clf, _ = load_classifier("digits")
    test = splits["test"].x[:50] if quick else splits["test"].x
    real = classifier_features(clf, np.asarray(test, np.float32) / (NUM_LEVELS - 1))
    return splits, clf, real


def digits_row(seed: int = 0, quick: bool = False, save_dir=None) -> dict:
    """Flow matching on uniformly dequantised digits: test / val NLL (nats per image), FD vs steps."""
    _check_run(seed, quick)
    splits, clf, real = _digits_setup(quick)
    levels = np.asarray(splits["train"].x, np.int32)
    model, result = train("digits", _quick(DIGITS, quick), levels, path="linear", prediction="velocity", seed=seed,
                          transform=_dequantize)
    ode = 10 if quick else ODE_STEPS_DIGITS
    key = jax.random.key(20_000 + seed)
    test, val = (np.asarray(splits[s].x[:50] if quick else splits[s].x, np.int32) for s in ("test", "val"))
    nll_test, nll_val = (float(np.mean(digits_nll(model, v, jax.random.fold_in(key, i), ode_steps=ode)))
                         for i, v in enumerate((test, val)))
    fd = {}
    for n in ((2, 4) if quick else (2, 4, 8, 16, 32)):
        for sampler in ("euler", "heun"):
            xs = ev.sample(model, jax.random.key(30_000 + seed), 200 if quick else 1000, sampler=sampler, num_steps=n)
            fd[f"{sampler}_{n}"] = {"nfe": n * (2 if sampler == "heun" else 1), **digit_quality(clf, real, xs)}
    row = {"experiment": "fm-digits", "family": "flow matching (continuous normalizing flow)", "seed": seed,
           "model": f"flow matching, MLP {list(DIGITS.hidden)}, linear path, uniform dequantization",
           "nll_kind": "upper bound: E_u[-log p(x + u)] through the probability-flow ODE (exact divergence)",
           "test_nll_nats": round(nll_test, 2), "val_nll_nats": round(nll_val, 2),
           "test_bits_per_dim": round(nll_test / (DIM * math.log(2)), 4), "ode_steps": ode,
           "train_seconds": round(result.seconds, 1), "train_steps": result.steps, "quality_by_sampler": fd}
    _save(save_dir, f"vf_digits_seed{seed}", model, row)
    return row


def guidance_rows(seed: int = 0, quick: bool = False, save_dir=None, weights=GUIDANCE_WEIGHTS) -> list[dict]:
    """A class-conditional field with label dropout; per guidance weight: accuracy and diversity of samples."""
    _check_run(seed, quick)
    if isinstance(weights, str) or not hasattr(weights, "__iter__"):
        raise TypeError(f"weights must be a sequence of guidance weights, got {type(weights).__name__}")
    weights = tuple(_validate.finite_float(f"weights[{i}]", w) for i, w in enumerate(weights))
    from course_lib.evaluation.classifier import classifier_features

    splits, clf, real = _digits_setup(quick)
    levels = np.asarray(splits["train"].x, np.int32)
    model, result = train("guided", _quick(GUIDED, quick), levels, path="linear", prediction="velocity", seed=seed,
                          labels=splits["train"].y, transform=_dequantize)
    per_class = 20 if quick else 100
    labels = np.repeat(np.arange(10, dtype=np.int32), per_class)
    test_y = splits["test"].y[:len(real)]
    rows = []
    for w in weights:
        xs = ev.sample(model, jax.random.key(40_000 + seed), len(labels), sampler="heun", num_steps=10,
                       labels=labels, w=w)
        lv = np.asarray(levels_from_unit(xs, NUM_LEVELS), np.float32) / (NUM_LEVELS - 1)
        feats = classifier_features(clf, lv)
        pred = np.asarray(clf(jax.numpy.asarray(lv))).argmax(-1)
        rows.append({"experiment": "fm-guidance", "seed": seed, "w": w,
                     "accuracy": round(float(np.mean(pred == labels)), 3),
                     "within_class_spread": round(_spread_ratio(feats, labels, real, test_y), 3),
                     **digit_quality(clf, real, xs), "train_seconds": round(result.seconds, 1)})
    _save(save_dir, f"vf_digits_guided_seed{seed}", model, {"rows": rows})
    return rows


def _spread_ratio(fake, fake_y, real, real_y) -> float:
    """Mean distance to the class centroid in classifier features, samples over test images (1 = as diverse)."""
    def spread(f, y):
        return np.mean([np.mean(np.linalg.norm(f[y == c] - f[y == c].mean(0), axis=1)) for c in np.unique(y)])

    return float(spread(fake, fake_y) / spread(real, real_y))


def _save(save_dir, name, model, metadata):
    if save_dir is None:
        return
    from course_lib.checkpoints import save_checkpoint

    save_checkpoint(os.path.join(save_dir, f"{name}.safetensors"), model, config=model.config,
                    metadata=json.loads(json.dumps({"command": "python scripts/train_vector_field_checkpoints.py", **metadata})))


def load(name: str):
    """A model saved by scripts/train_vector_field_checkpoints.py, e.g. ``vf_ring_linear`` -> (model, manifest)."""
    from course_lib import pretrained

    return pretrained.load(name)


def results_path():
    return paths.data_dir() / "results" / RESULTS_FILE


def read_results() -> dict:
    """data/results/vector_fields.json, written by the training script."""
    path = results_path()
    if not path.is_file():
        raise FileNotFoundError(f"no results at {path.name!r}; create them with: "
                                "python scripts/train_vector_field_checkpoints.py")
    return json.loads(path.read_text())


def _seeds(seeds) -> range:
    return range(_validate.positive_int("seeds", seeds))


def fm_checkerboard(seeds: int = 1, quick: bool = False) -> list[dict]:
    return [checkerboard_row(s, quick) for s in _seeds(seeds)]


def fm_digits(seeds: int = 1, quick: bool = False) -> list[dict]:
    return [digits_row(s, quick) for s in _seeds(seeds)]


def fm_guidance(seeds: int = 1, quick: bool = False) -> list[dict]:
    return [row for s in _seeds(seeds) for row in guidance_rows(s, quick)]


EXPERIMENTS = {"fm-checkerboard": fm_checkerboard, "fm-digits": fm_digits, "fm-guidance": fm_guidance}
