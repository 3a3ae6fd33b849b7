"""Shared pieces of the benchmarks: timing, summaries, the machine description, the VAE setup.

Every benchmark returns a JSON-serialisable dict; numbers are plain floats.
"""
from __future__ import annotations

import datetime
import os
import pathlib
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
"""The repository root (benchmarks/ lives beside course_lib/)."""

PACKAGES = ("jax", "jaxlib", "flax", "optax", "numpy", "torch", "ipywidgets", "nbclient", "matplotlib")


def num_threads() -> int:
    """CPU cores this process may run on (the thread count given to every framework)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    wanted = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "neon", "asimd")
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    have = set(line.split(":", 1)[1].split())
                    return [w for w in wanted if w in have]
    except OSError:
        pass
    return []


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def versions() -> dict:
    from course_lib.info import versions as installed_versions

    return installed_versions(PACKAGES)


def machine_description() -> dict:
    """What the numbers were measured on: CPU, cores, memory, load, versions, JAX backend."""
    import jax

    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "logical_cpus": os.cpu_count(),
        "threads_used": num_threads(),
        "memory_gib": _memory_gib(),
        "load_average_at_start": load_average(),
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in jax.devices()],
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "versions": versions(),
        "git_commit": _git_commit(),
        "python_executable": pathlib.Path(sys.executable).name,
    }


def summarize(samples: Sequence[float]) -> dict:
    """Median, 95th percentile, min, max, mean and count of a list of numbers, and the numbers."""
    arr = np.asarray(list(samples), dtype=np.float64)
    if arr.size == 0:
        return {"n": 0}
    return {"n": int(arr.size), "median": float(np.median(arr)), "p95": float(np.percentile(arr, 95)),
            "min": float(arr.min()), "max": float(arr.max()), "mean": float(arr.mean()),
            "samples": arr.tolist()}


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """Run ``fn()`` once; returns (seconds, result). ``fn`` must block until its work is done."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def alternate(runners: dict[str, Callable[[], int | dict]], repeats: int,
              cpu_ms_per_step: dict | None = None) -> dict[str, list[float]]:
    """Time each runner ``repeats`` times, interleaved, rotating the order every round.

    Each runner does a fixed amount of work and returns how many steps it ran, or, when it
    timed itself (in a worker process), ``{"steps", "seconds", "cpu_seconds"}``. The result
    maps each name to its list of steps/s. Interleaving spreads slow periods of a shared
    machine over all runners, so their ratios stay meaningful under load. If a dict is
    given as ``cpu_ms_per_step``, it receives each runner's process CPU milliseconds per
    step (all threads together), which a loaded machine disturbs much less than wall time.
    """
    names = list(runners)
    rates: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            cpu_start = time.process_time()
            seconds, out = timed(runners[name])
            if isinstance(out, dict):  # timed where it ran
                num_steps, seconds, cpu_seconds = out["steps"], out["seconds"], out["cpu_seconds"]
            else:
                num_steps, cpu_seconds = out, time.process_time() - cpu_start
            rates[name].append(num_steps / seconds)
            if cpu_ms_per_step is not None:
                cpu_ms_per_step.setdefault(name, []).append(1000 * cpu_seconds / num_steps)
    return rates


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing."""
    if a is None or b is None or b == 0:
        return None
    return float(a) / float(b)


def mnist5k_binary(split: str = "train", limit: int | None = None) -> np.ndarray:
    """Binarized MNIST-5k, (N, 784) float32 in {0, 1} (threshold 0.5): the benchmark data."""
    from course_lib.data import binarize, load_mnist5k

    data = load_mnist5k(split)
    x = binarize(data.x, data.num_levels)
    return x[:limit] if limit is not None else x


def mnist5k_labels(split: str = "test") -> np.ndarray:
    """The digit labels (N,) int32 of an MNIST-5k split."""
    from course_lib.data import load_mnist5k

    return load_mnist5k(split).y


def vae_matmul_flops(x_dim: int, hidden: Sequence[int], z_dim: int, batch_size: int) -> int:
    """Matrix-multiply FLOPs of one VAE training step (forward + backward), counted by hand.

    Layer (a -> b) on a batch of B: forward 2*B*a*b; backward 2*B*a*b for the weight gradient
    and 2*B*a*b for the input gradient, except the first encoder layer, whose input is data.
    Encoder x_dim -> hidden -> 2*z_dim; decoder z_dim -> reversed(hidden) -> x_dim.
    Elementwise work (activations, loss, Adam) is not counted: the matmul count is what
    a matmul peak can be compared with.
    """
    enc = [x_dim, *hidden, 2 * z_dim]
    dec = [z_dim, *reversed(hidden), x_dim]
    layers = list(zip(enc[:-1], enc[1:])) + list(zip(dec[:-1], dec[1:]))
    per_layer = [2 * batch_size * a * b for a, b in layers]
    return 3 * sum(per_layer) - per_layer[0]
