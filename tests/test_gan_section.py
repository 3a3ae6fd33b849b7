"""Tests for the rest of section 05 (GANs): exercise checks, the optimal-discriminator fit, the
Dirac GAN, the mode-coverage experiments and the checkpoint scripts' helpers."""
from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from course_lib.__main__ import main as cli
from course_lib.exercises import ch05_gan
from course_lib.models import Generator
from course_lib.reproduce import registry
from course_lib.reproduce.gan import RECIPES, config_summary
from course_lib.lessons import games
from course_lib.training.gan import fit_discriminator

# --------------------------------------------------------------------------- exercises


def _solutions():
    def optimal_discriminator(p_data, p_g):
        return np.asarray(p_data) / (np.asarray(p_data) + np.asarray(p_g))

    def js_divergence(p, q):  # written with scipy, independently of the reference
        from scipy.spatial.distance import jensenshannon

        return jensenshannon(p, q) ** 2

    def non_saturating_loss(logits):
        return -jax.nn.log_sigmoid(jnp.asarray(logits))

    def captured_modes(x, means, std):
        from scipy.spatial.distance import cdist

        d = cdist(x, means)
        ok = d.min(1) <= 3 * std
        return len(np.unique(d.argmin(1)[ok]))

    return optimal_discriminator, js_divergence, non_saturating_loss, captured_modes


CHECKS = [ch05_gan.check_optimal_discriminator, ch05_gan.check_js_divergence, ch05_gan.check_non_saturating_loss,
          ch05_gan.check_captured_modes]

WRONG = [
    lambda p_data, p_g: np.asarray(p_g) / (np.asarray(p_data) + np.asarray(p_g)),  # D* for the fakes
    lambda p, q: float(np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1) / np.where(q > 0, q, 1)), 0))),  # KL
    lambda l: -jax.nn.softplus(jnp.asarray(l)),  # the minimax loss
    lambda x, means, std: int(np.sum(np.min(np.linalg.norm(x[:, None] - means[None], axis=-1), 1) <= 3 * std)),
]


@pytest.mark.parametrize("index", range(4))
def test_checks_accept_solutions_and_reject_wrong_answers(index, capsys):
    solution = _solutions()[index]
    result = CHECKS[index](solution)
    assert result.status == "pass", capsys.readouterr().out
    assert "✅" in capsys.readouterr().out
    wrong = CHECKS[index](WRONG[index])
    assert wrong.status == "fail" and "Hint:" in capsys.readouterr().out


def test_checks_report_not_implemented(capsys):
    def stub(*args):
        raise NotImplementedError

    for check in CHECKS:
        assert check(stub).status == "not_implemented"
    assert capsys.readouterr().out.count("⏳") == 4


def _sigmoid(l):
    return 1.0 / (1.0 + np.exp(-l))


