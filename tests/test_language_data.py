"""The character corpus of 09_language_models: file checksum, fixed split, vocabulary."""
import hashlib

import pytest

from course_lib.data import text


def test_corpus_file_matches_its_documented_sha256():
    raw = text.corpus_path().read_bytes()
    assert hashlib.sha256(raw).hexdigest() == text.CORPUS_SHA256
    assert text.CORPUS_SHA256 in (text.paths.REPO_ROOT / "data" / "README.md").read_text()


def test_names_are_distinct_lowercase_letters():
    names = text.load_names()
    assert len(names) == 5163 and len(set(names)) == len(names)
    assert all(n.isascii() and n.isalpha() and n.islower() for n in names)


def test_split_is_fixed_disjoint_and_complete():
    names = text.load_names()
    a, b = text.split_names(names), text.split_names(names)
    assert a == b
    assert [len(a[k]) for k in ("train", "val", "test")] == [4130, 516, 517]
    assert set(a["train"]).isdisjoint(a["test"]) and set(a["val"]).isdisjoint(a["test"])
    assert sorted(a["train"] + a["val"] + a["test"]) == sorted(names)


def test_vocabulary_round_trip_and_start_end_tokens():
    vocab = text.vocabulary_of(["anna", "bob"])
    assert vocab.chars == "<>abno" and vocab.size == 6
    tokens, mask = text.encode_batch(["anna", "bob"], vocab, 6)
    assert tokens[0].tolist() == [0, 2, 4, 4, 2, 1, 1]
    assert mask[0].tolist() == [1, 1, 1, 1, 1, 0] and mask[1].sum() == 4
    assert vocab.decode(tokens[0]) == "anna" and vocab.decode(tokens[1]) == "bob"


@pytest.mark.parametrize("word", ["ann3", "Anna", "an<a", "é"])
def test_characters_outside_the_vocabulary_are_refused(word):
    vocab = text.vocabulary_of(["anna"])
    with pytest.raises(ValueError, match="text contains characters outside the vocabulary"):
        vocab.encode(word)


def test_too_short_length_is_refused():
    vocab = text.vocabulary_of(["anna"])
    with pytest.raises(ValueError, match="length must be >= 5"):
        text.encode_batch(["anna"], vocab, 4)


def test_a_modified_corpus_is_refused(tmp_path):
    path = tmp_path / "names.txt"
    path.write_bytes(text.corpus_path().read_bytes() + b"zz\n")
    with pytest.raises(ValueError, match="SHA-256"):
        text.load_names(path)
