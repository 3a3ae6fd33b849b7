"""Sample quality in a classifier's feature space: Frechet distance, precision and recall.

Taught in 05_gan.ipynb ("A GAN on digits: how good are the samples?"). Images are compared
through the features of a digit classifier (:mod:`course_lib.evaluation.classifier`), the
small-scale version of FID, which uses an Inception network (Heusel et al., 2017).

- Frechet distance between Gaussians fitted to two feature sets:
      FD = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})
  0 for identical statistics; it mixes "how good" and "how varied" into one number.
- Precision and recall (Kynkaanniemi et al., 2019) separate the two: the real manifold is the
  union of balls around each real feature with radius the distance to its k-th nearest real
  neighbour; *precision* is the fraction of generated features inside it (are samples
  realistic?), *recall* the fraction of real features inside the generated manifold (is the
  data covered?).
"""
from __future__ import annotations

import numpy as np

from course_lib import _validate


def _features(name: str, feats, min_rows: int = 2) -> np.ndarray:
    _validate.array(name, feats, ndim=2, dtype_kind="number")
    feats = np.asarray(feats, np.float64)
    if feats.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {feats.shape[0]}")
    return feats


def _same_width(a, b):
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"both feature sets must have the same width, got {a.shape[1]} and {b.shape[1]}")


def gaussian_frechet_distance(mu_a, cov_a, mu_b, cov_b) -> float:
    """FD between N(mu_a, cov_a) and N(mu_b, cov_b) (squared 2-Wasserstein distance).

    Tr((S_a S_b)^{1/2}) is computed as the sum of square roots of the eigenvalues of the
    symmetric matrix S_a^{1/2} S_b S_a^{1/2}, which has the same eigenvalues and is stable.
    """
    mu_a = np.asarray(_validate.array("mu_a", mu_a, ndim=1, dtype_kind="number"), np.float64)
    mu_b = np.asarray(_validate.array("mu_b", mu_b, ndim=1, dtype_kind="number"), np.float64)
    d = mu_a.shape[0]
    cov_a = np.asarray(_validate.array("cov_a", cov_a, shape=(d, d), dtype_kind="number"), np.float64)
    cov_b = np.asarray(_validate.array("cov_b", cov_b, shape=(d, d), dtype_kind="number"), np.float64)
    if mu_b.shape != (d,):
        raise ValueError(f"mu_b must have shape ({d},), got {mu_b.shape}")
    _validate.positive_definite("cov_a", cov_a)  # a negative "covariance" would give a meaningless FD
    _validate.positive_definite("cov_b", cov_b)
    w, v = np.linalg.eigh((cov_a + cov_a.T) / 2)
    sqrt_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = sqrt_a @ cov_b @ sqrt_a
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(eig, 0, None))))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)


def frechet_distance(feats_a, feats_b) -> float:
    """FD between Gaussians fitted (mean, unbiased covariance) to two feature sets (N, F), (M, F)."""
    a, b = _features("feats_a", feats_a), _features("feats_b", feats_b)
    _same_width(a, b)
    return gaussian_frechet_distance(a.mean(0), np.cov(a, rowvar=False).reshape(a.shape[1], -1),
                                     b.mean(0), np.cov(b, rowvar=False).reshape(b.shape[1], -1))


def _pairwise_distances(a, b) -> np.ndarray:
    d2 = np.sum(a**2, 1)[:, None] - 2 * a @ b.T + np.sum(b**2, 1)[None, :]
    return np.sqrt(np.maximum(d2, 0.0))


def knn_radii(feats, k: int = 3) -> np.ndarray:
    """Distance from each row of ``feats`` (N, F) to its k-th nearest other row: (N,)."""
    feats = _features("feats", feats)
    k = _validate.positive_int("k", k)
    if k >= feats.shape[0]:
        raise ValueError(f"k must be smaller than the number of rows ({feats.shape[0]}), got {k}")
    d = _pairwise_distances(feats, feats)
    return np.sort(d, axis=1)[:, k]  # column 0 is the point itself


def _inside(points, centres, radii) -> np.ndarray:
    return np.any(_pairwise_distances(points, centres) <= radii[None, :], axis=1)


def precision_recall(real_feats, fake_feats, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al., 2019) with k-NN balls.

    Returns:
      (precision, recall), each in [0, 1].
    """
    real, fake = _features("real_feats", real_feats), _features("fake_feats", fake_feats)
    _same_width(real, fake)
    k = _validate.positive_int("k", k)
    precision = float(np.mean(_inside(fake, real, knn_radii(real, k))))
    recall = float(np.mean(_inside(real, fake, knn_radii(fake, k))))
    return precision, recall


def sample_quality(real_feats, fake_feats, k: int = 3) -> dict:
    """Frechet distance, precision and recall of ``fake_feats`` against ``real_feats``."""
    precision, recall = precision_recall(real_feats, fake_feats, k)
    return {"fd": frechet_distance(real_feats, fake_feats), "precision": precision, "recall": recall}


def image_quality(classifier, real_images, fake_images, *, k: int = 3) -> dict:
    """FD, precision and recall of ``fake_images`` against ``real_images`` (both (N, D) in [0, 1])
    in the feature space of a :class:`~course_lib.evaluation.classifier.DigitClassifier`."""
    from course_lib.evaluation.classifier import classifier_features

    return sample_quality(classifier_features(classifier, real_images), classifier_features(classifier, fake_images), k)
