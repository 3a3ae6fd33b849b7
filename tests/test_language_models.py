"""The ladder of 09_language_models: causality, attention against Flax's, initial loss, bigram
network vs counts, config round trips, and a training loop compiled once."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from course_lib.data import text
from course_lib.models import attention as at
from course_lib.models import language as lm
from course_lib.training import language as tl

V = 28


@pytest.fixture(scope="module")
def splits():
    return text.load_text_splits()


def _models():
    return [lm.BigramNet(V, rngs=nnx.Rngs(0)), lm.ContextMLP(V, context=3, rngs=nnx.Rngs(1)),
            lm.Transformer(V, context=12, width=32, num_heads=4, num_layers=2, rngs=nnx.Rngs(2))]


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_changing_a_future_token_never_changes_earlier_logits(model):
    if isinstance(model, lm.BigramNet):  # give it non-zero weights so that the check means something
        model.W[...] = jax.random.normal(jax.random.key(3), (V, V))
    x = jax.random.randint(jax.random.key(0), (3, 12), 0, V)
    base = model(x)
    for t in range(12):
        y = x.at[:, t].set((x[:, t] + 5) % V)
        changed = model(y)
        np.testing.assert_array_equal(np.asarray(changed[:, :t]), np.asarray(base[:, :t]))
        assert not np.allclose(changed[:, t], base[:, t])  # the token itself does matter


def test_attention_rows_sum_to_one_and_never_look_ahead():
    model = lm.Transformer(V, width=32, num_heads=4, num_layers=2, rngs=nnx.Rngs(0))
    x = jax.random.randint(jax.random.key(1), (2, 9), 0, V)
    _, weights = model(x, return_weights=True)  # (L, B, H, T, T)
    assert weights.shape == (2, 2, 4, 9, 9)
    np.testing.assert_allclose(np.asarray(weights.sum(-1)), 1.0, rtol=1e-5)
    upper = np.triu(np.ones((9, 9), bool), k=1)
    assert np.all(np.asarray(weights)[..., upper] == 0.0)
    assert np.all(np.asarray(weights)[..., ~upper] > 0.0)


def test_causal_mask_is_the_lower_triangle_including_the_diagonal():
    m = at.causal_mask(4)
    assert m[0].tolist() == [True, False, False, False] and m[3].all() and m.sum() == 10


def test_written_out_attention_equals_flax_multi_head_attention():
    ours = at.CausalSelfAttention(32, 4, rngs=nnx.Rngs(0))
    for name in ("b_q", "b_k", "b_v", "b_o"):  # non-zero biases so that they are compared too
        variable = getattr(ours, name)
        variable[...] = 0.1 * jax.random.normal(jax.random.key(len(name)), variable[...].shape)
    flax_mha = nnx.MultiHeadAttention(num_heads=4, in_features=32, qkv_features=32, out_features=32,
                                      decode=False, rngs=nnx.Rngs(1))
    ours.copy_to_flax(flax_mha)
    x = jax.random.normal(jax.random.key(2), (2, 7, 32))
    mask = nnx.make_causal_mask(jnp.ones((2, 7)))
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(flax_mha(x, mask=mask)), rtol=1e-4, atol=1e-5)
    # The check can fail: without the mask, Flax's output differs from ours.
    assert not np.allclose(np.asarray(ours(x)), np.asarray(flax_mha(x)), atol=1e-3)


def test_initial_loss_is_close_to_log_vocabulary(splits):
    tokens, mask = splits["tokens"]["val"], splits["mask"]["val"]
    for model in _models()[1:]:
        assert abs(tl.evaluate_nll(model, tokens, mask) - math.log(V)) < 0.1, type(model).__name__


def test_bigram_network_reaches_the_count_model(splits):
    train = splits["tokens"]["train"], splits["mask"]["train"]
    mle = lm.BigramCounts(V, alpha=0.0).fit(*train)  # the closed-form MLE: the lowest train NLL possible
    net = lm.BigramNet(V, rngs=nnx.Rngs(0))
    result = tl.train_language_model(net, *train, key=jax.random.key(0), num_steps=600, batch_size=512, lr=0.5,
                                     steps_per_call=200)
    nll_mle, nll_net = tl.evaluate_nll(mle, *train), tl.evaluate_nll(net, *train)
    assert nll_mle <= nll_net + 1e-6  # nothing beats the MLE on its own data
    assert nll_net - nll_mle < 0.01, (nll_net, nll_mle)
    assert result.chunk_fn.num_traces == 1


def test_count_model_rows_are_distributions_and_smoothing_gives_unseen_pairs_mass(splits):
    counts = lm.BigramCounts(V, alpha=1.0).fit(splits["tokens"]["train"], splits["mask"]["train"])
    np.testing.assert_allclose(np.exp(counts.log_probs).sum(1), 1.0)
    raw = lm.BigramCounts(V, alpha=0.0).fit(splits["tokens"]["train"], splits["mask"]["train"])
    assert np.isinf(raw.log_probs).any() and np.isfinite(counts.log_probs).all()


def test_training_compiles_once_and_lowers_the_loss(splits):
    model = lm.ContextMLP(V, context=3, hidden=32, rngs=nnx.Rngs(0))
    train = splits["tokens"]["train"], splits["mask"]["train"]
    val = splits["tokens"]["val"], splits["mask"]["val"]
    result = tl.train_language_model(model, *train, key=jax.random.key(0), num_steps=300, steps_per_call=100,
                                     val=val)
    assert result.chunk_fn.num_traces == 1 and len(result.history) == 300 and len(result.val_nll) == 3
    assert tl.evaluate_nll(model, *val) == pytest.approx(min(result.val_nll), abs=1e-6)
    assert min(result.val_nll) < math.log(V) - 0.5


@pytest.mark.parametrize("model", _models() + [lm.BigramCounts(V, alpha=0.5)], ids=lambda m: type(m).__name__)
def test_config_round_trip(model):
    rebuilt = lm.from_config(model.config)
    assert type(rebuilt) is type(model) and rebuilt.config == model.config
    assert lm.num_params(rebuilt) == lm.num_params(model)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="width must be divisible by num_heads"):
        lm.Transformer(V, width=30, num_heads=4, rngs=nnx.Rngs(0))
    model = lm.Transformer(V, context=8, width=16, num_heads=2, num_layers=1, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="longer than the context of 8"):
        model(jnp.zeros((1, 9), jnp.int32))
    with pytest.raises(TypeError, match="x must have an integer dtype"):
        model(jnp.zeros((1, 4)))
    with pytest.raises(ValueError, match="config\\['model'\\]"):
        lm.from_config({"model": "GPT-5"})
