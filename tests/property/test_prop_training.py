"""Properties of course_lib.training: optimizers, history, divergence guard, VAE and GAN trainers."""
from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from hypothesis import given, settings, strategies as st

from course_lib import models as M
from course_lib import training as T
from prop_harness import (BAD_CALLABLES, BAD_COUNTS, BAD_KEYS, BAD_POSITIVE_FLOATS, BAD_STRINGS,
                          covers, finite, good, key, refused)


@covers("course_lib.training.make_optimizer")
@given(name=st.sampled_from(T.OPTIMIZERS), lr=st.floats(1e-5, 1.0))
def test_make_optimizer_valid(name, lr):
    tx = T.make_optimizer(name, lr)
    params = {"w": jnp.ones(3)}
    updates, _ = tx.update({"w": jnp.ones(3)}, tx.init(params), params)
    finite(updates["w"], (3,))


@given(bad_name=BAD_STRINGS, bad_lr=BAD_POSITIVE_FLOATS)
def test_make_optimizer_bad(bad_name, bad_lr):
    refused(T.make_optimizer, "optimizer", bad_name)
    refused(T.make_optimizer, "lr", "adam", bad_lr)


@covers("course_lib.training.History", "course_lib.training.check_finite",
        "course_lib.training.DivergenceError")
@given(values=st.lists(st.floats(-10, 10), min_size=1, max_size=5))
def test_history_and_guard_valid(values):
    h = T.History()
    h.append({"loss": np.asarray(values)})
    finite(h["loss"], (len(values),))
    T.check_finite({"loss": np.asarray(values)}, where="test", hint="nothing")
    try:
        T.check_finite({"loss": np.asarray(values + [math.nan])}, where="test", hint="lower lr")
    except T.DivergenceError as err:
        assert "loss" in str(err) and "lower lr" in str(err)
    else:
        raise AssertionError("NaN not reported")


@given(bad=st.sampled_from([None, 3, "loss", [1.0], {"loss": "high"}, {"a": [1, 2], "b": [1]}, {}]))
def test_history_and_guard_bad(bad):
    refused(T.History().append, "metrics", bad)
    if not isinstance(bad, dict) or bad == {"loss": "high"}:
        refused(T.check_finite, "metrics", bad, where="x", hint="y")


@covers("course_lib.training.CompiledStep")
@given(n=st.integers(1, 5))
def test_compiled_step(n):
    step = T.CompiledStep(lambda x: 2 * x, name="double")
    for _ in range(n):
        finite(step(jnp.ones(3)), (3,))
    assert step.num_traces == 1
    refused(T.CompiledStep, "fn", None, name="x")
    refused(T.CompiledStep, "name", lambda x: x, name=3)


def _vae():
    return M.VAE(4, 2, (4,), rngs=nnx.Rngs(0))


X = (np.arange(32 * 4).reshape(32, 4) % 2).astype(np.float32)


@covers("course_lib.training.train_vae", "course_lib.training.evaluate_vae",
        "course_lib.training.make_vae_steps", "course_lib.training.VAESteps")
@settings(max_examples=2)
@given(beta=st.floats(0.0, 2.0), seed=st.integers(0, 9))
def test_train_vae_valid(beta, seed):
    vae = _vae()
    hist = T.train_vae(vae, X, key=key(seed), num_epochs=1, batch_size=8, beta=beta, x_val=X[:8],
                       progress=False)
    finite(hist["loss"], (1,))
    out = T.evaluate_vae(vae, X, key(seed), batch_size=16)
    assert set(out) == {"loss", "rec", "kl"} and all(map(math.isfinite, out.values()))
    assert isinstance(T.make_vae_steps(vae, optax.sgd(0.1)), T.VAESteps)


