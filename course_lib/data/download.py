"""Optional downloader for the full MNIST and Fashion-MNIST datasets.

The course never needs this module: every notebook and test runs offline on the
small datasets of :mod:`course_lib.data.images` (``load_mnist5k``, ``load_digits``).
Readers who want the full 60,000 / 10,000 splits for longer runs call
``download_dataset("mnist")`` or ``download_dataset("fashion_mnist")`` once with a
network connection; the four ``.gz`` files of the dataset are then cached under
``data_dir() / "downloads" / name`` and every later call works offline.

Fetching is pooch's job (``pooch.retrieve``, the downloader SciPy and scikit-image
use): it streams each file to a temporary file in the cache folder, compares its
SHA-256 with the pinned value in ``DATASET_FILES`` and only then moves it into
place, so a cached file is either complete and verified or absent. This module
adds the mirrors (tried in order), the IDX parsing and the error messages; cached
files are verified again before every use. A mirror may also be a local folder
(``file://`` URL), which is copied instead of downloaded.

File format (IDX, big-endian): two zero bytes, a type byte (0x08 = unsigned byte),
a byte giving the number of dimensions d, then d uint32 sizes, then the values in
row-major order. Images: magic 0x00000803 = 2051, sizes (N, 28, 28); labels:
magic 0x00000801 = 2049, size (N,).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import pathlib
import shutil
import urllib.parse
import urllib.request
import zlib

import numpy as np
import pooch

from course_lib import _validate
from course_lib.data.images import ImageSplit

SPLITS = ("train", "test")

# (images file, labels file) of each split; both datasets use the same names.
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# Pinned SHA-256 digests of the published .gz files.
# MNIST: tensorflow/datasets, tensorflow_datasets/url_checksums/mnist.txt (the
#   storage.googleapis.com/cvdf-datasets/mnist/ files, sizes 9,912,422 / 28,881 /
#   1,648,877 / 4,542 bytes); the same digests appear in many independent
#   downloaders that fetch from the ossci-datasets mirror used by torchvision.
# Fashion-MNIST: tensorflow/datasets, tensorflow_datasets/url_checksums/
#   fashion_mnist.txt (the fashion-mnist.s3-website.eu-central-1.amazonaws.com
#   files, sizes 26,421,880 / 29,515 / 4,422,102 / 5,148 bytes).
# Mirrors are tried in order. The MNIST mirrors are the ones tensorflow-datasets
# (Google Cloud Storage) and torchvision (the PyTorch S3 bucket) download from.
# Fashion-MNIST's first mirror is the dataset authors' bucket; the second is the
# bucket that keras.datasets.fashion_mnist downloads from. A mirror serving other
# bytes cannot do harm: its file fails the checksum and the next mirror is tried.
DATASET_FILES = {
    "mnist": {
        "mirrors": (
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
        ),
        "sha256": {
            "train-images-idx3-ubyte.gz":
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz":
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz":
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz":
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    },
    "fashion_mnist": {
        "mirrors": (
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        ),
        "sha256": {
            "train-images-idx3-ubyte.gz":
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz":
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz":
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz":
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    },
}

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions (N, rows, cols)
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension (N,)
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
_CHUNK_BYTES = 1 << 16  # read size when re-verifying a cached file

_OFFLINE_HINT = (
    "The course does not need this download: every notebook runs offline on "
    "course_lib.data.load_mnist5k() (5,000 MNIST digits, 28x28) or "
    "course_lib.data.load_digits() (scikit-learn's 8x8 digits)."
)


class DownloadError(RuntimeError):
    """A dataset file could not be obtained (no network, or no mirror answered)."""


class ChecksumError(DownloadError):
    """A downloaded or cached file does not have the pinned SHA-256 digest."""


def dataset_dir(name: str, root=None) -> pathlib.Path:
    """The cache folder of one dataset: ``root / name``, root defaulting to
    ``course_lib.paths.data_dir() / "downloads"``."""
    _validate.one_of("name", name, DATASET_FILES)
    return _root(root) / name


def available_offline(name: str, root=None) -> bool:
    """True when all four files of ``name`` are cached and match their SHA-256."""
    directory = dataset_dir(name, root)
    for filename, expected in DATASET_FILES[name]["sha256"].items():
        path = directory / filename
        if not path.is_file() or _sha256_of(path) != expected:
            return False
    return True


def download_dataset(
    name: str,
    root=None,
    *,
    split: str = "train",
    timeout: float = 30.0,
    force: bool = False,
) -> ImageSplit:
    """Full MNIST or Fashion-MNIST, downloaded once, verified and cached.

    The first call fetches all four files of the dataset (both splits, about
    11 MB for MNIST and 30 MB for Fashion-MNIST), so that later calls for either
    split need no network.

    Args:
      name: "mnist" or "fashion_mnist".
      root: cache root (str or path); files go to ``root / name``. Defaults to
        ``course_lib.paths.data_dir() / "downloads"``.
      split: "train" (60,000 images) or "test" (10,000 images).
      timeout: seconds to wait on each network operation before trying the next
        mirror.
      force: download again even when the cached files exist (use it to replace
        a corrupt cache).

    Returns:
      ImageSplit with x (N, 784) uint8 in 0..255, y (N,) int32 in 0..9,
      image_shape (28, 28), num_levels 256 -- the same layout as
      ``load_mnist5k``.

    Raises:
      DownloadError: no mirror could be reached (for example when offline).
      ChecksumError: a downloaded or cached file has the wrong SHA-256.
      ValueError: a file is not a valid IDX file of 28x28 images and labels.
    """
    _validate.one_of("name", name, DATASET_FILES)
    _validate.one_of("split", split, SPLITS)
    timeout = _validate.positive_float("timeout", timeout)
    if not isinstance(force, bool):
        raise TypeError(f"force must be True or False, got {force!r} ({type(force).__name__})")
    directory = dataset_dir(name, root)
    directory.mkdir(parents=True, exist_ok=True)

    for filename in DATASET_FILES[name]["sha256"]:
        _ensure_file(name, directory, filename, timeout=timeout, force=force)

    images_file, labels_file = SPLIT_FILES[split]
    images = _read_idx(directory / images_file, IMAGES_MAGIC)  # (N, 28, 28)
    labels = _read_idx(directory / labels_file, LABELS_MAGIC)  # (N,)
    if images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{images_file} holds images of shape {images.shape[1:]}, expected {IMAGE_SHAPE}"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{images_file} holds {len(images)} images but {labels_file} holds "
            f"{len(labels)} labels; they must match"
        )
    if labels.size and labels.max() >= NUM_CLASSES:
        raise ValueError(
            f"{labels_file} holds label {int(labels.max())}, expected labels 0..{NUM_CLASSES - 1}"
        )
    x = images.reshape(len(images), -1)  # (N, 784) uint8
    return ImageSplit(x, labels.astype(np.int32), IMAGE_SHAPE, 256)


# ----------------------------------------------------------------------------- cache


def _root(root) -> pathlib.Path:
    if root is None:
        from course_lib.paths import data_dir  # imported here: only this path needs it

        return data_dir() / "downloads"
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(
            f"root must be a folder path (str or pathlib.Path) or None, "
            f"got {root!r} ({type(root).__name__})"
        )
    return pathlib.Path(root).expanduser()


def _sha256_of(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _ensure_file(name: str, directory: pathlib.Path, filename: str, *, timeout: float,
                 force: bool) -> pathlib.Path:
    """Return the verified cached file, downloading it first if needed."""
    expected = DATASET_FILES[name]["sha256"][filename]
    path = directory / filename
    if path.is_file() and not force:
        got = _sha256_of(path)
        if got != expected:
            raise ChecksumError(
                f"the cached file {path} is corrupt or incomplete: its SHA-256 is {got}, "
                f"expected {expected}. Delete the file, or call "
                f"download_dataset({name!r}, ..., force=True) to download it again."
            )
        return path
    return _download_file(name, directory, filename, timeout=timeout)


def _download_file(name: str, directory: pathlib.Path, filename: str, *,
                   timeout: float) -> pathlib.Path:
    """Try each mirror in turn with ``pooch.retrieve`` (stream, verify the SHA-256, move into place)."""
    import requests  # pooch's own dependency, for its network exceptions

    expected = DATASET_FILES[name]["sha256"][filename]
    target = directory / filename
    if target.exists():  # a forced download replaces the file; pooch would keep a valid one
        target.unlink()
    unreachable, mismatched = [], []
    for mirror in DATASET_FILES[name]["mirrors"]:
        url = mirror + filename
        try:
            pooch.retrieve(url, known_hash=f"sha256:{expected}", fname=filename, path=directory,
                           downloader=lambda u, out, p: _fetch(u, out, p, timeout=timeout), progressbar=False)
            return target
        except ValueError as err:  # pooch: the SHA-256 differs (it deleted the download)
            mismatched.append(f"{url}: {err}")
        except (OSError, requests.RequestException) as err:
            unreachable.append(f"{url}: {_describe_error(err)}")
    if mismatched:
        raise ChecksumError(
            f"downloaded {filename} for {name!r} but its SHA-256 is wrong: expected "
            f"{expected}; " + "; ".join(mismatched)
            + (f"; other mirrors failed: {'; '.join(unreachable)}" if unreachable else "")
            + ". The partial file was deleted; nothing was cached."
        )
    raise DownloadError(
        f"could not download {filename} for {name!r}: no mirror could be reached "
        f"({'; '.join(unreachable)}). Are you offline? {_OFFLINE_HINT} To use the full "
        f"dataset, call download_dataset({name!r}) again with a network connection, or "
        f"copy the four .gz files into {directory}."
    )


def _fetch(url: str, output_file, pooch_obj=None, *, timeout: float) -> None:
    """The pooch downloader of every mirror: copy a ``file://`` URL, else pooch's HTTP download."""
    if url.startswith("file:"):
        shutil.copyfile(urllib.request.url2pathname(urllib.parse.urlparse(url).path), output_file)
        return
    pooch.HTTPDownloader(timeout=timeout, progressbar=False)(url, output_file, pooch_obj)


def _describe_error(err: Exception) -> str:
    reason = getattr(err, "reason", None)
    return f"{type(err).__name__}: {reason if reason is not None else err}"


# ----------------------------------------------------------------------------- IDX


def _read_idx(path: pathlib.Path, magic: int) -> np.ndarray:
    """Parse a gzipped IDX file of unsigned bytes, checking its header and size.

    Returns the array of shape given by the header's sizes, dtype uint8.
    """
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise ValueError(f"{path.name} is not a readable gzip file ({err})") from err
    if len(data) < 4:
        raise ValueError(f"{path.name} is too short ({len(data)} bytes) to be an IDX file")
    got_magic = int.from_bytes(data[:4], "big")
    if got_magic != magic:
        raise ValueError(
            f"{path.name} has IDX magic number 0x{got_magic:08x}, expected 0x{magic:08x}"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path.name} ends inside its IDX header ({len(data)} bytes)")
    shape = tuple(int(s) for s in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected_bytes = header + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected_bytes:
        raise ValueError(
            f"{path.name} has {len(data)} bytes after decompression, but its IDX header "
            f"(sizes {shape}) implies {expected_bytes}; the file is truncated or padded"
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape).copy()
