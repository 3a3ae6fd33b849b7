"""Tests for course_lib.checkpoints: round trip, integrity and architecture checks."""
from __future__ import annotations

import hashlib
import json
import pathlib
import pickletools
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import safetensors.numpy
from flax import nnx

from course_lib import checkpoints
from course_lib.checkpoints import CheckpointError, load_checkpoint, save_checkpoint

CONFIG = {"in_dim": 3, "hidden": 4, "out_dim": 2}


def make_mlp(seed: int, hidden: int = 4) -> nnx.Module:
    rngs = nnx.Rngs(seed)
    return nnx.Sequential(nnx.Linear(3, hidden, rngs=rngs), nnx.Linear(hidden, 2, rngs=rngs))


class WithBatchNorm(nnx.Module):
    def __init__(self, seed: int):
        rngs = nnx.Rngs(seed)
        self.linear = nnx.Linear(3, 4, rngs=rngs)
        self.norm = nnx.BatchNorm(4, rngs=rngs)
        self.dropout = nnx.Dropout(0.5, rngs=rngs)  # holds RNG state, which is not saved

    def __call__(self, x):
        return self.dropout(self.norm(self.linear(x)))


@pytest.fixture
def x():
    return jax.random.normal(jax.random.key(0), (5, 3))  # (B, 3)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "mlp.safetensors"
    manifest = save_checkpoint(path, make_mlp(0), config=CONFIG, metadata={"seed": 0, "loss": 0.5})
    return path, manifest


def test_round_trip_restores_outputs(saved, x):
    path, _ = saved
    reference = make_mlp(0)
    fresh = make_mlp(1)
    assert not np.allclose(fresh(x), reference(x))  # a different seed gives a different model
    manifest = load_checkpoint(path, fresh)
    np.testing.assert_array_equal(np.asarray(fresh(x)), np.asarray(reference(x)))
    assert manifest["metadata"] == {"seed": 0, "loss": 0.5}


def test_manifest_contents(saved):
    path, manifest = saved
    sidecar = path.with_name("mlp.safetensors.json")
    assert sidecar.is_file()
    on_disk = json.loads(sidecar.read_text())
    assert on_disk == manifest
    assert manifest["format_version"] == checkpoints.FORMAT_VERSION
    assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest["config"] == CONFIG
    assert manifest["param_count"] == 3 * 4 + 4 + 4 * 2 + 2
    assert manifest["arrays"]["layers/0/kernel"] == {"shape": [3, 4], "dtype": "float32", "type": "Param"}
    assert manifest["arrays"]["layers/1/bias"]["shape"] == [2]
    assert sorted(manifest["arrays"]) == [
        "layers/0/bias", "layers/0/kernel", "layers/1/bias", "layers/1/kernel"
    ]
    assert checkpoints.read_manifest(path) == manifest
    assert checkpoints.verify_checkpoint(path) == manifest


def test_file_is_safetensors_not_pickle(saved):
    path, _ = saved
    data = path.read_bytes()
    # safetensors: an 8-byte little-endian header length, a JSON header, then raw array bytes.
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    assert data[:2] != b"\x80\x04" and data[:2] != b"\x80\x05"  # no pickle PROTO opcode
    with pytest.raises(Exception):
        list(pickletools.genops(data))
    names = {"layers/0/bias", "layers/0/kernel", "layers/1/bias", "layers/1/kernel"}
    assert set(header) - {"__metadata__"} == names
    assert header["layers/0/kernel"]["dtype"] == "F32" and header["layers/0/kernel"]["shape"] == [3, 4]
    decoded = safetensors.numpy.load_file(path)  # the format's own reader opens it
    np.testing.assert_array_equal(decoded["layers/0/kernel"], np.asarray(make_mlp(0).layers[0].kernel[...]))


def test_batch_stats_saved_and_rng_state_skipped(tmp_path, x):
    model = WithBatchNorm(0)
    model.norm.mean[...] = jnp.arange(4.0)  # pretend training updated the running mean
    model.eval()
    path = tmp_path / "bn.safetensors"
    manifest = save_checkpoint(path, model, config={})
    assert manifest["arrays"]["norm/mean"]["type"] == "BatchStat"
    assert not any("rngs" in name or "dropout" in name for name in manifest["arrays"])
    assert manifest["param_count"] == 3 * 4 + 4 + 4 + 4  # BatchStats are not parameters
    fresh = WithBatchNorm(7)
    fresh.eval()
    load_checkpoint(path, fresh)
    np.testing.assert_array_equal(np.asarray(fresh.norm.mean[...]), np.arange(4.0))
    np.testing.assert_array_equal(np.asarray(fresh(x)), np.asarray(model(x)))


def test_flipped_byte_is_reported_as_corruption(saved):
    path, manifest = saved
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted or was modified") as err:
        load_checkpoint(path, make_mlp(1))
    assert manifest["sha256"] in str(err.value)
    assert hashlib.sha256(bytes(data)).hexdigest() in str(err.value)
    with pytest.raises(CheckpointError, match="corrupted"):
        checkpoints.verify_checkpoint(path)


def test_truncated_file(saved):
    path, _ = saved
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="corrupted"):
        load_checkpoint(path, make_mlp(1))


def test_model_untouched_after_failed_load(saved, x):
    path, _ = saved
    path.write_bytes(path.read_bytes()[:-10])
    model = make_mlp(1)
    before = np.asarray(model(x))
    with pytest.raises(CheckpointError):
        load_checkpoint(path, model)
    np.testing.assert_array_equal(np.asarray(model(x)), before)


