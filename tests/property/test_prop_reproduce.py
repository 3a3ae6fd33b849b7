"""Properties of the two experiment modules of the new sections: reproduce.vector_field and
reproduce.text_ladder. Their full runs train for minutes (tests/test_vector_field_training.py and the
language tests run them on small settings); here every entry point is called with bad arguments,
and the cheap ones (settings, small trainings, evaluation helpers, results) also with valid ones."""
from __future__ import annotations

import math

import numpy as np
from flax import nnx
from hypothesis import given, settings, strategies as st

from course_lib.data import text as T
from course_lib.models.vector_field import VectorFieldMLP
from course_lib.reproduce import text_ladder as RT
from course_lib.reproduce import vector_field as RV
from prop_harness import BAD_BOOLS, BAD_COUNTS, BAD_KEYS, BAD_STRINGS, NOT_ARRAYS, covers, finite, good, key, refused

SMALL = RV.Settings(hidden=(8,), time_dim=4, num_steps=2, batch_size=8, lr=1e-3, ema_decay=0.0)
BAD_SEEDS = st.sampled_from([-1, 2.5, "0", None, True])
_D = []


def _splits():
    if not _D:
        _D.append(T.load_text_splits(12))
    return _D[0]


@covers("course_lib.reproduce.vector_field.Settings", "course_lib.reproduce.vector_field.train",
        "course_lib.reproduce.vector_field.toy_nfe_rows", "course_lib.reproduce.vector_field.digits_nll",
        "course_lib.reproduce.vector_field.digit_quality", "course_lib.reproduce.vector_field.levels_quality",
        "course_lib.reproduce.vector_field.load", "course_lib.reproduce.vector_field.results_path",
        "course_lib.reproduce.vector_field.read_results")
@given(seed=st.integers(0, 5), n=st.integers(5, 8))
@settings(max_examples=2)
def test_vector_field_experiments_valid(seed, n):
    x = np.random.default_rng(seed).normal(size=(32, 2)).astype(np.float32)
    model, result = RV.train("toy", SMALL, x, path="linear", prediction="velocity", seed=seed)
    assert isinstance(model, VectorFieldMLP)
    finite(result.losses)
    rows = RV.toy_nfe_rows(model, "ring", steps=(1,), samplers=("euler",), num_samples=50, seed=seed)
    assert rows[0]["nfe"] == 1 and 0 <= rows[0]["hq_fraction"] <= 1
    digits = VectorFieldMLP(RV.DIM, (8,), time_dim=4, path="linear", rngs=nnx.Rngs(seed))
    levels = np.random.default_rng(seed).integers(0, RV.NUM_LEVELS, (n, RV.DIM)).astype(np.int32)
    finite(RV.digits_nll(digits, levels, key(seed), ode_steps=2), (n,))
    from course_lib.evaluation.classifier import classifier_features, load_classifier
    try:
        clf, _ = load_classifier("digits")
    except FileNotFoundError:
        clf = None
    if clf is not None:
        real = classifier_features(clf, levels / (RV.NUM_LEVELS - 1.0))
        q = RV.levels_quality(clf, real, levels)
        assert all(math.isfinite(v) for v in q.values())
        assert set(RV.digit_quality(clf, real, levels / 8.0 - 1.0)) == set(q)
    if RV.results_path().is_file():
        assert isinstance(RV.read_results(), dict)
    from course_lib import pretrained
    if pretrained.path("vf_ring_linear").is_file():
        assert isinstance(RV.load("vf_ring_linear")[0], VectorFieldMLP)
    good()


@covers("course_lib.reproduce.vector_field.train_toy", "course_lib.reproduce.vector_field.checkerboard_row",
        "course_lib.reproduce.vector_field.digits_row", "course_lib.reproduce.vector_field.guidance_rows",
        "course_lib.reproduce.vector_field.fm_checkerboard", "course_lib.reproduce.vector_field.fm_digits",
        "course_lib.reproduce.vector_field.fm_guidance")
@given(bad_seed=BAD_SEEDS, bad_quick=BAD_BOOLS, bad_n=BAD_COUNTS, bad_s=BAD_STRINGS, bad=NOT_ARRAYS,
       bad_key=BAD_KEYS)
