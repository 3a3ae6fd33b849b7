"""Data-parallel training: on 4 simulated CPU devices (XLA_FLAGS, in a subprocess, because the
device count is fixed when JAX starts), the generic trainer, train_vae and train_gan split each
batch over the devices, keep the parameters replicated, and give the losses of a single device
to float tolerance."""
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



# --------------------------------------------------------------------------- train_vae and train_gan

TRAINERS_SCRIPT = textwrap.dedent("""
    import json
    import jax, numpy as np
    from flax import nnx
    from course_lib.data import load_digits, sample_toy
    from course_lib.models import VAE, Discriminator, Generator
    from course_lib.training import gan as gan_mod, parallel, vae as vae_mod, train_gan, train_vae

    assert jax.local_device_count() == 4, jax.devices()
    # Record, as the compiler decided it, the sharding of every batch the trainers constrain.
    seen, trainer, made = [], ["vae"], {}
    constrain = parallel.constrain_batch
    def recording_constrain(x, mesh, *, batch_axis=0):
        y, tag, shape = constrain(x, mesh, batch_axis=batch_axis), trainer[0], list(x.shape)
        jax.debug.inspect_array_sharding(y, callback=lambda s: seen.append(
            [tag, len(s.device_set), str(getattr(s, "spec", s)), shape]))
        return y
    parallel.constrain_batch = recording_constrain
    def keep(name, make):  # keep the compiled steps to read their trace counters
        def wrapped(*args, **kwargs):
            made[name] = make(*args, **kwargs)
            return made[name]
        return wrapped
    vae_mod.make_vae_steps = keep("vae", vae_mod.make_vae_steps)
    gan_mod.make_gan_steps = keep("gan", gan_mod.make_gan_steps)

    def vae():
        return VAE(64, 4, (32,), likelihood="categorical", num_levels=17, rngs=nnx.Rngs(0))
    def players():
        return Generator(2, 2, (16,), rngs=nnx.Rngs(0)), Discriminator(2, (16,), rngs=nnx.Rngs(1))
    def num_devices(tree):
        return sorted({len(leaf.sharding.device_set) for leaf in jax.tree_util.tree_leaves(tree)})

    digits = load_digits("train").x[:128].astype(np.int32)
    moons = np.asarray(sample_toy("moons", jax.random.key(0), 256))
    out = {}
    for name, devices in (("four", None), ("one", jax.devices()[:1])):
        trainer[0] = "vae"
        model = vae()
        h = train_vae(model, digits, key=jax.random.key(0), num_epochs=3, batch_size=32, lr=3e-3,
                      kl_warmup_epochs=2, x_val=digits[:64], devices=devices, progress=False)
        out["vae_" + name] = {k: [float(v) for v in h[k]] for k in ("loss", "rec", "kl", "val_loss")}
        out["vae_" + name + "_traces"] = made["vae"].epoch.num_traces
        out["vae_" + name + "_param_devices"] = num_devices(nnx.state(model, nnx.Param))
        trainer[0] = "gan"
        g, d = players()
        h = train_gan(g, d, moons, key=jax.random.key(0), num_steps=40, batch_size=32, steps_per_call=20,
                      d_steps=2, devices=devices, progress=False)
        out["gan_" + name] = {k: [float(v) for v in h[k]] for k in h.keys()}
        out["gan_" + name + "_traces"] = made["gan"].run.num_traces
        out["gan_" + name + "_param_devices"] = num_devices((nnx.state(g, nnx.Param), nnx.state(d, nnx.Param)))
    out["seen"] = seen
    out["errors"] = {}
    for name, call in (
            ("vae", lambda: train_vae(vae(), digits, key=jax.random.key(0), num_epochs=1, batch_size=30,
                                      progress=False)),
            ("gan", lambda: train_gan(*players(), moons, key=jax.random.key(0), num_steps=2, batch_size=30,
                                      progress=False))):
        try:
            call()
            out["errors"][name] = None
        except ValueError as err:
            out["errors"][name] = str(err)
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def trainers_on_four_devices():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", TRAINERS_SCRIPT], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# 1 vs 4 devices differ only in the order of float32 sums (per-device partial sums, then an
# all-reduce). Measured: at most ~2e-7 relative (a couple of ulps) over 3 VAE epochs and 40 GAN
# steps. rtol=1e-5 leaves ~50x margin for other XLA versions, and is still far below what a real
# mistake gives (different random draws, or a mean over B / n rows instead of B: >= 1e-3).
RTOL, ATOL = 1e-5, 1e-6


@pytest.mark.parametrize("trainer", ["vae", "gan"])
def test_trainer_gives_the_losses_of_one_device(trainers_on_four_devices, trainer):
    four, one = trainers_on_four_devices[trainer + "_four"], trainers_on_four_devices[trainer + "_one"]
    assert sorted(four) == sorted(one)
    for metric in one:
        assert len(four[metric]) == len(one[metric]) > 0
        np.testing.assert_allclose(four[metric], one[metric], rtol=RTOL, atol=ATOL, err_msg=metric)
    if trainer == "vae":
        assert four["loss"][-1] < four["loss"][0]  # and it did train


@pytest.mark.parametrize("trainer", ["vae", "gan"])
def test_trainer_splits_batches_over_four_devices_and_compiles_once(trainers_on_four_devices, trainer):
    out = trainers_on_four_devices
    assert out[trainer + "_four_param_devices"] == [4]  # parameters: a full copy on every device
    assert out[trainer + "_one_param_devices"] == [1]
    assert out[trainer + "_four_traces"] == out[trainer + "_one_traces"] == 1
    seen = [s for s in out["seen"] if s[0] == trainer]
    # PartitionSpec prints as P(...) in newer JAX and PartitionSpec(...) in older ones (Colab's)
    seen = [(t, n, spec.replace("PartitionSpec(", "P("), shape) for t, n, spec, shape in seen]
    split = {(spec, tuple(shape)) for _, n, spec, shape in seen if n == 4}
    if trainer == "vae":  # the (S, B, D) batches of an epoch along B, and each (B, D) batch in the step
        assert split == {("P(None, 'data')", (4, 32, 64)), ("P('data',)", (32, 64))}
    else:  # real x, z and fake x for D (d_steps=2, scanned: traced once), z and fake x for G
        assert split == {("P('data',)", (32, 2))} and sum(n == 4 for _, n, _, _ in seen) == 5
    assert all(n == 1 for _, n, spec, _ in seen if spec == "P()")  # the 1-device run: nothing split
    assert len(seen) == 2 * sum(n == 4 for _, n, _, _ in seen)


@pytest.mark.parametrize("trainer", ["vae", "gan"])
def test_trainer_refuses_a_batch_size_that_does_not_split(trainers_on_four_devices, trainer):
    error = trainers_on_four_devices["errors"][trainer]
    assert error is not None and "batch_size" in error
    assert "multiple of the number of devices (4)" in error and "got 30" in error


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
