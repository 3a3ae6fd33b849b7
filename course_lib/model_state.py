"""The saved state of a Flax NNX model as a flat, named list of arrays (what a checkpoint holds).

Names are the variables' paths joined by ``/`` (``"encoder/layers/0/kernel"``). Saved: every
``nnx.Variable`` (``nnx.Param``, ``nnx.BatchStat``, ...) except RNG state and sown
intermediates. Works with flax 0.11 (``VariableState`` leaves) and flax >= 0.12 (``Variable``
leaves). Used by :mod:`course_lib.checkpoints`.
"""
from __future__ import annotations

import warnings

import jax
import numpy as np
from flax import nnx

# Every nnx.Variable except RNG state (typed keys are not plain arrays and are
# not part of what a model has learned) and sown intermediates (transient values).
SAVED = nnx.All(nnx.Variable, nnx.Not(nnx.RngState), nnx.Not(nnx.Intermediate))

# flax 0.11 returns VariableState leaves from nnx.state; flax >= 0.12 returns Variables
# (and keeps VariableState only as a deprecated alias of Variable).
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _VARIABLE_STATE = getattr(nnx, "VariableState", None)
VARIABLE_TYPES = tuple({nnx.Variable, _VARIABLE_STATE} - {None})


def key_to_str(entry) -> str:
    """One entry of a JAX key path as text, for DictKey/GetAttrKey/SequenceKey/etc."""
    for attr in ("key", "name", "idx"):
        if hasattr(entry, attr):
            return str(getattr(entry, attr))
    return str(entry).strip(".[]'\"")


def path_to_name(key_path) -> str:
    parts = [key_to_str(k) for k in key_path]
    # If a Variable was flattened down to its array, drop its trailing ``.value``.
    while len(parts) > 1 and parts[-1] == "value":
        parts.pop()
    return "/".join(parts)


def is_variable(x) -> bool:
    return isinstance(x, VARIABLE_TYPES)


def variable_value(variable):
    get_value = getattr(variable, "get_value", None)
    return get_value() if callable(get_value) else variable.value


def variable_type(variable) -> type:
    if isinstance(variable, nnx.Variable):
        return type(variable)
    return variable.type  # flax 0.11 VariableState


def flat_variables(model):
    """``(names, variables, treedef)`` of the model's saved state, in a fixed order."""
    if not isinstance(model, nnx.Module):
        raise TypeError(f"model must be a flax.nnx.Module, got {type(model).__name__}")
    state = nnx.state(model, SAVED)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(state, is_leaf=is_variable)
    names = [path_to_name(p) for p, _ in leaves]
    if len(set(names)) != len(names):  # would only happen with exotic key types
        raise ValueError(f"model state has duplicate parameter names: {names}")
    return names, [v for _, v in leaves], treedef


def array_info(variable) -> dict:
    value = np.asarray(variable_value(variable))
    return {
        "shape": list(value.shape),
        "dtype": str(value.dtype),
        "type": variable_type(variable).__name__,
    }


__all__ = ["SAVED", "VARIABLE_TYPES", "array_info", "flat_variables", "is_variable", "key_to_str",
           "path_to_name", "variable_type", "variable_value"]
