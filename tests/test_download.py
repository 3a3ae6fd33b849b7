"""Tests of the optional MNIST / Fashion-MNIST downloader, all offline.

The mirrors are replaced by ``file://`` folders (or a closed port on 127.0.0.1)
holding tiny synthetic IDX files written here with ``struct`` -- an encoder
independent of the module's numpy parser -- and the checksum table is replaced by
the SHA-256 of those files, computed here with hashlib.
"""
from __future__ import annotations

import gzip
import hashlib
import re
import socket
import struct

import numpy as np
import pytest

from course_lib.data import download
from course_lib.data.download import (
    DATASET_FILES,
    SPLIT_FILES,
    ChecksumError,
    DownloadError,
    available_offline,
    download_dataset,
)

SIZES = {"train": 6, "test": 4}


def _idx_bytes(magic: int, shape: tuple, values: bytes) -> bytes:
    """An IDX file: big-endian uint32 magic, one uint32 per dimension, the values."""
    return struct.pack(f">I{len(shape)}I", magic, *shape) + values


def _synthetic_arrays(seed: int = 0):
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in SIZES.items():
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=(n,), dtype=np.uint8)
        out[split] = (x, y)
    return out


def _gz_files(arrays) -> dict:
    """{filename: gz bytes} for the four files of a dataset."""
    files = {}
    for split, (x, y) in arrays.items():
        images_file, labels_file = SPLIT_FILES[split]
        files[images_file] = gzip.compress(_idx_bytes(2051, x.shape, x.tobytes()))
        files[labels_file] = gzip.compress(_idx_bytes(2049, y.shape, y.tobytes()))
    return files


def _serve(monkeypatch, tmp_path, name, files, *, mirrors=None, sha256=None):
    """Write ``files`` to a local mirror folder and point ``name`` at it."""
    mirror = tmp_path / "mirror"
    mirror.mkdir(exist_ok=True)
    for filename, blob in files.items():
        (mirror / filename).write_bytes(blob)
    table = {f: hashlib.sha256(b).hexdigest() for f, b in files.items()}
    table.update(sha256 or {})
    entry = {"mirrors": tuple(mirrors or (mirror.as_uri() + "/",)), "sha256": table}
    monkeypatch.setitem(DATASET_FILES, name, entry)
    return mirror, table


def _count_fetches(monkeypatch):
    calls = []
    real_fetch = download._fetch

    def counting(url, out, pooch_obj=None, *, timeout):
        calls.append(url)
        return real_fetch(url, out, pooch_obj, timeout=timeout)

    monkeypatch.setattr(download, "_fetch", counting)
    return calls


def _closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"  # nothing listens there any more


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


# ----------------------------------------------------------------------------- pinned table


def test_real_table_pins_sha256_for_all_eight_files():
    assert set(DATASET_FILES) == {"mnist", "fashion_mnist"}
    expected_names = {f for pair in SPLIT_FILES.values() for f in pair}
    digests = []
    for name, entry in DATASET_FILES.items():
        assert set(entry["sha256"]) == expected_names, name
        for filename, digest in entry["sha256"].items():
            assert re.fullmatch(r"[0-9a-f]{64}", digest), (name, filename, digest)
            digests.append(digest)
        assert entry["mirrors"], name
        for mirror in entry["mirrors"]:
            assert re.match(r"https?://", mirror) and mirror.endswith("/"), mirror
    assert len(set(digests)) == 8  # no value pasted twice
    assert DATASET_FILES["mnist"]["sha256"]["train-images-idx3-ubyte.gz"].startswith("440fcabf")
    assert DATASET_FILES["mnist"]["mirrors"][0].startswith("https://storage.googleapis.com/")


# ----------------------------------------------------------------------------- success


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_download_parses_and_reuses_cache(monkeypatch, tmp_path, name):
    arrays = _synthetic_arrays()
    _serve(monkeypatch, tmp_path, name, _gz_files(arrays))
    calls = _count_fetches(monkeypatch)
    root = tmp_path / "cache"
    assert not available_offline(name, root)

    train = download_dataset(name, root, split="train")
    assert len(calls) == 4  # both splits are fetched on first use
    x, y = arrays["train"]
    assert train.x.shape == (SIZES["train"], 784) and train.x.dtype == np.uint8
    assert train.y.shape == (SIZES["train"],) and train.y.dtype == np.int32
    np.testing.assert_array_equal(train.x, x.reshape(len(x), -1))
    np.testing.assert_array_equal(train.y, y.astype(np.int32))
    assert train.image_shape == (28, 28) and train.num_levels == 256
    assert available_offline(name, root)
    assert _leftovers(root / name) == []

    test = download_dataset(name, root=str(root), split="test")  # str root also works
    assert len(calls) == 4  # served from the cache, no second fetch
    x, y = arrays["test"]
    np.testing.assert_array_equal(test.x, x.reshape(len(x), -1))
    np.testing.assert_array_equal(test.y, y.astype(np.int32))


