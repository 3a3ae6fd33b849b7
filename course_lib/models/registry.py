"""The registry of model classes that checkpoints can rebuild: ``config["model"]`` -> class.

Every model class of the course has a ``config`` property (a JSON-serialisable dict whose
``"model"`` entry names the class and whose other entries are the constructor's arguments)
and a ``from_config`` classmethod that rebuilds the architecture from it. A class joins the
registry with the :func:`register` decorator; :func:`course_lib.checkpoints.load_model`
looks the name up here. A new model module needs only::

    @register
    class MyModel(nnx.Module):
        ...
        @property
        def config(self): return {"model": "MyModel", ...}

        @classmethod
        def from_config(cls, config, *, rngs=None): return build_from_config(cls, config, rngs)

and, if it lives outside the modules listed in :data:`MODEL_MODULES`, an entry there so that
loading a checkpoint imports it.
"""
from __future__ import annotations

import importlib
import inspect

from flax import nnx

MODELS: dict[str, type] = {}
"""Registered model classes by the name stored in ``config["model"]``."""

MODEL_MODULES = [
    "course_lib.models.vae",
    "course_lib.models.gan",
    "course_lib.models.flow",
    "course_lib.models.autoregressive",
    "course_lib.models.diffusion",
    "course_lib.evaluation.classifier",
    "course_lib.models.vector_field",
    "course_lib.models.language",
]
"""Modules that register models; :func:`model_class` imports them before looking a name up."""


def register(cls: type) -> type:
    """Class decorator: add ``cls`` to :data:`MODELS` under its class name."""
    if not (isinstance(cls, type) and issubclass(cls, nnx.Module)):
        raise TypeError(f"register expects a flax.nnx.Module subclass, got {cls!r}")
    name, old = cls.__name__, MODELS.get(cls.__name__)
    where = lambda c: f"{c.__module__}.{c.__qualname__}"  # noqa: E731 (a reloaded module re-registers)
    if old is not None and where(old) != where(cls):
        raise ValueError(f"two model classes are both named {name!r}: {where(old)} and {where(cls)}")
    MODELS[name] = cls
    return cls


def model_class(name: str) -> type:
    """The registered class called ``name`` (imports :data:`MODEL_MODULES` first)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (a config's 'model' entry), got {type(name).__name__}")
    for module in MODEL_MODULES:
        importlib.import_module(module)
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; registered models: {sorted(MODELS)}")
    return MODELS[name]


def constructor_args(cls: type) -> list[str]:
    """The names of ``cls``'s constructor arguments, without ``self`` and ``rngs``."""
    if not isinstance(cls, type):
        raise TypeError(f"cls must be a model class, got {type(cls).__name__}")
    params = inspect.signature(cls.__init__).parameters
    return [p for p in params if p not in ("self", "rngs")]


def architecture(cls: type, config: dict) -> dict:
    """The entries of ``config`` that are ``cls``'s constructor arguments (drops ``model`` and extras).

    A checkpoint's config may carry more than the architecture (e.g. a DDPM's ``beta_1``):
    those entries describe how the model is used, and stay in the manifest.
    """
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict (a model's .config), got {type(config).__name__}")
    names = set(constructor_args(cls))
    return {k: v for k, v in config.items() if k in names}


def build_from_config(cls: type, config: dict, rngs: nnx.Rngs | None = None):
    """``cls(**config, rngs=rngs)`` with lists turned into tuples; the shared body of ``from_config``.

    Raises:
      TypeError: ``config`` is not a dict, or has a key that is not a constructor argument.
      ValueError: ``config["model"]`` names another class.
    """
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict (a model's .config), got {type(config).__name__}")
    if rngs is not None and not isinstance(rngs, nnx.Rngs):
        raise TypeError(f"rngs must be a flax.nnx.Rngs or None, got {type(rngs).__name__}")
    config = dict(config)
    name = config.pop("model", cls.__name__)
    if name != cls.__name__:
        raise ValueError(f"config describes a {name!r}, not a {cls.__name__!r}")
    unknown = sorted(set(config) - set(constructor_args(cls)))
    if unknown:
        raise TypeError(f"config has entries that {cls.__name__} does not take: {unknown} "
                        f"(it takes {constructor_args(cls)})")
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    return cls(**args, rngs=nnx.Rngs(0) if rngs is None else rngs)
