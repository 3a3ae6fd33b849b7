"""docs/review-responses.md answers every finding of the two teaching reviews.

The reviews live in the steering repository's shared/reviews/ (beside a clone of this one, as
in CI). Each finding must have exactly one row with a non-empty response: what changed (file
and cell) or why it stands.
"""
from __future__ import annotations

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESPONSES = ROOT / "docs" / "review-responses.md"
REVIEWS = ROOT.parent / "shared" / "reviews"


def _rows() -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in RESPONSES.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| (\d\d-\d+|05-08/\d+) \| ([^|]+) \|(.*)\|$", line)
        if m:
            assert m.group(1) not in rows, f"finding {m.group(1)} has two rows"
            rows[m.group(1)] = m.group(3).strip()
    return rows


def _review_ids() -> set[str]:
    first = (REVIEWS / "teaching-review-00-04.md").read_text(encoding="utf-8")
    second = (REVIEWS / "teaching-review-05-08.md").read_text(encoding="utf-8")
    ids = set(re.findall(r"^\| (\d\d-\d+) \| [A-Z]", first, flags=re.M))
    ids |= {f"05-08/{n}" for n in re.findall(r"^\| (\d+) \| [A-Z]", second, flags=re.M)}
    return ids


def test_every_row_has_a_response():
    rows = _rows()
    assert len(rows) >= 101, f"expected at least 101 findings, found {len(rows)} rows"
    empty = sorted(k for k, v in rows.items() if len(v) < 10)
    assert not empty, f"findings without a response: {empty}"


@pytest.mark.skipif(not REVIEWS.is_dir(), reason="shared/reviews is not beside this checkout")
def test_every_finding_of_both_reviews_has_a_row():
    ids = _review_ids()
    assert len(ids) == 101, len(ids)
    missing = sorted(ids - set(_rows()))
    assert not missing, f"findings with no row in docs/review-responses.md: {missing}"
