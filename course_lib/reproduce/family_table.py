"""Five families of generative models on one dataset, measured the same way (07_beyond.ipynb).

    python -m course_lib reproduce family-table --json          # trains all six models, ~15 min on 2 cores
    python -m course_lib reproduce family-table --quick --json  # a smoke test (numbers mean nothing)

Protocol. The 8x8 digits split in scikit-learn's stored order, 1000 / 350 / 447 (the split of
github.com/jmtomczak/intro_dgm and of 04_vae.ipynb), 17 grey levels. Each family trains on the
1,000 training images with a fixed seed, keeps the parameters with the best validation score
(checked every few epochs), and is then measured on the 447 test images:

The autoregressive family has two rows: MADE (a masked MLP, the model 07 teaches) and a small
causal transformer over the 64 pixels (:mod:`course_lib.reproduce.family_transformer`, the
architecture of 09_language_models).

- ``test_nll_nats``: the negative log-likelihood in nats per image, with ``nll_kind`` saying
  what the number is: exact (the autoregressive models), an upper bound (the flow, through uniform
  dequantization; the diffusion model, through its variational bound), or an importance-
  weighted estimate that is an upper bound in expectation (the VAE). The GAN has none.
  ``test_bits_per_dim`` = nats / (64 ln 2).
- ``fd``, ``precision``, ``recall``: 1,000 samples against the test images in the feature
  space of the digit classifier (course_lib.evaluation.frechet; 05_gan.ipynb). A reference
  row scores the 1,000 *training images* the same way: the best a model can hope for.
- ``train_seconds``: wall time of training, compilation included, on this machine (the
  load average is recorded, since the machine may be shared); ``ms_per_sample``: wall time
  to draw 1,000 samples in one batch (after compilation), per sample.

Peer numbers (``ANCHORS``): github.com/jmtomczak/intro_dgm's own code, run with its author's
settings on the same split (measured for issue 16 of this project). Each is compared with the
course's number *of the same kind on the same images* (``anchor_course_field``): the VAE's test
negative ELBO with the peer's test negative ELBO, the autoregressive model's exact test NLL with
the peer's, the flow's dequantization bound with the peer's bound. A non-quick run also writes
``data/results/family_table.json``, which the notebook renders.
"""
from __future__ import annotations

import json
import os

import jax
import numpy as np

from course_lib import _validate, paths, pretrained
from course_lib.checkpoints import SUFFIX, save_checkpoint
from course_lib.models import diffusion as dm
from course_lib.reproduce.family_models import (  # the families' recipes and measures, also used by 07 and 08
    NUM_LEVELS,
    DDPMSettings,
    FlowSettings,
    MADESettings,
    bits_per_dim,
    ddpm_sample,
    digits_splits,
    flow_nll_bound,
    made_nll,
    quick_settings,
    vae_sample_levels,
)
from course_lib.reproduce.family_runs import RUNS, FamilyRun, nll_fields, quality_fields
from course_lib.reproduce.family_transformer import PixelTransformerSettings


NUM_SAMPLES = 1000
FAMILIES = ("autoregressive", "transformer", "flow", "VAE", "diffusion", "GAN")
"""Row names: "autoregressive" is MADE, "transformer" the second autoregressive model."""

PEER = ("measured by running github.com/jmtomczak/intro_dgm's code (author's settings, PyTorch, 2-core CPU) "
        "on the same stored-order split")
_PEER_ARM = {"nats": 86.44, "val_nats": 88.88, "train_seconds": 293, "course_field": "test_nll_nats",
             "what": "intro_dgm causal-convolution ARM (arms/arm_example.ipynb): test NLL, exact; " + PEER}
ANCHORS = {
    "autoregressive": _PEER_ARM,
    "transformer": _PEER_ARM,
    "flow": {"nats": 166.87, "val_nats": None, "train_seconds": None, "course_field": "test_nll_nats",
             "what": "intro_dgm RealNVP (flows/realnvp_example.ipynb), U(0, 0.5] dequantization: 122.51 nats of "
                     "continuous density in raw units = 166.87 as an upper bound on the discrete test NLL; " + PEER},
    "VAE": {"nats": 96.64, "val_nats": 100.47, "train_seconds": 36, "course_field": "test_nelbo_nats",
            "what": "intro_dgm VAE (vaes/vae_example.ipynb): test negative ELBO; " + PEER},
}
"""Peer reference runs on the same images (nats per image), each with the course number it is compared with
and the peer's wall-clock training time in seconds (2-core CPU; None where not recorded)."""

ON_PAR_NATS = 1.0
"""Differences smaller than this are reported as "on par": seeds alone move the numbers about this much."""

