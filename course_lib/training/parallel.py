"""Data-parallel training over every local device with ``jax.sharding``.

Taught in 07_beyond.ipynb ("Scaling past one machine"). The recipe is the simplest
kind of parallelism, and the one the course's trainers use by default:
:func:`course_lib.training.vae.train_vae`, :func:`course_lib.training.gan.train_gan` and
:func:`course_lib.training.generic.fit` (each takes ``devices=None``: all local devices):

- one :class:`jax.sharding.Mesh` with a single axis ``"data"`` over all local devices
  (1 CPU here; 1 GPU or 8 TPU cores on Colab; 8 GPUs on a big machine);
- every batch is split along its batch axis: with n devices, each holds B / n rows;
- parameters and optimizer state are replicated: every device holds a full copy.

Nothing else changes. ``jax.jit`` sees where its inputs live and compiles one program
per device (GSPMD): the loss is a mean over the batch, so each device computes the mean
over its rows and the compiler inserts an all-reduce, after which every device holds
the full-batch gradient, applies the same update and the copies stay identical. The
numbers are those of one device, up to the order of floating-point sums.

On a single device the mesh has one entry and every placement is a no-op, so the same
code runs unchanged on a laptop, a Colab GPU or TPU, or a multi-GPU machine.
"""
from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from course_lib import _validate

DATA_AXIS = "data"
"""Name of the mesh axis that the batch is split along."""


def data_mesh(devices: Sequence | None = None) -> Mesh:
    """A 1-D mesh over ``devices`` (default: every local device) with axis ``"data"``."""
    if devices is None:
        devices = jax.local_devices()
    devices = list(devices)
    if not devices:
        raise ValueError("devices must contain at least one JAX device, got an empty list")
    for i, d in enumerate(devices):
        if not isinstance(d, jax.Device):
            raise TypeError(f"devices[{i}] must be a jax.Device (e.g. from jax.devices()), got {type(d).__name__}")
    return Mesh(np.array(devices), (DATA_AXIS,))


def _check_mesh(mesh) -> Mesh:
    if not isinstance(mesh, Mesh):
        raise TypeError(f"mesh must be a jax.sharding.Mesh (from data_mesh()), got {type(mesh).__name__}")
    if DATA_AXIS not in mesh.axis_names:
        raise ValueError(f"mesh must have an axis named {DATA_AXIS!r}, got axes {mesh.axis_names}")
    return mesh


def num_replicas(mesh: Mesh) -> int:
    """How many devices the batch is split over."""
    return int(_check_mesh(mesh).shape[DATA_AXIS])


def replicated(mesh: Mesh) -> NamedSharding:
    """The sharding of a replicated array: a full copy on every device of ``mesh``."""
    return NamedSharding(_check_mesh(mesh), PartitionSpec())


def batch_sharding(mesh: Mesh, *, batch_axis: int = 0) -> NamedSharding:
    """The sharding that splits axis ``batch_axis`` of an array over the ``"data"`` axis."""
    batch_axis = _validate.positive_int("batch_axis", batch_axis, minimum=0)
    return NamedSharding(_check_mesh(mesh), PartitionSpec(*([None] * batch_axis), DATA_AXIS))


def check_batch_size(batch_size: int, mesh: Mesh) -> int:
    """Check that ``batch_size`` splits evenly over the mesh; return it."""
    batch_size = _validate.positive_int("batch_size", batch_size)
    n = num_replicas(mesh)
    if batch_size % n:
        raise ValueError(f"batch_size must be a multiple of the number of devices ({n}) for data-parallel "
                         f"training, got {batch_size}; try {n * max(1, round(batch_size / n))}")
    return batch_size


def replicate(tree, mesh: Mesh):
    """Put every array of a pytree (parameters, optimizer state) on every device of ``mesh``."""
    return jax.device_put(tree, replicated(mesh))


def shard_batch(x, mesh: Mesh, *, batch_axis: int = 0):
    """Split array ``x`` along ``batch_axis`` over the devices of ``mesh`` (B / n rows each)."""
    _validate.array("x", x, finite=False)
    sharding = batch_sharding(mesh, batch_axis=batch_axis)
    if x.ndim <= batch_axis:
        raise ValueError(f"x has {x.ndim} dimensions, so it has no batch axis {batch_axis}")
    check_batch_size(int(x.shape[batch_axis]), mesh)
    return jax.device_put(x, sharding)


def constrain_batch(x, mesh: Mesh, *, batch_axis: int = 0):
    """Inside ``jit``: ask the compiler to keep ``x`` split along ``batch_axis`` over the mesh."""
    return jax.lax.with_sharding_constraint(x, batch_sharding(mesh, batch_axis=batch_axis))
