"""The model registry, checkpoints.load_model, course_lib.pretrained and tools/convert_checkpoints.py."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import pathlib

import jax
import numpy as np
import pytest
from flax import nnx

from course_lib import checkpoints, paths, pretrained
from course_lib.checkpoints import CheckpointError, load_model, save_checkpoint
from course_lib.models import registry

ROOT = pathlib.Path(__file__).resolve().parent.parent

# One small instance of every registered model (the registry is checked to hold no other).
EXAMPLES = {
    "VAE": {"x_dim": 6, "z_dim": 2, "hidden": [5], "likelihood": "categorical", "num_levels": 3,
            "activation": "elu"},
    "Generator": {"noise_dim": 2, "out_dim": 3, "hidden": [4, 5], "activation": "relu", "output": "tanh"},
    "ToyGenerator": {"noise_dim": 2, "out_dim": 2, "hidden": [4], "activation": "relu", "output": "none",
                     "scale": 4.0},
    "Discriminator": {"in_dim": 3, "hidden": [4], "activation": "leaky_relu"},
    "RealNVP": {"dim": 4, "num_layers": 2, "hidden": [3], "masks": "checkerboard", "image_shape": [2, 2],
                "activation": "relu"},
    "MADE": {"dim": 4, "num_levels": 3, "hidden": [6], "inputs": "one_hot", "num_orderings": 2,
             "dropout": 0.0, "activation": "relu"},
    "EpsModel": {"dim": 2, "num_steps": 10, "hidden": [4, 4], "time_dim": 4, "activation": "gelu"},
    "DigitClassifier": {"in_dim": 6, "hidden": [5, 4], "num_classes": 3, "activation": "relu"},
    "VectorFieldMLP": {"dim": 2, "hidden": [4, 4], "time_dim": 4, "num_classes": 3, "label_dim": 2,
                       "activation": "silu", "prediction": "velocity", "path": "linear"},
    "BigramNet": {"vocab_size": 5},
    "ContextMLP": {"vocab_size": 5, "context": 3, "embed": 2, "hidden": 4},
    "Transformer": {"vocab_size": 5, "context": 6, "width": 8, "num_heads": 2, "num_layers": 2},
}


def _build(name: str, seed: int):
    cls = registry.model_class(name)
    return cls.from_config({"model": name, **EXAMPLES[name]}, rngs=nnx.Rngs(seed))


def _params(model) -> dict:
    state = nnx.state(model, nnx.Param)
    return {jax.tree_util.keystr(p): np.asarray(v) for p, v in jax.tree_util.tree_leaves_with_path(state)}


def test_registry_holds_every_course_model():
    registry.model_class("VAE")  # imports every model module
    assert set(registry.MODELS) == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_from_config_of_config_rebuilds_the_same_architecture(name):
    model = _build(name, 0)
    assert model.config == {"model": name, **EXAMPLES[name]}
    rebuilt = type(model).from_config(model.config)  # default rngs: another initialisation
    a, b = _params(model), _params(rebuilt)
    assert list(a) == list(b)  # same parameter names, in the same order
    assert {k: v.shape for k, v in a.items()} == {k: v.shape for k, v in b.items()}
    assert sum(v.size for v in a.values()) == sum(v.size for v in b.values()) > 0
    assert rebuilt.config == model.config


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_save_then_load_model_is_exact(tmp_path, name):
    model = _build(name, 3)
    path = tmp_path / f"{name}.safetensors"
    save_checkpoint(path, model, config=model.config)
    loaded, manifest = load_model(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    a, b = _params(model), _params(loaded)
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes(), k
    assert manifest["param_count"] == sum(v.size for v in a.values())
    loaded_all = nnx.state(loaded)  # nothing abstract is left (RNG state included)
    assert not any(isinstance(x, jax.ShapeDtypeStruct) for x in jax.tree_util.tree_leaves(loaded_all))


def test_load_model_builds_the_skeleton_abstractly(tmp_path, monkeypatch):
    from course_lib.models import Generator

    model = _build("Generator", 0)
    path = tmp_path / "g.safetensors"
    save_checkpoint(path, model, config=model.config)
    traced, original = [], Generator.from_config.__func__

    def spy(cls, config, *, rngs=None):
        traced.append(isinstance(jax.numpy.zeros(()), jax.core.Tracer))  # under nnx.eval_shape?
        return original(cls, config, rngs=rngs)

    monkeypatch.setattr(Generator, "from_config", classmethod(spy))
    loaded, _ = load_model(path)
    assert traced == [True]  # built once, abstractly: no initialiser ran on real arrays
    z = np.ones((2, 2), np.float32)
    np.testing.assert_array_equal(np.asarray(loaded(z)), np.asarray(model(z)))


def test_load_model_keeps_extra_config_entries_in_the_manifest(tmp_path):
    model = _build("EpsModel", 0)
    path = tmp_path / "ddpm.safetensors"
    save_checkpoint(path, model, config={**model.config, "beta_1": 1e-4, "beta_T": 0.02})
    loaded, manifest = load_model(path)
    assert loaded.config == model.config and manifest["config"]["beta_T"] == 0.02


def test_load_model_errors(tmp_path):
    d = _build("Discriminator", 0)
    unknown = tmp_path / "u.safetensors"
    save_checkpoint(unknown, d, config={**d.config, "model": "PixelCNN"})
    with pytest.raises(CheckpointError, match="unknown model 'PixelCNN'"):
        load_model(unknown)
    wrong = tmp_path / "w.safetensors"
    save_checkpoint(wrong, d, config={**d.config, "hidden": [7]})
    with pytest.raises(CheckpointError, match="does not match the model"):
        load_model(wrong)
    ok = tmp_path / "d.safetensors"
    save_checkpoint(ok, d, config=d.config)
    with pytest.raises(CheckpointError, match="hidden: saved \\[4\\], expected \\[8\\]"):
        load_model(ok, expected_config={**d.config, "hidden": [8]})
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        load_model(tmp_path / "missing.safetensors")


def test_from_config_errors():
    from course_lib.models import Generator

    with pytest.raises(ValueError, match="describes a 'VAE', not a 'Generator'"):
        Generator.from_config({"model": "VAE", "noise_dim": 2, "out_dim": 2})
    with pytest.raises(TypeError, match="does not take: \\['scale'\\]"):
        Generator.from_config({"noise_dim": 2, "out_dim": 2, "scale": 3.0})
    with pytest.raises(TypeError, match="config must be a dict"):
        Generator.from_config([2, 2])
    with pytest.raises(ValueError, match="unknown model 'Nope'"):
        registry.model_class("Nope")


def test_register_refuses_two_classes_with_one_name():
    class VAE(nnx.Module):  # noqa: N801 - the clash is the point
        pass

    with pytest.raises(ValueError, match="two model classes are both named 'VAE'"):
        registry.register(VAE)
    with pytest.raises(TypeError, match="nnx.Module subclass"):
        registry.register(int)


def test_toy_generator_scales_the_generator():
    from course_lib.models import Generator, ToyGenerator

    g = Generator(2, 2, (4,), rngs=nnx.Rngs(0))
    toy = ToyGenerator.from_generator(g, 4.0)
    key = jax.random.key(1)
    np.testing.assert_allclose(toy.sample(key, 5), 4.0 * np.asarray(g.sample(key, 5)), rtol=1e-6)
    assert isinstance(toy.sample(key, 5), np.ndarray)


# --------------------------------------------------------------------------- shipped checkpoints


def test_every_shipped_checkpoint_is_listed_and_loads():
    folder = paths.checkpoint_dir()
    on_disk = {p.name[: -len(checkpoints.SUFFIX)] for p in folder.glob(f"*{checkpoints.SUFFIX}")}
    assert on_disk == set(pretrained.CHECKPOINTS)
    assert not list(folder.glob("*.msgpack"))  # all converted
    for name, entry in pretrained.CHECKPOINTS.items():
        assert (ROOT / "notebooks" / "src" / f"{entry.notebook}.py").is_file()
        script = entry.command.split()[1]
        assert (ROOT / script).is_file(), script
        model, manifest = pretrained.load(name)
        assert type(model).__name__ == manifest["config"]["model"]
        assert manifest["metadata"]["command"].startswith(entry.command.split(" --")[0])


def test_pretrained_missing_names_the_script(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="python scripts/train_gan_checkpoints.py --only digits"):
        pretrained.load("gan_digits_generator")
    with pytest.raises(ValueError, match="name"):
        pretrained.path("nope")
    assert pretrained.beta_vae(1.0) == "vae_mnist5k_2d_beta1" and pretrained.beta_vae(0.5).endswith("0.5")


# --------------------------------------------------------------------------- the converter


def _converter():
    spec = importlib.util.spec_from_file_location("convert_checkpoints", ROOT / "tools" / "convert_checkpoints.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_format_1(path: pathlib.Path, model, config: dict) -> dict:
    """A checkpoint as course_lib wrote it before format 2: msgpack arrays + the same manifest."""
    from flax import serialization

    scratch = path.with_name("scratch.safetensors")
    manifest = save_checkpoint(scratch, model, config=config)  # the real key scheme
    flat = safetensors_load(scratch)
    scratch.unlink()
    checkpoints.manifest_path(scratch).unlink()
    data = serialization.msgpack_serialize(flat)
    path.write_bytes(data)
    manifest.update(format_version=1, file=path.name, sha256=hashlib.sha256(data).hexdigest(), num_bytes=len(data),
                    metadata={"seed": 3}, versions={"jax": "0.0", "flax": "0.0"})
    path.with_name(path.name + ".json").write_text(json.dumps(manifest))
    return flat


def test_converter_is_bit_identical_and_renames_scaled_generators(tmp_path):
    from course_lib.models import Generator

    g = Generator(2, 2, (4,), rngs=nnx.Rngs(3))
    old = tmp_path / "gan_toy.msgpack"
    flat = _write_format_1(old, g, {**g.config, "scale": 4.0})
    new = _converter().convert(old)
    assert not old.exists() and not old.with_name(old.name + ".json").exists()
    manifest = checkpoints.read_manifest(new)
    assert manifest["config"]["model"] == "ToyGenerator" and manifest["metadata"]["seed"] == 3
    assert manifest["metadata"]["converted_from"]["file"] == "gan_toy.msgpack"
    back = safetensors_load(new)
    assert set(back) == set(flat)
    assert all(back[k].tobytes() == flat[k].tobytes() and back[k].dtype == flat[k].dtype for k in flat)
    model, _ = load_model(new)
    z = np.ones((3, 2), np.float32)
    np.testing.assert_allclose(np.asarray(model(z)), 4.0 * np.asarray(g(z)), rtol=1e-6)


def test_converter_refuses_a_corrupted_file(tmp_path):
    g = _build("Discriminator", 0)
    old = tmp_path / "d.msgpack"
    _write_format_1(old, g, g.config)
    old.write_bytes(old.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ValueError, match="SHA-256"):
        _converter().convert(old)
    assert old.exists() and not (tmp_path / "d.safetensors").exists()


def safetensors_load(path):
    import safetensors.numpy

    return safetensors.numpy.load_file(path)
