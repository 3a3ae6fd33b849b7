"""Safe checkpoints for Flax NNX models: safetensors arrays + a JSON manifest, no pickle.

A checkpoint is two files side by side::

    vae.safetensors        flat {"encoder/layers/0/kernel": array, ...} in the safetensors format
    vae.safetensors.json   manifest: SHA-256 of the array file, the model config,
                           every array's shape/dtype, the parameter count, metadata

safetensors (Hugging Face's no-pickle format) holds only a JSON header and raw
array bytes, so loading never runs code from the file, and the arrays open with
standard tools (``safetensors.numpy.load_file``). Loading checks the SHA-256
before decoding and refuses to load arrays into a model whose parameter names,
shapes or dtypes differ, so a stale or foreign file fails with a message instead
of a silently wrong model. :func:`load_model` rebuilds the model itself from the
manifest's config (``config["model"]`` names a class of
:mod:`course_lib.models.registry`). The pretrained checkpoints of the course are
listed in :mod:`course_lib.pretrained`, live in ``data/checkpoints`` and are
rebuilt by ``python scripts/train_checkpoints.py``; checkpoints of format 1
(msgpack) are converted by ``python tools/convert_checkpoints.py``.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from safetensors import SafetensorError
from safetensors import numpy as safetensors_numpy

from course_lib.model_state import array_info, flat_variables, path_to_name, variable_type, variable_value

FORMAT_VERSION = 2
"""Version of the on-disk layout: 1 = msgpack arrays, 2 = safetensors arrays (same manifest keys)."""

SUFFIX = ".safetensors"
"""The file ending of a checkpoint's array file."""

MANIFEST_SUFFIX = ".json"
"""The manifest of ``x.safetensors`` is ``x.safetensors.json``."""

REGENERATE_COMMAND = "python scripts/train_checkpoints.py"
CONVERT_COMMAND = "python tools/convert_checkpoints.py"

class CheckpointError(ValueError):
    """A checkpoint file is corrupted, incomplete, or made for another model."""


# --------------------------------------------------------------------------- helpers


def _check_path(path) -> pathlib.Path:
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a str or pathlib.Path, got {type(path).__name__} ({path!r:.60})"
        )
    path = pathlib.Path(path)
    if path.suffix == ".msgpack":
        raise ValueError(f"path {str(path)!r} is a checkpoint of the old msgpack format (1); convert it "
                         f"to safetensors with: {CONVERT_COMMAND} {path}")
    if path.suffix != SUFFIX:
        raise ValueError(f"path must end in {SUFFIX!r}, got {str(path)!r}")
    return path


def _check_model(model):
    if not isinstance(model, nnx.Module):
        raise TypeError(f"model must be a flax.nnx.Module, got {type(model).__name__}")


def _check_json_dict(name: str, value) -> dict:
    """Check that ``value`` is a dict that survives a JSON round trip; return the round trip."""
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict, got {type(value).__name__}")
    try:
        text = json.dumps(value, allow_nan=False)
    except TypeError as err:  # e.g. a numpy array or a function inside
        raise TypeError(
            f"{name} must be JSON-serialisable (str, int, float, bool, None, lists, "
            f"dicts with str keys): {err}"
        ) from None
    except ValueError as err:  # NaN / infinity, circular references
        raise ValueError(f"{name} must be JSON-serialisable: {err}") from None
    if any(not isinstance(k, str) for k in value):
        raise TypeError(f"{name} keys must be strings, got keys {list(value)!r:.80}")
    return json.loads(text)


def manifest_path(path) -> pathlib.Path:
    """The JSON manifest next to a checkpoint: ``vae.safetensors`` -> ``vae.safetensors.json``."""
    path = _check_path(path)
    return path.with_name(path.name + MANIFEST_SUFFIX)


