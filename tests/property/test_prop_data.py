"""Properties of course_lib.data: toy samplers, image loaders, batching."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import course_lib.data as D
from prop_harness import (BAD_COUNTS, BAD_KEYS, BAD_POSITIVE_FLOATS, BAD_PROBABILITIES,
                          BAD_STRINGS, NOT_ARRAYS, covers, finite, key, refused)

NAMES = st.sampled_from(D.TOY_NAMES)


@covers("course_lib.data.sample_toy")
@given(name=NAMES, n=st.integers(1, 64), seed=st.integers(0, 2**31 - 1))
def test_sample_toy_valid(name, n, seed):
    finite(D.sample_toy(name, key(seed), n), (n, 2))


@given(name=NAMES, bad=BAD_KEYS)
def test_sample_toy_bad_key(name, bad):
    refused(D.sample_toy, "key", name, bad, 8)


@given(name=NAMES, bad=BAD_COUNTS)
def test_sample_toy_bad_count(name, bad):
    refused(D.sample_toy, "num_samples", name, key(), bad)


@given(bad=BAD_STRINGS)
def test_sample_toy_bad_name(bad):
    refused(D.sample_toy, "name", bad, key(), 8)


@given(bad=st.sampled_from([("std", -1.0), ("std", float("nan")), ("num_modes", 0),
                            ("num_modes", 10**9), ("radius", "2"), ("bogus", 1)]))
def test_sample_toy_bad_params(bad):
    refused(D.sample_toy, bad[0], "ring", key(), 8, **{bad[0]: bad[1]})


def test_checkerboard_is_vectorised_and_uniform_on_black_cells():
    x = np.asarray(D.sample_toy("checkerboard", key(3), 200_000, size=1000))  # was a 10**6-step loop
    cells = np.floor(x + 500)
    # float32 rounding near +-500 can push a point onto the next cell's edge: allow 0.1%
    assert np.mean(cells.sum(axis=1) % 2 == 0) > 0.999 and cells.min() >= 0 and cells.max() <= 1000


@covers("course_lib.data.toy_log_density", "course_lib.data.has_density",
        "course_lib.data.toy_mixture", "course_lib.data.GaussianMixture")
@given(name=st.sampled_from(["ring", "grid", "checkerboard"]), x=st.lists(
    st.tuples(st.floats(-3, 3), st.floats(-3, 3)), min_size=1, max_size=20))
def test_toy_density_valid(name, x):
    assert D.has_density(name)
    pts = np.asarray(x, np.float32)
    out = np.asarray(D.toy_log_density(name, pts))
    assert out.shape == (len(x),) and not np.any(np.isnan(out))
    if name != "checkerboard":
        mix = D.toy_mixture(name)
        assert isinstance(mix, D.GaussianMixture)
        finite(out, (len(x),))


@given(bad=st.sampled_from([None, "x", np.zeros((3, 3)), np.zeros(2), np.zeros((2, 2), bool)]))
def test_toy_density_bad_x(bad):
    refused(D.toy_log_density, "x", "ring", bad)


@given(bad=BAD_STRINGS)
def test_density_bad_name(bad):
    refused(D.has_density, "name", bad)
    refused(D.toy_mixture, "name", bad)


def test_density_refuses_family_without_one():
    refused(D.toy_log_density, "moons", "moons", np.zeros((2, 2), np.float32))
    refused(D.toy_mixture, "moons", "moons")


@covers("course_lib.data.load_digits", "course_lib.data.load_mnist5k", "course_lib.data.load_images",
        "course_lib.data.ImageSplit")
@given(name=st.sampled_from(["digits", "mnist5k"]), split=st.sampled_from(["train", "val", "test"]))
def test_load_images_valid(name, split):
    s = D.load_images(name, split)
    assert isinstance(s, D.ImageSplit) and s.x.shape[0] == s.y.shape[0] > 0
    assert s.x.max() <= s.num_levels - 1
    finite(s.x, (s.x.shape[0], int(np.prod(s.image_shape))))


@given(bad=BAD_STRINGS)
def test_load_images_bad(bad):
    refused(D.load_images, "name", bad)
    refused(D.load_images, "split", "digits", bad)
    refused(D.load_digits, "split", bad)
    refused(D.load_mnist5k, "split", bad)


@covers("course_lib.data.to_unit_interval", "course_lib.data.binarize")
@given(k=st.integers(2, 300), data=st.data())
def test_unit_interval_valid(k, data):
    x = np.asarray(data.draw(st.lists(st.integers(0, k - 1), min_size=1, max_size=30)))
    u = finite(D.to_unit_interval(x, k), x.shape)
    assert u.min() >= 0 and u.max() <= 1
    b = finite(D.binarize(x, k, data.draw(st.floats(0, 1))), x.shape)
    assert set(np.unique(b)) <= {0.0, 1.0}


@given(k=st.integers(2, 16), over=st.integers(1, 100))
def test_unit_interval_refuses_levels_out_of_range(k, over):
    refused(D.to_unit_interval, "x", np.array([0, k - 1 + over]), k)
    refused(D.to_unit_interval, "x", np.array([-over, 0]), k)
    refused(D.binarize, "x", np.array([k - 1 + over]), k)


@given(bad=st.sampled_from([0, 1, -3, 2.5, "17", None, 10**12]))
def test_unit_interval_bad_levels(bad):
    refused(D.to_unit_interval, "num_levels", np.array([0, 1]), bad)


@given(bad=BAD_PROBABILITIES)
def test_binarize_bad_threshold(bad):
    refused(D.binarize, "threshold", np.array([0, 1]), 2, bad)


@given(bad=NOT_ARRAYS)
def test_unit_interval_not_array(bad):
    refused(D.to_unit_interval, "x", bad, 17)


@covers("course_lib.data.iterate_minibatches", "course_lib.data.num_batches")
@given(n=st.integers(1, 50), b=st.integers(1, 50), d=st.integers(1, 4), seed=st.integers(0, 99))
def test_minibatches_valid(n, b, d, seed):
    b = min(b, n)
    x = np.arange(n * d, dtype=np.float32).reshape(n, d)
    out = D.iterate_minibatches(key(seed), x, b)
    finite(out, (D.num_batches(n, b), b, d))


@given(bad=BAD_KEYS)
def test_minibatches_bad_key(bad):
    refused(D.iterate_minibatches, "key", bad, np.zeros((4, 2), np.float32), 2)


@given(bad=st.sampled_from([None, "x", np.zeros(()), np.zeros((0, 3), np.float32)]))
def test_minibatches_bad_x(bad):
    err = refused(D.iterate_minibatches, "x", key(), bad, 2)
    assert "num_examples" not in str(err)  # an empty array is reported as x, not a count


@given(bad=BAD_COUNTS)
def test_minibatches_bad_batch(bad):
    refused(D.iterate_minibatches, "batch_size", key(), np.zeros((4, 2), np.float32), bad)
    refused(D.num_batches, "batch_size", 4, bad)
    refused(D.num_batches, "num_examples", bad, 1)
