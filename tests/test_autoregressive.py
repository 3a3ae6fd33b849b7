"""MADE: the masks give an autoregressive model (checked with Jacobians and perturbations), the
probabilities of every possible image sum to one, samples follow the model's own probabilities,
dropout is training-only, training lowers the loss, and bad arguments fail clearly."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from course_lib.models.autoregressive import MADE, input_degrees, made_masks, orderings
from course_lib.training.generic import fit


def _all_images(dim, k):
    return jnp.array(list(itertools.product(range(k), repeat=dim)), jnp.int32)


def test_masks_by_hand():
    masks = made_masks(3, (2,))
    # hidden degrees 1, 2; input d -> hidden k iff m(k) >= d
    np.testing.assert_array_equal(masks[0], [[1, 1], [0, 1], [0, 0]])
    # hidden k -> output d iff d > m(k)
    np.testing.assert_array_equal(masks[1], [[0, 1, 1], [0, 0, 1]])
    np.testing.assert_array_equal(input_degrees([2, 0, 1]), [2, 3, 1])
    assert orderings(5, 3).shape == (3, 5)
    np.testing.assert_array_equal(orderings(5, 3)[0], np.arange(5))


@pytest.mark.parametrize("inputs", ["scalar", "one_hot"])
def test_output_d_ignores_pixels_from_d_on(inputs):
    """Changing pixel j never changes the conditionals of pixels 0..j (raster order)."""
    model = MADE(6, 4, (32, 32), inputs=inputs, rngs=nnx.Rngs(0))
    x = jax.random.randint(jax.random.key(0), (3, 6), 0, 4)
    logits = jax.jit(model.logits)
    base = logits(x)
    for j in range(6):
        changed = logits(x.at[:, j].set((x[:, j] + 1) % 4))
        np.testing.assert_allclose(changed[:, : j + 1], base[:, : j + 1], atol=1e-6)
        if j < 5:  # and it does change some later conditional (the model is not trivial)
            assert float(jnp.max(jnp.abs(changed[:, j + 1:] - base[:, j + 1:]))) > 1e-4


def test_jacobian_is_strictly_triangular_in_every_order():
    model = MADE(5, 3, (16,), num_orderings=3, rngs=nnx.Rngs(1))
    graphdef, params = nnx.split(model, nnx.Param)
    for m, order in enumerate(model.orders):
        # d logits / d input (scalar inputs, through the first layer), as a function of the input vector
        def f(h0):
            masks, direct = nnx.merge(graphdef, params)._masks(m)
            mod = nnx.merge(graphdef, params)
            h = jax.nn.relu(mod.masked_0(h0, masks[0]))
            return (mod.masked_1(h, masks[1]) + mod.direct(h0, direct)).reshape(5, 3).sum(-1)

        jac = np.asarray(jax.jit(jax.jacfwd(f))(jnp.linspace(0.1, 0.9, 5)))  # (5 outputs, 5 inputs)
        rank = input_degrees(order) - 1
        for d in range(5):
            for j in range(5):
                if rank[j] >= rank[d]:
                    assert jac[d, j] == 0.0


@pytest.mark.parametrize("num_orderings", [1, 3])
def test_probabilities_of_all_images_sum_to_one(num_orderings):
    model = MADE(3, 3, (16, 16), num_orderings=num_orderings, rngs=nnx.Rngs(2))
    total = float(jnp.sum(jnp.exp(model.log_prob(_all_images(3, 3)))))
    assert abs(total - 1.0) < 1e-5


def test_samples_follow_the_model():
    model = MADE(2, 3, (16,), rngs=nnx.Rngs(3))
    graphdef, params = nnx.split(model, nnx.Param)
    params = jax.tree_util.tree_map(lambda a: 3 * a, params)  # sharper, less uniform probabilities
    model = nnx.merge(graphdef, params)
    probs = np.exp(np.asarray(model.log_prob(_all_images(2, 3))))  # (9,)
    x = np.asarray(jax.jit(lambda k: model.sample(k, 40_000))(jax.random.key(0)))
    freq = np.bincount(x[:, 0] * 3 + x[:, 1], minlength=9) / len(x)
    np.testing.assert_allclose(freq, probs, atol=0.01)


def test_mixture_samples_cover_every_order():
    model = MADE(4, 3, (8,), num_orderings=4, rngs=nnx.Rngs(0))
    x = model.sample(jax.random.key(1), 10)
    assert x.shape == (10, 4) and x.dtype == jnp.int32 and int(x.max()) <= 2


def test_mixture_log_prob_is_log_mean_of_orders():
    model = MADE(4, 3, (16,), num_orderings=3, rngs=nnx.Rngs(4))
    x = jax.random.randint(jax.random.key(0), (5, 4), 0, 3)
    per = np.stack([np.asarray(model.log_prob_ordering(x, m)) for m in range(3)])
    np.testing.assert_allclose(model.log_prob(x), np.log(np.mean(np.exp(per), 0)), rtol=1e-5)


def test_dropout_only_with_a_key():
    model = MADE(8, 4, (64,), dropout=0.5, rngs=nnx.Rngs(0))
    x = jax.random.randint(jax.random.key(0), (2, 8), 0, 4)
    np.testing.assert_allclose(model.logits(x), model.logits(x))
    with_dropout = jax.jit(lambda k: model.logits(x, dropout_key=k))
    a, b = with_dropout(jax.random.key(1)), with_dropout(jax.random.key(2))
    assert float(jnp.max(jnp.abs(a - b))) > 1e-3


def test_training_lowers_the_loss_and_compiles_once():
    model = MADE(4, 3, (32,), rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model, nnx.Param)
    x = jnp.tile(jnp.array([[0, 1, 2, 2], [2, 2, 0, 1]], jnp.int32), (64, 1))

    def loss_fn(p, xb, key):
        return -jnp.mean(nnx.merge(graphdef, p).log_prob(xb)), {}

    result = fit(loss_fn, params, x, key=jax.random.key(1), num_epochs=60, batch_size=32, lr=1e-2,
                 eval_every=10, progress=False)
    loss = result.history["loss"]
    assert loss[-1] < 0.3 * loss[0]
    assert loss[-1] < np.log(2) + 0.2  # two images, each half the mass: the optimum is log 2
    assert result.epoch_fn.num_traces == 1


def test_parameter_count():
    model = MADE(4, 3, (10,), rngs=nnx.Rngs(0))
    # masked_0: 4*10 + 10; masked_1: 10*12 + 12; direct: 4*12 (no bias)
    assert sum(a.size for a in jax.tree_util.tree_leaves(nnx.state(model, nnx.Param))) == 50 + 132 + 48


@pytest.mark.parametrize("kwargs, error, match", [
    ({"dim": 1, "num_levels": 3}, ValueError, "dim"),
    ({"dim": 4, "num_levels": 1}, ValueError, "num_levels"),
    ({"dim": 4, "num_levels": 3, "hidden": ()}, ValueError, "hidden"),
    ({"dim": 4, "num_levels": 3, "inputs": "embedding"}, ValueError, "inputs"),
    ({"dim": 4, "num_levels": 3, "dropout": 1.0}, ValueError, "dropout"),
    ({"dim": 4, "num_levels": 3, "num_orderings": 0}, ValueError, "num_orderings"),
])
def test_bad_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        MADE(rngs=nnx.Rngs(0), **kwargs)


def test_bad_inputs():
    model = MADE(4, 3, (8,), rngs=nnx.Rngs(0))
    with pytest.raises(TypeError, match="integer"):
        model.log_prob(jnp.zeros((2, 4)))
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(jnp.zeros((2, 5), jnp.int32))
    with pytest.raises(TypeError, match="key"):
        model.sample(1, 2)


def test_made_mask_exercise_check(capsys):
    from course_lib.exercises import ch07_beyond

    assert ch07_beyond.check_made_mask(ch07_beyond.reference_made_mask)
    strict = lambda a, b: (np.asarray(b)[None, :] > np.asarray(a)[:, None]).astype(float)  # noqa: E731
    assert not ch07_beyond.check_made_mask(strict)
    assert "Hint" in capsys.readouterr().out
    # The reference agrees with the library's masks.
    np.testing.assert_array_equal(ch07_beyond.reference_made_mask(np.arange(1, 5), np.array([1, 2, 3, 1, 2, 3])),
                                  made_masks(4, (6,))[0])
