"""Benchmark 4: the course as a student runs it.

- Notebook execution: wall seconds of each ``notebooks/*.ipynb`` and the total, either under
  nbval as the test suite runs them (``method="nbval"``: ``python -m pytest NB.ipynb`` in a
  subprocess, kernel start and output comparison included) or executed once with nbclient
  (``method="nbclient"``). Targets: each notebook under 60 s, the whole course under 5 min.
- Import time of course_lib: fresh interpreters importing jax, then course_lib and its
  subpackages one after the other (cumulative seconds; median over repeats).
- First-step compile time of ``train_vae``'s compiled epoch (the MNIST VAE), in fresh
  interpreters: without the persistent compilation cache, with it enabled on an empty
  directory (compile and write), and again on that directory (read back). The cache
  directories are temporary, so the user's own cache is never touched.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks import _common

TARGETS = {"notebook_seconds": 60.0, "course_seconds": 300.0}


@dataclasses.dataclass(frozen=True)
class Config:
    notebooks: tuple | None = None  # paths; None: every notebooks/*.ipynb
    method: str = "nbval"  # "nbval" or "nbclient"
    notebook_timeout: int = 600  # seconds per notebook before it counts as failed
    notebook_cache: bool = False  # also run each notebook twice with a fresh persistent cache (cold, warm)
    import_repeats: int = 3
    compile_hidden: tuple = (512, 512)  # the VAE whose epoch is compiled
    compile_z_dim: int = 16
    compile_batch_size: int = 128
    compile_num_batches: int = 31  # one epoch of MNIST-5k at batch 128


FULL = Config()
QUICK = Config(notebooks=(), method="nbclient", import_repeats=1, compile_hidden=(16,), compile_z_dim=2,
               compile_batch_size=8, compile_num_batches=2)


def _env() -> dict:
    """The environment for child interpreters: this repo importable, no user JAX cache."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_common.ROOT), env.get("PYTHONPATH", "")]))
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env["COURSE_LIB_COMPILATION_CACHE"] = "0"  # children enable a cache only when told to
    return env


def _run_python(code: str, *args: str, env: dict | None = None, timeout: int = 600) -> dict:
    """Run ``code`` (with ``sys.argv[1:] = args``) in a fresh interpreter; it prints one JSON line last."""
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          env=env or _env(), cwd=_common.ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"child interpreter failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- notebooks

def notebook_paths(cfg: Config) -> list[pathlib.Path]:
    if cfg.notebooks is not None:
        return [pathlib.Path(p) for p in cfg.notebooks]
    return sorted((_common.ROOT / "notebooks").glob("*.ipynb"))


def _cache_env(cache_dir: str | None) -> dict:
    """The environment for a notebook kernel: JAX's persistent cache in ``cache_dir``, or off."""
    env = dict(os.environ)
    if cache_dir is None:
        env["COURSE_LIB_COMPILATION_CACHE"] = "0"
        env.pop("JAX_COMPILATION_CACHE_DIR", None)
    else:  # JAX reads its settings from these variables when it starts
        from course_lib.compile_cache import DEFAULT_MIN_COMPILE_TIME_SECS

        env["JAX_COMPILATION_CACHE_DIR"] = cache_dir
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = str(DEFAULT_MIN_COMPILE_TIME_SECS)
    return env


def _run_nbval(path: pathlib.Path, timeout: int, env: dict) -> tuple[float, bool, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", str(path)], capture_output=True, text=True,
                          timeout=timeout, cwd=_common.ROOT, env=env)
    seconds = time.perf_counter() - start
    tail = (proc.stdout.strip().splitlines() or [""])[-1]
    return seconds, proc.returncode == 0, tail


def _run_nbclient(path: pathlib.Path, timeout: int, env: dict) -> tuple[float, bool, str]:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute(env=env)
        ok, note = True, "executed"
    except Exception as err:  # noqa: BLE001 - a failing notebook is a result, not a crash
        ok, note = False, f"{type(err).__name__}: {str(err)[:200]}"
    return time.perf_counter() - start, ok, note


def notebooks(cfg: Config) -> dict:
    """Wall seconds of each notebook, the total and whether the targets are met.

    The notebooks run with the persistent compilation cache off, as on a first run; with
    ``notebook_cache`` each one then runs twice more on a fresh cache (cold: compile and
    write; warm: read back).
    """
    runner = {"nbval": _run_nbval, "nbclient": _run_nbclient}[cfg.method]
    rows = {}
    for path in notebook_paths(cfg):
        seconds, ok, note = runner(path, cfg.notebook_timeout, _cache_env(None))
        recorded = None
        try:
            recorded = json.loads(path.read_text())["metadata"].get("course", {}).get("execution_seconds")
        except (OSError, ValueError, AttributeError):
            pass
        rows[path.name] = {"seconds": seconds, "ok": ok, "note": note, "recorded_build_seconds": recorded}
        if cfg.notebook_cache:
            with tempfile.TemporaryDirectory(prefix="course_lib_jax_cache_") as cache_dir:
                for mode in ("cold_cache", "warm_cache"):
                    t, ok_cached, _ = runner(path, cfg.notebook_timeout, _cache_env(cache_dir))
                    rows[path.name][f"{mode}_seconds"] = t if ok_cached else None
    total = float(sum(r["seconds"] for r in rows.values()))
    return {"method": cfg.method, "per_notebook": rows, "total_seconds": total, "targets": TARGETS,
            "meets_targets": {"every_notebook": all(r["seconds"] < TARGETS["notebook_seconds"] and r["ok"]
                                                    for r in rows.values()),
                              "whole_course": total < TARGETS["course_seconds"]}}