RESULTS_FILE = "family_table.json"


def results_path():
    """data/results/family_table.json: where a full run writes the table for the notebook."""
    return paths.data_dir() / "results" / RESULTS_FILE


# --------------------------------------------------------------------------- the table


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # not available on every OS
        return None


def anchor_fields(row: dict) -> dict:
    """The peer comparison of one finished row: the peer's number, the course's number of the same kind.

    ``vs_anchor`` is "below", "on par" (within ON_PAR_NATS) or "above"; ``beats_anchor`` is True only
    when the course's number is lower by at least ON_PAR_NATS. None everywhere when there is no peer.
    """
    anchor = ANCHORS.get(row.get("family"))
    course = None if anchor is None else row.get(anchor["course_field"])
    if anchor is None or course is None:
        return {"anchor_nats": None, "anchor": None, "anchor_course_field": None, "vs_anchor": None,
                "beats_anchor": None}
    delta = float(course) - anchor["nats"]
    verdict = "on par" if abs(delta) < ON_PAR_NATS else ("below" if delta < 0 else "above")
    return {"anchor_nats": anchor["nats"], "anchor": anchor["what"], "anchor_course_field": anchor["course_field"],
            "vs_anchor": verdict, "beats_anchor": verdict == "below"}


def family_rows(seed: int = 0, *, quick: bool = False, families=FAMILIES, save_dir=None,
                settings: dict | None = None) -> list[dict]:
    """Train every family with ``seed``, measure it, and return one row per family (plus the reference).

    Args:
      seed: training seed (evaluation noise and samples use seed + 10_000).
      quick: tiny settings for a smoke test.
      families: which families to run.
      save_dir: if given, save the trained models there as ``beyond_<family>_digits.safetensors``.
      settings: optional {"autoregressive": MADESettings(...), "transformer": PixelTransformerSettings(...),
        "flow": FlowSettings(...), "diffusion": DDPMSettings(...)} replacing the defaults (tests use tiny ones).
    """
    from course_lib.evaluation.classifier import classifier_features, load_classifier

    seed = _validate.positive_int("seed", seed, minimum=0)
    settings = dict(settings or {})
    defaults = {"autoregressive": MADESettings(), "transformer": PixelTransformerSettings(), "flow": FlowSettings(),
                "diffusion": DDPMSettings()}
    for f, given in settings.items():
        if f not in defaults or not isinstance(given, type(defaults[f])):
            raise TypeError(f"settings[{f!r}] must be a {type(defaults.get(f, MADESettings())).__name__}, "
                            f"got {type(given).__name__}")
    chosen = {f: settings.get(f, quick_settings(d) if quick else d) for f, d in defaults.items()}
    for f in families:
        _validate.one_of("family", f, FAMILIES)
    splits = digits_splits()
    x_test = splits["test"]
    if quick:
        splits = {k: v[:200] if k == "train" else v[:50] for k, v in splits.items()}
        x_test = splits["test"]
    num_samples = 100 if quick else NUM_SAMPLES
    clf, _ = load_classifier("digits")
    real_feats = classifier_features(clf, x_test.astype(np.float32) / (NUM_LEVELS - 1))
    eval_key = jax.random.key(10_000 + seed)
    common = {"seed": seed, "quick": quick, "num_test": int(len(x_test)), "num_samples": num_samples,
              "backend": jax.default_backend(), "num_devices": jax.local_device_count()}
    rows = []
    ref = splits["train"][:num_samples]
    rows.append({"family": "reference", "model": "training images (not a model)",
                 **nll_fields(None, None, "none", "reference"), **anchor_fields({"family": "reference"}),
                 **quality_fields(clf, real_feats, ref / (NUM_LEVELS - 1)), "train_seconds": None,
                 "train_cpu_seconds": None, "ms_per_sample": None, "num_params": None, **common})

    def save(name, model, config, metadata):
        if save_dir is not None:
            save_checkpoint(os.path.join(save_dir, f"beyond_{name}_digits{SUFFIX}"), model, config=config,
                            metadata={**metadata, "command": "python scripts/train_beyond_checkpoints.py"})

    from course_lib.models import count_params

    for family in families:
        load = _load_average()
        run = FamilyRun(chosen.get(family), splits, x_test, seed, eval_key, quick, num_samples, clf, real_feats, save)
        model, row, images01, (ms, cpu_ms) = RUNS[family](run)
        row.update(quality_fields(clf, real_feats, images01))
        row["ms_per_sample"] = round(ms, 3)
        row["cpu_ms_per_sample"] = round(cpu_ms, 3)
        row["num_params"] = count_params(model)
        row["load_average_at_start"] = load
        row.update(anchor_fields({"family": family, **row}))
        rows.append({"family": family, **row, **common})
    return rows


