"""Kernel-side latency of 08_vector_fields' widgets (part of benchmarks/widgets.py).

- Vector-field lab: one update after moving the time (step) slider, default settings (ring, linear
  path, Euler, 8 steps). Target: 100 ms median.
- Guidance explorer: one update after moving the weight slider (16 samples, Heun with 10 steps,
  the classifier's verdicts). Target: 100 ms median.

Pretrained checkpoints when present, else untrained models of the same size (noted in the result).
"""
from __future__ import annotations

TARGET_MS = 100.0


def _models(quick: bool):
    from flax import nnx

    from course_lib.evaluation.classifier import DigitClassifier, load_classifier
    from course_lib.models.vector_field import VectorFieldMLP
    from course_lib.reproduce import vector_field as vf

    if not quick:
        try:
            fields = {(n, p): vf.load(f"vf_{n}_{p}")[0] for n in ("ring", "grid") for p in ("linear", "vp")}
            return fields, vf.load("vf_digits_guided_seed0")[0], load_classifier("digits")[0], "pretrained checkpoints"
        except Exception as err:  # noqa: BLE001 - measure untrained stand-ins of the same size instead
            note = f"untrained stand-ins ({type(err).__name__}: {err})"
    else:
        note = "untrained tiny models (quick)"
    hidden = (16,) if quick else (128, 128, 128)
    fields = {("ring", "linear"): VectorFieldMLP(2, hidden, rngs=nnx.Rngs(0))}
    guided = VectorFieldMLP(64, (16,) if quick else (256, 256, 256), num_classes=10, rngs=nnx.Rngs(0))
    return fields, guided, DigitClassifier(rngs=nnx.Rngs(0)), note


def run(cfg, time_interactions, summarize, status_error) -> dict:
    """Latencies of both widgets; ``time_interactions``, ``summarize`` and ``status_error`` come from widgets.py."""
    from course_lib.widgets import vector_field as wv

    fields, guided, clf, source = _models(cfg.quick)
    out = {"models": source}
    lab = wv.vector_field_lab(fields, sampler="euler", num_steps=8)
    first, wall = time_interactions(lambda i: setattr(lab.controls["time"], "value", (i + 1) % 9),
                                    cfg.num_updates, cfg.warmup)
    out["vector_field_lab"] = {"first_ms": first, "wall_ms": summarize(wall), "status_error": status_error(lab)}
    explorer = wv.guidance_explorer(guided, clf, digit=3, w=2.0, num_steps=10)
    weights = [0.5 * k for k in range(17)]
    first, wall = time_interactions(lambda i: setattr(explorer.controls["w"], "value", weights[(i + 5) % 17]),
                                    cfg.num_updates, cfg.warmup)
    out["guidance_explorer"] = {"first_ms": first, "wall_ms": summarize(wall), "status_error": status_error(explorer)}
    out["meets_targets"] = {k: out[k]["wall_ms"]["median"] <= TARGET_MS for k in ("vector_field_lab", "guidance_explorer")}
    return out
