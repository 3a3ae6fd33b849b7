"""Properties of the lesson modules: surfaces, timeline, glossary, gradient estimators, families,
walkthrough."""
from __future__ import annotations

import math

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from hypothesis import given, settings, strategies as st

from course_lib.lessons import families as F
from course_lib.lessons import glossary as GL
from course_lib.lessons import gradient_estimators as GE
from course_lib.lessons import surfaces as S
from course_lib.lessons import timeline as TL
from course_lib.lessons import walkthrough as W
from course_lib.data import sample_toy
from course_lib.evaluation import pca as PCA
from course_lib.training import GANState
from prop_harness import (BAD_CALLABLES, BAD_COUNTS, BAD_FINITE_FLOATS, BAD_KEYS, BAD_POSITIVE_FLOATS,
                          BAD_STRINGS, NOT_ARRAYS, covers, finite, good, key, refused)


@covers("course_lib.lessons.surfaces.get_surface", "course_lib.lessons.surfaces.Surface", "course_lib.lessons.surfaces.run_optimizer", "course_lib.lessons.surfaces.Run",
        "course_lib.lessons.surfaces.distance_to_nearest_minimum")
@given(name=st.sampled_from(S.SURFACE_NAMES), opt=st.sampled_from(S.OPTIMIZERS), lr=st.floats(1e-4, 0.01),
       n=st.integers(1, 50))
@settings(max_examples=4)
def test_surfaces_valid(name, opt, lr, n):
    assert isinstance(S.get_surface(name), S.Surface)
    run = S.run_optimizer(name, opt, lr, num_steps=n)
    assert isinstance(run, S.Run) and run.trajectory.shape == (n + 1, 2)
    assert math.isfinite(S.distance_to_nearest_minimum(name, run.trajectory[0]))


@given(bad_s=BAD_STRINGS, bad_lr=BAD_POSITIVE_FLOATS, bad_n=BAD_COUNTS, bad_x=BAD_FINITE_FLOATS)
def test_surfaces_bad(bad_s, bad_lr, bad_n, bad_x):
    refused(S.get_surface, "surface", bad_s)
    refused(S.run_optimizer, "lr", "bowl", "adam", bad_lr)
    refused(S.run_optimizer, "num_steps", "bowl", "adam", 0.1, num_steps=bad_n)
    refused(S.run_optimizer, "start", "bowl", "adam", 0.1, start=(bad_x, 0.0))
    refused(S.run_optimizer, "optimizer", "bowl", bad_s, 0.1)
    refused(S.distance_to_nearest_minimum, "point", "bowl", (bad_x, 1.0))


@covers("course_lib.lessons.timeline.Milestone", "course_lib.lessons.timeline.first_year", "course_lib.lessons.timeline.timeline_figure")
@given(family=st.sampled_from(sorted(TL.FAMILY_COLORS)), bad=BAD_STRINGS)
@settings(max_examples=3)
def test_timeline(family, bad):
    assert 1980 <= TL.first_year(family) <= 2030
    fig = TL.timeline_figure(TL.TIMELINE[:3])
    assert fig.axes
    plt.close("all")
    good()
    refused(TL.first_year, "family", bad)
    refused(TL.timeline_figure, "milestones", 3)
    refused(TL.timeline_figure, "milestones[0]", [("gan", 2014)])
    refused(TL.timeline_figure, "milestones[0].family", [TL.Milestone(2014, bad, "x", "y")])


@covers("course_lib.lessons.glossary.Term", "course_lib.lessons.glossary.lookup", "course_lib.lessons.glossary.search",
        "course_lib.lessons.glossary.to_markdown")
@given(text=st.text(max_size=30))
def test_glossary(text):
    hits = GL.search(text) if text.strip() else []
    assert all(isinstance(t, GL.Term) for t in hits)
    assert isinstance(GL.lookup("mode collapse"), GL.Term)
    assert "|" in GL.to_markdown(GL.search("GAN")[:2] or None)
    for bad in (None, 3, b"gan", ["gan"]):
        refused(GL.lookup, "term", bad)
        refused(GL.search, "text", bad)
    refused(GL.to_markdown, "terms", [3])
    good()


@covers("course_lib.lessons.gradient_estimators.reparameterization_gradient",
        "course_lib.lessons.gradient_estimators.score_function_gradient",
        "course_lib.lessons.gradient_estimators.estimator_spread")
@given(mu=st.floats(-2, 2), sigma=st.floats(0.2, 2), n=st.integers(2, 64))
@settings(max_examples=4)
def test_gradient_estimators_valid(mu, sigma, n):
    eps = np.random.default_rng(n).normal(size=n).astype(np.float32)
    f = lambda z: z**2  # noqa: E731
    finite(GE.reparameterization_gradient(f, mu, sigma, eps), (n, 2))
    finite(GE.score_function_gradient(f, mu, sigma, eps), (n, 2))
    out = GE.estimator_spread(f, mu, sigma, key(), n, 3)
    finite(out["reparam_mean"], (2,))


