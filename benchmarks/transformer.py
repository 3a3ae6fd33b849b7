"""Benchmark 5: training throughput of 09's character transformer against PyTorch eager.

The transformer of 09_language_models.ipynb (vocabulary 28, context 12, width 48, 4 heads,
2 pre-norm blocks, GELU MLPs of width 192), batch 64 names, AdamW (lr 3e-3, no weight decay),
on the 4,130 training names. Runners, timed in alternation (the order rotates every round),
each doing ``steps_per_run`` training steps:

- ``jax_scan``: what ``course_lib.training.language.train_language_model`` does: minibatch
  indices drawn on the device, ``steps_per_run`` steps fused into one compiled ``lax.scan``;
- ``torch_eager_1thread``: the same on one thread (reported, not used for the ratio);
- ``torch_eager``: the identical model (same layer sizes, attention written out the same way,
  layer-norm epsilon, tanh-GELU, initial loss), the same data, batch, optimizer and thread count,
  in PyTorch eager mode with ``torch.optim.AdamW``, one Python step per minibatch.

Both run in this process, one after the other; the reported ratio is the median over rounds of
(JAX steps/s) / (PyTorch steps/s) of adjacent runs. Target (issue 19): at least 1.5x.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from benchmarks import _common

TARGETS = {"speedup_vs_torch_eager": 1.5}


@dataclasses.dataclass(frozen=True)
class Config:
    width: int = 48  # D, the model width
    num_heads: int = 4  # H
    num_layers: int = 2  # L, transformer blocks
    context: int = 12  # T, tokens per sequence
    batch_size: int = 64  # names per step
    lr: float = 3e-3
    steps_per_run: int = 200  # steps timed per runner per round
    repeats: int = 5  # rounds of alternation
    torch_one_thread: bool = True  # also time PyTorch on one thread (its OpenMP pool spins on a loaded machine)


FULL = Config()
QUICK = Config(width=16, num_heads=2, num_layers=1, batch_size=8, steps_per_run=5, repeats=1, torch_one_thread=False)


def _data(cfg: Config):
    from course_lib.data import text

    d = text.load_text_splits(cfg.context)
    return d["vocab"].size, d["tokens"]["train"], d["mask"]["train"]


def jax_runner(cfg: Config, threads: int):
    """A function running ``steps_per_run`` scan-fused steps of course_lib's loop; returns the step count."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from course_lib.models.language import Transformer
    from course_lib.training.language import make_chunk

    vocab_size, tokens, mask = _data(cfg)
    model = Transformer(vocab_size, cfg.context, cfg.width, cfg.num_heads, cfg.num_layers, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model, nnx.Param)
    optimizer = optax.adamw(cfg.lr, weight_decay=0.0)
    chunk = make_chunk(graphdef, optimizer, cfg.steps_per_run, cfg.batch_size)
    state = {"params": params, "opt": optimizer.init(params), "round": 0}
    tokens, mask = jnp.asarray(tokens), jnp.asarray(mask)

    def run() -> int:
        key = jax.random.fold_in(jax.random.key(0), state["round"])
        state["params"], state["opt"], losses = chunk(state["params"], state["opt"], tokens, mask, key)
        jax.block_until_ready(losses)
        state["round"] += 1
        return cfg.steps_per_run

    run()  # compile
    return run, chunk