def test_falls_back_to_the_next_mirror(monkeypatch, tmp_path):
    arrays = _synthetic_arrays(1)
    files = _gz_files(arrays)
    good = tmp_path / "mirror"
    wrong = tmp_path / "wrong"  # serves bytes with other digests
    wrong.mkdir()
    for filename in files:
        (wrong / filename).write_bytes(b"not the file")
    mirrors = (
        _closed_port_url(),
        (tmp_path / "missing").as_uri() + "/",
        wrong.as_uri() + "/",
        good.as_uri() + "/",
    )
    _serve(monkeypatch, tmp_path, "mnist", files, mirrors=mirrors)
    calls = _count_fetches(monkeypatch)
    got = download_dataset("mnist", tmp_path / "cache", split="train", timeout=5.0)
    np.testing.assert_array_equal(got.y, arrays["train"][1].astype(np.int32))
    assert len(calls) == 16  # four mirrors tried for each of the four files
    assert _leftovers(tmp_path / "cache" / "mnist") == []


# ----------------------------------------------------------------------------- checksums


def test_checksum_mismatch_raises_and_leaves_nothing(monkeypatch, tmp_path):
    files = _gz_files(_synthetic_arrays())
    bad_name = "t10k-images-idx3-ubyte.gz"
    wrong_digest = "0" * 64
    _serve(monkeypatch, tmp_path, "mnist", files, sha256={bad_name: wrong_digest})
    root = tmp_path / "cache"
    with pytest.raises(ChecksumError) as info:
        download_dataset("mnist", root)
    message = str(info.value)
    assert bad_name in message
    assert wrong_digest in message
    assert hashlib.sha256(files[bad_name]).hexdigest() in message
    assert isinstance(info.value, RuntimeError)
    assert not (root / "mnist" / bad_name).exists()
    assert _leftovers(root / "mnist") == []
    assert not available_offline("mnist", root)


def test_corrupt_cache_is_detected_and_force_repairs_it(monkeypatch, tmp_path):
    arrays = _synthetic_arrays()
    _serve(monkeypatch, tmp_path, "fashion_mnist", _gz_files(arrays))
    root = tmp_path / "cache"
    download_dataset("fashion_mnist", root)
    cached = root / "fashion_mnist" / "train-labels-idx1-ubyte.gz"
    cached.write_bytes(cached.read_bytes()[:-3])  # truncated, as after a crash
    assert not available_offline("fashion_mnist", root)

    with pytest.raises(ChecksumError, match="force=True") as info:
        download_dataset("fashion_mnist", root)
    assert str(cached) in str(info.value) and "Delete" in str(info.value)

    calls = _count_fetches(monkeypatch)
    repaired = download_dataset("fashion_mnist", root, force=True)
    assert len(calls) == 4
    np.testing.assert_array_equal(repaired.y, arrays["train"][1].astype(np.int32))
    assert available_offline("fashion_mnist", root)


# ----------------------------------------------------------------------------- offline


def _assert_offline_message(err: DownloadError):
    message = str(err)
    assert "offline" in message
    assert "course_lib.data.load_mnist5k()" in message
    assert "course_lib.data.load_digits()" in message
    assert "train-images-idx3-ubyte.gz" in message


def test_offline_raises_download_error(monkeypatch, tmp_path):
    files = _gz_files(_synthetic_arrays())
    _serve(monkeypatch, tmp_path, "mnist", files, mirrors=(_closed_port_url(),))
    root = tmp_path / "cache"
    with pytest.raises(DownloadError) as info:
        download_dataset("mnist", root, timeout=5.0)
    assert not isinstance(info.value, ChecksumError)
    assert isinstance(info.value, RuntimeError)
    _assert_offline_message(info.value)
    assert _leftovers(root / "mnist") == []


class _StallingDownloader:
    """pooch's HTTP downloader replaced by one that writes a chunk and then times out (a dropped link)."""

    def __init__(self, timeout, progressbar):
        self.timeout = timeout

    def __call__(self, url, output_file, pooch_obj):
        import requests

        with open(output_file, "wb") as f:
            f.write(b"\x1f\x8b partial")
        raise requests.exceptions.ReadTimeout(f"{url}: read timed out (timeout={self.timeout})")


