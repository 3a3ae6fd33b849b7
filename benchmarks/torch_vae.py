"""The PyTorch peer: the same MLP VAE and training loop as course_lib, in PyTorch eager mode.

Only the benchmark imports this module, and only when PyTorch is installed
(``pip install -e ".[bench]"``); the course never depends on PyTorch.

Model: encoder x_dim -> hidden -> 2*z_dim (mu, logvar), decoder z_dim -> reversed(hidden)
-> x_dim logits, ReLU between layers, exactly as ``course_lib.models.VAE`` builds it.
Loss per batch: mean over examples of rec + kl with
    rec = sum_d [softplus(l_d) - x_d l_d]  (Bernoulli negative log-likelihood),
    kl  = 1/2 sum_j [exp(logvar_j) + mu_j^2 - 1 - logvar_j],
and one reparameterised sample z = mu + exp(logvar / 2) * eps. Optimizer: Adam, lr 1e-3.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def available() -> bool:
    """True when PyTorch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _mlp(torch, sizes: Sequence[int]):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


class TorchVAETrainer:
    """A PyTorch VAE and its Adam optimizer; ``run_epoch()`` trains one shuffled epoch.

    Args:
      x: (N, x_dim) float32 numpy array of binary pixels.
      hidden, z_dim, batch_size, lr: as for course_lib's VAE and train_vae.
      num_threads: torch.set_num_threads (match the threads JAX uses).
      seed: torch.manual_seed, for the weights, the shuffles and the noise.
      fused_adam: use PyTorch's fused Adam kernel (not what ``torch.optim.Adam(params)`` gives
        by default on CPU; reported separately).
    """

    def __init__(self, x: np.ndarray, *, hidden: Sequence[int], z_dim: int, batch_size: int,
                 lr: float = 1e-3, num_threads: int, seed: int = 0, fused_adam: bool = False):
        import torch

        self.torch = torch
        self.num_threads = num_threads
        torch.set_num_threads(num_threads)
        torch.manual_seed(seed)
        self.x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))  # (N, D)
        self.batch_size = batch_size
        self.num_batches = x.shape[0] // batch_size
        x_dim = x.shape[1]
        self.z_dim = z_dim
        self.encoder = _mlp(torch, [x_dim, *hidden, 2 * z_dim])
        self.decoder = _mlp(torch, [z_dim, *reversed(hidden), x_dim])
        params = list(self.encoder.parameters()) + list(self.decoder.parameters())
        self.optimizer = torch.optim.Adam(params, lr=lr, fused=True) if fused_adam else torch.optim.Adam(params, lr=lr)

    def loss(self, x):
        """Mean negative ELBO of a batch x (B, D), one z sample each."""
        torch = self.torch
        mu, logvar = self.encoder(x).chunk(2, dim=-1)  # (B, J) each
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = self.decoder(z)  # (B, D)
        rec = torch.sum(torch.nn.functional.softplus(logits) - x * logits, dim=-1)
        kl = 0.5 * torch.sum(torch.exp(logvar) + mu**2 - 1.0 - logvar, dim=-1)
        return torch.mean(rec + kl)

    def run_epoch(self) -> int:
        """One shuffled epoch of Adam steps (the mean loss must stay finite); returns the step count."""
        torch = self.torch
        torch.set_num_threads(self.num_threads)  # a process-wide setting: runners may differ
        perm = torch.randperm(self.x.shape[0])
        losses = []
        for i in range(self.num_batches):
            xb = self.x[perm[i * self.batch_size:(i + 1) * self.batch_size]]
            loss = self.loss(xb)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            losses.append(loss.detach())
        self.last_loss = float(torch.stack(losses).mean())
        if not np.isfinite(self.last_loss):
            raise FloatingPointError("the PyTorch VAE diverged")
        return self.num_batches


def matmul_gflops(n: int, repeats: int, num_threads: int) -> float:
    """Best float32 GFLOP/s of an (n, n) @ (n, n) product in PyTorch."""
    import time

    import torch

    torch.set_num_threads(num_threads)
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9