@given(case=st.sampled_from([
    ("key", dict(key=0)), ("x_train", dict(x_train=X * 16)), ("x_train", dict(x_train=X[:0])),
    ("x_train", dict(x_train=X[:, :3])), ("x_val", dict(x_val=X[:0])), ("x_val", dict(x_val=X * 3)),
    ("beta", dict(beta=-1.0)), ("beta", dict(beta=math.nan)), ("num_epochs", dict(num_epochs=0)),
    ("num_epochs", dict(num_epochs=10**9)), ("batch_size", dict(batch_size=0)),
    ("batch_size", dict(batch_size=64)), ("lr", dict(lr=-1.0)), ("optimizer", dict(optimizer="nope")),
    ("model", dict(model="vae")), ("progress", dict(progress="yes")), ("free_bits", dict(free_bits=-1.0)),
]))
def test_train_vae_bad(case):
    arg, over = case
    kwargs = dict(model=_vae(), x_train=X, key=key(), num_epochs=1, batch_size=8, progress=False)
    kwargs.update(over)
    refused(lambda: T.train_vae(kwargs.pop("model"), kwargs.pop("x_train"), **kwargs), arg)


@given(bad_key=BAD_KEYS)
def test_evaluate_vae_bad(bad_key):
    refused(T.evaluate_vae, "key", _vae(), X, bad_key)
    refused(T.evaluate_vae, "x", _vae(), X[:0], key())
    refused(T.evaluate_vae, "model", None, X, key())
    refused(T.make_vae_steps, "model", None, optax.sgd(0.1))


def _players(out=2):
    return M.Generator(2, out, (8,), rngs=nnx.Rngs(0)), M.Discriminator(out, (8,), rngs=nnx.Rngs(1))


DATA = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)


@covers("course_lib.training.train_gan", "course_lib.training.make_gan_steps",
        "course_lib.training.init_gan_state", "course_lib.training.GANState",
        "course_lib.training.GANSteps")
@settings(max_examples=2)
@given(loss=st.sampled_from(["minimax", "non_saturating", "least_squares"]), seed=st.integers(0, 9))
def test_train_gan_valid(loss, seed):
    g, d = _players()
    hist = T.train_gan(g, d, DATA, key=key(seed), num_steps=4, batch_size=8, loss=loss,
                       steps_per_call=4, progress=False)
    finite(hist["d_loss"], (4,))
    state = T.init_gan_state(g, d, optax.sgd(0.1), optax.sgd(0.1))
    assert isinstance(state, T.GANState)
    steps = T.make_gan_steps(g, d, optax.sgd(0.1), optax.sgd(0.1), batch_size=8,
                             sample_real=lambda k, n: jnp.zeros((n, 2)))
    assert isinstance(steps, T.GANSteps)


def _bad_sampler_wrong_width(k, n):
    return jnp.zeros((n, 3))


def _bad_sampler_raises(k, n):
    raise RuntimeError("student bug")


@given(case=st.sampled_from([
    ("key", dict(key="k")), ("data", dict(data=DATA[:0])), ("data", dict(data=DATA[:, :1])),
    ("data", dict(data=np.full((8, 2), np.nan, np.float32))), ("g_lr", dict(g_lr=-1e-3)),
    ("d_lr", dict(d_lr=math.inf)), ("b1", dict(b1=1.5)), ("num_steps", dict(num_steps=0)),
    ("num_steps", dict(num_steps=10**12)), ("steps_per_call", dict(steps_per_call=-1)),
    ("d_steps", dict(d_steps=0)), ("loss", dict(loss="wasserstein")), ("batch_size", dict(batch_size=0)),
    ("sample_real", dict(data=None, sample_real=3)),
    ("sample_real", dict(data=None, sample_real=_bad_sampler_wrong_width)),
    ("sample_real", dict(data=None, sample_real=_bad_sampler_raises)),
    ("sample_real", dict(data=None, sample_real=lambda k: jnp.zeros((8, 2)))),
    ("generator", dict(generator=None)), ("discriminator", dict(discriminator="d")),
]))
def test_train_gan_bad(case):
    arg, over = case
    g, d = _players()
    kwargs = dict(generator=g, discriminator=d, data=DATA, key=key(), num_steps=2, batch_size=8,
                  progress=False)
    kwargs.update(over)
    refused(lambda: T.train_gan(**kwargs), arg)


@given(bad=BAD_CALLABLES)
def test_gan_steps_bad(bad):
    g, d = _players()
    refused(T.make_gan_steps, "g_tx", g, d, bad, optax.sgd(0.1), batch_size=4)
    refused(T.init_gan_state, "d_tx", g, d, optax.sgd(0.1), bad)
    refused(T.init_gan_state, "generator", bad, d, optax.sgd(0.1), optax.sgd(0.1))
