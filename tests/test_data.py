"""Data: determinism, shapes, fixed splits, densities, bad input."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course_lib import data


@pytest.mark.parametrize("name", data.TOY_NAMES)
def test_toy_samplers_are_deterministic_and_shaped(name):
    a = data.sample_toy(name, jax.random.key(3), 500)
    b = data.sample_toy(name, jax.random.key(3), 500)
    c = data.sample_toy(name, jax.random.key(4), 500)
    assert a.shape == (500, 2) and a.dtype == jnp.float32
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.all(np.isfinite(a))


def test_ring_samples_lie_near_modes():
    x = np.asarray(data.sample_toy("ring", jax.random.key(0), 4000, radius=1.0, std=0.01))
    r = np.linalg.norm(x, axis=1)
    assert abs(r.mean() - 1.0) < 0.005 and r.std() < 0.02
    mix = data.toy_mixture("ring", radius=1.0, std=0.01)
    nearest = np.argmin(((x[:, None] - mix.means[None]) ** 2).sum(-1), axis=1)
    counts = np.bincount(nearest, minlength=8)
    assert counts.min() > 400  # all 8 modes about equally used (500 expected)


def test_grid_mixture_matches_protocol():
    mix = data.toy_mixture("grid")
    assert mix.means.shape == (25, 2) and mix.std == 0.05
    assert sorted(set(mix.means[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


@pytest.mark.parametrize("name", ["ring", "grid", "checkerboard"])
def test_toy_density_integrates_to_one(name):
    # Riemann sum over a fine grid covering the support.
    lim = 5.5 if name == "grid" else 3.0
    t = np.linspace(-lim, lim, 1101 if name != "grid" else 2201, dtype=np.float32)
    xx, yy = np.meshgrid(t, t)
    pts = np.stack([xx.ravel(), yy.ravel()], 1)
    dens = np.exp(np.asarray(data.toy_log_density(name, pts)))
    area = (t[1] - t[0]) ** 2
    assert abs(dens.sum() * area - 1.0) < 0.01


def test_mixture_density_matches_scipy():
    from scipy import stats

    mix = data.toy_mixture("ring")
    x = np.asarray(data.sample_toy("ring", jax.random.key(1), 50))
    ref = np.log(sum(w * stats.multivariate_normal(m, mix.std**2).pdf(x) for w, m in zip(mix.weights, mix.means)))
    np.testing.assert_allclose(data.toy_log_density("ring", x), ref, rtol=1e-4, atol=1e-3)


def test_checkerboard_samples_have_positive_density():
    x = data.sample_toy("checkerboard", jax.random.key(2), 1000)
    assert np.all(np.isfinite(np.asarray(data.toy_log_density("checkerboard", x))))


def test_digits_split_is_fixed_and_disjoint():
    parts = {s: data.load_digits(s) for s in ("train", "val", "test")}
    assert [len(parts[s].x) for s in ("train", "val", "test")] == [1000, 350, 447]
    tr = parts["train"]
    assert tr.x.shape == (1000, 64) and tr.x.dtype == np.uint8 and tr.x.max() == 16
    assert tr.image_shape == (8, 8) and tr.num_levels == 17
    rows = {s: {r.tobytes() for r in parts[s].x} for s in parts}
    # sklearn's digits contain a few duplicate images, so compare indices via a re-load instead
    again = data.load_digits("train")
    np.testing.assert_array_equal(again.x, tr.x)
    np.testing.assert_array_equal(again.y, tr.y)
    assert len(rows["train"] & rows["test"]) < 5
    # every class in every split
    for s in parts:
        assert set(parts[s].y.tolist()) == set(range(10))


def test_digits_split_is_scikit_learns_stored_order():
    """The split of intro_dgm: [:1000] train, [1000:1350] val, [1350:] test, no shuffle."""
    from sklearn.datasets import load_digits as sk_load

    bunch = sk_load()
    for s, (a, b) in {"train": (0, 1000), "val": (1000, 1350), "test": (1350, 1797)}.items():
        part = data.load_digits(s)
        np.testing.assert_array_equal(part.x, bunch.data[a:b].astype(np.uint8))
        np.testing.assert_array_equal(part.y, bunch.target[a:b])


def test_mnist5k_split_is_stratified_and_deterministic():
    tr, va, te = (data.load_mnist5k(s) for s in ("train", "val", "test"))
    assert tr.x.shape == (4000, 784) and va.x.shape == (500, 784) and te.x.shape == (500, 784)
    assert tr.x.dtype == np.uint8 and tr.x.max() == 255
    for part, per in ((tr, 400), (va, 50), (te, 50)):
        assert np.all(np.bincount(part.y, minlength=10) == per)
    np.testing.assert_array_equal(data.load_mnist5k("val").x, va.x)
    assert len({r.tobytes() for r in tr.x} & {r.tobytes() for r in te.x}) == 0


def test_binarize_and_unit_interval():
    x = np.array([[0, 8, 9, 16]], np.uint8)
    np.testing.assert_allclose(data.to_unit_interval(x, 17), [[0, 0.5, 9 / 16, 1]])
    np.testing.assert_array_equal(data.binarize(x, 17), [[0, 0, 1, 1]])


def test_minibatches_cover_each_example_once():
    x = jnp.arange(10)[:, None]
    b = data.iterate_minibatches(jax.random.key(0), x, 3)
    assert b.shape == (3, 3, 1)
    assert len(set(np.asarray(b).ravel().tolist())) == 9


def test_minibatches_match_op_by_op_reference_and_compile_once_per_shape():
    from course_lib.data import batching

    key, x = jax.random.key(3), jax.random.normal(jax.random.key(4), (50, 6))
    perm = jax.random.permutation(key, 50)[:48]  # the same shuffle, run op by op
    expected = np.asarray(x)[np.asarray(perm)].reshape(4, 12, 6)
    np.testing.assert_array_equal(np.asarray(data.iterate_minibatches(key, x, 12)), expected)
    before = batching._shuffled_batches._cache_size()
    for k in jax.random.split(jax.random.key(5), 3):  # new keys, same shapes: no new compile
        data.iterate_minibatches(k, x, 12)
    assert batching._shuffled_batches._cache_size() == before


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: data.sample_toy("spiral", jax.random.key(0), 10), ValueError, "unknown name 'spiral'"),
        (lambda: data.sample_toy("ring", jax.random.key(0), 0), ValueError, "num_samples"),
        (lambda: data.sample_toy("ring", jax.random.key(0), 2.5), TypeError, "num_samples"),
        (lambda: data.sample_toy("ring", 0, 10), TypeError, "key must be a JAX random key"),
        (lambda: data.sample_toy("ring", jax.random.key(0), 10, radius=-1.0), ValueError, "radius"),
        (lambda: data.sample_toy("ring", jax.random.key(0), 10, sigma=1.0), ValueError, "unknown parameter"),
        (lambda: data.toy_log_density("moons", jnp.zeros((2, 2))), ValueError, "no closed-form density"),
        (lambda: data.toy_log_density("ring", jnp.zeros((2, 3))), ValueError, "shape (*, 2)"),
        (lambda: data.load_digits("training"), ValueError, "unknown split"),
        (lambda: data.load_images("cifar"), ValueError, "unknown name"),
        (lambda: data.iterate_minibatches(jax.random.key(0), jnp.zeros((4, 1)), 5), ValueError, "larger than the dataset"),
        (lambda: data.iterate_minibatches(jax.random.key(0), jnp.zeros((4, 1)), 0), ValueError, "batch_size"),
        (lambda: data.binarize(np.zeros((1, 2)), 17, threshold=1.5), ValueError, "threshold"),
    ],
)
def test_bad_input_is_named(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)