# --------------------------------------------------------------------------- imports

IMPORT_CODE = """
import json, time, importlib
t0 = time.perf_counter()
out = {}
for name in ("jax", "flax.nnx", "course_lib", "course_lib.training", "course_lib.plotting",
             "course_lib.widgets"):
    importlib.import_module(name)
    out[name] = time.perf_counter() - t0
print(json.dumps(out))
"""


def import_times(cfg: Config) -> dict:
    """Cumulative seconds to import jax, flax, course_lib and its subpackages (median of repeats)."""
    runs = [_run_python(IMPORT_CODE) for _ in range(cfg.import_repeats)]
    start = [_common.timed(lambda: _run_python("import json; print(json.dumps({}))"))[0]
             for _ in range(cfg.import_repeats)]
    return {"cumulative_seconds": {k: float(np.median([r[k] for r in runs])) for k in runs[0]},
            "bare_interpreter_seconds": float(np.median(start)), "repeats": cfg.import_repeats}


# --------------------------------------------------------------------------- compile cache

COMPILE_CODE = """
import json, sys, time
t0 = time.perf_counter()
cache_dir = sys.argv[1] if len(sys.argv) > 1 else ""
if cache_dir:
    import os
    os.environ.pop("COURSE_LIB_COMPILATION_CACHE", None)
    from course_lib.compile_cache import enable_compilation_cache
    assert enable_compilation_cache(cache_dir) is not None
import jax, jax.numpy as jnp
from flax import nnx
from course_lib.models import VAE
from course_lib.training import make_optimizer, make_vae_steps
hidden, z_dim, batch, num_batches = {hidden!r}, {z_dim}, {batch}, {num_batches}
model = VAE(784, z_dim, hidden, likelihood="bernoulli", rngs=nnx.Rngs(0))
tx = make_optimizer("adam", 1e-3)
steps = make_vae_steps(model, tx)
params = nnx.state(model, nnx.Param)
opt_state = tx.init(params)
batches = (jax.random.uniform(jax.random.key(0), (num_batches, batch, 784)) > 0.5).astype(jnp.float32)
jax.block_until_ready((params, opt_state, batches))
t1 = time.perf_counter()
out = steps.epoch(params, opt_state, batches, jax.random.key(1), 1.0)
jax.block_until_ready(out)
t2 = time.perf_counter()
out = steps.epoch(out[0], out[1], batches, jax.random.key(2), 1.0)
jax.block_until_ready(out)
t3 = time.perf_counter()
print(json.dumps({{"setup_seconds": t1 - t0, "first_call_seconds": t2 - t1, "second_call_seconds": t3 - t2}}))
"""


def compile_times(cfg: Config) -> dict:
    """First call of the VAE epoch without cache, with a cold cache and with a warm cache."""
    code = COMPILE_CODE.format(hidden=tuple(cfg.compile_hidden), z_dim=cfg.compile_z_dim,
                               batch=cfg.compile_batch_size, num_batches=cfg.compile_num_batches)
    out = {"model": {"hidden": list(cfg.compile_hidden), "z_dim": cfg.compile_z_dim,
                     "batch_size": cfg.compile_batch_size, "num_batches": cfg.compile_num_batches}}
    with tempfile.TemporaryDirectory(prefix="course_lib_jax_cache_") as cache_dir:
        out["no_cache"] = _run_python(code)
        out["cold_cache"] = _run_python(code, cache_dir)  # compiles and writes the entries
        out["warm_cache"] = _run_python(code, cache_dir)  # reads them back
        out["cache_files"] = len(list(pathlib.Path(cache_dir).iterdir()))
    for mode in ("no_cache", "cold_cache", "warm_cache"):
        r = out[mode]
        r["compile_seconds"] = max(0.0, r["first_call_seconds"] - r["second_call_seconds"])
    out["compile_speedup_warm_vs_none"] = _common.ratio(out["no_cache"]["compile_seconds"],
                                                        out["warm_cache"]["compile_seconds"])
    return out


def run(cfg: Config = FULL) -> dict:
    return {"notebooks": notebooks(cfg), "import": import_times(cfg), "compile": compile_times(cfg)}
