"""Benchmarks of the course against its peers and the machine's limit (see README.md).

``python -m benchmarks [--json] [--quick]`` runs, in one process and on one machine:

- :mod:`benchmarks.throughput`: VAE training steps/s, course_lib (scan-fused epoch and a
  per-step Python loop) against PyTorch eager, and against a measured matmul peak;
- :mod:`benchmarks.quality`: seconds to reach the VAE and GAN quality targets;
- :mod:`benchmarks.widgets`: kernel-side latency of the latent explorer and the GAN lab;
- :mod:`benchmarks.course`: notebook wall times, import time, compile time with and
  without JAX's persistent compilation cache.

Each module has ``run(config) -> dict`` and ``FULL`` / ``QUICK`` configurations. The
package is not part of course_lib and is never imported by it.
"""