def write_results(rows: list[dict], path=None) -> str:
    """Write the rows (and how they were made) as JSON; returns the path."""
    path = results_path() if path is None else path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    payload = {"command": "python -m course_lib reproduce family-table --json", "cpu_count": os.cpu_count(),
               "jax": jax.__version__, "rows": rows}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=1)
        f.write("\n")
    return str(path)


def read_results(path=None) -> list[dict]:
    """The rows of the last full run (data/results/family_table.json)."""
    path = results_path() if path is None else path
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no results at {os.path.basename(str(path))!r}; create them with: "
                                "python -m course_lib reproduce family-table --json")
    with open(path, encoding="utf-8") as f:
        return json.load(f)["rows"]


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


NLL_SHORT = {"exact": "exact", "upper bound": "bound", "importance": "IS estimate", "none": "none"}


def training_budget(row: dict) -> str:
    """What a row's training cost in passes over the data: "best epoch / epochs run or allowed", or steps."""
    settings = row.get("settings") or {}
    if "num_steps" in settings and row.get("family") == "GAN":
        return f"{settings['num_steps']} steps"
    total = settings.get("num_epochs", settings.get("max_epochs"))
    if total is None:
        return "n/a"
    best = row.get("best_epoch")
    return f"{total} epochs" if best is None else f"best {best} of {total} epochs"


def _peer_cell(r: dict) -> str:
    if r.get("anchor_nats") is None:
        return "n/a"
    course = r.get(r["anchor_course_field"])
    return f"peer {r['anchor_nats']:.1f}, course {course:.1f}: {r['vs_anchor']}"


def table_markdown(rows: list[dict]) -> str:
    """The rows as a Markdown table (the notebook's rendering of family_table.json).

    The peer column sets the peer's number beside the course's number *of the same kind* (for the
    VAE, test negative ELBO against test negative ELBO, not the importance-weighted estimate).
    """
    head = ("| family | test NLL (nats) | what the NLL is | bits/dim | peer vs course, same estimator (nats) "
            "| parameters | training | FD | precision | recall | train wall (s) | train CPU (s) | ms / sample |")
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        kind = next((v for k, v in NLL_SHORT.items() if str(r.get("nll_kind", "none")).startswith(k)), "")
        params = "n/a" if r.get("num_params") is None else f"{r['num_params'] / 1000:.0f}k"
        lines.append(
            f"| {r['family']} | {_fmt(r.get('test_nll_nats'), '.1f')} | {kind} "
            f"| {_fmt(r.get('test_bits_per_dim'), '.3f')} | {_peer_cell(r)} | {params} | {training_budget(r)} "
            f"| {_fmt(r.get('fd'), '.2f')} | {_fmt(r.get('precision'), '.2f')} "
            f"| {_fmt(r.get('recall'), '.2f')} | {_fmt(r.get('train_seconds'), '.0f')} "
            f"| {_fmt(r.get('train_cpu_seconds'), '.0f')} | {_fmt(r.get('ms_per_sample'), '.3f')} |")
    return "\n".join(lines)


def family_table(seeds: int = 1, quick: bool = False) -> list[dict]:
    """The ``family-table`` experiment: rows for seeds 0..seeds-1; a full run writes the results file."""
    seeds = _validate.positive_int("seeds", seeds)
    rows = [row for s in range(seeds) for row in family_rows(s, quick=quick)]
    if not quick:
        write_results(rows)
    return rows


EXPERIMENTS = {"family-table": family_table}


# --------------------------------------------------------------------------- loading for the notebook

CHECKPOINTS = ("made_digits", "transformer_digits", "flow_digits", "ddpm_digits", "vae_digits", "gan_digits", "flow_moons", "ddpm_moons")
"""The pretrained models of 07_beyond.ipynb: ``beyond_<name>`` in :data:`course_lib.pretrained.CHECKPOINTS`."""


def load_beyond(name: str):
    """Load a pretrained model of 07_beyond.ipynb (``pretrained.load("beyond_<name>")``).

    Returns:
      (model, manifest); for the DDPMs, (model, schedule, manifest), the noise schedule
      rebuilt from the manifest's ``beta_1`` and ``beta_T``.
    """
    _validate.one_of("name", name, CHECKPOINTS)
    model, manifest = pretrained.load(f"beyond_{name}")
    if isinstance(model, dm.EpsModel):
        config = manifest["config"]
        schedule = dm.make_schedule(config["num_steps"], "linear", beta_1=config["beta_1"], beta_T=config["beta_T"])
        return model, schedule, manifest
    return model, manifest
