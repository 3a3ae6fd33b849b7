"""Training: steps compile once, a step lowers the loss, divergence stops with a message."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from course_lib.data import load_digits, sample_toy
from course_lib.models import VAE, Discriminator, Generator
from course_lib.training import (
    CompiledStep, DivergenceError, History, check_finite, evaluate_vae, init_gan_state,
    make_gan_steps, make_optimizer, make_vae_steps, train_gan, train_vae)


@pytest.fixture(scope="module")
def digits():
    return load_digits("train").x[:256].astype(np.int32)


def _vae():
    return VAE(64, 4, (32,), likelihood="categorical", num_levels=17, rngs=nnx.Rngs(0))


def test_vae_step_compiles_once_and_lowers_loss(digits):
    model = _vae()
    tx = optax.adam(1e-2)
    steps = make_vae_steps(model, tx)
    params = nnx.state(model, nnx.Param)
    opt_state = tx.init(params)
    x = jnp.asarray(digits[:64])
    key = jax.random.key(0)
    before = float(jnp.mean(steps.evaluate(params, x, key)["loss"]))
    for i in range(5):
        params, opt_state, metrics = steps.step(params, opt_state, x, jax.random.fold_in(key, i), 1.0)
    after = float(jnp.mean(steps.evaluate(params, x, key)["loss"]))
    assert steps.step.num_traces == 1  # beta is traced, so a KL warm-up does not recompile
    assert steps.evaluate.num_traces == 1
    assert after < before - 1.0


def test_vae_epoch_is_one_compiled_scan(digits):
    model = _vae()
    tx = optax.adam(1e-3)
    steps = make_vae_steps(model, tx)
    params = nnx.state(model, nnx.Param)
    opt_state = tx.init(params)
    batches = jnp.asarray(digits).reshape(4, 64, 64)
    for beta in (0.1, 0.5, 1.0):
        params, opt_state, metrics = steps.epoch(params, opt_state, batches, jax.random.key(1), beta)
    assert steps.epoch.num_traces == 1
    assert metrics["loss"].shape == (4,)


def test_train_vae_history_and_validation(digits):
    model = _vae()
    hist = train_vae(model, digits, key=jax.random.key(0), num_epochs=4, batch_size=64, lr=3e-3,
                     kl_warmup_epochs=2, x_val=digits[:100], progress=False)
    assert len(hist) == 4
    np.testing.assert_allclose(hist["beta"], [0.5, 1.0, 1.0, 1.0])
    assert hist["loss"][-1] < hist["loss"][0]
    np.testing.assert_allclose(hist["loss"], hist["rec"] + hist["kl"], rtol=1e-5)
    val = evaluate_vae(model, digits[:100], jax.random.key(5))
    assert abs(val["loss"] - hist["val_loss"][-1]) < 5.0


def test_free_bits_objective_floors_each_dimension():
    from course_lib.training.vae import free_bits_kl

    kl = jnp.array([[0.1, 2.0, 0.3], [0.3, 4.0, 0.1]])  # (B=2, J=3); batch means 0.2, 3.0, 0.2
    assert float(free_bits_kl(kl, 0.5)) == pytest.approx(0.5 + 3.0 + 0.5)
    grad = jax.grad(free_bits_kl)(kl, 0.5)
    np.testing.assert_allclose(grad, [[0.0, 0.5, 0.0], [0.0, 0.5, 0.0]])  # floored dims: no gradient
    low = jnp.full((4, 3), 0.1)  # every dimension below the floor: J * lambda, zero gradient
    assert float(free_bits_kl(low, 0.5)) == pytest.approx(1.5)
    assert not np.any(np.asarray(jax.grad(free_bits_kl)(low, 0.5)))


def test_free_bits_changes_training(digits):
    runs = {}
    for lam in (0.0, 2.0):
        model = _vae()
        runs[lam] = train_vae(model, digits, key=jax.random.key(0), num_epochs=2, batch_size=64,
                              free_bits=lam, progress=False)
        assert np.all(np.isfinite(runs[lam]["loss"]))
    # the same seed and data: only the objective differs, so the trained VAE must too
    assert not np.allclose(runs[0.0]["kl"], runs[2.0]["kl"])


def test_divergence_stops_with_message_and_keeps_last_good_params(digits):
    model = _vae()
    good = jax.tree_util.tree_map(np.asarray, nnx.state(model, nnx.Param))
    with pytest.raises(DivergenceError) as info:
        train_vae(model, digits, key=jax.random.key(0), num_epochs=2, batch_size=64, lr=1e12, progress=False)
    assert "diverged" in str(info.value) and "lr=" in str(info.value)
    assert "epoch 1" in str(info.value)  # so the last good parameters are the initial ones
    kept = jax.tree_util.tree_map(np.asarray, nnx.state(model, nnx.Param))
    for a, b in zip(jax.tree_util.tree_leaves(kept), jax.tree_util.tree_leaves(good)):
        np.testing.assert_array_equal(a, b)


def test_check_finite_names_the_metric():
    check_finite({"loss": np.ones(3)}, where="x", hint="y")
    with pytest.raises(DivergenceError, match="d_loss"):
        check_finite({"g_loss": np.ones(2), "d_loss": np.array([1.0, np.nan])}, where="GAN", hint="lower lr")


def test_gan_step_compiles_once_and_d_learns():
    g = Generator(2, 2, (16,), rngs=nnx.Rngs(0))
    d = Discriminator(2, (16,), rngs=nnx.Rngs(1))
    g_tx, d_tx = optax.adam(1e-3), optax.adam(1e-2)
    steps = make_gan_steps(g, d, g_tx, d_tx, batch_size=64, d_steps=2,
                           sample_real=lambda k, n: sample_toy("ring", k, n))
    state = init_gan_state(g, d, g_tx, d_tx)
    dummy = jnp.zeros((1, 2))
    first = None
    for i in range(30):
        state, m = steps.step(state, dummy, jax.random.key(i))
        first = first if first is not None else m
    assert steps.step.num_traces == 1
    # D learns to tell the (initially tiny, central) fakes from the ring
    assert float(m["d_real"]) - float(m["d_fake"]) > float(first["d_real"]) - float(first["d_fake"])


def test_train_gan_fused_runs_and_records_every_step():
    g = Generator(2, 2, (16,), rngs=nnx.Rngs(0))
    d = Discriminator(2, (16,), rngs=nnx.Rngs(1))
    data = np.asarray(sample_toy("moons", jax.random.key(0), 512))
    hist = train_gan(g, d, data, key=jax.random.key(0), num_steps=60, batch_size=32, steps_per_call=20,
                     progress=False)
    assert len(hist) == 60 and set(hist.keys()) == {"d_loss", "g_loss", "d_real", "d_fake"}
    np.testing.assert_array_equal(hist["step"], np.arange(1, 61))


def test_train_gan_divergence_is_reported():
    g = Generator(2, 2, (16,), rngs=nnx.Rngs(0))
    d = Discriminator(2, (16,), rngs=nnx.Rngs(1))
    with pytest.raises(DivergenceError, match="GAN training"):
        train_gan(g, d, key=jax.random.key(0), num_steps=50, sample_real=lambda k, n: sample_toy("ring", k, n),
                  g_lr=1e15, d_lr=1e15, optimizer="sgd", loss="least_squares", steps_per_call=25, progress=False)


def test_compiled_step_counts_retraces_on_new_shapes():
    step = CompiledStep(lambda x: x * 2, name="double")
    step(jnp.ones(3))
    step(jnp.ones(3))
    assert step.num_traces == 1
    step(jnp.ones(4))
    assert step.num_traces == 2


def test_cpu_compiler_options_keep_results_and_fall_back_when_unknown(monkeypatch):
    from course_lib.training import core

    tx = optax.adam(1e-2)

    def adam_scan(w, opt_state, xs):  # an in-place parameter update inside a scan, as in an epoch
        def body(carry, x):
            w, s = carry
            g = jax.grad(lambda w: jnp.sum(jnp.tanh(x @ w) ** 2))(w)
            u, s = tx.update(g, s, w)
            return (optax.apply_updates(w, u), s), jnp.sum(w)
        return jax.lax.scan(body, (w, opt_state), xs)

    w = jax.random.normal(jax.random.key(0), (8, 8))
    xs = jax.random.normal(jax.random.key(1), (5, 4, 8))
    got = CompiledStep(adam_scan, name="adam_scan")(w, tx.init(w), xs)
    want = jax.jit(adam_scan)(w, tx.init(w), xs)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    if jax.default_backend() == "cpu":
        assert core.compiler_options() == core.CPU_COMPILER_OPTIONS
    monkeypatch.setattr(core, "CPU_COMPILER_OPTIONS", {"xla_no_such_option_for_this_test": True})
    core.compiler_options.cache_clear()
    try:
        assert core.compiler_options() is None  # unknown to this jaxlib: compile without options
        assert CompiledStep(lambda v: v * 2, name="double")(jnp.ones(2)).tolist() == [2.0, 2.0]
    finally:
        monkeypatch.undo()
        core.compiler_options.cache_clear()


def test_make_optimizer_matches_optax():
    params = {"w": jnp.array([1.0, -2.0])}
    grads = {"w": jnp.array([0.5, 0.25])}
    for name, ref in (("sgd", optax.sgd(0.1)), ("adam", optax.adam(0.1)), ("momentum", optax.sgd(0.1, 0.9))):
        tx = make_optimizer(name, 0.1)
        u, _ = tx.update(grads, tx.init(params), params)
        r, _ = ref.update(grads, ref.init(params), params)
        np.testing.assert_allclose(u["w"], r["w"])


def test_history():
    h = History()
    h.append({"a": 1.0})
    h.append({"a": np.array([2.0, 3.0])})
    np.testing.assert_array_equal(h["a"], [1, 2, 3])
    np.testing.assert_array_equal(h["step"], [1, 2, 3])
    assert h.last() == {"a": 3.0}
    with pytest.raises(KeyError, match="recorded"):
        h["b"]
    with pytest.raises(ValueError, match="same length"):
        h.append({"a": [1.0], "b": [1.0, 2.0]})


def test_train_vae_checks_every_eval_every_epochs_and_stops_early(digits):
    """eval_every: NaN between checks, a check after the last epoch; patience keeps the best check's
    parameters, which a second evaluation with the same validation noise confirms."""
    x_val, val_key = digits[:100], jax.random.key(7)
    model = _vae()
    hist = train_vae(model, digits, key=jax.random.key(0), num_epochs=5, batch_size=64, lr=3e-3, x_val=x_val,
                     eval_every=2, val_key=val_key, progress=False)
    assert np.isnan(hist["val_loss"]).tolist() == [True, False, True, False, False]  # epochs 2, 4 and the last
    # lr = 0.3 makes the validation loss rise after a few epochs: early stopping must end the run there
    model = _vae()
    hist = train_vae(model, digits, key=jax.random.key(0), num_epochs=30, batch_size=64, lr=0.3, x_val=x_val,
                     patience=2, val_key=val_key, lr_schedule="cosine", lr_final_fraction=0.1, progress=False)
    val = hist["val_loss"]
    best = int(np.argmin(val))
    assert len(val) == best + 1 + 2 < 30  # stopped 2 epochs after the best check
    assert evaluate_vae(model, x_val, val_key, batch_size=500)["loss"] == pytest.approx(val[best], rel=1e-6)
    seen = []
    hist = train_vae(_vae(), digits, key=jax.random.key(0), num_epochs=6, batch_size=64, x_val=x_val, eval_every=2,
                     on_check=lambda epoch, val: seen.append((epoch, val["loss"])) or epoch == 4, progress=False)
    assert len(hist) == 4 and [e for e, _ in seen] == [2, 4]  # on_check ends the run
    assert [v for _, v in seen] == hist["val_loss"][[1, 3]].tolist()
    with pytest.raises(ValueError, match="x_val"):
        train_vae(_vae(), digits, key=jax.random.key(0), num_epochs=2, batch_size=64, patience=2)
    with pytest.raises(ValueError, match="lr_schedule"):
        train_vae(_vae(), digits, key=jax.random.key(0), num_epochs=2, batch_size=64, lr_schedule="linear")


def test_dynamic_lr_optimizer_equals_the_fixed_one_and_compiles_once():
    """make_optimizer(dynamic_lr=True): set_learning_rate gives the fixed-lr optimizer's steps, one compilation."""
    from course_lib.training.core import set_learning_rate

    params, grads = {"w": jnp.array([1.0, -2.0])}, {"w": jnp.array([0.3, 0.1])}
    tx = make_optimizer("adam", 1.0, dynamic_lr=True)
    traces = []

    @jax.jit
    def step(state, lr):
        traces.append(1)
        updates, state = tx.update(grads, set_learning_rate(state, lr), params)
        return optax.apply_updates(params, updates), state

    for lr in (0.1, 0.01):
        new_params, _ = step(tx.init(params), jnp.float32(lr))
        fixed = make_optimizer("adam", lr)
        expected = optax.apply_updates(params, fixed.update(grads, fixed.init(params), params)[0])
        np.testing.assert_allclose(new_params["w"], expected["w"], rtol=1e-6)
    assert len(traces) == 1  # the learning rate is data, not a constant of the compiled step


