"""Tests for course_lib.evaluation.frechet and .classifier (05_gan.ipynb, digits section)."""
from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx
from scipy import linalg
from sklearn.neighbors import NearestNeighbors

from course_lib import checkpoints, data
from course_lib.evaluation import classifier as clf_mod
from course_lib.evaluation.classifier import (
    DigitClassifier,
    accuracy,
    build_classifier,
    classifier_features,
    load_classifier,
    train_classifier,
)
from course_lib.evaluation.frechet import (
    frechet_distance,
    gaussian_frechet_distance,
    knn_radii,
    precision_recall,
    sample_quality,
)
from course_lib.models import count_params


def _spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_gaussian_fd_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    d = 6
    mu_a, mu_b = rng.normal(size=d), rng.normal(size=d)
    s_a, s_b = _spd(rng, d), _spd(rng, d)
    covmean = linalg.sqrtm(s_a @ s_b).real
    expected = np.sum((mu_a - mu_b) ** 2) + np.trace(s_a + s_b - 2 * covmean)
    assert gaussian_frechet_distance(mu_a, s_a, mu_b, s_b) == pytest.approx(expected, rel=1e-8)


def test_one_dimensional_closed_form():
    # W2^2 between N(m1, s1^2) and N(m2, s2^2) is (m1 - m2)^2 + (s1 - s2)^2.
    got = gaussian_frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-0.5]), np.array([[0.25]]))
    assert got == pytest.approx(1.5**2 + (2.0 - 0.5) ** 2)


def test_fd_of_feature_sets():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(500, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    shift = np.array([1.0, -2.0, 0.0, 0.5])
    assert frechet_distance(a, a + shift) == pytest.approx(np.sum(shift**2), rel=1e-8)
    b = rng.normal(size=(300, 4)) * 2.0
    expected = gaussian_frechet_distance(a.mean(0), np.cov(a.T), b.mean(0), np.cov(b.T))
    assert frechet_distance(a, b) == pytest.approx(expected)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-6)


def test_knn_radii_match_sklearn():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(120, 5))
    dist, _ = NearestNeighbors(n_neighbors=4).fit(x).kneighbors(x)  # includes the point itself
    np.testing.assert_allclose(knn_radii(x, 3), dist[:, 3], rtol=1e-6, atol=1e-6)


def _brute_precision_recall(real, fake, k):
    def radii(x):
        return np.array([np.sort(np.linalg.norm(x - p, axis=1))[k] for p in x])

    r_real, r_fake = radii(real), radii(fake)
    precision = np.mean([np.any(np.linalg.norm(real - f, axis=1) <= r_real) for f in fake])
    recall = np.mean([np.any(np.linalg.norm(fake - r, axis=1) <= r_fake) for r in real])
    return precision, recall


def test_precision_recall_match_brute_force():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(80, 3))
    fake = rng.normal(size=(60, 3)) * 0.5 + 0.7  # narrower and shifted: high precision, low recall
    got = precision_recall(real, fake, k=3)
    np.testing.assert_allclose(got, _brute_precision_recall(real, fake, 3))
    assert got[0] > got[1]


def test_precision_recall_extremes():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(50, 2))
    assert precision_recall(real, real.copy()) == (1.0, 1.0)
    assert precision_recall(real, real + 100.0) == (0.0, 0.0)
    q = sample_quality(real, real.copy())
    assert q["precision"] == 1.0 and q["recall"] == 1.0 and q["fd"] == pytest.approx(0.0, abs=1e-8)


def test_bad_feature_input():
    with pytest.raises(ValueError, match="same width"):
        frechet_distance(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        frechet_distance(np.zeros((1, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="k must be smaller"):
        knn_radii(np.zeros((3, 2)), k=3)
    with pytest.raises(TypeError, match="real_feats must be an array"):
        precision_recall([[0.0]], np.zeros((3, 1)))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.full((3, 2), np.nan), np.zeros((3, 2)))


# --------------------------------------------------------------------------- classifier


def test_classifier_shapes_and_param_count():
    model = DigitClassifier(64, (32, 16), 10, rngs=nnx.Rngs(params=0))
    x = np.zeros((5, 64), np.float32)
    assert model(x).shape == (5, 10)
    assert classifier_features(model, x, batch_size=2).shape == (5, 16)
    assert model.num_features == 16
    assert count_params(model) == (64 * 32 + 32) + (32 * 16 + 16) + (16 * 10 + 10)
    assert model.config == {**clf_mod.CLASSIFIER_CONFIGS["digits"], "hidden": [32, 16]}


def test_training_learns_digits_quickly():
    train = data.load_digits("train")
    x = data.to_unit_interval(train.x[:300], 17)
    y = train.y[:300]
    model = DigitClassifier(64, (32,), 10, rngs=nnx.Rngs(params=0))
    before = accuracy(model, x, y)
    history = train_classifier(model, x, y, key=jax.random.key(0), num_epochs=15, batch_size=50, lr=3e-3)
    assert history["loss"][-1] < history["loss"][0]
    assert accuracy(model, x, y) > max(0.8, before + 0.5)


def test_classifier_bad_input():
    model = DigitClassifier(64, (8,), rngs=nnx.Rngs(params=0))
    with pytest.raises(ValueError, match="x must have shape"):
        classifier_features(model, np.zeros((2, 63)))
    with pytest.raises(TypeError, match="DigitClassifier"):
        classifier_features("model", np.zeros((2, 64)))
    with pytest.raises(ValueError, match="batch_size"):
        train_classifier(model, np.zeros((4, 64)), np.zeros(4, np.int32), key=jax.random.key(0), batch_size=10)
    with pytest.raises(ValueError, match="unknown dataset"):
        build_classifier("cifar")
    with pytest.raises(ValueError, match="at least one layer"):
        DigitClassifier(64, (), rngs=nnx.Rngs(params=0))


def test_load_classifier_round_trip_and_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="train_digit_classifier.py"):
        load_classifier("digits")
    model = build_classifier("digits", seed=3)
    checkpoints.save_checkpoint(clf_mod.classifier_path("digits"), model,
                                config=clf_mod.CLASSIFIER_CONFIGS["digits"])
    loaded, manifest = load_classifier("digits")
    x = np.random.default_rng(0).random((4, 64)).astype(np.float32)
    np.testing.assert_allclose(classifier_features(loaded, x), classifier_features(model, x), rtol=1e-6)
    assert manifest["config"]["hidden"] == [256, 128]
