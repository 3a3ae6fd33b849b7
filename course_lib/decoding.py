"""Sampling from an autoregressive language model: temperature, top-k, nucleus (top-p), key-value cache.

Taught in 09_language_models.ipynb ("6. Sampling"). At each step the model gives logits z over
the V tokens; we sample the next token from

    temperature:  p_T(i) = softmax(z / T)_i                (T -> 0: greedy; T = 1: the model; T > 1: flatter)
    top-k:        keep the k largest p_T(i), renormalise
    top-p:        sort p_T decreasingly and keep the smallest prefix whose mass reaches p, i.e. token i
                  (in sorted order) is kept iff the mass strictly before it is < p -- so the token
                  that crosses the threshold is kept (Holtzman et al., 2020, "nucleus sampling").

Temperature comes first, then top-k, then top-p (the order of common libraries). The start token is
never drawn (it never follows anything in the data). Generation runs
as one compiled ``lax.scan`` over positions, either recomputing the whole prefix at each step
(O(T^2) per token for attention) or, for the transformer, with a key-value cache (O(T)).
"""
from __future__ import annotations

import functools
import numbers
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from course_lib import _validate


START_TOKEN = 0
"""Token id of the start token (:class:`course_lib.data.text.Vocabulary` puts it first); never drawn."""


def check_sampling(temperature, top_k, top_p) -> tuple[float, int | None, float]:
    """Validate sampling settings; top_k None means off. Returns (temperature, top_k, top_p)."""
    temperature = _validate.positive_float("temperature", temperature)
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral):
            raise TypeError(f"top_k must be an integer >= 1 or None, got {top_k!r}")
        if top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1 or None, got {top_k}")
        top_k = int(top_k)
    if isinstance(top_p, bool) or not isinstance(top_p, numbers.Real):
        raise TypeError(f"top_p must be a real number in (0, 1], got {top_p!r}")
    if not 0.0 < float(top_p) <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    return temperature, top_k, float(top_p)


def _check_logits(logits):
    _validate.array("logits", logits, dtype_kind="float", finite=False)
    if logits.ndim == 0 or logits.shape[-1] == 0:
        raise ValueError(f"logits must have at least one token on its last axis, got shape {tuple(logits.shape)}")


def apply_temperature(logits, temperature):
    """z / T (the softmax comes after: dividing probabilities by T would change nothing)."""
    _check_logits(logits)
    if not hasattr(temperature, "shape"):  # a traced temperature inside jit was checked by its caller
        _validate.positive_float("temperature", temperature)
    return logits / temperature


def top_k_filter(logits, k):
    """Keep the k largest logits on the last axis, set the others to -inf (ties at the k-th are kept)."""
    _check_logits(logits)
    if not hasattr(k, "shape"):
        _validate.positive_int("k", k)
    k = jnp.clip(k, 1, logits.shape[-1])
    kth = jnp.take_along_axis(jnp.sort(logits, axis=-1)[..., ::-1], jnp.broadcast_to(k - 1, logits.shape[:-1])[..., None],
                              axis=-1)
    return jnp.where(logits >= kth, logits, -jnp.inf)


def top_p_filter(logits, p):
    """Nucleus filter on the last axis: keep the tokens whose preceding sorted mass is < p.

    Implemented without a scatter: the kept tokens are those at least as probable as the last
    kept one in sorted order (tokens tied with it are kept too).
    """
    _check_logits(logits)
    if not hasattr(p, "shape"):
        check_sampling(1.0, None, p)
    probs = jax.nn.softmax(logits, axis=-1)
    sorted_p = jnp.sort(probs, axis=-1)[..., ::-1]
    mass_before = jnp.cumsum(sorted_p, axis=-1) - sorted_p
    num_kept = jnp.sum(mass_before < p, axis=-1, keepdims=True)  # >= 1: the first has mass_before 0
    cutoff = jnp.take_along_axis(sorted_p, num_kept - 1, axis=-1)
    return jnp.where(probs >= cutoff, logits, -jnp.inf)


def filter_logits(logits, temperature, top_k, top_p):
    """Temperature, then top-k (``top_k`` <= 0 or >= V means off inside jit), then top-p."""
    z = apply_temperature(logits, temperature)
    z = jnp.where(top_k > 0, top_k_filter(z, jnp.maximum(top_k, 1)), z)
    return top_p_filter(z, top_p)


def _forward(model_def, state, x):
    return nnx.merge(model_def, state)(x) if model_def is not None else state[x]


