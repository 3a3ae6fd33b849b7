"""Classifier-free guidance (Ho & Salimans, 2021), 08_vector_fields section 6.

One network sees a label c or the null label; guidance extrapolates from the unconditional
prediction towards the conditional one,

    v_w(x, t | c) = (1 + w) v(x, t | c) - w v(x, t | null),

w = 0 is the plain conditional model, w > 0 sharpens p(c | x) at the price of diversity. It works the
same on a velocity, a noise prediction or a score, because each is affine in the others at fixed (x, t).
"""
from __future__ import annotations

import math

import jax.numpy as jnp


def check_weight(w) -> float:
    """A guidance weight: a finite real number (ValueError otherwise)."""
    if isinstance(w, bool) or not isinstance(w, (int, float)) and not (hasattr(w, "shape") and w.shape == ()):
        raise TypeError(f"guidance weight w must be a real number, got {type(w).__name__}")
    if not math.isfinite(float(w)):
        raise ValueError(f"guidance weight w must be finite, got {float(w)}")
    return float(w)


def cfg_combine(v_cond, v_uncond, w):
    """(1 + w) v_cond - w v_uncond, elementwise; w a finite scalar."""
    from course_lib import _validate

    _validate.array("v_cond", v_cond, dtype_kind="float")
    _validate.array("v_uncond", v_uncond, dtype_kind="float")
    if tuple(v_cond.shape) != tuple(v_uncond.shape):
        raise ValueError(f"v_uncond must have the shape of v_cond {tuple(v_cond.shape)}, got {tuple(v_uncond.shape)}")
    if hasattr(w, "shape") and w.shape != () or not hasattr(w, "shape"):
        check_weight(w)  # a Python number (a traced 0-d weight is checked by its caller)
    return (1.0 + w) * v_cond - w * v_uncond


def check_labels(labels, num_classes: int):
    """Integer labels in 0..num_classes-1 (the null label is internal): ValueError naming the bad one."""
    import numpy as np

    arr = np.asarray(labels)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers, got dtype {arr.dtype}")
    bad = arr[(arr < 0) | (arr >= num_classes)]
    if bad.size:
        raise ValueError(f"labels must be in 0..{num_classes - 1}, got {int(bad.flat[0])}")
    return jnp.asarray(arr, jnp.int32)


def velocity_fn(model, *, labels=None, w: float = 0.0):
    """The marginal velocity (x, t) -> (B, D) of a :class:`~course_lib.models.vector_field.VectorFieldMLP`.

    Converts the model's output (``model.prediction`` on ``model.path``) to a velocity. With ``labels``
    (B,) on a conditional model and a weight ``w`` != 0, returns the guided field
    (1 + w) v(x, t | c) - w v(x, t | null).
    """
    from course_lib.fields.paths import convert

    from course_lib.models.vector_field import VectorFieldMLP

    if not isinstance(model, VectorFieldMLP):
        raise TypeError(f"model must be a course_lib.models.vector_field.VectorFieldMLP, got {type(model).__name__}")
    w = check_weight(w)
    if labels is not None and not getattr(model, "num_classes", 0):
        raise ValueError("labels were given but the model is unconditional (num_classes = 0)")

    def raw(x, t, lab):
        out = model(x, t, lab)
        if model.prediction == "velocity":
            return out
        return convert(model.path, x, t, out, source=model.prediction, target="velocity")

    def v(x, t):
        if labels is None:
            return raw(x, t, None)
        cond = raw(x, t, labels)
        if w == 0.0:
            return cond
        null = jnp.full_like(labels, model.null_label)
        return cfg_combine(cond, raw(x, t, null), w)

    return v