@settings(max_examples=6)
def test_vector_field_experiments_bad(bad_seed, bad_quick, bad_n, bad_s, bad, bad_key):
    """Bad arguments are refused before any training starts (valid full runs take minutes)."""
    x = np.zeros((8, 2), np.float32)
    refused(RV.train, "name", 3, SMALL, x, path="linear", prediction="velocity", seed=0)
    refused(RV.train, "s", "toy", "settings", x, path="linear", prediction="velocity", seed=0)
    refused(RV.train, "x", "toy", SMALL, bad, path="linear", prediction="velocity", seed=0)
    refused(RV.train, "seed", "toy", SMALL, x, path="linear", prediction="velocity", seed=bad_seed)
    refused(RV.train, "s.num_steps", "toy", RV.Settings(num_steps=-1), x, path="linear", prediction="velocity", seed=0)
    refused(RV.train, "path", "toy", SMALL, x, path=bad_s, prediction="velocity", seed=0)
    refused(RV.train_toy, "name", bad_s, "linear")
    refused(RV.train_toy, "path", "ring", bad_s)
    refused(RV.train_toy, "seed", "ring", "linear", seed=bad_seed)
    refused(RV.train_toy, "quick", "ring", "linear", quick=bad_quick)
    refused(RV.toy_nfe_rows, "model", bad, "ring")
    for row in (RV.checkerboard_row, RV.digits_row, RV.guidance_rows):
        refused(row, "seed", seed=bad_seed)
        refused(row, "quick", quick=bad_quick)
    refused(RV.guidance_rows, "weights", weights="w")
    refused(RV.guidance_rows, "weights[1]", weights=(0.0, math.nan))
    for fm in (RV.fm_checkerboard, RV.fm_digits, RV.fm_guidance):
        refused(fm, "seeds", seeds=bad_n if bad_n != 10**12 else 0)
    digits = VectorFieldMLP(RV.DIM, (8,), time_dim=4, rngs=nnx.Rngs(0))
    levels = np.zeros((2, RV.DIM), np.int32)
    refused(RV.digits_nll, "model", bad, levels, key())
    refused(RV.digits_nll, "levels", digits, np.full((2, RV.DIM), 17), key())
    refused(RV.digits_nll, "key", digits, levels, bad_key)
    refused(RV.digits_nll, "num_draws", digits, levels, key(), num_draws=bad_n)
    refused(RV.levels_quality, "real_feats", None, bad, levels)
    refused(RV.levels_quality, "levels", None, np.zeros((4, 3), np.float32), np.full((4, RV.DIM), -1))
    refused(RV.load, "name", bad_s)


@covers("course_lib.reproduce.text_ladder.Rung", "course_lib.reproduce.text_ladder.train_rung",
        "course_lib.reproduce.text_ladder.ladder_row", "course_lib.reproduce.text_ladder.results_path",
        "course_lib.reproduce.text_ladder.read_results", "course_lib.reproduce.text_ladder.load_language_model")
@given(seed=st.integers(0, 3))
@settings(max_examples=1)
def test_text_ladder_valid(seed):
    d = _splits()
    rung = RT.Rung("bigram counts", {"model": "BigramCounts", "alpha": 1.0})
    model, seconds, cpu, curve = RT.train_rung(rung, d, seed)
    row = RT.ladder_row(rung, model, seconds, cpu, seed, d, 0)
    assert math.isfinite(row["test_nll_nats"]) and row["test_nll_nats"] > 0
    if RT.results_path().is_file():
        assert isinstance(RT.read_results(), dict)
    for name in RT.CHECKPOINTS:
        from course_lib import pretrained
        if pretrained.path(RT.CHECKPOINTS[name]).is_file():
            assert RT.load_language_model(name)[1]["config"]["model"]
        break
    good()


@covers("course_lib.reproduce.text_ladder.run_ladder", "course_lib.reproduce.text_ladder.text_ladder")
@given(bad_seed=BAD_SEEDS, bad_quick=BAD_BOOLS, bad_n=BAD_COUNTS, bad_s=BAD_STRINGS, bad=NOT_ARRAYS)
@settings(max_examples=6)
def test_text_ladder_bad(bad_seed, bad_quick, bad_n, bad_s, bad):
    """Bad arguments are refused before any training starts (a full ladder trains for minutes)."""
    rung = RT.LADDER[0]
    refused(RT.train_rung, "rung", "bigram", {}, 0)
    refused(RT.train_rung, "d", rung, bad, 0)
    refused(RT.ladder_row, "rung", None, None, 1.0, 1.0, 0, {}, 1)
    refused(RT.ladder_row, "d", rung, None, 1.0, 1.0, 0, bad, 1)
    refused(RT.run_ladder, "seed", bad_seed)
    refused(RT.run_ladder, "quick", 0, quick=bad_quick)
    refused(RT.run_ladder, "d", 0, d=bad if bad is not None else "d")
    refused(RT.text_ladder, "seeds", bad_n if bad_n != 10**12 else 0)
    refused(RT.read_results, "path", 3)
    refused(RT.load_language_model, "name", bad_s)


