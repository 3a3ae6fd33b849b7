"""Benchmark 1: VAE training throughput against PyTorch eager and the machine's matmul peak.

The model of 04_vae.ipynb at MNIST size: a 784-512-512-16 MLP VAE (Bernoulli decoder),
batch 128, Adam (lr 1e-3), on the 4,000 binarized MNIST-5k training digits. Runners,
timed in alternation (the order rotates every round), each doing ``epochs_per_run``
shuffled epochs:

- ``jax_scan_epoch``: what ``course_lib.training.train_vae`` does per epoch: shuffle on the
  device, one compiled ``lax.scan`` over the epoch, a finiteness check of the metrics;
- ``jax_step_loop``: a plain Python loop calling course_lib's jitted step once per batch;
- ``torch_eager``: the identical model and loop in PyTorch eager mode, same data, batch and
  thread count (``torch.optim.Adam(params, lr)`` as written by a user);
- ``torch_eager_fused_adam``: the same with PyTorch's fused Adam kernel.

Achieved GFLOP/s counts the matmul FLOPs of a step by hand (``vae_matmul_flops``) and is
compared with the best float32 GFLOP/s of a large square matmul timed in the same run.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from benchmarks import _common, torch_vae

TARGETS = {"speedup_vs_torch_eager": 1.5, "fraction_of_matmul_peak": 0.7}
"""Issue 8's targets for the scan-fused course_lib epoch."""


@dataclasses.dataclass(frozen=True)
class Config:
    hidden: tuple = (512, 512)  # encoder hidden widths (the decoder mirrors them)
    z_dim: int = 16  # latent size J
    batch_size: int = 128  # B
    num_examples: int = 4000  # MNIST-5k training split
    epochs_per_run: int = 2  # epochs timed per runner per round
    repeats: int = 5  # rounds of alternation
    matmul_n: int = 2048  # side of the square matmul used for the peak
    matmul_repeats: int = 4  # each round's peak is the best of these products
    torch_fused_adam: bool = True  # also time PyTorch with fused Adam
    torch_one_thread: bool = True  # also time PyTorch on one thread (its CPU time per step is load-proof)
    xla_cost_analysis: bool = True  # ask XLA for its FLOP count of the step (one more compilation)
    precision_probe: bool = True  # time the step's largest matmul in float32 and in bfloat16


FULL = Config()
QUICK = Config(hidden=(32,), z_dim=4, batch_size=32, num_examples=256, epochs_per_run=1, repeats=1,
               matmul_n=128, matmul_repeats=2, torch_fused_adam=False, torch_one_thread=False, xla_cost_analysis=False,
               precision_probe=False)


def jax_matmul_gflops(n: int, repeats: int) -> float:
    """Best float32 GFLOP/s of a jitted (n, n) @ (n, n) product in JAX."""
    import time

    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    matmul = jax.jit(jnp.dot)
    matmul(a, b).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


PEAK_RUNNERS = {"matmul_peak_jax": "jax_scan_epoch", "matmul_peak_torch": "torch_eager"}
"""The matmul peak, timed in each round of the alternation by the worker named here."""


def matmul_precision_probe(m: int, k: int, n: int, repeats: int = 50) -> dict:
    """GFLOP/s of an (m, k) @ (k, n) product with float32 and with bfloat16 inputs.

    Both accumulate in float32. A CPU with bfloat16 dot-product instructions (AVX512-BF16,
    AMX, ARM BF16) runs the second about twice as fast; one without them is slower. This
    tells whether mixed precision would pay on this machine (the course trains in float32).
    """
    import time

    import jax
    import jax.numpy as jnp

    out = {"shape": [m, k, n]}
    for dtype in (jnp.float32, jnp.bfloat16):
        lhs = jnp.ones((m, k), dtype)
        rhs = jnp.ones((k, n), dtype)

        def body(i, acc, lhs=lhs, rhs=rhs, dtype=dtype):  # the index keeps XLA from hoisting the product
            prod = jnp.dot(lhs + i.astype(dtype), rhs, preferred_element_type=jnp.float32)
            return acc + prod[0, 0]

        fn = jax.jit(lambda: jax.lax.fori_loop(0, repeats, body, jnp.float32(0)))
        fn().block_until_ready()
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            fn().block_until_ready()
            best = min(best, time.perf_counter() - start)
        out[jnp.dtype(dtype).name] = 2 * m * k * n * repeats / best / 1e9
    out["bfloat16_speedup"] = out["bfloat16"] / out["float32"]
    return out


