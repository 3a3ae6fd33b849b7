"""VectorFieldMLP and its training loop (08_vector_fields): config round trip, one trace, divergence, learning."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from course_lib.checkpoints import load_checkpoint, save_checkpoint
from course_lib.data.toy import GaussianMixture
from course_lib.fields import evaluate as ev
from course_lib.fields import gmm
from course_lib.models.vector_field import VectorFieldMLP
from course_lib.training import vector_field as tvf
from course_lib.training.core import DivergenceError


def test_config_round_trip_and_checkpoint(tmp_path):
    m = VectorFieldMLP(3, (16, 8), time_dim=8, num_classes=4, prediction="eps", path="vp", rngs=nnx.Rngs(1))
    m2 = VectorFieldMLP.from_config(m.config)
    assert m2.config == m.config
    save_checkpoint(tmp_path / "m.safetensors", m, config=m.config)
    load_checkpoint(tmp_path / "m.safetensors", m2, expected_config=m.config)
    x, t, lab = jnp.ones((5, 3)), jnp.linspace(0, 1, 5), jnp.array([0, 1, 2, 3, 4])
    assert np.allclose(m(x, t, lab), m2(x, t, lab))
    assert np.allclose(m(x, t), m(x, t, jnp.full((5,), 4)))  # no labels = the null label
    with pytest.raises(ValueError, match="prediction"):
        VectorFieldMLP(2, (8,), prediction="score", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="path"):
        VectorFieldMLP(2, (8,), path="cosine", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="not a 'VectorFieldMLP'"):
        VectorFieldMLP.from_config({"model": "EpsModel", "dim": 2, "hidden": [8]})


def test_one_trace_per_run_and_the_loss_falls():
    mix = GaussianMixture(np.array([0.5, 0.5]), np.array([[-1.0, 0.0], [1.0, 0.0]], np.float32), 0.3)
    x = np.asarray(mix.means)[np.arange(4000) % 2] + 0.3 * np.random.default_rng(0).normal(size=(4000, 2))
    m = VectorFieldMLP(2, (64, 64), rngs=nnx.Rngs(0))
    before = tvf.TRACES["chunk"]
    result = tvf.train_vector_field(m, x.astype(np.float32), key=jax.random.key(0), num_steps=1500, batch_size=256,
                                    lr=3e-3, chunk=300)
    assert tvf.TRACES["chunk"] == before + 1  # five chunks, one compilation
    assert len(result.losses) == 5 and result.losses[-1] < result.losses[0]
    x0 = jnp.asarray(x[:500], jnp.float32)
    err = ev.field_errors(m, mix, x0, jax.random.key(1), (0.5,))[0]["velocity_rel_error"]
    assert err < 0.3, err  # the network approaches the exact marginal velocity


def test_a_diverging_run_stops_and_says_so():
    m = VectorFieldMLP(2, (16,), rngs=nnx.Rngs(0))
    x = np.random.default_rng(0).normal(size=(100, 2)).astype(np.float32) * 1e30
    with pytest.raises(DivergenceError, match="diverged"):
        tvf.train_vector_field(m, x, key=jax.random.key(0), num_steps=20, batch_size=8, chunk=10)


def test_training_arguments_are_checked():
    m = VectorFieldMLP(2, (16,), num_classes=3, rngs=nnx.Rngs(0))
    x = np.zeros((10, 2), np.float32)
    with pytest.raises(ValueError, match="labels"):
        tvf.train_vector_field(m, x, key=jax.random.key(0), num_steps=2)
    with pytest.raises(ValueError, match=r"0\.\.2, got 3"):
        tvf.train_vector_field(m, x, key=jax.random.key(0), num_steps=2, labels=np.full(10, 3))
    with pytest.raises(ValueError, match="columns"):
        tvf.train_vector_field(m, np.zeros((10, 3), np.float32), key=jax.random.key(0), num_steps=2,
                               labels=np.zeros(10, np.int32))


def test_guided_sampling_matches_a_manual_combination_and_rejects_bad_input():
    m = VectorFieldMLP(2, (16,), num_classes=3, rngs=nnx.Rngs(0))
    labels = np.array([0, 1, 2, 1], np.int32)
    x1 = jax.random.normal(jax.random.key(0), (4, 2))
    from course_lib.fields.guidance import velocity_fn

    v = velocity_fn(m, labels=labels, w=2.5)
    t = jnp.full((4,), 0.3)
    manual = 3.5 * m(x1, t, labels) - 2.5 * m(x1, t, jnp.full((4,), 3))
    assert np.allclose(v(x1, t), manual, atol=1e-5)
    with pytest.raises(ValueError, match="finite"):
        ev.sample(m, jax.random.key(0), 4, labels=labels, w=float("nan"))
    with pytest.raises(ValueError, match=r"0\.\.2"):
        ev.sample(m, jax.random.key(0), 4, labels=np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="num_steps"):
        ev.sample(m, jax.random.key(0), 4, num_steps=0)
    with pytest.raises(ValueError, match="sampler"):
        ev.sample(m, jax.random.key(0), 4, sampler="leapfrog")


def test_eps_model_converts_to_the_exact_velocity_when_its_eps_is_exact():
    """A VP noise predictor that outputs E[eps | x_t] gives the exact marginal velocity after conversion."""
    mix = GaussianMixture(np.array([1.0]), np.array([[0.5, -0.5]], np.float32), 0.7)
    from course_lib.fields.paths import convert

    x, t = jax.random.normal(jax.random.key(0), (32, 2)), jnp.full((32,), 0.4)
    eps = gmm.posterior(mix, "vp", x, t)[2]
    assert np.allclose(convert("vp", x, t, eps, source="eps", target="velocity"), gmm.velocity(mix, "vp", x, t),
                       rtol=1e-3, atol=1e-3)