def torch_runner(cfg: Config, threads: int):
    """The same training in PyTorch eager; returns (run, first loss)."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    vocab_size, tokens, mask = _data(cfg)
    model = _torch_transformer(torch, vocab_size, cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    tokens, mask = torch.from_numpy(tokens).long(), torch.from_numpy(mask)

    def step():
        idx = torch.randint(0, tokens.shape[0], (cfg.batch_size,))
        x, m = tokens[idx], mask[idx]
        logits = model(x[:, :-1])
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab_size), x[:, 1:].reshape(-1),
                                                reduction="none")
        loss = (nll * m.reshape(-1)).sum() / m.sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    def run() -> int:
        for _ in range(cfg.steps_per_run):
            step()
        return cfg.steps_per_run

    with torch.no_grad():
        x = tokens[: cfg.batch_size]
        first = torch.nn.functional.cross_entropy(model(x[:, :-1]).reshape(-1, vocab_size), x[:, 1:].reshape(-1))
    run()  # warm-up
    return run, float(first)


def _torch_transformer(torch, vocab_size: int, cfg: Config):
    nn = torch.nn
    width, heads = cfg.width, cfg.num_heads

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(width, eps=1e-6), nn.LayerNorm(width, eps=1e-6)
            self.qkv = nn.Linear(width, 3 * width)
            self.out = nn.Linear(width, width)
            self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(approximate="tanh"), nn.Linear(4 * width, width))
            self.register_buffer("mask", torch.tril(torch.ones(cfg.context, cfg.context, dtype=torch.bool)))

        def forward(self, x):  # (B, T, D)
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln_1(x)).view(b, t, 3, heads, width // heads).unbind(2)  # (B, T, H, Dh)
            scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / (width // heads) ** 0.5
            weights = torch.softmax(scores.masked_fill(~self.mask[:t, :t], float("-inf")), dim=-1)
            h = x + self.out(torch.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, t, width))
            return h + self.mlp(self.ln_2(h))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.token, self.position = nn.Embedding(vocab_size, width), nn.Embedding(cfg.context, width)
            self.blocks = nn.Sequential(*[Block() for _ in range(cfg.num_layers)])
            self.ln_f, self.head = nn.LayerNorm(width, eps=1e-6), nn.Linear(width, vocab_size)
            nn.init.normal_(self.head.weight, std=0.02)  # as course_lib: initial loss ~ log V
            nn.init.zeros_(self.head.bias)

        def forward(self, x):  # (B, T) -> (B, T, V)
            h = self.token(x) + self.position(torch.arange(x.shape[1]))[None]
            return self.head(self.ln_f(self.blocks(h)))

    return Model()


def run(cfg: Config = FULL) -> dict:
    """Time both runners in alternation; returns steps/s, tokens/s and the paired ratio."""
    from benchmarks import torch_vae

    threads = _common.num_threads()
    jax_run, chunk = jax_runner(cfg, threads)
    runners = {"jax_scan": jax_run}
    result = {"config": dataclasses.asdict(cfg), "threads": threads, "targets": TARGETS}
    if torch_vae.available():
        runners["torch_eager"], result["torch_first_loss"] = torch_runner(cfg, threads)
        if cfg.torch_one_thread and threads > 1:
            import torch

            one_thread, _ = torch_runner(cfg, 1)
            torch.set_num_threads(threads)  # torch_runner set it to 1 for the whole process

            def torch_1thread(run=one_thread) -> int:  # torch's thread count is global: set it per run
                torch.set_num_threads(1)
                try:
                    return run()
                finally:
                    torch.set_num_threads(threads)

            runners["torch_eager_1thread"] = torch_1thread
    else:
        result["torch_skipped"] = "PyTorch is not installed (pip install -e '.[bench]')"
    rates = _common.alternate(runners, cfg.repeats)
    result["steps_per_s"] = {n: _common.summarize(r) for n, r in rates.items()}
    result["tokens_per_s_median"] = {n: float(np.median(r)) * cfg.batch_size * cfg.context for n, r in rates.items()}
    result["jax_num_traces"] = chunk.num_traces
    if "torch_eager" in rates:
        ratio = float(np.median(np.asarray(rates["jax_scan"]) / np.asarray(rates["torch_eager"])))
        result["ratio_jax_scan_over_torch_eager"] = ratio
        result["meets_targets"] = {"speedup_vs_torch_eager": ratio >= TARGETS["speedup_vs_torch_eager"]}
    return result


def markdown_lines(r: dict) -> list[str]:
    """The benchmark's rows for benchmarks/README.md."""
    s = r["steps_per_s"]
    rows = ["| Transformer training (09) | steps/s | tokens/s | ratio | target | met |", "|---|---|---|---|---|---|"]
    ratio = r.get("ratio_jax_scan_over_torch_eager")
    met = r.get("meets_targets", {}).get("speedup_vs_torch_eager")
    for name in s:
        rows.append(f"| {name} | {s[name]['median']:.1f} | {r['tokens_per_s_median'][name]:.0f} | "
                    f"{'' if name != 'jax_scan' or ratio is None else f'{ratio:.2f}x'} | "
                    f"{'>= 1.5x' if name == 'jax_scan' else ''} | {'' if name != 'jax_scan' or met is None else met} |")
    return rows