def _atomic_write(path: pathlib.Path, data: bytes) -> None:
    """Write ``data`` to a temp file in ``path``'s folder, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _regenerate_hint(path: pathlib.Path) -> str:
    parts = path.resolve().parts
    in_course_dir = any(a == "data" and b == "checkpoints" for a, b in zip(parts, parts[1:]))
    try:
        from course_lib import paths

        in_course_dir = in_course_dir or paths.checkpoint_dir().resolve() in path.resolve().parents
    except Exception:  # paths is a convenience; the hint is optional
        pass
    if in_course_dir:
        return f" This is a course checkpoint: to regenerate it, run {REGENERATE_COMMAND}"
    return ""


# --------------------------------------------------------------------------- API


def save_checkpoint(path, model, *, config: dict, metadata: dict | None = None) -> dict:
    """Write ``model``'s variables to ``path`` (safetensors) and a JSON manifest beside it.

    Saves every ``nnx.Variable`` of the model (``nnx.Param``, ``nnx.BatchStat``, ...)
    except RNG state, as a flat dict ``{"encoder/layers/0/kernel": array}``. Both
    files are written atomically (temp file + rename), so a crash never leaves a
    half-written checkpoint under the final name.

    Args:
      path: ``str`` or ``pathlib.Path`` ending in ``.safetensors``; folders are created.
      model: a ``flax.nnx.Module``.
      config: JSON-serialisable architecture hyperparameters needed to rebuild the
        model (e.g. ``{"latent_dim": 2, "hidden": [256, 256]}``).
      metadata: optional JSON-serialisable extras (final metrics, seed, command).

    Returns:
      The manifest dict that was written to ``path + ".json"``.
    """
    path = _check_path(path)
    _check_model(model)
    config = _check_json_dict("config", config)
    metadata = {} if metadata is None else _check_json_dict("metadata", metadata)

    names, variables, _ = flat_variables(model)
    flat = {name: np.asarray(variable_value(v)) for name, v in zip(names, variables)}
    param_count = sum(
        int(math.prod(flat[n].shape))
        for n, v in zip(names, variables)
        if issubclass(variable_type(v), nnx.Param)
    )
    import flax

    return write_checkpoint(
        path, flat, config=config, metadata=metadata, param_count=param_count,
        arrays={name: array_info(v) for name, v in zip(names, variables)},
        versions={"jax": jax.__version__, "flax": flax.__version__},
    )


def encode_arrays(flat: dict) -> bytes:
    """The safetensors bytes of a flat ``{name: numpy array}`` dict (deterministic for equal input)."""
    if not isinstance(flat, dict):
        raise TypeError(f"flat must be a dict {{name: array}}, got {type(flat).__name__}")
    for name, value in flat.items():
        if not isinstance(name, str):
            raise TypeError(f"flat must have string names, got the key {name!r} ({type(name).__name__})")
        if not hasattr(value, "dtype") or np.dtype(value.dtype).kind not in "biuf":
            raise TypeError(f"flat[{name!r}] must be a numeric array, got {type(value).__name__}"
                            f"{' of dtype ' + str(value.dtype) if hasattr(value, 'dtype') else ''}")
    return safetensors_numpy.save({k: np.ascontiguousarray(v) for k, v in flat.items()})


def write_checkpoint(path, flat: dict, *, config: dict, metadata: dict, param_count: int,
                     arrays: dict, versions: dict) -> dict:
    """Write the arrays ``flat`` and their manifest (the common tail of saving and converting).

    ``arrays`` is the manifest's ``{name: {"shape", "dtype", "type"}}`` listing and ``versions``
    the library versions that produced the weights. Both files are written atomically.
    """
    path = _check_path(path)
    data = encode_arrays(flat)
    manifest = {
        "format_version": FORMAT_VERSION,
        "file": path.name,
        "sha256": _sha256(data),
        "num_bytes": len(data),
        "config": config,
        "param_count": int(param_count),
        "arrays": arrays,
        "metadata": metadata,
        "versions": versions,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, data)
    _atomic_write(manifest_path(path), (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def read_manifest(path) -> dict:
    """Read the JSON manifest of the checkpoint at ``path`` (without checking the data)."""
    path = _check_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {str(path)!r}.{_regenerate_hint(path)}")
    mpath = manifest_path(path)
    if not mpath.is_file():
        raise CheckpointError(
            f"the manifest {mpath.name!r} of checkpoint {str(path)!r} is missing, so the "
            f"checkpoint cannot be verified.{_regenerate_hint(path)}"
        )
    try:
        manifest = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"the manifest {str(mpath)!r} is not valid JSON: {err}") from None
    required = ("format_version", "sha256", "config", "arrays")
    if not isinstance(manifest, dict) or any(k not in manifest for k in required):
        raise CheckpointError(
            f"the manifest {str(mpath)!r} is incomplete: it needs the keys {list(required)}"
        )
    if manifest["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has format_version {manifest['format_version']!r}; "
            f"this course_lib reads format_version {FORMAT_VERSION} (convert format 1 with "
            f"{CONVERT_COMMAND}).{_regenerate_hint(path)}"
        )
    arrays = manifest["arrays"]
    fields_ok = (isinstance(manifest["sha256"], str) and isinstance(manifest["config"], dict)
                 and isinstance(arrays, dict) and all(
                     isinstance(i, dict) and isinstance(i.get("shape"), list) and isinstance(i.get("dtype"), str)
                     for i in arrays.values()))
    if not fields_ok:
        raise CheckpointError(
            f"the manifest {str(mpath)!r} is corrupt: sha256 must be a string, config a dict and arrays "
            f"a dict of {{'shape': [...], 'dtype': '...'}}.{_regenerate_hint(path)}"
        )
    return manifest


def _verified_bytes(path: pathlib.Path, manifest: dict) -> bytes:
    data = path.read_bytes()
    got = _sha256(data)
    if got != manifest["sha256"]:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupted or was modified after it was saved: "
            f"SHA-256 expected {manifest['sha256']}, got {got}.{_regenerate_hint(path)}"
        )
    return data


def verify_checkpoint(path) -> dict:
    """Check that ``path`` exists, matches its manifest's SHA-256 and decodes; return the manifest."""
    path = _check_path(path)
    manifest = read_manifest(path)
    flat = _decode(path, _verified_bytes(path, manifest))
    saved = {n: {"shape": list(a.shape), "dtype": str(a.dtype)} for n, a in flat.items()}
    listed = {n: {"shape": list(i["shape"]), "dtype": i["dtype"]} for n, i in manifest["arrays"].items()}
    if saved != listed:
        raise CheckpointError(
            f"checkpoint {str(path)!r} does not hold the arrays its manifest lists"
        )
    return manifest


