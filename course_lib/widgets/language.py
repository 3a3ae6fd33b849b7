"""Widgets of 09_language_models.ipynb: a live sampler and an attention viewer.

Both are thin shells over pure functions: ``sampling_trace`` / ``attention_trace`` compute
(one compiled model call each), ``render_sampler`` / ``render_attention`` turn the result
into an HTML table (no plotting library in the loop, so an update stays far below 50 ms).
The notebook shows the same HTML statically before the widget.
"""
from __future__ import annotations

import functools
import html

import ipywidgets as widgets
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from course_lib import _validate, decoding
from course_lib.widgets.core import Panel, Status, Timer, guarded

_CELL = "width:15px;height:15px;padding:0;text-align:center;font:10px monospace"


def _check_model_vocab(model, vocab, *, transformer: bool = False):
    from course_lib.data.text import Vocabulary
    from course_lib.models.language import BigramCounts, Transformer

    kinds = (Transformer,) if transformer else (BigramCounts, nnx.Module)
    if not isinstance(model, kinds):
        raise TypeError(f"model must be {'a Transformer' if transformer else 'a language model'}, got {type(model).__name__}")
    _validate.instance("vocab", vocab, Vocabulary, "a course_lib.data.text.Vocabulary")


def _check_trace(trace, keys):
    if not isinstance(trace, dict) or not set(keys) <= set(trace):
        raise TypeError(f"trace must be the dict returned by its *_trace function (keys {sorted(keys)}), "
                        f"got {type(trace).__name__}")


def _shade(p: float) -> str:
    """A blue whose darkness is the probability p in [0, 1]."""
    level = int(round(255 * (1.0 - 0.85 * float(np.clip(p, 0.0, 1.0)))))
    return f"rgb({level},{level},255)"


def _label(vocab, token: int) -> str:
    return {vocab.bos: "&lt;", vocab.eos: "&gt;"}.get(int(token), html.escape(vocab.chars[int(token)]))


def sampling_trace(model, vocab, *, prefix: str = "", temperature: float = 1.0, top_k=None, top_p: float = 1.0,
                   seed: int = 0) -> dict:
    """Sample one name and keep, for each generated step, the distribution it was drawn from.

    Returns a dict: ``text`` (the name), ``steps`` (number of drawn tokens, the end token included),
    ``context`` (list of the text before each step), ``probs`` (steps, V) and ``chosen`` (steps,).
    """
    seed = _validate.positive_int("seed", seed, minimum=0)
    tokens, probs = decoding.generate(model, vocab, jax.random.key(seed), prefix=prefix, temperature=temperature,
                                      top_k=top_k, top_p=top_p)
    tokens, probs = np.asarray(tokens[0]), np.asarray(probs[0])
    first = len(prefix)  # position whose prediction is the first drawn token
    ends = np.flatnonzero(tokens[first + 1:] == vocab.eos)
    last = first + (int(ends[0]) + 1 if ends.size else len(tokens) - 1 - first)
    return {"text": vocab.decode(tokens), "prefix": prefix, "steps": last - first,
            "context": [vocab.decode(tokens[:t + 1]) for t in range(first, last)],
            "probs": probs[first:last], "chosen": tokens[first + 1:last + 1]}


def render_sampler(trace: dict, vocab) -> str:
    """An HTML table: one row per step, one cell per token shaded by its probability, the chosen one boxed."""
    from course_lib.data.text import Vocabulary

    _check_trace(trace, ("text", "prefix", "steps", "context", "probs", "chosen"))
    _validate.instance("vocab", vocab, Vocabulary, "a course_lib.data.text.Vocabulary")
    header = "".join(f"<th style='{_CELL}'>{_label(vocab, i)}</th>" for i in range(vocab.size))
    rows = []
    for context, probs, chosen in zip(trace["context"], trace["probs"], trace["chosen"]):
        cells = []
        for i, p in enumerate(probs):
            border = "outline:2px solid #d62728;" if i == chosen else ""
            cells.append(f"<td title='{float(p):.3f}' style='{_CELL};background:{_shade(p)};{border}'></td>")
        rows.append(f"<tr><td style='font:11px monospace;text-align:right;padding-right:6px'>"
                    f"{html.escape(context) or '&lt;'}</td>{''.join(cells)}"
                    f"<td style='font:11px monospace;padding-left:6px'>&rarr; {_label(vocab, chosen)} "
                    f"({float(probs[chosen]):.2f})</td></tr>")
    return (f"<div><b>{html.escape(trace['text'])}</b> &nbsp; (prefix {trace['prefix']!r}, "
            f"{trace['steps']} drawn tokens)</div><table style='border-collapse:collapse'><tr><th></th>{header}"
            f"<th></th></tr>{''.join(rows)}</table>")


