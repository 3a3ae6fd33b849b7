"""A causal transformer over the 64 pixels: the second autoregressive row of the family table (07_beyond.ipynb).

The image is read in raster order as a sequence of 64 tokens, like a sentence in
09_language_models.ipynb: token 0 is the start token and level v in 0..16 is token v + 1, so the
model (:class:`course_lib.models.language.Transformer` with a vocabulary of 18 and a context of 64)
sees [start, x_1, ..., x_63] and position i predicts x_{i+1}. By the chain rule the likelihood is
exact (07_beyond, section 4, "The same chain rule with a transformer"):

    log p(x) = sum_{i=1}^{64} log softmax(z_i[1:])_{x_i},     z_i = logits at position i - 1   (N,)

where the softmax runs over the 17 level tokens only (the start token is never a pixel). Causal
attention plays the role of MADE's masks; unlike MADE's masked MLP, every position shares the
same weights and reads the whole prefix.

Regularisation, since 1,000 images are few for a model of this size: during training, dropout at
rate ``dropout`` on the embeddings and the residual branches, and a fraction ``input_noise`` of the
*input* tokens replaced by a uniformly random level (the targets stay clean); the parameters are
averaged (EMA) and the best validation check is kept. The likelihood is always evaluated on clean
inputs without dropout.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from course_lib import _validate
from course_lib.decoding import START_TOKEN  # token 0; the levels are tokens 1..17
from course_lib.models.language import Transformer
from course_lib.training.generic import fit

NUM_LEVELS, DIM = 17, 64


@dataclasses.dataclass(frozen=True)
class PixelTransformerSettings:
    width: int = 128  # model width D
    num_heads: int = 4
    num_layers: int = 3
    dropout: float = 0.1  # training only: on the embeddings and the residual branches
    input_noise: float = 0.1  # training only: fraction of input tokens replaced by a random level
    num_epochs: int = 60
    batch_size: int = 50
    lr: float = 1e-3  # peak; cosine decay to 0
    ema_decay: float = 0.995
    eval_every: int = 5


def build_pixel_transformer(s: PixelTransformerSettings, seed: int) -> Transformer:
    _validate.instance("s", s, PixelTransformerSettings, "a PixelTransformerSettings")
    return Transformer(NUM_LEVELS + 1, context=DIM, width=s.width, num_heads=s.num_heads, num_layers=s.num_layers,
                       rngs=nnx.Rngs(seed))


def input_tokens(levels):
    """(N, 64) levels -> (N, 64) input tokens [start, x_1 + 1, ..., x_63 + 1] (the last pixel is never an input)."""
    levels = jnp.asarray(_check_levels(levels))
    start = jnp.full((levels.shape[0], 1), START_TOKEN, levels.dtype)
    return jnp.concatenate([start, levels[:, :-1] + 1], axis=1)


def _check_levels(levels):
    _validate.array("levels", levels, ndim=2, shape=(None, DIM), dtype_kind="int", min_rows=1)
    return _validate.levels("levels", levels, NUM_LEVELS)


def pixel_log_prob(model: Transformer, levels, inputs=None, *, dropout_rate: float = 0.0, dropout_key=None):
    """Exact log p(x) per image (N,) in nats; ``inputs`` (default: the clean images) are what the model
    reads. Training passes noisy inputs and a dropout key; the likelihood itself uses neither."""
    _validate.instance("model", model, Transformer, "a course_lib.models.language.Transformer")
    _check_levels(levels)
    if inputs is not None:
        _validate.array("inputs", inputs, shape=tuple(levels.shape), dtype_kind="int")
    tokens = input_tokens(levels if inputs is None else inputs)
    logits = model(tokens, dropout_rate=dropout_rate, dropout_key=dropout_key)[..., 1:]  # (N, 64, 17): levels only
    log_p = jax.nn.log_softmax(logits, axis=-1)
    return jnp.take_along_axis(log_p, jnp.asarray(levels)[..., None], axis=-1)[..., 0].sum(axis=-1)


def pixel_nll(model: Transformer, levels) -> np.ndarray:
    """Exact -log p(x) per image (N,), in nats (compiled)."""
    _validate.instance("model", model, Transformer, "a course_lib.models.language.Transformer")
    _check_levels(levels)
    if model.context < DIM or model.vocab_size != NUM_LEVELS + 1:
        raise ValueError(f"model must read {DIM} tokens of a vocabulary of {NUM_LEVELS + 1}, got context "
                         f"{model.context} and vocabulary {model.vocab_size}")
    graphdef, state = nnx.split(model)
    fn = jax.jit(lambda s, x: -pixel_log_prob(nnx.merge(graphdef, s), x))
    return np.asarray(fn(state, jnp.asarray(levels, jnp.int32)))


def corrupt(key, levels, fraction: float):
    """Replace each entry of ``levels`` by a uniform random level with probability ``fraction``."""
    _validate.prng_key("key", key)
    _check_levels(levels)
    fraction = _validate.real_in_range("fraction", fraction, 0.0, 1.0)
    k_mask, k_level = jax.random.split(key)
    replace = jax.random.bernoulli(k_mask, fraction, levels.shape)
    return jnp.where(replace, jax.random.randint(k_level, levels.shape, 0, NUM_LEVELS, levels.dtype), levels)


def train_pixel_transformer(s: PixelTransformerSettings, splits: dict, seed: int):
    """Fit by maximum likelihood (noisy inputs, clean targets); returns (model, FitResult)."""
    model = build_pixel_transformer(s, seed)
    _validate.real_in_range("s.input_noise", s.input_noise, 0.0, 1.0)
    _validate.real_in_range("s.dropout", s.dropout, 0.0, 0.95)
    graphdef, params = nnx.split(model, nnx.Param)

    def loss_fn(p, x, key):
        k_noise, k_drop = jax.random.split(key)
        inputs = corrupt(k_noise, x, s.input_noise) if s.input_noise > 0 else x
        log_p = pixel_log_prob(nnx.merge(graphdef, p), x, inputs, dropout_rate=s.dropout, dropout_key=k_drop)
        return -jnp.mean(log_p), {}

    def val_fn(p, x):
        return -jnp.mean(pixel_log_prob(nnx.merge(graphdef, p), x))

    result = fit(loss_fn, params, splits["train"], key=jax.random.key(seed), num_epochs=s.num_epochs,
                 batch_size=s.batch_size, lr=s.lr, lr_schedule="cosine", ema_decay=s.ema_decay, eval_fn=val_fn,
                 x_val=splits["val"], eval_every=s.eval_every, progress=False, desc="pixel transformer")
    nnx.update(model, result.params)
    return model, result


_SAMPLERS: dict = {}


def _sampler(graphdef, num_samples: int):
    if (graphdef, num_samples) not in _SAMPLERS:
        def run(state, key):
            model = nnx.merge(graphdef, state)
            cache = model.init_cache(num_samples)

            def step(carry, inputs):
                token, cache = carry
                position, k = inputs
                logits, cache = model.decode(token, position, cache)
                level = jax.random.categorical(k, logits[:, 1:]).astype(jnp.int32)  # never the start token
                return (level + 1, cache), level

            start = jnp.full((num_samples,), START_TOKEN, jnp.int32)
            _, levels = jax.lax.scan(step, (start, cache), (jnp.arange(DIM), jax.random.split(key, DIM)))
            return levels.T  # (N, 64)

        _SAMPLERS[(graphdef, num_samples)] = jax.jit(run)
    return _SAMPLERS[(graphdef, num_samples)]


def pixel_sample(model: Transformer, key, num_samples: int) -> jax.Array:
    """Draw images pixel by pixel with the key-value cache: (N, 64) int32 levels in 0..16."""
    _validate.instance("model", model, Transformer, "a course_lib.models.language.Transformer")
    _validate.prng_key("key", key)
    num_samples = _validate.sample_count("num_samples", num_samples, per_sample=DIM * model.width)
    graphdef, state = nnx.split(model)
    return _sampler(graphdef, num_samples)(state, key)


__all__ = ["PixelTransformerSettings", "build_pixel_transformer", "corrupt", "input_tokens", "pixel_log_prob",
           "pixel_nll", "pixel_sample", "train_pixel_transformer"]
