"""Data-parallel training: on 4 simulated CPU devices (XLA_FLAGS, in a subprocess, because the
device count is fixed when JAX starts), the generic trainer splits each batch over the devices,
keeps the parameters replicated, and gives the losses of a single device to float tolerance."""
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course_lib.training import parallel

SCRIPT = textwrap.dedent("""
    import json
    import jax, jax.numpy as jnp
    from flax import nnx
    from course_lib.models import MLP
    from course_lib.training import parallel
    from course_lib.training.generic import fit

    assert jax.local_device_count() == 4, jax.devices()
    model = MLP((3, 16, 1), rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model, nnx.Param)
    x = jax.random.normal(jax.random.key(0), (64, 3))
    w = jnp.array([1.0, -2.0, 0.5])

    seen = []
    def loss_fn(p, xb, key):
        seen.append(xb.shape)
        pred = nnx.merge(graphdef, p)(xb)[:, 0]
        noise = 0.1 * jax.random.normal(key, pred.shape)
        return jnp.mean((pred - xb @ w + noise) ** 2), {}

    def val_fn(p, xv):
        return jnp.mean((nnx.merge(graphdef, p)(xv)[:, 0] - xv @ w) ** 2)

    out = {}
    for name, devices in (("four", None), ("one", jax.devices()[:1])):
        r = fit(loss_fn, params, x, key=jax.random.key(1), num_epochs=6, batch_size=16, lr=1e-2,
                eval_fn=val_fn, x_val=x, eval_every=3, devices=devices, progress=False)
        out[name] = [float(v) for v in r.history["loss"]]
        out[name + "_param_devices"] = len(jax.tree_util.tree_leaves(r.params)[0].sharding.device_set)
    mesh = parallel.data_mesh()
    batch = parallel.shard_batch(jnp.zeros((8, 3)), mesh)
    out["batch_devices"] = len(batch.sharding.device_set)
    out["rows_per_device"] = [s.data.shape[0] for s in batch.addressable_shards]
    out["batch_shapes"] = [list(s) for s in seen]
    try:
        parallel.shard_batch(jnp.zeros((6, 3)), mesh)
        out["bad_batch_error"] = None
    except ValueError as err:
        out["bad_batch_error"] = str(err)
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def four_devices():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_same_losses_as_one_device(four_devices):
    np.testing.assert_allclose(four_devices["four"], four_devices["one"], rtol=1e-4, atol=1e-6)
    assert four_devices["four"][-1] < four_devices["four"][0]  # and it did train


def test_batch_is_split_and_params_replicated(four_devices):
    assert four_devices["batch_devices"] == 4
    assert four_devices["rows_per_device"] == [2, 2, 2, 2]
    assert four_devices["four_param_devices"] == 4  # a full copy on every device
    assert four_devices["one_param_devices"] == 1
    assert [16, 3] in four_devices["batch_shapes"]  # the loss sees the whole (global) batch


def test_indivisible_batch_is_refused_with_advice(four_devices):
    assert "multiple of the number of devices (4)" in four_devices["bad_batch_error"]


def test_single_device_mesh_is_a_no_op():
    mesh = parallel.data_mesh(jax.devices()[:1])
    assert parallel.num_replicas(mesh) == 1
    x = parallel.shard_batch(jnp.arange(6.0).reshape(3, 2), mesh)
    np.testing.assert_array_equal(x, np.arange(6.0).reshape(3, 2))
    tree = parallel.replicate({"w": jnp.ones(3)}, mesh)
    np.testing.assert_array_equal(tree["w"], np.ones(3))


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one"):
        parallel.data_mesh([])
    with pytest.raises(TypeError, match="jax.Device"):
        parallel.data_mesh(["cpu:0"])
    with pytest.raises(TypeError, match="Mesh"):
        parallel.replicated("mesh")
    mesh = parallel.data_mesh(jax.devices()[:1])
    with pytest.raises(ValueError, match="batch_size"):
        parallel.check_batch_size(0, mesh)
    with pytest.raises(ValueError, match="no batch axis"):
        parallel.shard_batch(jnp.zeros(3), mesh, batch_axis=1)


# --------------------------------------------------------------------------- the generic trainer


def _linear_loss(p, xb, key):
    """A loss with a constant gradient (1 per coordinate): Adam then moves every weight by ~lr per step."""
    return jnp.sum(p["w"]) + 0.0 * jnp.sum(xb), {}


def test_ema_is_the_debiased_moving_average_of_the_iterates():
    from course_lib.training.generic import fit

    x = jnp.zeros((40, 1))
    lr, decay = 0.1, 0.9
    result = fit(_linear_loss, {"w": jnp.zeros(2)}, x, key=jax.random.key(0), num_epochs=2, batch_size=10,
                 lr=lr, ema_decay=decay, progress=False)
    k = np.arange(1, 9)  # 8 steps; Adam with a constant gradient steps by lr * g / (|g| + eps)
    iterates = -lr * k / (1 + 1e-8)
    weights = (1 - decay) * decay ** (8 - k)
    expected = np.sum(weights * iterates) / (1 - decay**8)
    np.testing.assert_allclose(result.params["w"], expected, rtol=1e-5)
    plain = fit(_linear_loss, {"w": jnp.zeros(2)}, x, key=jax.random.key(0), num_epochs=2, batch_size=10, lr=lr,
                progress=False)
    np.testing.assert_allclose(plain.params["w"], iterates[-1], rtol=1e-5)


def test_divergence_and_bad_arguments():
    from course_lib.training import DivergenceError
    from course_lib.training.generic import fit

    x = jnp.ones((20, 1))

    def exploding(p, xb, key):
        return jnp.sum(jnp.exp(1e3 * p["w"])) * jnp.mean(xb), {}

    with pytest.raises(DivergenceError, match="smaller learning rate"):
        fit(exploding, {"w": jnp.ones(1)}, x, key=jax.random.key(0), num_epochs=1, batch_size=10, progress=False)
    ok = {"loss_fn": _linear_loss, "params": {"w": jnp.zeros(1)}, "x_train": x, "key": jax.random.key(0),
          "progress": False}
    ok_10 = {**ok, "batch_size": 10}
    with pytest.raises(ValueError, match="both eval_fn and x_val"):
        fit(**ok_10, num_epochs=2, eval_fn=lambda p, v: 0.0)
    with pytest.raises(ValueError, match="multiple of eval_every"):
        fit(**ok_10, num_epochs=3, eval_every=2)
    with pytest.raises(ValueError, match="ema_decay"):
        fit(**ok_10, num_epochs=1, ema_decay=1.0)
    with pytest.raises(ValueError, match="larger than the dataset"):
        fit(**ok, num_epochs=1, batch_size=50)
    with pytest.raises(ValueError, match="lr_schedule"):
        fit(**ok_10, num_epochs=1, lr_schedule="step")