def attention_trace(model, vocab, word: str) -> dict:
    """Attention weights of the transformer on ``<`` + word: ``weights`` (L, H, T, T) and the ``chars``."""
    _check_model_vocab(model, vocab, transformer=True)
    ids = vocab.encode(word, name="word")
    if len(ids) + 1 > model.context:
        raise ValueError(f"word must have at most {model.context - 1} characters, got {len(ids)}: {word!r}")
    # Padded to the full context so that one compiled function serves every word; causality
    # makes the first T rows independent of the padding.
    x = np.full((1, model.context), vocab.eos, np.int32)
    x[0, :len(ids) + 1] = [vocab.bos, *ids]
    graphdef, state = nnx.split(model)
    weights = np.asarray(_attention_fn(graphdef)(state, jnp.asarray(x)))[:, 0]
    t = len(ids) + 1
    return {"weights": weights[:, :, :t, :t], "chars": ["<", *word]}


@functools.lru_cache(maxsize=8)
def _attention_fn(graphdef):
    return jax.jit(lambda state, x: nnx.merge(graphdef, state)(x, return_weights=True)[1])


def render_attention(trace: dict, layer: int) -> str:
    """One HTML table per head: row i (query) shaded by how much position i attends to each j <= i."""
    _check_trace(trace, ("weights", "chars"))
    weights = trace["weights"]
    layer = _validate.positive_int("layer", layer, minimum=0)
    if layer >= weights.shape[0]:
        raise ValueError(f"layer must be in 0..{weights.shape[0] - 1}, got {layer}")
    chars = [html.escape(c) for c in trace["chars"]]
    tables = []
    for h, a in enumerate(weights[layer]):
        head = "".join(f"<th style='{_CELL}'>{c}</th>" for c in chars)
        body = "".join(
            f"<tr><th style='{_CELL}'>{chars[i]}</th>"
            + "".join(f"<td title='{a[i, j]:.2f}' style='{_CELL};background:{_shade(a[i, j]) if j <= i else '#eee'}'>"
                      f"</td>" for j in range(len(chars))) + "</tr>" for i in range(len(chars)))
        tables.append(f"<div style='display:inline-block;margin-right:12px'><div style='font:11px sans-serif'>"
                      f"layer {layer}, head {h}</div><table style='border-collapse:collapse'><tr><th></th>{head}"
                      f"</tr>{body}</table></div>")
    return "".join(tables)


def live_sampler(model, vocab, *, prefix: str = "", seed: int = 0) -> Panel:
    """Controls for prefix, temperature, top-k (0 = off), top-p and seed; shows :func:`render_sampler`."""
    _check_model_vocab(model, vocab)
    seed = _validate.positive_int("seed", seed, minimum=0)
    controls = {
        "prefix": widgets.Text(value=prefix, description="prefix", continuous_update=False),
        "temperature": widgets.FloatSlider(value=1.0, min=0.1, max=2.5, step=0.05, description="temperature"),
        "top_k": widgets.IntSlider(value=0, min=0, max=vocab.size, description="top-k (0=off)"),
        "top_p": widgets.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top-p"),
        "seed": widgets.IntText(value=seed, description="seed"),
    }
    output, status, timer = widgets.HTML(), Status(), Timer()

    def update(_=None):
        with timer:
            trace = sampling_trace(model, vocab, prefix=controls["prefix"].value,
                                   temperature=controls["temperature"].value,
                                   top_k=controls["top_k"].value or None, top_p=controls["top_p"].value,
                                   seed=controls["seed"].value)
            output.value = render_sampler(trace, vocab)
        status.ok(f"sampled {trace['text']!r}  ({timer.last_ms:.0f} ms)")

    safe_update = guarded(update, status)
    for control in controls.values():
        control.observe(safe_update, names="value")
    safe_update()
    panel = Panel([widgets.HBox([controls["prefix"], controls["seed"]]),
                   widgets.HBox([controls["temperature"], controls["top_k"], controls["top_p"]]), output, status],
                  title="Live sampler")
    panel.controls, panel.output, panel.status, panel.timer = controls, output, status, timer
    return panel


def attention_viewer(model, vocab, *, word: str = "isabella") -> Panel:
    """A word box and a layer slider; shows every head's attention (:func:`render_attention`)."""
    _check_model_vocab(model, vocab, transformer=True)
    text = widgets.Text(value=word, description="name", continuous_update=False)
    layer = widgets.IntSlider(value=0, min=0, max=model.num_layers - 1, description="layer")
    output, status, timer = widgets.HTML(), Status(), Timer()

    def update(_=None):
        with timer:
            output.value = render_attention(attention_trace(model, vocab, text.value), layer.value)
        status.ok(f"attention of {text.value!r}, layer {layer.value}  ({timer.last_ms:.0f} ms)")

    safe_update = guarded(update, status)
    text.observe(safe_update, names="value")
    layer.observe(safe_update, names="value")
    safe_update()
    panel = Panel([widgets.HBox([text, layer]), output, status], title="Attention viewer")
    panel.controls, panel.output, panel.status, panel.timer = {"word": text, "layer": layer}, output, status, timer
    return panel
