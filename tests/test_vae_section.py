"""Tests for the VAE section (04_vae.ipynb): exercise checks, the reproduce experiments,
the pretrained checkpoints and the script that makes them, and bad input."""
from __future__ import annotations

import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from course_lib import checkpoints, losses, pretrained
from course_lib.__main__ import main as cli
from course_lib.checkpoints import CheckpointError
from course_lib.data import load_vae_data
from course_lib.exercises import ch04_vae
from course_lib.models import VAE
from course_lib.reproduce import registry
from course_lib.reproduce import vae as rep
from course_lib.widgets import latent

# --------------------------------------------------------------------------- exercises


def test_gaussian_kl_check(capsys):
    assert ch04_vae.check_gaussian_kl(losses.gaussian_kl)
    wrong_std = lambda mu, lv: 0.5 * jnp.sum(jnp.exp(0.5 * lv) + mu**2 - 1 - lv, axis=-1)  # noqa: E731
    assert not ch04_vae.check_gaussian_kl(wrong_std)
    no_sum = lambda mu, lv: 0.5 * (jnp.exp(lv) + mu**2 - 1 - lv)  # noqa: E731
    assert not ch04_vae.check_gaussian_kl(no_sum)
    out = capsys.readouterr().out
    assert "✅ gaussian_kl" in out and "wrong shape" in out and "Hint" in out


def test_reparameterize_check(capsys):
    assert ch04_vae.check_reparameterize(lambda mu, lv, eps: mu + jnp.exp(0.5 * lv) * eps)
    assert not ch04_vae.check_reparameterize(lambda mu, lv, eps: mu + jnp.exp(lv) * eps)  # variance, not std
    assert not ch04_vae.check_reparameterize(lambda mu, lv, eps: mu + np.exp(0.5 * np.asarray(lv)) * eps)

    def stub(mu, lv, eps):
        raise NotImplementedError

    assert ch04_vae.check_reparameterize(stub).status == "not_implemented"
    out = capsys.readouterr().out
    assert "raised" in out and "jnp" in out  # the NumPy version cannot be differentiated


def test_iwae_check(capsys):
    assert ch04_vae.check_iwae_bound(lambda lw: jax.scipy.special.logsumexp(lw, axis=1) - jnp.log(lw.shape[1]))
    naive = lambda lw: jnp.log(jnp.mean(jnp.exp(lw), axis=1))  # noqa: E731 - underflows at -1000
    assert not ch04_vae.check_iwae_bound(naive)
    elbo = lambda lw: jnp.mean(lw, axis=1)  # noqa: E731
    assert not ch04_vae.check_iwae_bound(elbo)
    forgot_k = lambda lw: jax.scipy.special.logsumexp(lw, axis=1)  # noqa: E731
    assert not ch04_vae.check_iwae_bound(forgot_k)
    assert "-1000" in capsys.readouterr().out


def test_collapse_quiz(capsys):
    assert ch04_vae.check_collapse_quiz("b")
    assert not ch04_vae.check_collapse_quiz("a")
    assert ch04_vae.check_collapse_quiz(...).status == "not_implemented"
    assert "not a sign of a good fit" in capsys.readouterr().out


# --------------------------------------------------------------------------- reproduce


def test_experiments_are_registered():
    assert {"vae-digits", "vae-mnist5k"} <= set(registry())
    assert rep.SETTINGS["vae-digits"].num_samples == 1000