class JaxVAETrainer:
    """course_lib's VAE and compiled steps, with the two ways of running an epoch."""

    def __init__(self, x: np.ndarray, cfg: Config, seed: int = 0):
        import jax
        import jax.numpy as jnp
        from flax import nnx

        from course_lib.models import VAE
        from course_lib.training import make_optimizer, make_vae_steps

        self.jax, self.jnp = jax, jnp
        self.model = VAE(x.shape[1], cfg.z_dim, cfg.hidden, likelihood="bernoulli", rngs=nnx.Rngs(seed))
        self.tx = make_optimizer("adam", 1e-3)
        self.steps = make_vae_steps(self.model, self.tx)
        self.params = nnx.state(self.model, nnx.Param)
        self.opt_state = self.tx.init(self.params)
        self.x = jnp.asarray(x)
        self.batch_size = cfg.batch_size
        self.key = jax.random.key(seed)

    def _batches(self):
        from course_lib.data import iterate_minibatches

        self.key, k_perm, k_epoch = self.jax.random.split(self.key, 3)
        return iterate_minibatches(k_perm, self.x, self.batch_size), k_epoch

    def scan_epoch(self) -> int:
        """One epoch as train_vae runs it; returns the number of steps."""
        from course_lib.training.core import check_finite

        batches, k_epoch = self._batches()
        self.params, self.opt_state, metrics = self.steps.epoch(self.params, self.opt_state, batches,
                                                                k_epoch, 1.0)
        check_finite(metrics, where="benchmark epoch", hint="-")
        return int(batches.shape[0])

    def step_loop_epoch(self) -> int:
        """One epoch as a Python loop over the jitted step; returns the number of steps."""
        from course_lib.training.core import check_finite

        batches, k_epoch = self._batches()
        num_steps = int(batches.shape[0])
        keys = self.jax.random.split(k_epoch, num_steps)
        losses = []
        # Iterating a jax.Array unstacks it in one operation; indexing batches[i] would dispatch
        # one slicing operation per step (about 0.1 ms each).
        for x, key in zip(batches, keys):
            self.params, self.opt_state, metrics = self.steps.step(self.params, self.opt_state, x, key, 1.0)
            losses.append(metrics["loss"])
        check_finite({"loss": self.jnp.stack(losses)}, where="benchmark epoch", hint="-")
        return num_steps

    def xla_flops_per_step(self) -> float | None:
        """XLA's own FLOP count of the compiled step (all ops, not only matmuls)."""
        try:
            batch = self.x[: self.batch_size]
            lowered = self.steps.step._jitted.lower(self.params, self.opt_state, batch, self.key, 1.0)
            cost = lowered.compile().cost_analysis()
            if isinstance(cost, (list, tuple)):
                cost = cost[0]
            return float(cost["flops"])
        except Exception:  # noqa: BLE001 - an optional diagnostic across JAX versions
            return None


RUNNERS = ("jax_scan_epoch", "jax_step_loop", "torch_eager", "torch_eager_fused_adam", "torch_eager_1thread")
"""Every contender, each run in its own worker process."""


def _build_runner(name: str, cfg: Config, threads: int):
    """Build contender ``name`` in the process that will time it.

    Returns (run, probe, peak): ``run()`` trains ``cfg.epochs_per_run`` epochs and returns the
    number of steps; ``probe()`` returns what this framework measures besides (XLA's FLOP
    count, the precision probe, versions); ``peak()`` is this framework's best float32
    GFLOP/s of a ``cfg.matmul_n`` square matmul, now.
    """
    x = _common.mnist5k_binary("train", limit=cfg.num_examples)
    if name.startswith("jax_"):
        trainer = JaxVAETrainer(x, cfg)
        epoch = trainer.scan_epoch if name == "jax_scan_epoch" else trainer.step_loop_epoch

        def peak():
            return jax_matmul_gflops(cfg.matmul_n, cfg.matmul_repeats)

        def probe():
            out = {}
            if cfg.xla_cost_analysis:
                out["xla_flops_per_step"] = trainer.xla_flops_per_step()
            if cfg.precision_probe:
                out["matmul_precision_probe"] = matmul_precision_probe(cfg.batch_size, x.shape[1], cfg.hidden[0])
            return out
    else:
        import torch

        one_thread = name == "torch_eager_1thread"
        peer = torch_vae.TorchVAETrainer(x, hidden=cfg.hidden, z_dim=cfg.z_dim, batch_size=cfg.batch_size,
                                         num_threads=1 if one_thread else threads,
                                         fused_adam=name == "torch_eager_fused_adam")
        epoch = peer.run_epoch

        def peak():
            return torch_vae.matmul_gflops(cfg.matmul_n, cfg.matmul_repeats, threads)

        def probe():
            return {"torch_version": torch.__version__}

    def run():
        return sum(epoch() for _ in range(cfg.epochs_per_run))

    return run, probe, peak