def test_timeout_mid_download_raises_download_error(monkeypatch, tmp_path):
    files = _gz_files(_synthetic_arrays())
    _serve(monkeypatch, tmp_path, "mnist", files, mirrors=("https://example.invalid/",))
    monkeypatch.setattr(download.pooch, "HTTPDownloader", _StallingDownloader)
    root = tmp_path / "cache"
    with pytest.raises(DownloadError) as info:
        download_dataset("mnist", root)
    _assert_offline_message(info.value)
    assert "timed out" in str(info.value)
    assert list((root / "mnist").iterdir()) == []  # no partial file left behind


# ----------------------------------------------------------------------------- malformed IDX


def _malformed(kind: str, arrays):
    """The four files with one of them broken in the way ``kind`` names."""
    files = _gz_files(arrays)
    x, y = arrays["train"]
    images, labels = SPLIT_FILES["train"]
    if kind == "bad magic":
        files[images] = gzip.compress(_idx_bytes(2049, x.shape, x.tobytes()))
    elif kind == "truncated":
        files[images] = gzip.compress(_idx_bytes(2051, x.shape, x.tobytes()[:-10]))
    elif kind == "padded":
        files[labels] = gzip.compress(_idx_bytes(2049, y.shape, y.tobytes() + b"\0"))
    elif kind == "not gzip":
        files[labels] = _idx_bytes(2049, y.shape, y.tobytes())
    elif kind == "short header":
        files[images] = gzip.compress(struct.pack(">II", 2051, len(x)))
    elif kind == "wrong image size":
        small = x[:, :27, :]
        files[images] = gzip.compress(_idx_bytes(2051, small.shape, small.tobytes()))
    elif kind == "count mismatch":
        files[labels] = gzip.compress(_idx_bytes(2049, (len(y) - 1,), y[:-1].tobytes()))
    elif kind == "label out of range":
        bad = y.copy()
        bad[0] = 10
        files[labels] = gzip.compress(_idx_bytes(2049, bad.shape, bad.tobytes()))
    return files


@pytest.mark.parametrize(
    "kind, pattern",
    [
        ("bad magic", r"magic number 0x00000801, expected 0x00000803"),
        ("truncated", r"truncated"),
        ("padded", r"truncated or padded"),
        ("not gzip", r"not a readable gzip file"),
        ("short header", r"ends inside its IDX header"),
        ("wrong image size", r"shape \(27, 28\), expected \(28, 28\)"),
        ("count mismatch", r"6 images but .* 5 labels"),
        ("label out of range", r"label 10, expected labels 0..9"),
    ],
)
def test_malformed_idx_raises_value_error(monkeypatch, tmp_path, kind, pattern):
    _serve(monkeypatch, tmp_path, "mnist", _malformed(kind, _synthetic_arrays()))
    with pytest.raises(ValueError, match=pattern):
        download_dataset("mnist", tmp_path / "cache", split="train")


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"name": "cifar10"}, ValueError, r"unknown name 'cifar10'"),
        ({"name": "mnist", "split": "val"}, ValueError, r"unknown split 'val'"),
        ({"name": 3}, TypeError, r"name must be one of"),
        ({"name": "mnist", "timeout": 0.0}, ValueError, r"timeout must be a finite number > 0"),
        ({"name": "mnist", "timeout": "30"}, TypeError, r"timeout must be a real number"),
        ({"name": "mnist", "force": 1}, TypeError, r"force must be True or False"),
        ({"name": "mnist", "root": 5}, TypeError, r"root must be a folder path"),
    ],
)
def test_bad_arguments(monkeypatch, tmp_path, kwargs, error, pattern):
    calls = _count_fetches(monkeypatch)
    kwargs = {"root": tmp_path, **kwargs}
    with pytest.raises(error, match=pattern):
        download_dataset(**kwargs)
    assert calls == []  # rejected before any network access


def test_available_offline(monkeypatch, tmp_path):
    files = _gz_files(_synthetic_arrays())
    _serve(monkeypatch, tmp_path, "mnist", files)
    root = tmp_path / "cache"
    assert available_offline("mnist", root) is False  # nothing cached
    download_dataset("mnist", root)
    assert available_offline("mnist", root) is True
    (root / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    assert available_offline("mnist", root) is False  # one of four missing
    assert available_offline("fashion_mnist", root) is False  # other dataset untouched
    with pytest.raises(ValueError, match="unknown name"):
        available_offline("emnist", root)


def test_default_root_is_data_dir_downloads(monkeypatch, tmp_path):
    paths = pytest.importorskip("course_lib.paths")
    monkeypatch.setattr(paths, "data_dir", lambda: tmp_path)
    assert download.dataset_dir("mnist") == tmp_path / "downloads" / "mnist"
    assert available_offline("fashion_mnist") is False
