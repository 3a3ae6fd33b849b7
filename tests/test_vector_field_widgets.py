"""08_vector_fields: exercise checks reject the plausible wrong answers; widget render functions; registry."""
import jax
import numpy as np
import pytest
from flax import nnx

from course_lib.exercises import ch08_vector_fields as ex
from course_lib.models.vector_field import VectorFieldMLP


def test_dsm_check_accepts_the_reference_and_rejects_wrong_answers():
    assert ex.check_dsm_loss(ex.reference_dsm_loss)
    wrong_sign = lambda s, x_t, x0, a, sig: sig**2 * np.sum((s - (x_t - a * x0) / sig**2) ** 2, -1)  # noqa: E731
    no_weight = lambda s, x_t, x0, a, sig: np.sum((s + (x_t - a * x0) / sig**2) ** 2, -1)  # noqa: E731
    sigma_not_squared = lambda s, x_t, x0, a, sig: sig**2 * np.sum((s + (x_t - a * x0) / sig) ** 2, -1)  # noqa: E731
    for wrong in (wrong_sign, no_weight, sigma_not_squared):
        assert not ex.check_dsm_loss(wrong)


def test_cfm_check_rejects_the_reversed_time_convention():
    assert ex.check_cfm_target(ex.reference_cfm_target)
    assert not ex.check_cfm_target(lambda x0, eps, t: x0 - eps)  # t = 1 at the data
    assert not ex.check_cfm_target(lambda x0, eps, t: (1 - t) * x0 + t * eps)  # the point, not its velocity


def test_euler_check_rejects_wrong_sign_and_wrong_time():
    assert ex.check_euler_step(ex.reference_euler_step)
    assert not ex.check_euler_step(lambda f, x, t, tn: x + (t - tn) * f(x, t))  # wrong sign
    assert not ex.check_euler_step(lambda f, x, t, tn: x + (tn - t) * f(x, tn))  # field at the wrong time


def test_cfg_check_rejects_guidance_on_the_wrong_term():
    assert ex.check_cfg(ex.reference_cfg)
    assert not ex.check_cfg(lambda vc, vu, w: (1 + w) * vu - w * vc)  # wrong term
    assert not ex.check_cfg(lambda vc, vu, w: vu + w * (vc - vu))  # w = 0 would be unconditional
    assert not ex.check_cfg(lambda vc, vu, w: vc + w * (vu - vc))  # sign


def test_field_lab_render_and_widget():
    from course_lib.widgets import vector_field as wv

    m = VectorFieldMLP(2, (16,), rngs=nnx.Rngs(0))
    state = wv.field_lab_state(m, sampler="heun", num_steps=4)
    assert state["xs"].shape == (5, wv.LAB_POINTS, 2) and state["ts"][0] == 1.0 and state["ts"][-1] == 0.0
    fig, summary = wv.render_field_lab(m, state, 2)
    assert summary["step"] == 2 and abs(summary["t"] - 0.5) < 1e-6 and len(fig.axes) == 2
    with pytest.raises(ValueError, match="step"):
        wv.render_field_lab(m, state, 5)
    image, s2 = wv.render_field_lab_image(m, state, 2)
    assert s2 == summary and image.shape == (200, 408) and image.max() == 1.0  # the points x_t are drawn
    assert not np.array_equal(image, wv.render_field_lab_image(m, state, 4)[0])
    with pytest.raises(ValueError, match="sampler"):
        wv.field_lab_state(m, sampler="rk4")
    panel = wv.vector_field_lab({("ring", "linear"): m}, num_steps=3)
    assert "Vector-field lab" in repr(panel) and panel.image.value
    panel.controls["time"].value = 3
    assert "step 3 of 3" in panel.status.text
    panel.controls["path"].options = ["linear", "vp"]
    panel.controls["path"].value = "vp"  # no model: the status says so, nothing raises
    assert "no model" in panel.status.text


def test_guidance_render_and_widget():
    from course_lib.evaluation.classifier import DigitClassifier
    from course_lib.widgets import vector_field as wv

    m = VectorFieldMLP(64, (16,), num_classes=10, rngs=nnx.Rngs(0))
    clf = DigitClassifier(rngs=nnx.Rngs(0))
    mosaic, s = wv.render_guidance(m, clf, 3, 2.0, num_steps=2)
    assert mosaic.shape == (36, 36) and len(s["verdicts"]) == 16 and 0 <= s["accuracy"] <= 1
    with pytest.raises(ValueError, match="digit"):
        wv.render_guidance(m, clf, 10, 1.0)
    with pytest.raises(ValueError, match="finite"):
        wv.render_guidance(m, clf, 1, float("inf"))
    panel = wv.guidance_explorer(m, clf, num_steps=2)
    panel.controls["w"].value = 4.0
    assert "w = 4.0" in panel.status.text


def test_reproduce_registry_has_the_three_experiments():
    from course_lib.reproduce import registry

    assert {"fm-checkerboard", "fm-digits", "fm-guidance"} <= set(registry())


def test_reproduce_quick_checkerboard_runs():
    from course_lib.reproduce import vector_field as vf

    (row,) = vf.fm_checkerboard(1, quick=True)
    assert row["entropy_nats"] == pytest.approx(np.log(8), abs=1e-4)
    assert row["gap_nats"] == pytest.approx(row["test_nll_nats"] - row["entropy_nats"], abs=1e-3)
    with pytest.raises(ValueError, match="seeds"):
        vf.fm_checkerboard(0)