def test_reproduce_quick_prints_the_promised_fields(capsys):
    assert cli(["reproduce", "vae-digits", "--quick", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("test_nelbo", "test_nll_is", "train_seconds", "seed", "settings"):
        assert key in row
    assert row["seed"] == 0 and row["quick"] and row["settings"]["num_levels"] == 17
    assert row["test_nll_is"] <= row["test_nelbo"]  # L_K >= mean log w, sample by sample
    assert 0 < row["test_nll_is"] < 64 * np.log(17)  # better than uniform over 17 levels per pixel


def test_vae_data_conventions():
    d = load_vae_data("digits")
    assert d["train"].shape == (1000, 64) and d["val"].shape == (350, 64) and d["test"].shape == (447, 64)
    assert d["train"].dtype == np.int32 and d["train"].max() == 16 and d["likelihood"] == "categorical"
    m = load_vae_data("mnist5k")
    assert set(np.unique(m["test"])) == {0.0, 1.0} and m["likelihood"] == "bernoulli"
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        load_vae_data("cifar")
    with pytest.raises(ValueError, match="unknown name"):
        rep.run_experiment("vae-cifar", 0)


# --------------------------------------------------------------------------- checkpoints


def test_pretrained_checkpoints_are_small_verified_and_documented():
    total = 0
    for beta in latent.PRETRAINED_BETAS:
        path = pretrained.path(pretrained.beta_vae(beta))
        manifest = checkpoints.verify_checkpoint(path)
        total += path.stat().st_size
        assert manifest["config"]["z_dim"] == 2 and manifest["config"]["x_dim"] == 784
        meta = manifest["metadata"]
        assert meta["beta"] == beta and meta["command"] == pretrained.CHECKPOINTS[pretrained.beta_vae(beta)].command
        assert meta["test_nll_is"] <= meta["test_nelbo"]
        assert len(meta["history"]["loss"]) == meta["settings"]["num_epochs"]
    assert total < 4e6  # a few MB at most


def test_pretrained_model_matches_its_recorded_test_elbo():
    model, manifest = pretrained.load(pretrained.beta_vae(1.0))
    x = jnp.asarray(load_vae_data("mnist5k")["test"])
    mu, logvar = model.encode(x)  # recomputed here from the model's pieces, one z per image
    z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(jax.random.key(0), mu.shape)
    nelbo = float(jnp.mean(losses.gaussian_kl(mu, logvar) - model.log_likelihood(x, model.decode(z))))
    assert nelbo == pytest.approx(manifest["metadata"]["test_nelbo"], abs=1.5)


def test_bad_input_gives_clear_errors(tmp_path):
    model, _ = pretrained.load(pretrained.beta_vae(1.0))
    with pytest.raises(ValueError, match=r"z must have shape \(B, 2\) for this VAE \(z_dim=2\), got shape \(1, 3\)"):
        model.decode(jnp.zeros((1, 3)))
    decoder = latent.LatentDecoder(model, (28, 28))
    with pytest.raises(ValueError, match="z_dim=2"):
        decoder(np.zeros(5, np.float32))
    wider = VAE(784, 2, (256,), likelihood="bernoulli", rngs=nnx.Rngs(0))
    with pytest.raises(CheckpointError, match=r"different config; differing keys: .*hidden: saved \[128, 128\], expected \[256\]"):
        checkpoints.load_model(pretrained.path(pretrained.beta_vae(1.0)), expected_config=wider.config)
    with pytest.raises(CheckpointError, match="does not match the model"):
        checkpoints.load_checkpoint(pretrained.path(pretrained.beta_vae(1.0)), wider)
    bad = tmp_path / "vae.safetensors"
    shutil.copy(pretrained.path(pretrained.beta_vae(1.0)), bad)
    shutil.copy(checkpoints.manifest_path(pretrained.path(pretrained.beta_vae(1.0))), checkpoints.manifest_path(bad))
    with open(bad, "r+b") as f:  # flip one byte in the middle of the weights
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0x01]))
    with pytest.raises(CheckpointError, match="corrupted or was modified"):
        checkpoints.load_model(bad)
    bad.write_bytes(bad.read_bytes()[:100])  # truncated
    with pytest.raises(CheckpointError, match="SHA-256"):
        checkpoints.load_model(bad)


def test_checkpoint_script_is_rerunnable(tmp_path, capsys):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parent.parent / "scripts" / "train_vae_checkpoints.py"
    spec = importlib.util.spec_from_file_location("train_vae_checkpoints", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--quick", "--beta", "4", "--out", str(tmp_path)]) == 0
    out = tmp_path / pretrained.path(pretrained.beta_vae(4.0)).name
    model, manifest = checkpoints.load_model(out)
    assert model.z_dim == 2 and manifest["metadata"]["beta"] == 4.0
    assert "beta=4" in capsys.readouterr().out