def _serve(conn, name: str, cfg: Config, threads: int) -> None:
    """A worker process: build one contender, then answer "run" / "peak" / "probe" / "stop".

    Every message gets one reply; an exception is sent back as ``{"error": traceback}``.
    """
    import os
    import traceback

    os.environ.setdefault("COURSE_LIB_COMPILATION_CACHE", "0")  # time compilation, not a cache read
    try:
        first = time.perf_counter()
        run, probe, peak = _build_runner(name, cfg, threads)
        run()  # warm-up: compile (JAX) or allocate (PyTorch), outside the timing
        conn.send({"first_run_seconds": time.perf_counter() - first})
    except Exception:  # noqa: BLE001 - reported by the parent, which raises
        conn.send({"error": traceback.format_exc()})
        return
    while True:
        message = conn.recv()
        if message == "stop":
            return
        try:
            if message == "run":
                cpu_start, start = time.process_time(), time.perf_counter()
                steps = run()
                conn.send({"steps": steps, "seconds": time.perf_counter() - start,
                           "cpu_seconds": time.process_time() - cpu_start})
            elif message == "peak":  # as a "run" whose steps are GFLOP: alternate() gives GFLOP/s
                gflops = peak()
                conn.send({"steps": gflops, "seconds": 1.0, "cpu_seconds": 0.0})
            elif message == "probe":
                conn.send(probe())
            else:
                conn.send({"error": f"unknown message {message!r}"})
        except Exception:  # noqa: BLE001
            conn.send({"error": traceback.format_exc()})


class _Worker:
    """One contender in its own process (spawned, so no thread pool or allocator is shared)."""

    def __init__(self, name: str, cfg: Config, threads: int, timeout: float = 600.0):
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.name, self.timeout = name, timeout
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, name, cfg, threads), daemon=True,
                                   name=f"benchmark-{name}")
        self.process.start()
        child.close()
        self.first_run_seconds = self._reply()["first_run_seconds"]

    def _reply(self) -> dict:
        if not self.conn.poll(self.timeout):
            raise TimeoutError(f"benchmark worker {self.name} did not answer within {self.timeout:.0f} s")
        try:
            reply = self.conn.recv()
        except EOFError:
            raise RuntimeError(f"benchmark worker {self.name} exited (code {self.process.exitcode})") from None
        if "error" in reply:
            raise RuntimeError(f"benchmark worker {self.name} failed:\n{reply['error']}")
        return reply

    def call(self, message: str) -> dict:
        self.conn.send(message)
        return self._reply()

    def close(self) -> None:
        if self.process.is_alive():
            try:
                self.conn.send("stop")
            except (BrokenPipeError, OSError):
                pass
            self.process.join(10)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(5)
        self.conn.close()