NAIVE_NON_SATURATING = {
    "log(1 + exp(-l))": lambda l: np.log(1 + np.exp(-np.asarray(l))),
    "log1p(exp(-l))": lambda l: np.log1p(np.exp(-np.asarray(l))),
    "-log(sigmoid(l))": lambda l: -np.log(_sigmoid(np.asarray(l))),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the naive formulas overflow: that is the point
@pytest.mark.parametrize("name", sorted(NAIVE_NON_SATURATING))
def test_non_saturating_check_rejects_the_naive_unstable_formulas(name, capsys):
    result = ch05_gan.check_non_saturating_loss(NAIVE_NON_SATURATING[name])
    assert result.status == "fail", capsys.readouterr().out
    # ... while a different stable formula passes, in float32 and float64 alike.
    stable = lambda l: np.maximum(-np.asarray(l), 0) + np.log1p(np.exp(-np.abs(np.asarray(l))))  # noqa: E731
    assert ch05_gan.check_non_saturating_loss(stable).status == "pass"


def test_non_saturating_reference_is_stable():
    np.testing.assert_allclose(ch05_gan._non_saturating_loss(np.array([-40.0, 40.0, 0.0])),
                               [40.0, math.exp(-40.0), math.log(2)], rtol=1e-12)


# --------------------------------------------------------------------------- optimal discriminator


def test_fit_discriminator_recovers_the_log_density_ratio():
    # real N(1, 1) vs fake N(-1, 1): log p_real / p_fake = 2x, so D*(x) = sigmoid(2x).
    d = fit_discriminator(lambda k, n: 1.0 + jax.random.normal(k, (n, 1)),
                                 lambda k, n: -1.0 + jax.random.normal(k, (n, 1)),
                                 jax.random.key(0), dim=1, num_steps=800)
    x = jnp.linspace(-1.5, 1.5, 7)[:, None]
    np.testing.assert_allclose(np.asarray(d(x)), 2 * np.asarray(x[:, 0]), atol=0.35)
    with pytest.raises(TypeError, match="functions"):
        fit_discriminator(None, None, jax.random.key(0), dim=1)


# --------------------------------------------------------------------------- Dirac GAN


def _value(theta, psi):
    """Section 1's V with D(x) = sigmoid(psi x), written with probabilities: log D(0) + log(1 - D(theta))."""
    return jnp.log(jax.nn.sigmoid(psi * 0.0)) + jnp.log(1.0 - jax.nn.sigmoid(psi * theta))


def _r1(psi):
    """R1 on the logit l(x) = psi x at the data point x = 0: (1/2) |dl/dx|^2 (times gamma)."""
    return 0.5 * jax.grad(lambda x: psi * x)(0.0) ** 2


def test_dirac_step_matches_autodiff_of_the_value():
    theta, psi, lr = 0.7, -1.3, 0.1
    g_theta, g_psi = jax.grad(_value, argnums=(0, 1))(theta, psi)
    path = games.dirac_gan(theta, psi, lr=lr, num_steps=1, mode="simultaneous")
    np.testing.assert_allclose(path[1], [theta - lr * g_theta, psi + lr * g_psi], rtol=1e-6)
    # Alternating: D steps first, then G uses the new psi.
    new_psi = psi + lr * g_psi
    g_theta_new = jax.grad(_value, argnums=0)(theta, new_psi)
    path = games.dirac_gan(theta, psi, lr=lr, num_steps=1, mode="alternating")
    np.testing.assert_allclose(path[1], [theta - lr * g_theta_new, new_psi], rtol=1e-6)
    # R1: D ascends V - gamma * R1(logit).
    gamma = 0.3
    g_psi_r1 = jax.grad(lambda p: _value(theta, p) - gamma * _r1(p))(psi)
    path = games.dirac_gan(theta, psi, lr=lr, num_steps=1, mode="simultaneous", r1_gamma=gamma)
    np.testing.assert_allclose(path[1, 1], psi + lr * g_psi_r1, rtol=1e-6)


def test_dirac_discriminator_learns_to_reject_the_fake():
    # The course's convention: D = sigmoid(psi x) is the probability of "real". One D step with the
    # fake at theta = 1 must lower D(fake) (the mirrored convention would raise it).
    path = games.dirac_gan(1.0, 0.0, lr=0.5, num_steps=1, mode="alternating")
    assert jax.nn.sigmoid(path[1, 1] * 1.0) < 0.5


def test_dirac_dynamics_spiral_cycle_converge():
    lr = 0.2
    near = games.dirac_gan(1e-4, 1e-4, lr=lr, num_steps=1, mode="simultaneous")
    growth = np.linalg.norm(near[1]) / np.linalg.norm(near[0])
    assert growth == pytest.approx(math.sqrt(1 + (lr * 0.5) ** 2), rel=1e-6)  # f'(0) = 1/2
    sim = np.linalg.norm(games.dirac_gan(1.0, 1.0, lr=lr, num_steps=400), axis=1)
    alt = np.linalg.norm(games.dirac_gan(1.0, 1.0, lr=lr, num_steps=400, mode="alternating"), axis=1)
    r1 = np.linalg.norm(games.dirac_gan(1.0, 1.0, lr=lr, num_steps=400, mode="alternating", r1_gamma=0.3), axis=1)
    assert sim[-1] > 2 * sim[0] and alt.max() < 2.5 and alt.min() > 0.5 and r1[-1] < 0.1
    with pytest.raises(ValueError, match="unknown mode"):
        games.dirac_gan(1.0, 1.0, lr=0.1, num_steps=3, mode="random")
    with pytest.raises(ValueError, match="lr"):
        games.dirac_gan(1.0, 1.0, lr=-0.1, num_steps=3)


# --------------------------------------------------------------------------- experiments


def test_grid_ablation_recipes_change_one_thing_each():
    # Review 05-08, finding 5: the fix changed packing, R1 and (batch_size counts packs) the samples per
    # step at once. The ablation recipes must each differ from the plain GAN at 128 samples in one field.
    base = RECIPES["gan-grid-plain-128"]
    assert base == RECIPES["gan-grid-plain"].replace(batch_size=128)

    def samples_per_step(config):
        return config.batch_size * config.pack

    for name, changed in {"gan-grid-pack-only": {"pack": 2, "batch_size": 64}, "gan-grid-r1-only": {"r1_gamma": 0.1},
                          "gan-grid": {"pack": 2, "batch_size": 64, "r1_gamma": 0.1}}.items():
        assert RECIPES[name] == base.replace(**changed), name
        assert samples_per_step(RECIPES[name]) == samples_per_step(base) == 128
    assert {"gan-grid-plain-128", "gan-grid-pack-only", "gan-grid-r1-only"} <= set(registry())


def test_experiments_are_registered():
    names = set(registry())
    assert {"gan-ring", "gan-grid", "gan-ring-plain", "gan-grid-plain"} <= names
    assert RECIPES["gan-ring"].target_params == (("radius", 1.0), ("std", 0.01))
    assert dict(RECIPES["gan-grid"].target_params) == {"spacing": 2.0, "std": 0.05}
    assert json.loads(json.dumps(config_summary(RECIPES["gan-grid"])))["target"] == "grid"


def test_quick_reproduce_prints_one_json_line(capsys):
    assert cli(["reproduce", "gan-ring", "--seeds", "2", "--json", "--quick"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    assert row["experiment"] == "gan-ring" and row["seeds"] == 2 and row["quick"] is True
    assert 0 <= row["modes_min"] <= row["modes_mean"] <= 8 and 0 <= row["hq_mean"] <= 1
    assert [r["seed"] for r in row["per_seed"]] == [0, 1] and row["seconds_per_run"] > 0


def test_load_model_rebuilds_each_player(tmp_path):
    from course_lib import checkpoints
    from course_lib.models import Discriminator

    d = Discriminator(2, (4,), rngs=nnx.Rngs(params=0))
    path = tmp_path / "d.safetensors"
    checkpoints.save_checkpoint(path, d, config=d.config)
    assert isinstance(checkpoints.load_model(path)[0], Discriminator)
    g = Generator(3, 64, (8,), output="sigmoid", rngs=nnx.Rngs(params=1))
    checkpoints.save_checkpoint(tmp_path / "g.safetensors", g, config=g.config)
    loaded, _ = checkpoints.load_model(tmp_path / "g.safetensors")
    assert type(loaded) is Generator
    z = jnp.ones((2, 3))
    np.testing.assert_allclose(loaded(z), g(z), rtol=1e-6)
