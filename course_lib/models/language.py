"""The ladder of character-level language models of 09_language_models.ipynb.

Every model reads a token array ``x`` (B, T) that starts with the start token and returns
logits (B, T, V): position t predicts token t + 1 from tokens 0..t, so by the chain rule

    log p(x_1, ..., x_T) = sum_t log softmax(logits)[t, x_{t+1}].

The rungs (notebook sections 2-5):

- :class:`BigramCounts`: p(x_t | x_{t-1}) = (N[x_{t-1}, x_t] + alpha) / (sum_j N[x_{t-1}, j] + alpha V),
  the closed-form maximum-likelihood estimate with add-alpha smoothing;
- :class:`BigramNet`: the same conditional as a one-layer network, logits = W[x_{t-1}], trained by
  gradient descent;
- :class:`ContextMLP`: an MLP over the last ``context`` tokens (Bengio, Ducharme, Vincent & Jauvin,
  2003): embed each token, concatenate, tanh hidden layer, logits;
- :class:`Transformer`: a small causal transformer (token + position embeddings, pre-norm blocks of
  masked multi-head self-attention and an MLP, residuals, layer norm), with a key-value cache.

Each class has a ``config`` property and a ``from_config(config)`` classmethod, so that a
checkpoint manifest rebuilds its model.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from course_lib import _validate
from course_lib.models.registry import build_from_config, register
from course_lib.models.attention import CausalSelfAttention


def _check_tokens(x, vocab_size: int, max_length: int | None = None, name: str = "x"):
    _validate.array(name, x, ndim=2, dtype_kind="int")
    if max_length is not None and x.shape[1] > max_length:
        raise ValueError(f"x has {x.shape[1]} positions, longer than the context of {max_length} tokens")
    return _validate.levels(name, x, vocab_size)


class BigramCounts:
    """Count-based bigram model: a (V, V) table of smoothed conditional log-probabilities."""

    def __init__(self, vocab_size: int, alpha: float = 1.0):
        self.vocab_size = _validate.positive_int("vocab_size", vocab_size, minimum=2)
        self.alpha = _validate.positive_float("alpha", alpha, allow_zero=True)
        self.counts = np.zeros((vocab_size, vocab_size), np.float64)  # N[previous, next]

    @property
    def config(self) -> dict:
        return {"model": "BigramCounts", "vocab_size": self.vocab_size, "alpha": self.alpha}

    @classmethod
    def from_config(cls, config: dict) -> "BigramCounts":
        return cls(config["vocab_size"], config["alpha"])

    def fit(self, tokens, mask) -> "BigramCounts":
        """Count the pairs (x_t, x_{t+1}) where mask is 1.   tokens (N, T+1) int, mask (N, T)."""
        _check_tokens(tokens, self.vocab_size, name="tokens")
        _validate.array("mask", mask, shape=(tokens.shape[0], tokens.shape[1] - 1), dtype_kind="number")
        tokens, mask = np.asarray(tokens), np.asarray(mask) > 0
        prev, nxt = tokens[:, :-1][mask], tokens[:, 1:][mask]
        self.counts = np.zeros_like(self.counts)
        np.add.at(self.counts, (prev, nxt), 1.0)
        return self

    @property
    def log_probs(self) -> np.ndarray:
        """log p(next | previous), (V, V); rows sum to 1 in probability.

        With alpha = 0, a previous token never seen (e.g. the end token) gets a uniform row.
        """
        smoothed = self.counts + self.alpha
        smoothed[smoothed.sum(axis=1) == 0] = 1.0
        with np.errstate(divide="ignore"):
            return np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))

    @property
    def num_params(self) -> int:
        return self.vocab_size * self.vocab_size

    def __call__(self, x):
        """(B, T) -> (B, T, V) log-probabilities (valid logits)."""
        x = _check_tokens(x, self.vocab_size)
        return jnp.asarray(self.log_probs, jnp.float32)[x]


@register
class BigramNet(nnx.Module):
    """logits[t] = W[x_t]: the bigram model as a one-layer network (one-hot input times a (V, V) matrix)."""

    def __init__(self, vocab_size: int, *, rngs: nnx.Rngs):
        self.vocab_size = _validate.positive_int("vocab_size", vocab_size, minimum=2)
        self.W = nnx.Param(jnp.zeros((vocab_size, vocab_size)))  # zeros: uniform start, loss = log V

    @property
    def config(self) -> dict:
        return {"model": "BigramNet", "vocab_size": self.vocab_size}

    @classmethod
    def from_config(cls, config: dict, rngs: nnx.Rngs | None = None) -> "BigramNet":
        return build_from_config(cls, config, rngs)

    def __call__(self, x):
        _check_tokens(x, self.vocab_size)
        return self.W[...][x]  # (B, T, V)


@register
class ContextMLP(nnx.Module):
    """Bengio et al. (2003): logits[t] = W_2 tanh(W_1 [C(x_{t-n+1}); ...; C(x_t)] + b_1) + b_2.

    Positions before the start are filled with the start token, so the first prediction sees
    n copies of it.
    """

    def __init__(self, vocab_size: int, context: int = 4, embed: int = 16, hidden: int = 128, *, rngs: nnx.Rngs):
        self.vocab_size = _validate.positive_int("vocab_size", vocab_size, minimum=2)
        self.context = _validate.positive_int("context", context)
        self.embed = _validate.positive_int("embed", embed)
        self.hidden = _validate.positive_int("hidden", hidden)
        self.C = nnx.Embed(vocab_size, embed, rngs=rngs)
        self.linear_1 = nnx.Linear(context * embed, hidden, rngs=rngs)
        self.linear_2 = nnx.Linear(hidden, vocab_size, rngs=rngs)

    @property
    def config(self) -> dict:
        return {"model": "ContextMLP", "vocab_size": self.vocab_size, "context": self.context,
                "embed": self.embed, "hidden": self.hidden}

    @classmethod
    def from_config(cls, config: dict, rngs: nnx.Rngs | None = None) -> "ContextMLP":
        return build_from_config(cls, config, rngs)

    def windows(self, x):
        """The last n tokens at each position: (B, T) -> (B, T, n), padded on the left with x[:, :1]."""
        n = self.context
        padded = jnp.concatenate([jnp.repeat(x[:, :1], n - 1, axis=1), x], axis=1)  # (B, T + n - 1)
        return jnp.stack([padded[:, i:i + x.shape[1]] for i in range(n)], axis=-1)

    def __call__(self, x):
        _check_tokens(x, self.vocab_size)
        w = self.windows(x)  # (B, T, n)
        e = self.C(w).reshape(*w.shape[:2], -1)  # (B, T, n * embed)
        return self.linear_2(jnp.tanh(self.linear_1(e)))  # (B, T, V)


def _residual_dropout(h, rate: float, key, stream: int):
    """Zero each entry with probability ``rate`` and scale the rest by 1 / (1 - rate) (Srivastava et al.,
    2014); the identity when ``key`` is None or rate is 0. ``stream`` picks an independent mask."""
    if key is None or rate == 0.0:
        return h
    keep = jax.random.bernoulli(jax.random.fold_in(key, stream), 1.0 - rate, h.shape)
    return jnp.where(keep, h / (1.0 - rate), 0.0)


class Block(nnx.Module):
    """Pre-norm transformer block: h = x + Attn(LN(x)); out = h + MLP(LN(h))."""

    def __init__(self, width: int, num_heads: int, *, rngs: nnx.Rngs):
        self.ln_1 = nnx.LayerNorm(width, rngs=rngs)
        self.attn = CausalSelfAttention(width, num_heads, rngs=rngs)
        self.ln_2 = nnx.LayerNorm(width, rngs=rngs)
        self.mlp_in = nnx.Linear(width, 4 * width, rngs=rngs)
        self.mlp_out = nnx.Linear(4 * width, width, rngs=rngs)

    def mlp(self, h):
        return self.mlp_out(jax.nn.gelu(self.mlp_in(self.ln_2(h))))

    def __call__(self, x, *, return_weights: bool = False, dropout_rate: float = 0.0, dropout_key=None):
        """(B, T, D) -> (B, T, D); with ``dropout_key``, residual dropout on both branches (training only)."""
        _validate.array("x", x, ndim=3, dtype_kind="float")
        _validate.width("x", x, self.attn.width, of="this Block")
        a, weights = self.attn(self.ln_1(x), return_weights=True)
        h = x + _residual_dropout(a, dropout_rate, dropout_key, 0)
        out = h + _residual_dropout(self.mlp(h), dropout_rate, dropout_key, 1)
        return (out, weights) if return_weights else out

    def decode(self, x, cache_k, cache_v, position):
        a, cache_k, cache_v = self.attn.decode(self.ln_1(x), cache_k, cache_v, position)
        h = x + a
        return h + self.mlp(h), cache_k, cache_v


@register
class Transformer(nnx.Module):
    """A small causal (decoder-only) transformer over at most ``context`` tokens: (B, T) -> (B, T, V)."""

    def __init__(self, vocab_size: int, context: int = 12, width: int = 64, num_heads: int = 4,
                 num_layers: int = 2, *, rngs: nnx.Rngs):
        self.vocab_size = _validate.positive_int("vocab_size", vocab_size, minimum=2)
        self.context = _validate.positive_int("context", context)
        self.width = _validate.positive_int("width", width)
        self.num_heads = _validate.positive_int("num_heads", num_heads)
        self.num_layers = _validate.positive_int("num_layers", num_layers)
        self.token_embed = nnx.Embed(vocab_size, width, rngs=rngs)
        self.position_embed = nnx.Embed(context, width, rngs=rngs)
        for i in range(num_layers):
            setattr(self, f"block_{i}", Block(width, num_heads, rngs=rngs))
        self.ln_f = nnx.LayerNorm(width, rngs=rngs)
        # A small output layer makes the first predictions near uniform: initial loss ~ log V.
        self.head = nnx.Linear(width, vocab_size, kernel_init=nnx.initializers.normal(0.02), rngs=rngs)

    @property
    def config(self) -> dict:
        return {"model": "Transformer", "vocab_size": self.vocab_size, "context": self.context,
                "width": self.width, "num_heads": self.num_heads, "num_layers": self.num_layers}

    @classmethod
    def from_config(cls, config: dict, rngs: nnx.Rngs | None = None) -> "Transformer":
        return build_from_config(cls, config, rngs)

    def blocks(self):
        return [getattr(self, f"block_{i}") for i in range(self.num_layers)]

    def __call__(self, x, *, return_weights: bool = False, dropout_rate: float = 0.0, dropout_key=None):
        """Logits (B, T, V); with ``return_weights`` also the attention weights, (L, B, H, T, T).

        Training only: with ``dropout_key``, dropout at ``dropout_rate`` on the embeddings and on
        both residual branches of every block (as in GPT-2); evaluation and sampling use none.
        """
        _check_tokens(x, self.vocab_size, self.context)
        dropout_rate = _validate.real_in_range("dropout_rate", dropout_rate, 0.0, 0.95)
        if dropout_key is not None:
            _validate.prng_key("dropout_key", dropout_key)
        h = self.token_embed(x) + self.position_embed(jnp.arange(x.shape[1]))[None]  # (B, T, D)
        h = _residual_dropout(h, dropout_rate, dropout_key, 0)
        weights = []
        for i, block in enumerate(self.blocks()):
            block_key = None if dropout_key is None else jax.random.fold_in(dropout_key, i + 1)
            h, w = block(h, return_weights=True, dropout_rate=dropout_rate, dropout_key=block_key)
            weights.append(w)
        logits = self.head(self.ln_f(h))
        return (logits, jnp.stack(weights)) if return_weights else logits

    def init_cache(self, batch_size: int) -> tuple:
        """Empty key and value caches: two (L, B, T_max, H, D_h) arrays of zeros."""
        batch_size = _validate.sample_count("batch_size", batch_size,
                                            per_sample=2 * self.num_layers * self.context * self.width)
        shape = (self.num_layers, batch_size, self.context, self.num_heads, self.width // self.num_heads)
        return jnp.zeros(shape), jnp.zeros(shape)

    def decode(self, token, position, cache):
        """Logits for the next token after ``token`` (B,) at ``position``, reusing cached keys/values.

        Returns (logits (B, V), updated cache). Costs O(T) per token instead of O(T^2).
        """
        _validate.array("token", token, ndim=1, dtype_kind="int")
        _validate.levels("token", token, self.vocab_size)
        if not (isinstance(cache, tuple) and len(cache) == 2):
            raise TypeError(f"cache must be the (keys, values) pair of init_cache(batch_size), got {type(cache).__name__}")
        if isinstance(position, int) and not 0 <= position < self.context:
            raise ValueError(f"position must be in 0..{self.context - 1} (the context), got {position}")
        cache_k, cache_v = cache
        if token.shape[0] != cache_k.shape[1]:
            raise ValueError(f"token must have one entry per cached sequence ({cache_k.shape[1]},), got shape {token.shape}")
        position = jnp.asarray(position, jnp.int32)
        h = self.token_embed(token[:, None]) + self.position_embed(position)[None, None]  # (B, 1, D)
        new_k, new_v = [], []
        for i, block in enumerate(self.blocks()):
            h, k, v = block.decode(h, cache_k[i], cache_v[i], position)
            new_k.append(k)
            new_v.append(v)
        logits = self.head(self.ln_f(h))[:, 0]
        return logits, (jnp.stack(new_k), jnp.stack(new_v))


MODELS = {"BigramCounts": BigramCounts, "BigramNet": BigramNet, "ContextMLP": ContextMLP,
          "Transformer": Transformer}
"""Model classes by the name in their ``config["model"]``."""


def from_config(config: dict):
    """Build the model a config describes (the ``model`` entry names the class)."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict (a model's .config), got {type(config).__name__}")
    _validate.one_of("config['model']", config.get("model"), MODELS)
    return MODELS[config["model"]].from_config(config)


def num_params(model) -> int:
    """Number of trainable scalars."""
    if isinstance(model, BigramCounts):
        return model.num_params
    _validate.instance("model", model, nnx.Module, "a language model (BigramCounts or a flax.nnx.Module)")
    return int(sum(p.size for p in jax.tree_util.tree_leaves(nnx.state(model, nnx.Param))))
