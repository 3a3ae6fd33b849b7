"""Train the models of 08_vector_fields and record its measurements.

    python scripts/train_vector_field_checkpoints.py [--quick] [--seeds 3]

Writes data/checkpoints/vf_*.safetensors (+ manifests) and data/results/vector_fields.json; the
results file is rewritten after each stage, so an interrupted run keeps what it finished. Every
stage is also a ``python -m course_lib reproduce`` experiment (fm-checkerboard, fm-digits,
fm-guidance); the 2-D fields, their errors and NFE curves are made only here.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from course_lib import data, paths  # noqa: E402
from course_lib.fields import evaluate as ev  # noqa: E402
from course_lib.reproduce import vector_field as vf  # noqa: E402

ERROR_TIMES = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
STAGES = ("toy", "checkerboard", "digits", "guidance", "ddim")


def toy_stage(results, save_dir, quick):
    for name in ("ring", "grid"):
        for path in ("linear", "vp"):
            model, result = vf.train_toy(name, path, seed=0, quick=quick)
            mixture = data.toy_mixture(name)
            x0 = data.sample_toy(name, jax.random.key(77), 2000)
            errors = ev.field_errors(model, mixture, x0, jax.random.key(78), ERROR_TIMES)
            steps = (1, 2, 4) if quick else (1, 2, 4, 8, 16, 32, 64)
            rows = vf.toy_nfe_rows(model, name, steps=steps, samplers=("euler", "heun", "ancestral"))
            key = f"{name}_{path}"
            results["toy"][key] = {"prediction": model.prediction, "train_seconds": round(result.seconds, 1),
                                   "train_steps": result.steps, "final_loss": round(float(result.losses[-1]), 4),
                                   "field_errors": errors, "nfe_curve": rows}
            vf._save(save_dir, f"vf_{key}", model, {k: v for k, v in results["toy"][key].items() if k != "nfe_curve"})
            print(key, errors, flush=True)


def ddim_stage(results, quick):
    """DDIM on 07's DDPM digits: classifier-feature FD against the number of steps."""
    from flax import nnx

    from course_lib.fields.ddpm_bridge import ddim_sample
    from course_lib.models import diffusion as dm
    from course_lib.reproduce import family_table as ft

    model, schedule, _ = ft.load_beyond("ddpm_digits")
    _, clf, real = vf._digits_setup(quick)
    graphdef, state = nnx.split(model)
    rows = []
    for n in ((2, 4) if quick else (2, 4, 8, 16, 32, 64)):
        fn = jax.jit(lambda s, x: ddim_sample(lambda xt, t: nnx.merge(graphdef, s)(xt, t), schedule, x, n))
        x = np.asarray(fn(state, jax.random.normal(jax.random.key(5), (200 if quick else 1000, 64))))
        rows.append({"nfe": n, **vf.levels_quality(clf, real, dm.data_to_levels(x, vf.NUM_LEVELS))})
    results["ddim_on_07_ddpm"] = rows
    print("ddim", rows, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny runs (smoke test), written to a temp folder")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the digits NLL (default 3)")
    parser.add_argument("--out", default=None, help="data folder (default: the course's)")
    parser.add_argument("--stages", default=",".join(STAGES),
                        help=f"comma-separated subset of {','.join(STAGES)}; others keep their recorded results")
    args = parser.parse_args(argv)
    root = args.out or str(paths.data_dir())
    save_dir, out = os.path.join(root, "checkpoints"), os.path.join(root, "results", vf.RESULTS_FILE)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    stages = [x.strip() for x in args.stages.split(",") if x.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; choose from {', '.join(STAGES)}")
    results = {"toy": {}, "checkerboard": [], "digits": [], "guidance": []}
    if set(stages) != set(STAGES) and os.path.isfile(out):
        with open(out, encoding="utf-8") as f:
            results = json.load(f)  # keep what the other stages recorded
    results.update({"command": "python scripts/train_vector_field_checkpoints.py", "quick": args.quick,
                    "jax": jax.__version__, "cpu_count": os.cpu_count()})
    results.setdefault("load_average_at_start", {})
    if not isinstance(results["load_average_at_start"], dict):
        results["load_average_at_start"] = {"all": results["load_average_at_start"]}
    start = time.perf_counter()

    def write():
        results.setdefault("stage_seconds", {})
        with open(out, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
            f.write("\n")

    for stage in STAGES:
        if stage not in stages:
            continue
        results["load_average_at_start"][stage] = round(os.getloadavg()[0], 2)
        t0 = time.perf_counter()
        if stage == "toy":
            toy_stage(results, save_dir, args.quick)
        elif stage == "checkerboard":
            results["checkerboard"] = [vf.checkerboard_row(0, args.quick, save_dir)]
            write()
            results["checkerboard_ablation"] = [vf.checkerboard_row(0, args.quick, fourier=False)]
        elif stage == "digits":
            results["digits"] = []
            for seed in range(args.seeds):
                results["digits"].append(vf.digits_row(seed, args.quick, save_dir if seed == 0 else None))
                write()
        elif stage == "guidance":
            results["guidance"] = vf.guidance_rows(0, args.quick, save_dir)
        else:
            ddim_stage(results, args.quick)
        results.setdefault("stage_seconds", {})[stage] = round(time.perf_counter() - t0, 1)
        write()
        print(stage, "done", flush=True)
    if set(stages) == set(STAGES):
        results["total_seconds"] = round(time.perf_counter() - start, 1)
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
