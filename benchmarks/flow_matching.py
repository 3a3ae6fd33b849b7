"""Benchmark: flow-matching training throughput on 2-D data, course_lib (JAX) vs PyTorch eager.

The configuration of the TorchCFM tutorial (Tong et al., "Improving and generalizing flow-based
generative models with minibatch optimal transport", TMLR 2024; github.com/atong01/conditional-flow-matching,
examples/2D_tutorials): an MLP [x, t] -> 64 -> 64 -> 64 -> 2 with SELU, batch 256, Adam (lr 1e-3),
20,000 steps; here on the course's two moons (a pool of 100,000 points), N(0, I) noise, the linear
path x_t = (1 - t) x_0 + t eps and the target eps - x_0 (08_vector_fields).

Contenders, each in its own spawned process, timed in alternation (as benchmarks/throughput.py):

- ``jax_scan``: ``course_lib.training.vector_field``'s compiled chunk of ``chunk`` steps in ``lax.scan``;
- ``torch_eager``: the identical model and loop in PyTorch eager mode, same batch, threads and optimizer.

Reported: steps/s of each (median over rounds) and their ratio. Target: at least 3x PyTorch eager.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from benchmarks import _common

TARGETS = {"speedup_vs_torch_eager": 3.0}


@dataclasses.dataclass(frozen=True)
class Config:
    hidden: tuple = (64, 64, 64)  # TorchCFM tutorial: w = 64, three hidden layers, SELU
    batch_size: int = 256
    lr: float = 1e-3
    num_steps: int = 20_000  # steps timed per contender in total, split over the rounds
    repeats: int = 4  # rounds of alternation
    chunk: int = 1000  # steps per compiled scan (JAX)
    pool: int = 100_000  # moons points to draw batches from


FULL = Config()
QUICK = Config(num_steps=200, repeats=1, chunk=100, pool=2000)


def _moons(n: int) -> np.ndarray:
    import jax

    from course_lib import data

    return np.asarray(data.sample_toy("moons", jax.random.key(0), n))


def _jax_runner(cfg: Config, steps: int):
    import jax
    import optax
    from flax import nnx

    from course_lib.models.vector_field import VectorFieldMLP
    from course_lib.training.vector_field import make_chunk_fn

    model = VectorFieldMLP(2, cfg.hidden, time_dim=1, activation="selu", rngs=nnx.Rngs(0))
    graphdef, state = nnx.split(model)
    tx = optax.adam(cfg.lr)
    chunk = min(cfg.chunk, steps)
    fn = make_chunk_fn(graphdef, tx, path="linear", prediction="velocity", batch_size=cfg.batch_size, chunk=chunk,
                       label_dropout=0.0, null_label=0, transform=None, ema_decay=0.0)
    x = jax.numpy.asarray(_moons(cfg.pool))
    carry = {"state": state, "opt": tx.init(state), "ema": jax.tree_util.tree_map(jax.numpy.copy, state), "i": 0}

    def run():
        for _ in range(steps // chunk):
            carry["i"] += 1
            carry["state"], carry["opt"], carry["ema"], losses = fn(carry["state"], carry["opt"], carry["ema"], x, None,
                                                                    jax.random.key(carry["i"]))
        loss = float(losses[-1])  # blocks until done
        if not np.isfinite(loss):
            raise FloatingPointError("JAX flow-matching loss is not finite")
        return (steps // chunk) * chunk

    return run


def _torch_runner(cfg: Config, steps: int, threads: int):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    sizes = (3, *cfg.hidden, 2)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.SELU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    pool = torch.from_numpy(_moons(cfg.pool))

    def run():
        for _ in range(steps):
            idx = torch.randint(0, pool.shape[0], (cfg.batch_size,))
            x0 = pool[idx]
            t = torch.rand(cfg.batch_size, 1)
            eps = torch.randn_like(x0)
            x_t = (1 - t) * x0 + t * eps
            v = net(torch.cat([x_t, t], dim=-1))
            loss = torch.mean(torch.sum((v - (eps - x0)) ** 2, dim=-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
        if not np.isfinite(float(loss.detach())):
            raise FloatingPointError("PyTorch flow-matching loss is not finite")
        return steps

    return run


def _serve(conn, name: str, cfg: Config, threads: int) -> None:
    """Worker process: build one contender, warm it up, then answer "run" / "stop"."""
    import os
    import traceback

    os.environ.setdefault("COURSE_LIB_COMPILATION_CACHE", "0")
    steps = max(cfg.num_steps // cfg.repeats, 1)
    try:
        run = _jax_runner(cfg, steps) if name == "jax_scan" else _torch_runner(cfg, steps, threads)
        start = time.perf_counter()
        run()  # warm-up (compilation / allocation), not timed
        conn.send({"first_run_seconds": time.perf_counter() - start})
    except Exception:  # noqa: BLE001 - reported by the parent
        conn.send({"error": traceback.format_exc()})
        return
    while conn.recv() == "run":
        try:
            cpu, wall = time.process_time(), time.perf_counter()
            n = run()
            conn.send({"steps": n, "seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu})
        except Exception:  # noqa: BLE001
            conn.send({"error": traceback.format_exc()})


def _worker(name: str, cfg: Config, threads: int):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    conn, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, name, cfg, threads), daemon=True, name=f"benchmark-fm-{name}")
    proc.start()
    child.close()

    def call(message="run"):
        if message == "run":
            conn.send("run")
        if not conn.poll(900):
            raise TimeoutError(f"worker {name} did not answer")
        reply = conn.recv()
        if "error" in reply:
            raise RuntimeError(f"worker {name} failed:\n{reply['error']}")
        return reply

    first = call("first")
    return proc, conn, call, first["first_run_seconds"]


def run(cfg: Config = FULL) -> dict:
    """Time both contenders; returns steps/s (median over rounds), CPU ms per step and the ratio."""
    from benchmarks import torch_vae

    threads = _common.num_threads()
    names = ["jax_scan"] + (["torch_eager"] if torch_vae.available() else [])
    result = {"config": dataclasses.asdict(cfg), "threads": threads, "isolation": "one process per contender"}
    workers = {}
    try:
        for n in names:
            workers[n] = _worker(n, cfg, threads)
        result["first_run_seconds"] = {n: w[3] for n, w in workers.items()}
        cpu_ms: dict = {}
        rates = _common.alternate({n: w[2] for n, w in workers.items()}, cfg.repeats, cpu_ms)
    finally:
        for proc, conn, _, _ in workers.values():
            if proc.is_alive():
                conn.send("stop")
                proc.join(10)
            conn.close()
    result["steps_per_s"] = {n: _common.summarize(r) for n, r in rates.items()}
    result["cpu_ms_per_step"] = {n: _common.summarize(v) for n, v in cpu_ms.items()}
    med = {n: s["median"] for n, s in result["steps_per_s"].items()}
    result["speedup_vs_torch_eager"] = _common.ratio(med.get("jax_scan"), med.get("torch_eager"))
    if "torch_eager" not in med:
        result["torch_skipped"] = "PyTorch is not installed (pip install -e '.[bench]')"
    result["targets"] = TARGETS
    speed = result["speedup_vs_torch_eager"]
    result["meets_targets"] = {} if speed is None else {"speedup_vs_torch_eager": speed >= TARGETS["speedup_vs_torch_eager"]}
    return result


def report_rows(r: dict) -> list[str]:
    """Markdown rows for benchmarks/report.py."""
    c, s = r["config"], r["steps_per_s"]
    cell = lambda n: f"{s[n]['median']:.0f}" if n in s else "n/a"  # noqa: E731
    speed = r.get("speedup_vs_torch_eager")
    return [f"| Flow-matching training (MLP {list(c['hidden'])} SELU, batch {c['batch_size']}, Adam) "
            "| course_lib steps/s | PyTorch eager steps/s | ratio (target >= 3x) |", "|---|---|---|---|",
            f"| median of {c['repeats']} rounds | {cell('jax_scan')} | {cell('torch_eager')} "
            f"| {'n/a' if speed is None else f'{speed:.2f}x'} |"]
