"""What sampling settings do to generated names (09_language_models.ipynb, "6. Sampling").

For a batch of sampled names we measure

- ``sample_nll``: the model's own NLL of its samples, in nats per character, scored with the
  *unmodified* model (temperature 1, no filtering): low temperature picks likely characters, so
  this falls as T falls; T > 1 draws characters the model itself finds unlikely;
- ``fraction_new``: the fraction of samples that are not names of the training set;
- ``fraction_valid``: the fraction that pass a simple, model-independent rule of thumb for a
  pronounceable name (:func:`is_plausible_name`);
- ``fraction_distinct``: distinct samples / samples (diversity).
"""
from __future__ import annotations

import numpy as np

from course_lib import _validate, decoding
from course_lib.training.language import evaluate_nll

VOWELS = set("aeiouy")


def is_plausible_name(word: str, *, min_length: int = 2, max_length: int = 11) -> bool:
    """2 to 11 letters, at least one vowel (y counts), no letter three times in a row,
    at most three consonants in a row."""
    if not isinstance(word, str):
        raise TypeError(f"word must be a str, got {type(word).__name__}")
    min_length = _validate.positive_int("min_length", min_length, minimum=0)
    max_length = _validate.int_at_least("max_length", max_length, min_length)
    if not min_length <= len(word) <= max_length or not VOWELS & set(word):
        return False
    run_same, run_consonants = 1, 0
    for i, c in enumerate(word):
        run_same = run_same + 1 if i and c == word[i - 1] else 1
        run_consonants = 0 if c in VOWELS else run_consonants + 1
        if run_same >= 3 or run_consonants >= 4:
            return False
    return True


def generated_mask(tokens, eos: int) -> np.ndarray:
    """(N, L) float mask of the predictions that count: every token up to and including the first end token."""
    _validate.array("tokens", tokens, ndim=2, dtype_kind="int")
    if tokens.shape[1] < 2:
        raise ValueError(f"tokens must have at least 2 columns (the start token and one prediction), got shape {tokens.shape}")
    eos = _validate.positive_int("eos", eos, minimum=0)
    tokens = np.asarray(tokens)[:, 1:]
    is_end = tokens == eos
    before_end = np.cumsum(is_end, axis=1) - is_end  # number of end tokens strictly before each position
    return (before_end == 0).astype(np.float32)


def sample_statistics(model, vocab, train_words, key, *, temperature: float = 1.0, top_k=None, top_p: float = 1.0,
                      num_samples: int = 1000) -> dict:
    """Draw ``num_samples`` names and measure them (see the module docstring)."""
    tokens, _ = decoding.generate(model, vocab, key, num_samples=num_samples, temperature=temperature,
                                  top_k=top_k, top_p=top_p)
    tokens = np.asarray(tokens)
    words = [vocab.decode(row) for row in tokens]
    train = set(train_words)
    return {
        "temperature": temperature, "top_k": top_k, "top_p": top_p, "num_samples": num_samples,
        "sample_nll": evaluate_nll(model, tokens, generated_mask(tokens, vocab.eos)),
        "fraction_new": float(np.mean([w not in train for w in words])),
        "fraction_valid": float(np.mean([is_plausible_name(w) for w in words])),
        "fraction_distinct": len(set(words)) / len(words),
        "examples": words[:8],
    }
