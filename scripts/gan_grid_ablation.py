"""Which change fixes mode collapse on the grid? The ablation that 05_gan.ipynb loads.

    python scripts/gan_grid_ablation.py                      # 10 seeds of each recipe (tens of minutes)
    python scripts/gan_grid_ablation.py --seeds 2 --quick    # smoke test of the pipeline, not a result

The grid fix of course_lib/reproduce/gan.py ("gan-grid") changes three things at once: packing
(m = 2), an R1 penalty (gamma = 0.1) and, because ``batch_size`` counts packs, the number of
samples each player sees per step (128 instead of 64). This script runs the recipes that separate
them (see ``ABLATION``), each over seeds 0..N-1 with the seeding of
:func:`course_lib.reproduce.gan.coverage_experiment` (train with ``jax.random.key(s)``, score
2,500 samples from ``jax.random.key(10_000 + s)``), and writes one JSON object per recipe to
data/results/gan_grid_ablation.json (rewritten after every recipe, so a partial run keeps what
it finished).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

from course_lib.reproduce.gan import coverage_experiment

ABLATION = ("gan-grid-plain-128", "gan-grid-pack-only", "gan-grid-r1-only", "gan-grid-plain", "gan-grid")
"""The recipes, in the order they run (the three new ones first; the last two are the table's rows)."""

OUT = Path(__file__).resolve().parents[1] / "data" / "results" / "gan_grid_ablation.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="20 steps per run: a smoke test, not a result")
    parser.add_argument("--only", nargs="*", default=list(ABLATION), choices=ABLATION)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    results = json.loads(args.out.read_text())["experiments"] if args.out.exists() and not args.quick else {}
    for name in args.only:
        (row,) = coverage_experiment(name, args.seeds, quick=args.quick)
        results[name] = row
        print(json.dumps({k: v for k, v in row.items() if k not in ("config", "per_seed")}), flush=True)
        payload = {"script": "scripts/gan_grid_ablation.py", "machine": platform.machine(),
                   "note": "seconds are wall time on a shared machine; see load_average",
                   "experiments": results}
        args.out.write_text(json.dumps(payload, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
