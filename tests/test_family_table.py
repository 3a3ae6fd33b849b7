"""The family table: units, the committed results file (every family, honest labels, numbers that
agree with each other), its rendering, a quick end-to-end run, loading checkpoints, and the quiz."""
import math

import numpy as np
import pytest

from course_lib.reproduce import family_table as ft
from course_lib.reproduce import registry

KEYS = {"family", "model", "nll_kind", "test_nll_nats", "val_nll_nats", "test_bits_per_dim", "anchor_nats",
        "beats_anchor", "vs_anchor", "anchor_course_field", "fd", "precision", "recall", "train_seconds", "ms_per_sample", "num_params", "seed"}


def test_bits_per_dim():
    assert math.isclose(ft.bits_per_dim(64 * math.log(2)), 1.0)
    assert math.isclose(ft.bits_per_dim(88.7), 88.7 / 64 / math.log(2))


def test_registered_as_a_reproduce_command():
    assert "family-table" in registry()


@pytest.fixture(scope="module")
def rows():
    return ft.read_results()


def test_results_file_has_every_family_once(rows):
    families = [r["family"] for r in rows]
    assert sorted(families) == sorted(ft.FAMILIES + ("reference",))
    for r in rows:
        assert KEYS <= set(r), f"{r['family']} lacks {KEYS - set(r)}"
        assert not r["quick"]


def test_results_label_bounds_honestly(rows):
    by = {r["family"]: r for r in rows}
    assert by["autoregressive"]["nll_kind"] == "exact" and by["transformer"]["nll_kind"] == "exact"
    assert by["flow"]["nll_kind"].startswith("upper bound") and "dequantization" in by["flow"]["nll_kind"]
    assert by["diffusion"]["nll_kind"].startswith("upper bound")
    assert "estimate" in by["VAE"]["nll_kind"]
    assert by["GAN"]["test_nll_nats"] is None and by["GAN"]["test_bits_per_dim"] is None
    for r in rows:
        if r["test_nll_nats"] is not None:
            assert abs(r["test_bits_per_dim"] - ft.bits_per_dim(r["test_nll_nats"])) < 1e-3
        if r["anchor_nats"] is not None:  # the peer is compared with the course number of the same kind
            course = r[r["anchor_course_field"]]
            assert r["beats_anchor"] == (course < r["anchor_nats"] - ft.ON_PAR_NATS)
            assert r == {**r, **ft.anchor_fields(r)}
        assert 0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1 and r["fd"] >= 0
    # The VAE's importance-weighted estimate is below its negative ELBO (both from the same samples).
    assert by["VAE"]["test_nll_nats"] <= by["VAE"]["test_nelbo_nats"]
    terms = by["diffusion"]["bound_terms_nats"]
    assert abs(sum(terms.values()) - by["diffusion"]["test_nll_nats"]) < 0.05


def test_anchors_compare_like_with_like():
    """The VAE's peer number is a negative ELBO, so it is set beside the VAE's negative ELBO, not its IS estimate."""
    assert ft.ANCHORS["VAE"]["course_field"] == "test_nelbo_nats"
    row = {"family": "VAE", "test_nll_nats": 90.0, "test_nelbo_nats": 96.9}
    out = ft.anchor_fields(row)
    assert out["vs_anchor"] == "on par" and out["beats_anchor"] is False  # 96.9 vs 96.64: within a nat
    assert ft.anchor_fields({**row, "test_nelbo_nats": 99.0})["vs_anchor"] == "above"
    assert ft.anchor_fields({**row, "test_nelbo_nats": 94.0})["vs_anchor"] == "below"
    assert ft.anchor_fields({"family": "GAN"})["anchor_nats"] is None
    for a in ft.ANCHORS.values():
        assert "intro_dgm" in a["what"] and "test" in a["what"]


def test_table_markdown(rows):
    text = ft.table_markdown(rows)
    lines = text.splitlines()
    assert lines[0].startswith("| family |") and len(lines) == 2 + len(rows)
    gan = next(line for line in lines if line.startswith("| GAN |"))
    assert "| n/a | none |" in gan


def test_quick_run_of_one_family():
    tiny = ft.FlowSettings(num_layers=2, hidden=(16,), num_epochs=1, eval_every=1, num_test_draws=1)
    (ref, row) = ft.family_rows(0, quick=True, families=("flow",), settings={"flow": tiny})
    assert ref["family"] == "reference" and row["family"] == "flow" and row["quick"]
    assert KEYS <= set(row)
    assert np.isfinite(row["test_nll_nats"]) and row["ms_per_sample"] > 0


def test_quick_run_of_the_transformer_row():
    from course_lib.reproduce.family_transformer import PixelTransformerSettings

    tiny = PixelTransformerSettings(width=16, num_heads=2, num_layers=1, num_epochs=1, eval_every=1)
    (_, row) = ft.family_rows(0, quick=True, families=("transformer",), settings={"transformer": tiny})
    assert row["family"] == "transformer" and row["nll_kind"] == "exact" and KEYS <= set(row)
    assert row["anchor_nats"] == ft.ANCHORS["autoregressive"]["nats"]  # the same peer as MADE's row
    assert np.isfinite(row["test_nll_nats"]) and row["ms_per_sample"] > 0


def test_bad_arguments(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="family"):
        ft.family_rows(0, quick=True, families=("energy-based",))
    with pytest.raises(TypeError, match="FlowSettings"):
        ft.family_rows(0, quick=True, families=("flow",), settings={"flow": ft.MADESettings()})
    with pytest.raises(ValueError, match="name"):
        ft.load_beyond("pixelcnn")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="train_beyond_checkpoints"):
        ft.load_beyond("flow_moons")
    with pytest.raises(FileNotFoundError, match="reproduce family-table"):
        ft.read_results()


def test_family_choice_quiz(capsys):
    from course_lib.exercises import ch07_beyond

    assert ch07_beyond.check_family_choice("a")
    assert not ch07_beyond.check_family_choice("b")
    assert "upper bound" in capsys.readouterr().out