def _decode(path: pathlib.Path, data: bytes) -> dict:
    try:
        flat = dict(sorted(safetensors_numpy.load(data).items()))  # the reader's order is not fixed
    except (SafetensorError, ValueError, TypeError) as err:
        raise CheckpointError(f"checkpoint {str(path)!r} could not be decoded: {err}") from None
    if not isinstance(flat, dict) or not all(isinstance(v, np.ndarray) for v in flat.values()):
        raise CheckpointError(f"checkpoint {str(path)!r} is not a flat dict of arrays")
    return flat


def _config_diff(saved: dict, expected: dict) -> list[str]:
    keys = sorted(set(saved) | set(expected))
    missing = object()
    lines = []
    for k in keys:
        a, b = saved.get(k, missing), expected.get(k, missing)
        if a != b:
            show = lambda v: "(absent)" if v is missing else repr(v)  # noqa: E731
            lines.append(f"{k}: saved {show(a)}, expected {show(b)}")
    return lines


def load_checkpoint(path, model, *, expected_config: dict | None = None) -> dict:
    """Load the checkpoint at ``path`` into ``model`` in place; return its manifest.

    Steps: the file and its manifest exist; the SHA-256 of the bytes matches the
    manifest; (optionally) the saved config equals ``expected_config``; the arrays
    have exactly the names, shapes and dtypes of ``model``'s variables; then
    ``nnx.update`` copies them in.

    Args:
      path: ``str`` or ``pathlib.Path`` of a ``.safetensors`` file written by
        :func:`save_checkpoint`.
      model: a ``flax.nnx.Module`` built with the same architecture (any seed).
      expected_config: if given, the config the caller built ``model`` from.

    Raises:
      FileNotFoundError: no file at ``path``.
      CheckpointError: missing manifest, corrupted bytes, different config or
        architecture.
    """
    path = _check_path(path)
    _check_model(model)
    if expected_config is not None:
        expected_config = _check_json_dict("expected_config", expected_config)

    manifest = read_manifest(path)
    data = _verified_bytes(path, manifest)
    saved_config = manifest["config"]
    if expected_config is not None:
        diff = _config_diff(saved_config, expected_config)
        if diff:
            raise CheckpointError(
                f"checkpoint {str(path)!r} was saved with a different config; differing keys: "
                + "; ".join(diff)
            )
    flat = _decode(path, data)

    names, variables, treedef = flat_variables(model)
    arch_note = (
        f"The checkpoint was made for a different architecture (saved config: "
        f"{json.dumps(saved_config, sort_keys=True)})."
    )
    missing = [n for n in names if n not in flat]
    extra = [n for n in flat if n not in set(names)]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"the model has {missing[0]!r} ({len(missing)} such) that the file lacks")
        if extra:
            parts.append(f"the file has {extra[0]!r} ({len(extra)} such) that the model lacks")
        raise CheckpointError(
            f"checkpoint {str(path)!r} does not match the model: {' and '.join(parts)}. {arch_note}"
        )
    new_leaves = []
    for name, variable in zip(names, variables):
        target = variable_value(variable)  # an array, or a ShapeDtypeStruct (see load_model)
        saved = flat[name]
        if saved.shape != tuple(target.shape) or saved.dtype != np.dtype(target.dtype):
            raise CheckpointError(
                f"checkpoint {str(path)!r} does not match the model at {name!r}: saved shape "
                f"{tuple(saved.shape)} dtype {saved.dtype}, model expects shape "
                f"{tuple(target.shape)} dtype {target.dtype}. {arch_note}"
            )
        new_leaves.append(variable.replace(value=jnp.asarray(saved)))
    nnx.update(model, jax.tree_util.tree_unflatten(treedef, new_leaves))
    return manifest