@pytest.mark.parametrize("call, exc, words", [
    (lambda: make_optimizer("adagrad", 0.1), ValueError, "unknown optimizer"),
    (lambda: make_optimizer("adam", -1e-3), ValueError, "lr must be a finite number > 0"),
    (lambda: make_optimizer("adam", float("nan")), ValueError, "lr"),
    (lambda: train_vae(_vae(), np.zeros((10, 64), np.int32), key=jax.random.key(0), batch_size=0), ValueError, "batch_size"),
    (lambda: train_vae(_vae(), np.zeros((10, 64), np.int32), key=jax.random.key(0), num_epochs=0), ValueError, "num_epochs"),
    (lambda: train_vae(_vae(), np.zeros((10, 63), np.int32), key=jax.random.key(0)), ValueError, "x_train must have shape"),
    (lambda: train_vae("vae", np.zeros((10, 64)), key=jax.random.key(0)), TypeError, "course_lib.models.VAE"),
    (lambda: train_gan(Generator(2, 2, rngs=nnx.Rngs(0)), Discriminator(2, rngs=nnx.Rngs(0)), key=jax.random.key(0),
                       num_steps=1), ValueError, "exactly one of data"),
    (lambda: train_gan(Generator(2, 2, rngs=nnx.Rngs(0)), Discriminator(2, rngs=nnx.Rngs(0)), np.zeros((9, 2), np.float32),
                       key=jax.random.key(0), num_steps=1, loss="hinge"), ValueError, "unknown loss"),
    (lambda: train_gan(Generator(2, 3, rngs=nnx.Rngs(0)), Discriminator(2, rngs=nnx.Rngs(0)), np.zeros((9, 3), np.float32),
                       key=jax.random.key(0), num_steps=1), ValueError, "must equal discriminator.in_dim"),
])
def test_bad_input_is_named(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)
