"""A character-level text corpus that ships offline: US first names, as sequences of tokens.

Taught in 09_language_models.ipynb ("1. Text as a sequence of tokens").

The corpus is ``data/text/names.txt``: the 5,163 distinct first names (lower-cased) of the
1990 US Census name lists (``dist.female.first`` and ``dist.male.first``), as carried by the
PyPI package ``names`` 0.3.0, whose README states that these files are public domain (derived
from 1990 Census data). See ``data/README.md`` for the derivation and the SHA-256 checked here.

A name of n letters becomes n + 2 tokens, a start token, the letters, an end token:

    "anna" -> [<, a, n, n, a, >]

and an autoregressive model predicts every token after the start token from the ones before,

    p(name) = prod_{t=1}^{n+1} p(x_t | x_0, ..., x_{t-1}),

so "NLL per character" below counts the end token as one character (n + 1 predictions).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib

import numpy as np

from course_lib import _validate, paths

CORPUS_FILE = "text/names.txt"
"""The corpus, relative to :func:`course_lib.paths.data_dir`."""

CORPUS_SHA256 = "cba14f452b7768bd7fe093035a67491d4a334061634ccfd51522fb796910e75e"
"""SHA-256 of ``data/text/names.txt`` as committed (see data/README.md)."""

BOS, EOS = "<", ">"
"""The start and end tokens (never letters of a name)."""

SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
"""Train / validation / test fractions of the fixed split."""

SPLIT_SEED = 0
"""Seed of the fixed permutation behind the split."""


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Characters <-> integer tokens. Token 0 is the start token, 1 the end token, then the letters."""

    letters: str  # the characters that may appear inside a word, in token order

    @property
    def chars(self) -> str:
        return BOS + EOS + self.letters

    @property
    def size(self) -> int:
        """V, the number of tokens (letters + start + end)."""
        return len(self.chars)

    @property
    def bos(self) -> int:
        return 0

    @property
    def eos(self) -> int:
        return 1

    def encode(self, text: str, *, name: str = "text") -> list[int]:
        """Tokens of the letters of ``text`` (no start or end token); ValueError on an unknown character."""
        if not isinstance(text, str):
            raise TypeError(f"{name} must be a str, got {type(text).__name__}")
        index = {c: i for i, c in enumerate(self.chars)}
        bad = sorted({c for c in text if c not in index or c in (BOS, EOS)})
        if bad:
            raise ValueError(f"{name} contains characters outside the vocabulary {self.letters!r}: {bad}; "
                             f"got {text!r}")
        return [index[c] for c in text]

    def __post_init__(self):
        if not isinstance(self.letters, str):
            raise TypeError(f"letters must be a str of distinct characters, got {type(self.letters).__name__}")
        if len(set(self.letters)) != len(self.letters) or BOS in self.letters or EOS in self.letters:
            raise ValueError(f"letters must be distinct characters other than {BOS!r} and {EOS!r}, got {self.letters!r}")

    def decode(self, tokens) -> str:
        """Letters of ``tokens``, stopping at the first end token and skipping start tokens."""
        _validate.array("tokens", np.asarray(tokens) if isinstance(tokens, (list, tuple)) else tokens, dtype_kind="int")
        _validate.levels("tokens", tokens, self.size)
        out = []
        for t in np.asarray(tokens).reshape(-1):
            t = int(t)
            if t == self.eos:
                break
            if t != self.bos:
                out.append(self.chars[t])
        return "".join(out)


def _check_words(words):
    if isinstance(words, str) or not isinstance(words, (list, tuple)):
        raise TypeError(f"words must be a list of str, got {type(words).__name__}")
    if not words:
        raise ValueError("words must hold at least one word, got an empty list")
    bad = next((w for w in words if not isinstance(w, str)), None)
    if bad is not None:
        raise TypeError(f"words must be a list of str, got an item {bad!r} ({type(bad).__name__})")
    return words


def corpus_path():
    """Where the corpus lives: ``data_dir() / "text/names.txt"``."""
    return paths.data_dir() / CORPUS_FILE


def load_names(path=None) -> list[str]:
    """The corpus as a list of names, after checking its SHA-256 (a changed file fails loudly)."""
    if path is not None and (isinstance(path, bytes) or not isinstance(path, (str, os.PathLike))):
        raise TypeError(f"path must be a str or pathlib.Path (or None for the course corpus), got {type(path).__name__}")
    path = corpus_path() if path is None else pathlib.Path(path)
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != CORPUS_SHA256:
        raise ValueError(f"corpus at {path.name!r} has SHA-256 {digest}, expected {CORPUS_SHA256} "
                         "(see data/README.md for how the file is made)")
    return raw.decode("ascii").split()


def vocabulary_of(words) -> Vocabulary:
    """The vocabulary of a list of words: its sorted set of characters."""
    _check_words(words)
    return Vocabulary("".join(sorted(set("".join(words)))))


def split_names(words, *, seed: int = SPLIT_SEED, fractions=SPLIT_FRACTIONS) -> dict[str, list[str]]:
    """Fixed train / val / test split: a seeded permutation, cut at the given fractions."""
    _check_words(words)
    seed = _validate.positive_int("seed", seed, minimum=0)
    if not isinstance(fractions, (tuple, list)) or len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-9 or min(fractions) <= 0:
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    order = np.random.default_rng(seed).permutation(len(words))
    n_train = int(round(fractions[0] * len(words)))
    n_val = int(round(fractions[1] * len(words)))
    cuts = {"train": order[:n_train], "val": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}
    return {k: [words[i] for i in idx] for k, idx in cuts.items()}


def encode_batch(words, vocab: Vocabulary, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Words as fixed-length token arrays, for every model of the ladder.

    Returns:
      tokens: int32 (N, length + 1): start token, letters, end token, then end tokens as filler.
      mask: float32 (N, length): 1 where ``tokens[:, 1:]`` is a letter or the first end token,
        i.e. the n + 1 predictions that count in the NLL; 0 on filler.
    """
    _check_words(words)
    _validate.instance("vocab", vocab, Vocabulary)
    length = _validate.positive_int("length", length, maximum=10**4)
    tokens = np.full((len(words), length + 1), vocab.eos, np.int32)
    mask = np.zeros((len(words), length), np.float32)
    for i, word in enumerate(words):
        ids = vocab.encode(word, name=f"words[{i}]")
        if len(ids) + 1 > length:
            raise ValueError(f"length must be >= {len(ids) + 1} for word {word!r}, got {length}")
        tokens[i, 0] = vocab.bos
        tokens[i, 1:len(ids) + 1] = ids
        mask[i, :len(ids) + 1] = 1.0
    return tokens, mask


def load_text_splits(length: int = 12) -> dict:
    """Everything a notebook needs: the vocabulary, the split names and their token arrays.

    Returns a dict with ``vocab``, ``words`` ({split: list[str]}), ``tokens`` and ``mask``
    ({split: array}, see :func:`encode_batch`).
    """
    words = split_names(load_names())
    vocab = vocabulary_of(words["train"] + words["val"] + words["test"])
    encoded = {k: encode_batch(w, vocab, length) for k, w in words.items()}
    return {"vocab": vocab, "words": words, "tokens": {k: e[0] for k, e in encoded.items()},
            "mask": {k: e[1] for k, e in encoded.items()}}
