"""Every public function and class of course_lib has a property test.

The public API: the names in ``__all__`` of every course_lib module or package that declares
one (walking all subpackages), plus the public functions and classes defined in the top-level
submodules that ``course_lib.__all__`` lists. A property test declares what it covers with
``prop_harness.covers``; a new public name without one fails here.
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


def public_api() -> dict[int, list[str]]:
    """id(object) -> the dotted names it is public under."""
    modules = [f"course_lib.{m}" for m in course_lib._SUBMODULES]
    for info in pkgutil.walk_packages(course_lib.__path__, "course_lib."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        mod = importlib.import_module(info.name)
        if hasattr(mod, "__all__") and info.name not in modules:
            modules.append(info.name)
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
    assert len(api) > 150, f"the public API looks too small ({len(api)} names): enumeration broken?"
    assert not missing, f"{len(missing)} public names have no property test: {missing}"


def test_registry_names_exist():
    _load_property_modules()
    for dotted in sorted(prop_harness.COVERED):
        _resolve(dotted)  # a typo in @covers raises here
