"""Train the language models that 09_language_models.ipynb loads instead of training them live.

    python scripts/train_language_checkpoints.py     # about 3 minutes on 2 CPU cores

Trains the ladder of course_lib.reproduce.text_ladder with seed 0 (the same code as
``python -m course_lib reproduce text-ladder``) and writes

- data/checkpoints/language_{bigram_net,mlp,transformer}.safetensors (+ .json manifests with
  SHA-256), with course_lib.checkpoints;
- data/results/text_ladder.json: the ladder rows (seed 0, the checkpoints), the test NLL of
  every rung for seeds 1 and 2 as well (what survives a change of seed); for the transformer, the sampling
  measurements against temperature, top-k and top-p (1,000 samples each, fixed keys), and
  generation speed with and without the key-value cache.

Every key is seeded: re-running gives the same weights on the same software stack; the timings
change with the machine and its load (``uptime`` is recorded).
"""
from __future__ import annotations

import json
import os
import platform

import jax

from course_lib import decoding, paths
from course_lib.checkpoints import save_checkpoint
from course_lib.data import text
from course_lib.evaluation.text_samples import sample_statistics
from course_lib.reproduce import text_ladder as tx

TEMPERATURES = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
FILTERS = ({"top_k": 5}, {"top_p": 0.9}, {"top_p": 0.5})
NUM_SAMPLES = 1000
EXTRA_SEEDS = (1, 2)  # the ladder is retrained with these seeds too (NLL only; no checkpoints)


def sampling_table(model, d: dict) -> list:
    """Sample statistics for each temperature, and for top-k / top-p at temperature 1."""
    rows = []
    settings = [{"temperature": t} for t in TEMPERATURES] + [{"temperature": 1.0, **f} for f in FILTERS]
    for i, kw in enumerate(settings):
        stats = sample_statistics(model, d["vocab"], d["words"]["train"], jax.random.key(100 + i),
                                  num_samples=NUM_SAMPLES, **kw)
        rows.append({k: (round(v, 4) if isinstance(v, float) else v) for k, v in stats.items()})
    return rows


def cache_speed(model, d: dict) -> dict:
    cached = decoding.tokens_per_second(model, d["vocab"], use_cache=True)
    uncached = decoding.tokens_per_second(model, d["vocab"], use_cache=False)
    return {"num_samples": 256, "tokens_per_sample": model.context, "cached_tokens_per_s": round(cached),
            "uncached_tokens_per_s": round(uncached), "speedup": round(cached / uncached, 2)}


def main() -> int:
    load = os.getloadavg()[0]
    d = text.load_text_splits()
    rows, models = tx.run_ladder(seed=0, d=d)
    for row in rows:
        print(f"{row['model']:32s} test NLL {row['test_nll_nats']:.4f} nats = {row['test_bits_per_char']:.4f} bits/char, "
              f"{row['params']:6d} params, {row['train_seconds']:.1f} s ({row['train_cpu_seconds']:.1f} CPU s)")
    folder = paths.checkpoint_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name, stem in tx.CHECKPOINTS.items():
        row = next(r for r in rows if r["model"] == name)
        save_checkpoint(folder / f"{stem}.safetensors", models[name], config=models[name].config,
                        metadata={"command": tx.SCRIPT, "trained_by": tx.SCRIPT, "seed": 0, "test_nll_nats": row["test_nll_nats"],
                                  "val_nll_nats": row["val_nll_nats"], "train_seconds": row["train_seconds"]})
    other_seeds = [r for seed in EXTRA_SEEDS for r in tx.run_ladder(seed=seed, d=d)[0]]
    seed_nll = {r["model"]: {"0": r["test_nll_nats"]} for r in rows}
    for r in other_seeds:
        seed_nll[r["model"]][str(r["seed"])] = r["test_nll_nats"]
    print("test NLL by seed:", json.dumps(seed_nll))
    transformer = models["transformer"]
    results = {"rows": rows, "test_nll_by_seed": seed_nll, "sampling": sampling_table(transformer, d),
               "cache": cache_speed(transformer, d),
               "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                           "load_average_1min_at_start": round(load, 2), "jax": jax.__version__}}
    print(json.dumps(results["cache"]))
    for r in results["sampling"]:
        print({k: r[k] for k in ("temperature", "top_k", "top_p", "sample_nll", "fraction_new", "fraction_valid")})
    out = tx.results_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out.name} and {len(tx.CHECKPOINTS)} checkpoints")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
