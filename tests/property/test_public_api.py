"""Every public function and class of course_lib has a property test.

The public API: the names in ``__all__`` of every course_lib module or package that declares
one (walking all subpackages); for every other module, the public functions and classes it
defines. Only the modules in :data:`NOT_YET_ENUMERATED` (written before this suite, without
``__all__``) are skipped, so a new module cannot skip a property test. A property test declares
what it covers with ``prop_harness.covers``; a new public name without one fails here.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import pathlib
import pkgutil

import course_lib
import prop_harness

HERE = pathlib.Path(__file__).parent

NOT_YET_ENUMERATED = frozenset("""
compile_cache data.batching data.download data.images data.toy evaluation.classifier evaluation.frechet
evaluation.likelihood evaluation.modes exercises.ch04_vae lessons.quiz models.autoregressive
models.diffusion models.flow models.gan models.mlp models.vae reproduce reproduce.family_models
reproduce.family_table reproduce.gan reproduce.vae training.core training.gan training.gan_lab
training.generic training.parallel training.vae widgets.beyond widgets.core widgets.gan_lab
widgets.latent widgets.toy
""".split())
"""Modules without ``__all__`` that predate the enumeration of every module. Many of their names are
covered through a package's ``__all__`` (``course_lib.training``, ``course_lib.models``...) or by the
tests in test_prop_issue17.py; this list may only shrink (test_not_yet_enumerated_only_shrinks)."""


def public_api() -> dict[int, list[str]]:
    """id(object) -> the dotted names it is public under."""
    modules = [f"course_lib.{m}" for m in course_lib._SUBMODULES]
    for name in _all_modules():
        mod = importlib.import_module(name)
        short = name[len("course_lib."):]
        if (hasattr(mod, "__all__") or short not in NOT_YET_ENUMERATED) and name not in modules:
            modules.append(name)
    api: dict[int, list[str]] = {}
    for name in modules:
        mod = importlib.import_module(name)
        if hasattr(mod, "__all__"):
            names = list(mod.__all__)
        else:
            names = [n for n, o in vars(mod).items()
                     if not n.startswith("_") and (inspect.isfunction(o) or inspect.isclass(o))
                     and getattr(o, "__module__", None) == name]
        for n in names:
            obj = getattr(mod, n)
            if inspect.ismodule(obj) or not callable(obj):
                continue  # constants (TOY_NAMES, OPTIMIZERS...) and subpackages
            api.setdefault(id(obj), []).append(f"{name}.{n}")
    return api


def _all_modules() -> list[str]:
    return [info.name for info in pkgutil.walk_packages(course_lib.__path__, "course_lib.")
            if not any(part.startswith("_") for part in info.name.split("."))]


def test_not_yet_enumerated_only_shrinks():
    """Every module listed as not yet enumerated exists and still lacks ``__all__`` (else drop it)."""
    names = {n[len("course_lib."):] for n in _all_modules()}
    assert NOT_YET_ENUMERATED <= names, f"gone, drop from the list: {sorted(NOT_YET_ENUMERATED - names)}"
    with_all = sorted(m for m in NOT_YET_ENUMERATED if hasattr(importlib.import_module(f"course_lib.{m}"), "__all__"))
    assert not with_all, f"these now declare __all__, drop them from NOT_YET_ENUMERATED: {with_all}"


def _load_property_modules():
    for path in sorted(HERE.glob("test_*.py")):
        if path.name == pathlib.Path(__file__).name:
            continue
        spec = importlib.util.spec_from_file_location(f"_prop_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


def _resolve(dotted: str):
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def test_every_public_name_has_a_property_test():
    _load_property_modules()
    covered = {id(_resolve(n)) for n in prop_harness.COVERED}
    api = public_api()
    missing = sorted(names[0] for obj_id, names in api.items() if obj_id not in covered)
    assert len(api) > 300, f"the public API looks too small ({len(api)} names): enumeration broken?"
    assert not missing, f"{len(missing)} public names have no property test: {missing}"


def test_registry_names_exist():
    _load_property_modules()
    for dotted in sorted(prop_harness.COVERED):
        _resolve(dotted)  # a typo in @covers raises here