@given(bad_f=BAD_CALLABLES, bad_s=BAD_POSITIVE_FLOATS, bad_key=BAD_KEYS, bad_n=BAD_COUNTS)
def test_gradient_estimators_bad(bad_f, bad_s, bad_key, bad_n):
    eps = np.zeros(4, np.float32)
    f = lambda z: z  # noqa: E731
    refused(GE.reparameterization_gradient, "f", bad_f, 0.0, 1.0, eps)
    refused(GE.score_function_gradient, "sigma", f, 0.0, bad_s, eps)
    refused(GE.score_function_gradient, "eps", f, 0.0, 1.0, np.zeros((2, 2), np.float32))
    refused(GE.estimator_spread, "key", f, 0.0, 1.0, bad_key, 4, 3)
    refused(GE.estimator_spread, "num_samples", f, 0.0, 1.0, key(), bad_n, 3)
    refused(GE.estimator_spread, "num_samples", f, 0.0, 1.0, key(), 10**6, 10**6)


@covers("course_lib.lessons.families.fit_family", "course_lib.lessons.families.FittedFamily")
@given(name=st.sampled_from(F.FAMILIES), seed=st.integers(0, 5))
@settings(max_examples=5)
def test_families_valid(name, seed):
    x = np.asarray(sample_toy("moons", key(seed), 200))
    model = F.fit_family(name, x, seed=seed)
    assert isinstance(model, F.FittedFamily)
    finite(model.sample(key(seed), 16), (16, 2))
    if model.log_density is not None:
        assert np.asarray(model.log_density(x[:8])).shape == (8,)


@given(bad_name=BAD_STRINGS, bad_x=st.sampled_from([None, "x", np.zeros((5, 2)), np.zeros((30, 3)),
                                                      np.full((30, 2), np.nan)]))
def test_families_bad(bad_name, bad_x):
    refused(F.fit_family, "name", bad_name, np.zeros((30, 2)))
    refused(F.fit_family, "x", "moons" if False else "implicit", bad_x)


@covers("course_lib.lessons.walkthrough.article_generator", "course_lib.lessons.walkthrough.article_discriminator",
        "course_lib.lessons.walkthrough.article_vae", "course_lib.lessons.walkthrough.article_rescale",
        "course_lib.lessons.walkthrough.keras_binary_crossentropy", "course_lib.lessons.walkthrough.Recipe",
        "course_lib.lessons.walkthrough.make_recipe_run",
        "course_lib.lessons.walkthrough.train_recipe", "course_lib.lessons.walkthrough.discriminator_report",
        "course_lib.evaluation.pca.PCABasis", "course_lib.evaluation.pca.pca_basis", "course_lib.evaluation.pca.project",
        "course_lib.evaluation.pca.pca_frechet_distance", "course_lib.lessons.walkthrough.sample_report")
@settings(max_examples=1)
@given(seed=st.integers(0, 3))
def test_walkthrough_valid(seed):
    g, d = W.article_generator(seed), W.article_discriminator(seed + 1)
    assert W.article_vae(seed).z_dim == W.VAE_Z_DIM
    recipe = W.FIXED_DISCRIMINATOR
    assert isinstance(recipe, W.Recipe)
    real = np.random.default_rng(seed).random((16, W.X_DIM)).astype(np.float32)
    hist = W.train_recipe(g, d, recipe, real, key=key(seed), num_steps=1, batch_size=8)
    finite(hist["d_loss"], (1,))
    fake = np.asarray(g.sample(key(seed), 16))
    rep = W.discriminator_report(d, real, fake)
    assert 0 <= rep["balanced_accuracy"] <= 1
    basis = PCA.pca_basis(real, 4)
    assert isinstance(basis, PCA.PCABasis)
    finite(PCA.project(real, basis), (16, 4))
    assert math.isfinite(PCA.pca_frechet_distance(real, fake, basis))
    assert set(W.sample_report(fake, real, basis)) >= {"frechet", "pixel_mean"}
    finite(W.article_rescale(real), real.shape)
    finite(W.keras_binary_crossentropy(real, real), (16,))
    assert GANState._fields and callable(W.make_recipe_run)


@given(bad_key=BAD_KEYS, bad_n=BAD_COUNTS, bad_a=NOT_ARRAYS)
def test_walkthrough_bad(bad_key, bad_n, bad_a):
    g, d = W.article_generator(0), W.article_discriminator(1)
    real = np.zeros((8, W.X_DIM), np.float32)
    refused(W.train_recipe, "key", g, d, W.FIXED_DISCRIMINATOR, real, key=bad_key, num_steps=1)
    refused(W.train_recipe, "num_steps", g, d, W.FIXED_DISCRIMINATOR, real, key=key(), num_steps=bad_n)
    refused(W.train_recipe, "recipe", g, d, "article", real, key=key())
    refused(W.make_recipe_run, "recipe", g, d, None, g_tx=None, d_tx=None)
    refused(W.article_rescale, "x", bad_a)
    refused(PCA.pca_basis, "num_components", real, bad_n)
    refused(PCA.project, "basis", real, None)
    refused(W.discriminator_report, "x_real", d, real[:, :10], real)
    refused(W.keras_binary_crossentropy, ("y_true", "y_pred", "broadcast"), np.zeros((8, 1)), np.zeros((8, 3, 2)))
    refused(W.article_generator, "seed", bad_n if bad_n != 0 else -1)