def load_model(path, *, expected_config: dict | None = None):
    """Rebuild the model saved at ``path`` from its manifest and load its weights: ``(model, manifest)``.

    The manifest's ``config["model"]`` names a class of :mod:`course_lib.models.registry`; its
    ``from_config`` builds the architecture under ``nnx.eval_shape`` (no initialiser runs, so a
    load does not compile one random initialiser per weight shape), and :func:`load_checkpoint`
    checks the SHA-256 and every name, shape and dtype before copying the arrays in. Config
    entries that are not constructor arguments (a DDPM's ``beta_1``, ...) stay in the manifest.

    Raises:
      FileNotFoundError: no file at ``path``.
      CheckpointError: missing manifest, corrupted bytes, unknown model, a config that cannot
        be built, or arrays that do not fit it.
    """
    from course_lib.models import registry

    path = _check_path(path)
    config = read_manifest(path)["config"]
    try:
        cls = registry.model_class(config.get("model"))
        arch = registry.architecture(cls, config)
        abstract = nnx.eval_shape(lambda: cls.from_config(arch))
    except (TypeError, ValueError, KeyError) as err:
        raise CheckpointError(f"checkpoint {str(path)!r} holds a model that cannot be rebuilt from its "
                              f"config {config}: {err}") from None
    graphdef, state = nnx.split(abstract)
    model = nnx.merge(graphdef, state)  # abstract leaves; every saved one is replaced below
    manifest = load_checkpoint(path, model, expected_config=expected_config)
    _check_concrete(path, model)
    return model, manifest


def _check_concrete(path: pathlib.Path, model) -> None:
    """Refuse a model that still holds abstract leaves (variables a checkpoint does not save)."""
    abstract = [path_to_name(p) for p, leaf in jax.tree_util.tree_leaves_with_path(nnx.state(model))
                if isinstance(leaf, jax.ShapeDtypeStruct)]
    if abstract:
        raise CheckpointError(f"checkpoint {str(path)!r} does not hold {abstract[0]!r} ({len(abstract)} such), "
                              "which load_model cannot make without running initialisers")