@covers("course_lib.reproduce.family_transformer.PixelTransformerSettings",
        "course_lib.reproduce.family_transformer.build_pixel_transformer",
        "course_lib.reproduce.family_transformer.corrupt", "course_lib.reproduce.family_transformer.input_tokens",
        "course_lib.reproduce.family_transformer.pixel_log_prob", "course_lib.reproduce.family_transformer.pixel_nll",
        "course_lib.reproduce.family_transformer.pixel_sample",
        "course_lib.reproduce.family_transformer.train_pixel_transformer")
@given(seed=st.integers(0, 3), n=st.integers(1, 4), fraction=st.floats(0.0, 1.0), bad_key=BAD_KEYS, bad=NOT_ARRAYS,
       bad_n=BAD_COUNTS)
@settings(max_examples=3)
def test_pixel_transformer(seed, n, fraction, bad_key, bad, bad_n):
    from course_lib.reproduce import family_transformer as FT

    s = FT.PixelTransformerSettings(width=8, num_heads=2, num_layers=1, num_epochs=1, batch_size=4, eval_every=1)
    model = FT.build_pixel_transformer(s, seed)
    x = np.random.default_rng(seed).integers(0, 17, (n, 64)).astype(np.int32)
    assert FT.input_tokens(x).shape == (n, 64)
    noisy = np.asarray(FT.corrupt(key(seed), x, fraction))
    assert noisy.shape == x.shape and noisy.min() >= 0 and noisy.max() <= 16
    finite(FT.pixel_log_prob(model, x), (n,))
    nll = FT.pixel_nll(model, x)
    assert nll.shape == (n,) and np.all(nll > 0)
    assert FT.pixel_sample(model, key(seed), n).shape == (n, 64)
    splits = {"train": np.tile(x, (4, 1)), "val": x}
    trained, result = FT.train_pixel_transformer(s, splits, seed)
    assert math.isfinite(result.seconds)
    refused(FT.build_pixel_transformer, "s", "settings", 0)
    refused(FT.input_tokens, "levels", np.full((2, 64), 17, np.int32))
    refused(FT.input_tokens, "levels", bad)
    refused(FT.corrupt, "key", bad_key, x, 0.1)
    refused(FT.corrupt, "fraction", key(), x, 1.5)
    refused(FT.pixel_log_prob, "model", bad, x)
    refused(FT.pixel_log_prob, "inputs", model, x, np.zeros((n, 3), np.int32))
    refused(FT.pixel_nll, "levels", model, np.zeros((2, 63), np.int32))
    refused(FT.pixel_sample, "key", model, bad_key, 2)
    refused(FT.pixel_sample, "num_samples", model, key(), bad_n)
    refused(FT.train_pixel_transformer, "s.input_noise", FT.PixelTransformerSettings(input_noise=-0.5), splits, 0)


@covers("course_lib.models.vector_field.fourier_matrix", "course_lib.models.vector_field.fourier_features")
@given(dim=st.integers(1, 4), m=st.integers(1, 6), scale=st.floats(0.1, 10.0), bad_n=BAD_COUNTS, bad=NOT_ARRAYS)
@settings(max_examples=4)
def test_fourier_features(dim, m, scale, bad_n, bad):
    from course_lib.models import vector_field as VF

    b = VF.fourier_matrix(dim, m, scale)
    assert b.shape == (dim, m) and np.array_equal(b, VF.fourier_matrix(dim, m, scale))
    x = np.random.default_rng(0).normal(size=(5, dim)).astype(np.float32)
    f = np.asarray(VF.fourier_features(x, m, scale))
    finite(f, (5, 2 * m))
    assert np.allclose(f[:, :m] ** 2 + f[:, m:] ** 2, 1.0, atol=1e-5)  # sin^2 + cos^2
    refused(VF.fourier_matrix, "num_features", dim, bad_n, scale)
    refused(VF.fourier_matrix, "scale", dim, m, -1.0)
    refused(VF.fourier_features, "x", bad, m, scale)
