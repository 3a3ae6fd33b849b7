"""A principal-component basis of a dataset, and the Frechet distance measured in it.

Taught in 06_code_walkthrough.ipynb ("Measuring samples"): a classifier-free cousin of FID
for 28x28 digits, where the top principal components of the training images stand in for
a classifier's features.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.linalg

from course_lib import _validate
from course_lib.evaluation import frechet


class PCABasis(NamedTuple):
    """A principal-component basis of a dataset: mean (D,) and components (D, K), orthonormal columns."""

    mean: np.ndarray
    components: np.ndarray


def pca_basis(x, num_components: int = 20) -> PCABasis:
    """The top ``num_components`` principal directions of ``x`` (N, D).

    Eigenvectors of the covariance (x - mean)^T (x - mean) / N with the largest eigenvalues
    (the same directions as the SVD of x - mean; computing only the top K eigenvectors of the
    (D, D) covariance is many times faster than the SVD of the (N, D) data).
    """
    _validate.array("x", x, ndim=2, dtype_kind="float")
    num_components = _validate.positive_int("num_components", num_components)
    if num_components > min(x.shape):
        raise ValueError(f"num_components must be at most min(N, D) = {min(x.shape)}, got {num_components}")
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0)  # (D,)
    centred = x - mean  # (N, D)
    d = x.shape[1]
    _, eigenvectors = scipy.linalg.eigh(centred.T @ centred / x.shape[0],  # only the top K, ascending
                                        subset_by_index=[d - num_components, d - 1])
    return PCABasis(mean, eigenvectors[:, ::-1].copy())  # (D, K), largest eigenvalue first


def project(x, basis: PCABasis) -> np.ndarray:
    """Coordinates of images x (N, D) on the principal directions: (x - mean) @ components, (N, K)."""
    if not isinstance(basis, PCABasis):
        raise TypeError(f"basis must be a PCABasis from pca_basis(...), got {type(basis).__name__}")
    _validate.array("x", x, ndim=2, shape=(None, basis.mean.shape[0]), dtype_kind="number")
    return (np.asarray(x, np.float64) - basis.mean) @ basis.components


def pca_frechet_distance(x, y, basis: PCABasis) -> float:
    """Frechet distance between Gaussians fitted to x (N, D) and y (M, D) projected on ``basis``.

    d^2 = ||mu_x - mu_y||^2 + tr(S_x + S_y - 2 (S_x^{1/2} S_y S_x^{1/2})^{1/2})
    (Dowson and Landau 1982), computed by :func:`course_lib.evaluation.frechet.frechet_distance`.
    A classifier-free cousin of FID (Heusel et al. 2017): instead of Inception features we use
    the top principal components of the training digits. Identical samples have zero spread,
    so a collapsed generator scores badly even if its one image looks fine.
    Taught in 06_code_walkthrough.ipynb ("Measuring samples").
    """
    return frechet.frechet_distance(project(x, basis), project(y, basis))


__all__ = ["PCABasis", "pca_basis", "pca_frechet_distance", "project"]
