"""Convert checkpoints of format 1 (msgpack arrays) to format 2 (safetensors arrays), without retraining.

Usage::

    python tools/convert_checkpoints.py                      # every *.msgpack in data/checkpoints
    python tools/convert_checkpoints.py a.msgpack b.msgpack  # these files
    python tools/convert_checkpoints.py --keep ...           # keep the old files

For each ``NAME.msgpack`` with its manifest ``NAME.msgpack.json``: check the old SHA-256, decode
the arrays (flax's msgpack reader: numbers and strings only, no code), check them against the
old manifest, write ``NAME.safetensors`` + ``NAME.safetensors.json`` (the same config, arrays,
parameter count, metadata and library versions, plus ``metadata["converted_from"]``), read the
new file back and require every array to be bit-identical, rebuild the model with
``checkpoints.load_model``, and only then delete the old pair (unless ``--keep``).

One config is renamed on the way: a ``Generator`` saved with an output ``scale`` (the 2-D toy
generators of the GAN lab) becomes a ``ToyGenerator``, the registered class that keeps the scale.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import sys

import jax
from flax import nnx
from safetensors import numpy as safetensors_numpy

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from course_lib import checkpoints, paths  # noqa: E402
from course_lib.models import count_params  # noqa: E402


def new_config(config: dict) -> dict:
    """The format-2 config of a format-1 config (a scaled Generator is a ToyGenerator)."""
    if config.get("model") == "Generator" and "scale" in config:
        return {**config, "model": "ToyGenerator"}
    return dict(config)


def read_old(path: pathlib.Path) -> tuple[dict, dict, bytes]:
    """(manifest, arrays, raw bytes) of a format-1 checkpoint, with its SHA-256 and listing checked."""
    from flax import serialization

    manifest = json.loads(path.with_name(path.name + ".json").read_text())
    if manifest.get("format_version") != 1:
        raise ValueError(f"{path}: format_version {manifest.get('format_version')!r}, expected 1")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != manifest["sha256"]:
        raise ValueError(f"{path}: SHA-256 {digest} differs from its manifest's {manifest['sha256']}")
    flat = serialization.msgpack_restore(data)
    listed = {n: (tuple(i["shape"]), i["dtype"]) for n, i in manifest["arrays"].items()}
    found = {n: (tuple(a.shape), str(a.dtype)) for n, a in flat.items()}
    if listed != found:
        raise ValueError(f"{path}: the arrays differ from the manifest's listing")
    return manifest, flat, data


def convert(path: pathlib.Path, keep: bool = False) -> pathlib.Path:
    """Convert one format-1 checkpoint; return the path of the new ``.safetensors`` file."""
    manifest, flat, data = read_old(path)
    out = path.with_suffix(checkpoints.SUFFIX)
    metadata = {**manifest.get("metadata", {}),
                "converted_from": {"file": path.name, "sha256": manifest["sha256"], "format_version": 1}}
    checkpoints.write_checkpoint(
        out, flat, config=new_config(manifest["config"]), metadata=metadata,
        param_count=manifest["param_count"], arrays=manifest["arrays"], versions=manifest.get("versions", {}))
    checkpoints.verify_checkpoint(out)  # SHA-256 and listing of the new pair
    back = safetensors_numpy.load_file(out)  # read back with the format's own reader
    for name, a in flat.items():
        b = back[name]
        if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
            raise ValueError(f"{out}: array {name!r} is not bit-identical to {path}'s")
    if set(back) != set(flat):
        raise ValueError(f"{out}: holds other array names than {path}")
    model, _ = checkpoints.load_model(out)  # the registry rebuilds it and every array fits
    loaded = nnx.state(model, nnx.Param)
    if count_params(model) != manifest["param_count"] or not jax.tree_util.tree_leaves(loaded):
        raise ValueError(f"{out}: the rebuilt model has {count_params(model)} parameters, "
                         f"the manifest lists {manifest['param_count']}")
    if not keep:
        path.unlink()
        path.with_name(path.name + ".json").unlink()
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=pathlib.Path,
                        help="format-1 .msgpack checkpoints (default: every one in the checkpoint folder)")
    parser.add_argument("--keep", action="store_true", help="keep the .msgpack files and their manifests")
    args = parser.parse_args(argv)
    todo = args.paths or sorted(paths.checkpoint_dir().glob("*.msgpack"))
    for path in todo:
        out = convert(path, keep=args.keep)
        print(f"{path.name} -> {out.name}: {len(checkpoints.read_manifest(out)['arrays'])} arrays, bit-identical")
    if not todo:
        print("no .msgpack checkpoints to convert")


if __name__ == "__main__":
    main()