def test_missing_sidecar(saved):
    path, _ = saved
    path.with_name("mlp.safetensors.json").unlink()
    with pytest.raises(CheckpointError, match="manifest .* is missing"):
        load_checkpoint(path, make_mlp(1))


def test_missing_file_names_path(tmp_path):
    path = tmp_path / "nowhere.safetensors"
    with pytest.raises(FileNotFoundError, match="nowhere.safetensors") as err:
        load_checkpoint(path, make_mlp(0))
    assert "train_checkpoints" not in str(err.value)


def test_missing_course_checkpoint_says_how_to_regenerate(tmp_path):
    path = tmp_path / "data" / "checkpoints" / "vae.safetensors"
    with pytest.raises(FileNotFoundError, match="run python scripts/train_checkpoints.py"):
        load_checkpoint(path, make_mlp(0))


def test_different_architecture_names_parameter_and_shapes(saved):
    path, _ = saved
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, make_mlp(0, hidden=5))
    message = str(err.value)
    assert "'layers/0/bias'" in message  # first mismatching parameter in sorted order
    assert "(4,)" in message and "(5,)" in message
    assert "different architecture" in message
    assert '"hidden": 4' in message  # the saved config is shown


def test_different_parameter_names(saved):
    path, _ = saved
    with pytest.raises(CheckpointError, match="model has 'linear/bias'.*file has 'layers/0/bias'.*different architecture"):
        load_checkpoint(path, WithBatchNorm(0))


def test_dtype_mismatch(tmp_path):
    path = tmp_path / "f16.safetensors"
    model16 = nnx.Linear(3, 2, param_dtype=jnp.float16, rngs=nnx.Rngs(0))
    save_checkpoint(path, model16, config={})
    with pytest.raises(CheckpointError, match="float16.*float32"):
        load_checkpoint(path, nnx.Linear(3, 2, rngs=nnx.Rngs(0)))


def test_expected_config(saved, x):
    path, _ = saved
    model = make_mlp(1)
    load_checkpoint(path, model, expected_config=dict(CONFIG))  # equal: fine
    with pytest.raises(CheckpointError, match="hidden: saved 4, expected 8") as err:
        load_checkpoint(path, model, expected_config={**CONFIG, "hidden": 8, "extra": True})
    assert "extra: saved (absent), expected True" in str(err.value)
    assert "in_dim" not in str(err.value)


def test_tuple_in_config_round_trips_as_list(tmp_path):
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, make_mlp(0), config={"hidden": (4,)})
    assert checkpoints.read_manifest(path)["config"]["hidden"] == [4]
    load_checkpoint(path, make_mlp(1), expected_config={"hidden": (4,)})


def test_atomic_write_leaves_no_temp_files(tmp_path):
    path = tmp_path / "sub" / "mlp.safetensors"  # parent folders are created
    save_checkpoint(path, make_mlp(0), config=CONFIG)
    save_checkpoint(path, make_mlp(1), config=CONFIG)  # overwrite in place
    assert sorted(p.name for p in path.parent.iterdir()) == ["mlp.safetensors", "mlp.safetensors.json"]
    assert checkpoints.verify_checkpoint(path)["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_failed_write_removes_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "mlp.safetensors"

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoints.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, make_mlp(0), config=CONFIG)
    assert list(tmp_path.iterdir()) == []


def test_str_path_accepted(tmp_path, x):
    path = str(tmp_path / "mlp.safetensors")
    save_checkpoint(path, make_mlp(0), config=CONFIG)
    model = make_mlp(1)
    load_checkpoint(path, model)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(make_mlp(0)(x)))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(path=3), TypeError, "path must be a str or pathlib.Path"),
        (dict(path="model.pkl"), ValueError, "must end in '.safetensors'"),
        (dict(path="model.msgpack"), ValueError, "old msgpack format .*tools/convert_checkpoints.py"),
        (dict(model="not a model"), TypeError, "model must be a flax.nnx.Module"),
        (dict(config=[1, 2]), TypeError, "config must be a dict"),
        (dict(config={"f": np.ones(2)}), TypeError, "config must be JSON-serialisable"),
        (dict(config={"lr": float("nan")}), ValueError, "config must be JSON-serialisable"),
        (dict(config={1: "a"}), TypeError, "config keys must be strings"),
        (dict(metadata="loss=1"), TypeError, "metadata must be a dict"),
        (dict(metadata={"fn": print}), TypeError, "metadata must be JSON-serialisable"),
    ],
)
def test_save_bad_arguments(tmp_path, kwargs, error, match):
    args = dict(path=tmp_path / "m.safetensors", model=make_mlp(0), config=CONFIG, metadata=None)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        save_checkpoint(args.pop("path"), args.pop("model"), **args)
    assert not (tmp_path / "m.safetensors").exists()


def test_load_bad_arguments(saved):
    path, _ = saved
    with pytest.raises(TypeError, match="path must be"):
        load_checkpoint(None, make_mlp(0))
    with pytest.raises(TypeError, match="model must be"):
        load_checkpoint(path, {"w": 1})
    with pytest.raises(TypeError, match="expected_config must be a dict"):
        load_checkpoint(path, make_mlp(0), expected_config="hidden=4")


def test_manifest_path():
    assert checkpoints.manifest_path("a/vae.safetensors") == pathlib.Path("a/vae.safetensors.json")
