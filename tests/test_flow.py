"""RealNVP coupling flow: invertibility, the log-determinant against autodiff Jacobians, a density
that integrates to one, the dequantization bound, training, and argument checks."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy import stats

from course_lib.models import flow as fl
from course_lib.training.generic import fit


def _random_flow(dim=2, num_layers=4, hidden=(16,), seed=0, scale=0.3, **kwargs):
    """A flow with every parameter perturbed, so that no layer is the identity."""
    model = fl.RealNVP(dim, num_layers, hidden, rngs=nnx.Rngs(seed), **kwargs)
    graphdef, params = nnx.split(model, nnx.Param)
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.key(seed + 1), len(leaves))
    leaves = [leaf + scale * jax.random.normal(k, leaf.shape) for leaf, k in zip(leaves, keys)]
    return nnx.merge(graphdef, jax.tree_util.tree_unflatten(treedef, leaves))


def test_masks_alternate_and_checkerboard():
    m = fl.coupling_masks(4, 3)
    np.testing.assert_array_equal(m, [[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0]])
    c = fl.coupling_masks(64, 4, "checkerboard", (8, 8))
    assert c.shape == (4, 64)
    np.testing.assert_array_equal(c[0] + c[1], np.ones(64))  # complements
    np.testing.assert_array_equal(c[2].reshape(8, 8)[:4], 1)  # top half kept
    assert c[0].reshape(8, 8)[0, 0] == 1 and c[0].reshape(8, 8)[0, 1] == 0


def test_fresh_flow_is_identity_and_standard_normal():
    model = fl.RealNVP(3, 4, (8,), rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (5, 3))
    z, log_det = model.forward(x)
    np.testing.assert_allclose(z, x, atol=1e-6)
    np.testing.assert_allclose(log_det, 0.0, atol=1e-6)
    expected = stats.multivariate_normal(np.zeros(3), np.eye(3)).logpdf(np.asarray(x))
    np.testing.assert_allclose(model.log_prob(x), expected, rtol=1e-5)


def test_inverse_undoes_forward():
    model = _random_flow(dim=6, num_layers=5)
    x = jax.random.normal(jax.random.key(2), (7, 6))

    @jax.jit
    def run(x):
        z, _ = model.forward(x)
        return z, model.inverse(z), model.forward_layers(x)[-1], model.inverse_layers(z)[-1]

    z, x_back, z_layers, x_layers = run(x)
    assert float(jnp.max(jnp.abs(z - x))) > 0.1  # the flow really moves the points
    np.testing.assert_allclose(x_back, x, atol=1e-5)
    np.testing.assert_allclose(z_layers, z, atol=1e-6)
    np.testing.assert_allclose(x_layers, x, atol=1e-5)


def test_log_det_matches_autodiff_jacobian():
    model = _random_flow(dim=4, num_layers=4, hidden=(16, 16))
    x = jax.random.normal(jax.random.key(3), (6, 4))
    _, log_det = jax.jit(model.forward)(x)
    jac = jax.jit(jax.vmap(jax.jacfwd(lambda v: model.forward(v[None])[0][0])))(x)  # (6, 4, 4)
    np.testing.assert_allclose(log_det, jnp.linalg.slogdet(jac)[1], rtol=1e-4, atol=1e-4)


def test_density_integrates_to_one():
    model = _random_flow(dim=2, num_layers=4, hidden=(16,), scale=0.2)
    ticks = np.linspace(-9, 9, 601, dtype=np.float32)
    xx, yy = np.meshgrid(ticks, ticks)
    pts = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], 1))
    mass = float(jnp.sum(jnp.exp(jax.jit(model.log_prob)(pts)))) * (ticks[1] - ticks[0]) ** 2
    assert abs(mass - 1.0) < 0.01


def test_logit_transform_log_det_matches_derivative():
    y = jnp.array([[0.1, 0.5, 0.93]])
    _, log_det = fl.logit_transform(y, 0.05)
    deriv = jax.vmap(jax.grad(lambda v: fl.logit_transform(v[None, None], 0.05)[0][0, 0]))(y[0])
    np.testing.assert_allclose(log_det[0], jnp.sum(jnp.log(deriv)), rtol=1e-5)
    np.testing.assert_allclose(fl.inverse_logit_transform(fl.logit_transform(y)[0]), y, atol=1e-6)


def test_dequantization_gives_a_bound_and_a_normalised_discrete_model():
    """P(x) = int_[0,1)^2 p(x + u) du sums to 1 over the K^2 images, and exp(E_u log p(x + u)) <= P(x)."""
    k = 3
    model = _random_flow(dim=2, num_layers=3, hidden=(8,), scale=0.2)
    grid = (np.arange(40, dtype=np.float32) + 0.5) / 40  # midpoints in [0, 1)
    uu = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)  # (1600, 2)
    probs, bounds = [], []
    log_prob = jax.jit(lambda x, u: fl.dequantized_log_prob(model, x, u, k))
    for a in range(k):
        for b in range(k):
            x = jnp.full((len(uu), 2), jnp.array([a, b]), jnp.int32)
            logp = log_prob(x, jnp.asarray(uu))
            probs.append(float(jnp.mean(jnp.exp(logp))))  # midpoint rule for the integral
            bounds.append(float(jnp.exp(jnp.mean(logp))))
    assert abs(sum(probs) - 1.0) < 0.01
    assert all(bound <= p + 1e-6 for bound, p in zip(bounds, probs))


def test_sample_levels_are_valid_levels():
    model = _random_flow(dim=4, num_layers=2, hidden=(8,))
    x = jax.jit(lambda k: fl.sample_levels(model, k, 50, 17))(jax.random.key(0))
    assert x.shape == (50, 4) and x.dtype == jnp.int32
    assert int(x.min()) >= 0 and int(x.max()) <= 16
    np.testing.assert_array_equal(fl.quantize(fl.logit_transform((jnp.array([[3, 16]]) + 0.5) / 17)[0], 17), [[3, 16]])


def test_training_lowers_the_loss_and_compiles_once():
    model = fl.RealNVP(2, 4, (32,), rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model, nnx.Param)
    x = jax.random.normal(jax.random.key(0), (256, 2)) * jnp.array([2.0, 0.3]) + 1.0

    def loss_fn(p, xb, key):
        return -jnp.mean(nnx.merge(graphdef, p).log_prob(xb)), {}

    result = fit(loss_fn, params, x, key=jax.random.key(1), num_epochs=20, batch_size=64, lr=1e-2,
                 eval_every=5, progress=False)
    loss = result.history["loss"]
    assert loss[-1] < loss[0] - 0.5
    assert result.epoch_fn.num_traces == 1
    # The exact answer is the Gaussian's entropy; the flow should come close to it.
    entropy = stats.multivariate_normal(np.ones(2), np.diag([4.0, 0.09])).entropy()
    assert abs(loss[-1] - entropy) < 0.3


def test_config_round_trip():
    model = fl.RealNVP(64, 4, (32,), masks="checkerboard", image_shape=(8, 8), rngs=nnx.Rngs(0))
    cfg = model.config
    assert cfg == {"model": "RealNVP", "dim": 64, "num_layers": 4, "hidden": [32], "masks": "checkerboard",
                   "image_shape": [8, 8], "activation": "relu"}


@pytest.mark.parametrize("kwargs, error, match", [
    ({"dim": 1}, ValueError, "dim"),
    ({"dim": 2, "num_layers": 0}, ValueError, "num_layers"),
    ({"dim": 2, "masks": "stripes"}, ValueError, "masks"),
    ({"dim": 64, "masks": "checkerboard"}, ValueError, "image_shape"),
    ({"dim": 2, "hidden": 16}, TypeError, "hidden"),
])
def test_bad_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        fl.RealNVP(rngs=nnx.Rngs(0), **kwargs)


def test_bad_inputs():
    model = fl.RealNVP(2, 2, (8,), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(jnp.zeros((3, 3)))
    with pytest.raises(TypeError, match="floating"):
        model.log_prob(jnp.zeros((3, 2), jnp.int32))
    with pytest.raises(TypeError, match="key"):
        model.sample(0, 3)
    with pytest.raises(ValueError, match="num_samples"):
        model.sample(jax.random.key(0), 0)
    with pytest.raises(ValueError, match="u must have shape"):
        fl.dequantize(jnp.zeros((2, 2), jnp.int32), jnp.zeros((2, 3)), 17)
    with pytest.raises(TypeError, match="RealNVP"):
        fl.dequantized_log_prob("flow", jnp.zeros((2, 2), jnp.int32), jnp.zeros((2, 2)), 17)
    assert math.isfinite(float(fl.standard_normal_log_prob(jnp.zeros((1, 2)))[0]))


# --------------------------------------------------------------------------- the widget and the exercise


def test_layer_stack_and_render():
    from course_lib.widgets import beyond

    model = _random_flow(dim=2, num_layers=3, hidden=(8,))
    x = jax.random.normal(jax.random.key(0), (50, 2))
    stack = beyond.flow_layer_stack(model, x)
    assert stack.shape == (4, 50, 2)
    np.testing.assert_allclose(stack[-1], model.forward(x)[0], atol=1e-6)
    back = beyond.flow_layer_stack(model, stack[-1], direction="noise_to_data")
    np.testing.assert_allclose(back[-1], x, atol=1e-4)
    fig, summary = beyond.render_flow_layer(stack, 3)
    assert summary["layer"] == 3 and fig.axes[0].get_title() == "base z"
    assert beyond.render_flow_layer(stack, 1)[0].axes[0].get_title() == "after 1 of 3 layers"
    with pytest.raises(ValueError, match="layer must be in 0..3"):
        beyond.render_flow_layer(stack, 4)
    with pytest.raises(ValueError, match="2-D flow"):
        beyond.flow_layer_stack(fl.RealNVP(3, 2, (4,), rngs=nnx.Rngs(0)), jnp.zeros((2, 3)))


def test_flow_explorer_slider_redraws_and_reports_errors():
    from course_lib.widgets import beyond

    model = _random_flow(dim=2, num_layers=2, hidden=(8,))
    panel = beyond.flow_explorer(model, jax.random.normal(jax.random.key(0), (40, 2)))
    first = panel.image.value
    assert first and "layer 0" in panel.status.text
    panel.controls["layer"].value = 2
    assert panel.image.value != first and "layer 2" in panel.status.text
    panel.stack[1, 0, 0] = np.nan  # a blown-up layer: the status says so, nothing raises
    panel.controls["layer"].value = 1
    assert "NaN" in panel.status.text
    assert "live widget" in repr(panel)


def test_affine_coupling_exercise_check(capsys):
    from course_lib.exercises import ch07_beyond

    assert ch07_beyond.check_affine_coupling(ch07_beyond.reference_affine_coupling)

    def forgot_the_mask_in_log_det(x, mask, s, t):
        y, _ = ch07_beyond.reference_affine_coupling(x, mask, s, t)
        return y, np.sum(s, axis=-1)

    assert not ch07_beyond.check_affine_coupling(forgot_the_mask_in_log_det)
    assert "Hint" in capsys.readouterr().out