@functools.lru_cache(maxsize=64)
def _generator(model_def, num_samples: int, length: int, use_cache: bool, greedy: bool):
    """A jitted ``gen(state, key, prefix (length+1,), prefix_len, temperature, top_k, top_p)``."""

    def choose(logits, pos, forced, prefix_len, key, temperature, top_k, top_p):
        logits = logits.at[:, START_TOKEN].set(-jnp.inf)  # the start token never follows anything
        z = filter_logits(logits, temperature, top_k, top_p)
        probs = jax.nn.softmax(z, axis=-1)
        drawn = jnp.argmax(z, axis=-1) if greedy else jax.random.categorical(jax.random.fold_in(key, pos), z)
        return jnp.where(pos + 1 <= prefix_len, forced, drawn).astype(jnp.int32), probs

    def gen(state, key, prefix, prefix_len, temperature, top_k, top_p):
        out = jnp.broadcast_to(prefix, (num_samples, length + 1)).astype(jnp.int32)
        model = nnx.merge(model_def, state) if use_cache else None
        cache = model.init_cache(num_samples) if use_cache else None

        def step(carry, pos):
            out, cache = carry
            if use_cache:
                logits, cache = model.decode(out[:, pos], pos, cache)
            else:
                logits = _forward(model_def, state, out[:, :length])[:, pos]
            nxt, probs = choose(logits, pos, prefix[pos + 1], prefix_len, key, temperature, top_k, top_p)
            return (out.at[:, pos + 1].set(nxt), cache), probs

        (out, _), probs = jax.lax.scan(step, (out, cache), jnp.arange(length))
        return out, jnp.swapaxes(probs, 0, 1)  # (N, length + 1), (N, length, V)

    return jax.jit(gen)


def generate(model, vocab, key, *, num_samples: int = 1, prefix: str = "", temperature: float = 1.0,
             top_k: int | None = None, top_p: float = 1.0, use_cache: bool = False, greedy: bool = False,
             length: int | None = None):
    """Sample ``num_samples`` sequences, continuing the letters of ``prefix``.

    Returns:
      tokens: int32 (N, length + 1), starting with the start token (decode with ``vocab.decode``).
      probs: (N, length, V), the (filtered) distribution each token was drawn from.
    ``length`` defaults to the model's context (transformer, MLP) or 12. ``use_cache`` needs a
    model with ``decode`` and ``init_cache`` (the transformer).
    """
    from course_lib.data.text import Vocabulary
    from course_lib.models.language import BigramCounts

    if not isinstance(model, (BigramCounts, nnx.Module)):
        raise TypeError(f"model must be a language model (BigramCounts, BigramNet, ContextMLP or Transformer), "
                        f"got {type(model).__name__}")
    _validate.instance("vocab", vocab, Vocabulary, "a course_lib.data.text.Vocabulary")
    _validate.boolean("use_cache", use_cache)
    _validate.boolean("greedy", greedy)
    key = _validate.prng_key("key", key)
    num_samples = _validate.positive_int("num_samples", num_samples)
    temperature, top_k, top_p = check_sampling(temperature, top_k, top_p)
    length = _validate.positive_int("length", length if length is not None else getattr(model, "context", 12))
    _validate.sample_count("num_samples", num_samples, per_sample=(length + 1) * vocab.size)
    if hasattr(model, "decode") and length > model.context:
        raise ValueError(f"length must be <= the model's context {model.context}, got {length}")
    ids = vocab.encode(prefix, name="prefix")
    if len(ids) + 1 > length:
        raise ValueError(f"prefix must have at most {length - 1} characters (the context is {length} tokens "
                         f"with the start token), got {len(ids)}: {prefix!r}")
    if use_cache and not hasattr(model, "decode"):
        raise ValueError(f"use_cache=True needs a model with a key-value cache, got {type(model).__name__}")
    if vocab.bos != START_TOKEN:
        raise ValueError(f"vocab must have the start token at id {START_TOKEN}, got {vocab.bos}")
    padded = np.full(length + 1, vocab.eos, np.int32)
    padded[0], padded[1:len(ids) + 1] = vocab.bos, ids
    if isinstance(model, nnx.Module):
        model_def, state = nnx.split(model)
    else:  # BigramCounts: its log-probability table is the whole model
        model_def, state = None, jnp.asarray(model.log_probs, jnp.float32)
    gen = _generator(model_def, num_samples, length, use_cache, greedy)
    return gen(state, key, jnp.asarray(padded), len(ids), temperature, top_k or 0, top_p)


def sample_words(model, vocab, key, **kwargs) -> list[str]:
    """Decoded samples (the letters before the first end token) of :func:`generate`."""
    tokens, _ = generate(model, vocab, key, **kwargs)
    return [vocab.decode(row) for row in np.asarray(tokens)]


def tokens_per_second(model, vocab, *, use_cache: bool, num_samples: int = 256, repeats: int = 5,
                      seed: int = 0) -> float:
    """Generated tokens per second (best of ``repeats`` runs after one compile run), full context."""
    _validate.boolean("use_cache", use_cache)
    repeats = _validate.positive_int("repeats", repeats, maximum=100, why="the best of 100 runs is already stable")
    if not hasattr(model, "context"):
        raise TypeError(f"model must be a language model with a context (ContextMLP or Transformer), "
                        f"got {type(model).__name__}")
    jax.block_until_ready(generate(model, vocab, jax.random.key(seed), num_samples=num_samples, use_cache=use_cache))
    best = float("inf")
    for i in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(generate(model, vocab, jax.random.key(seed + 1 + i), num_samples=num_samples,
                                       use_cache=use_cache))
        best = min(best, time.perf_counter() - start)
    return num_samples * model.context / best