def run(cfg: Config = FULL) -> dict:
    """Time every runner; returns steps/s, ratios and the fraction of the matmul peak.

    Each contender lives in its own process, started (and warmed up) one after another, then
    timed in alternation: the parent sends "run" to one worker at a time while the others
    wait, so no contender shares a thread pool, an allocator or a JIT cache with another.
    The matmul peak is timed in every round too, so each round's fraction of the peak
    compares runs minutes apart at most, however the machine's speed drifts.
    """
    threads = _common.num_threads()
    x_dim = 784
    steps_per_epoch = cfg.num_examples // cfg.batch_size
    names = ["jax_scan_epoch", "jax_step_loop"]
    result = {"config": dataclasses.asdict(cfg), "threads": threads, "steps_per_epoch": steps_per_epoch,
              "isolation": "one process per contender"}
    if torch_vae.available():
        result["torch_threads"] = threads
        names.append("torch_eager")
        if cfg.torch_fused_adam:
            names.append("torch_eager_fused_adam")
        if cfg.torch_one_thread:
            names.append("torch_eager_1thread")
    else:
        result["torch_skipped"] = "PyTorch is not installed (pip install -e '.[bench]')"

    workers: dict[str, _Worker] = {}
    try:
        for name in names:  # one at a time: each warm-up (compilation) runs on a quiet machine
            workers[name] = _Worker(name, cfg, threads)
        result["first_run_seconds"] = {n: w.first_run_seconds for n, w in workers.items()}
        runners = {n: (lambda w=w: w.call("run")) for n, w in workers.items()}
        runners.update({p: (lambda w=workers[n]: w.call("peak")) for p, n in PEAK_RUNNERS.items() if n in workers})
        cpu_ms: dict = {}
        rates = _common.alternate(runners, cfg.repeats, cpu_ms)
        peak_rounds = {p: np.asarray(rates.pop(p)) for p in PEAK_RUNNERS if p in rates}  # GFLOP/s per round
        for p in PEAK_RUNNERS:
            cpu_ms.pop(p, None)
        jax_probe = workers["jax_scan_epoch"].call("probe")
        torch_probe = workers["torch_eager"].call("probe") if "torch_eager" in workers else None
    finally:
        for w in workers.values():
            w.close()

    result["steps_per_s"] = {name: _common.summarize(r) for name, r in rates.items()}
    # CPU time per step of the worker process (all its threads): steadier than wall time on a
    # shared machine, but it also counts threads that spin while waiting (PyTorch's OpenMP pool
    # does), so compare with care.
    result["cpu_ms_per_step"] = {name: _common.summarize(c) for name, c in cpu_ms.items()}
    # CPU per step of single-threaded PyTorch over course_lib's: how much more work PyTorch does
    # for the same step. It holds on a loaded machine, where PyTorch's OpenMP threads spin.
    if "torch_eager_1thread" in cpu_ms:
        result["cpu_work_ratio_torch_1thread_over_jax_scan"] = float(np.median(
            np.asarray(cpu_ms["torch_eager_1thread"]) / np.asarray(cpu_ms["jax_scan_epoch"])))

    # Ratios of runs adjacent in time (same round), then their median: robust to load drift.
    def paired(a, b):
        if a not in rates or b not in rates:
            return None
        return float(np.median(np.asarray(rates[a]) / np.asarray(rates[b])))

    result["ratios"] = {
        "jax_scan_epoch / torch_eager": paired("jax_scan_epoch", "torch_eager"),
        "jax_scan_epoch / torch_eager_fused_adam": paired("jax_scan_epoch", "torch_eager_fused_adam"),
        "jax_scan_epoch / jax_step_loop": paired("jax_scan_epoch", "jax_step_loop"),
        "jax_step_loop / torch_eager": paired("jax_step_loop", "torch_eager"),
    }

    if torch_probe is not None:
        result["torch_version"] = torch_probe["torch_version"]
    # Each round's peak: the faster framework's best product in that round.
    round_peak = np.max(np.stack(list(peak_rounds.values())), axis=0)  # (repeats,)
    peak = float(np.max(round_peak))
    flops = _common.vae_matmul_flops(x_dim, cfg.hidden, cfg.z_dim, cfg.batch_size)
    result["matmul_peak_gflops"] = {**{p.removeprefix("matmul_peak_"): float(np.max(r)) for p, r in peak_rounds.items()},
                                    "peak": peak, "per_round": round_peak.tolist(), "n": cfg.matmul_n}
    result["matmul_flops_per_step"] = flops
    result["xla_flops_per_step"] = jax_probe.get("xla_flops_per_step")
    result["steps_per_s_at_peak"] = peak * 1e9 / flops
    if cfg.precision_probe:
        result["matmul_precision_probe"] = jax_probe["matmul_precision_probe"]
    result["achieved_gflops"] = {n: s["median"] * flops / 1e9 for n, s in result["steps_per_s"].items()}
    # Achieved over the same round's peak, then the median over rounds (like the ratios).
    per_round = {n: np.asarray(rates[n]) * flops / 1e9 / round_peak for n in result["steps_per_s"]}
    result["fraction_of_matmul_peak"] = {n: float(np.median(f)) for n, f in per_round.items()}
    result["fraction_of_matmul_peak_per_round"] = {n: f.tolist() for n, f in per_round.items()}
    speedup = result["ratios"]["jax_scan_epoch / torch_eager"]
    result["targets"] = TARGETS
    result["meets_targets"] = {
        "speedup_vs_torch_eager": None if speedup is None else speedup >= TARGETS["speedup_vs_torch_eager"],
        "fraction_of_matmul_peak":
            result["fraction_of_matmul_peak"]["jax_scan_epoch"] >= TARGETS["fraction_of_matmul_peak"],
    }
    return result
