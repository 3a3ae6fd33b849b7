# %% [markdown] slideshow={"slide_type": "slide"}
# # 09 · Autoregressive models of text: from bigram counts to a small transformer, sampled live, on a CPU
#
# {{COLAB_BADGE}}
#
# **Time:** about 50 minutes. **You will:**
#
# - write a name as a sequence of tokens and its probability with the chain rule, the same
#   factorisation as MADE in 07, now over characters;
# - climb a ladder of four models and measure each one in nats and bits per character: bigram
#   counts, the same bigram as a network, an MLP over a context window, a small causal transformer;
# - write masked multi-head self-attention out in a few lines and check it against Flax's own
#   layer, and check that no position can see the future;
# - sample with temperature, top-k and nucleus (top-p) and measure what each does to the samples;
# - speed up generation with a key-value cache and measure by how much.
#
# Most people meet generative models through language models. A language model is an explicit-density
# model (01): it assigns every string an exact probability, one token at a time. The two trained
# networks of this notebook were made by `python scripts/train_language_checkpoints.py` (about two
# minutes on 2 CPU cores); the notebook loads them and trains the small models live.

# %%
{{COLAB_BOOTSTRAP}}

# %% [markdown]
# One setup cell: the imports, the device JAX uses, the corpus with its fixed split, and the two
# pretrained networks.

# %% tags=["nbval-ignore-output"]
# %matplotlib inline
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from IPython.display import HTML, Markdown, display

from course_lib import decoding, plotting
from course_lib.data import text
from course_lib.evaluation.text_samples import is_plausible_name, sample_statistics
from course_lib.exercises import ch09_language_models as ch09
from course_lib.models import attention as att
from course_lib.models import language as lm
from course_lib.reproduce import text_ladder as tx
from course_lib.training import language as tl
from course_lib.widgets import language as lw

print("JAX devices:", jax.devices())
d = text.load_text_splits()  # names -> tokens; the corpus file is checked against its SHA-256
vocab = d["vocab"]
train, val, test = ((d["tokens"][s], d["mask"][s]) for s in ("train", "val", "test"))
mlp, _ = tx.load_language_model("MLP, 4 characters of context")
transformer, _ = tx.load_language_model("transformer")
results = tx.read_results()  # data/results/text_ladder.json, written by the training script
print({s: len(w) for s, w in d["words"].items()}, "names; vocabulary:", vocab.chars)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Text as a sequence of tokens
#
# The corpus is the 5,163 distinct first names of the 1990 US Census lists (public domain; see
# `data/README.md` for the source and checksum), split once into 4,130 training, 516 validation and
# 517 test names. The vocabulary is the 26 letters plus a start token `<` and an end token `>`, so
# $V = 28$. A name of $n$ letters becomes $n + 2$ tokens, and the chain rule of probability, exactly
# as for MADE's pixels in 07, writes
#
# $$p(\text{name}) = \prod_{t=1}^{n+1} p(x_t \mid x_0, \dots, x_{t-1}), \qquad x_0 = \texttt{<},\ x_{n+1} = \texttt{>}.$$
#
# The end token matters: it is how the model says a name is over, and it makes the probabilities of
# all names of all lengths sum to one. We report the NLL *per character*, the average of
# $-\log p(x_t \mid x_{<t})$ over the $n + 1$ predictions (the end token counts as a character).

# %%
tokens, mask = text.encode_batch(["emma"], vocab, 12)
print("tokens:", tokens[0].tolist())
print("counted predictions:", mask[0].tolist())
assert tokens[0, 0] == vocab.bos and tokens[0, 5] == vocab.eos and mask[0].sum() == len("emma") + 1
assert vocab.decode(tokens[0]) == "emma"

# %% [markdown]
# Each row of `tokens` holds the start token, the letters, the end token, then filler; the mask
# counts the five predictions `e m m a >` and ignores the filler. Every model below reads
# `tokens[:, :-1]` and predicts `tokens[:, 1:]`.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The bigram model, counted
#
# The simplest conditional looks one character back: $p(x_t \mid x_{<t}) = p(x_t \mid x_{t-1})$.
# Its maximum-likelihood estimate is a table of counts $N[a, b]$ of the pairs "a then b" in the
# training names, normalised by row. Add-$\alpha$ smoothing gives every pair a little mass:
#
# $$\hat p(b \mid a) = \frac{N[a, b] + \alpha}{\sum_{b'} N[a, b'] + \alpha V}.$$

# %%
counts = lm.BigramCounts(vocab.size, alpha=1.0).fit(*train)
mle = lm.BigramCounts(vocab.size, alpha=0.0).fit(*train)
nll_counts_test = tl.evaluate_nll(counts, *test)
nll_mle_test = tl.evaluate_nll(mle, *test)
print(f"add-1 smoothing: test NLL {nll_counts_test:.3f} nats/char = {tl.nats_to_bits(nll_counts_test):.3f} bits/char")
print(f"no smoothing (alpha = 0): test NLL {nll_mle_test}")
assert np.allclose(np.exp(counts.log_probs).sum(axis=1), 1.0)  # each row is a distribution
assert math.isinf(nll_mle_test)  # some test pair never occurs in training

# %% [markdown]
# Without smoothing, a single pair of letters that never occurs in the training names gets
# probability 0 and the test NLL is infinite. With $\alpha = 1$ the model pays a little on
# frequent pairs and stays finite everywhere. A uniform guess over 28 tokens would cost
# $\log 28 \approx 3.33$ nats; one character of context already saves about one nat per character.
#
# The count table *is* the model. Here it is, one row per previous token (darker = more likely):

# %%
fig, (ax,) = plotting.new_figure(1, size=(6.0, 5.4))
ax.imshow(np.exp(counts.log_probs), cmap="Blues")
ax.set_xticks(range(vocab.size), list(vocab.chars), fontsize=7)
ax.set_yticks(range(vocab.size), list(vocab.chars), fontsize=7)
ax.set_xlabel("next token $b$")
ax.set_ylabel("previous token $a$")
ax.set_title("bigram model $p(b \\mid a)$, add-1 smoothing", fontsize=9)
display(fig)
p_end = np.exp(counts.log_probs)[:, vocab.eos]  # p(> | a) for every previous token a
assert {vocab.chars[i] for i in np.argsort(-p_end)[:4]} == set("aeny")  # the letters most likely to end a name

# %% [markdown]
# The first row (after `<`) is the distribution of first letters; the column of `>` shows which
# letters end names: after `a`, `e`, `n` or `y` a name is most likely to stop (the figure's cell
# checks it). The row of `>` is flat: nothing follows the end token,
# so it only holds the smoothing.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. The same bigram as a network
#
# A one-layer network with a $V \times V$ weight matrix $W$ and logits $W[x_{t-1}]$ (a one-hot
# vector times $W$) can represent exactly the same conditionals, $\log \hat p(b \mid a) = W_{ab} +
# \text{const}$. Trained by gradient descent on the NLL, it should reach the counts' training NLL,
# which no bigram model can beat (it is the MLE), and start at $\log V$ with $W = 0$.

# %% tags=["nbval-ignore-output"]
bigram_net = lm.BigramNet(vocab.size, rngs=nnx.Rngs(0))
nll_start = tl.evaluate_nll(bigram_net, *train)
fit = tl.train_language_model(bigram_net, *train, key=jax.random.key(0), num_steps=1000, batch_size=512,
                              lr=0.5, steps_per_call=200)
nll_net, nll_mle = tl.evaluate_nll(bigram_net, *train), tl.evaluate_nll(mle, *train)
print(f"start: {nll_start:.4f} nats (log V = {math.log(vocab.size):.4f});  after {len(fit.history)} steps "
      f"in {fit.seconds:.1f} s: {nll_net:.4f};  count MLE: {nll_mle:.4f} (train NLL)")

# %%
assert abs(nll_start - math.log(vocab.size)) < 1e-5
assert nll_mle <= nll_net + 1e-6 and nll_net - nll_mle < 0.01  # reaches the MLE, never beats it
assert fit.chunk_fn.num_traces == 1  # 5 calls of 200 scan-fused steps, compiled once

# %% [markdown]
# The network reaches the counted model within 0.01 nats per character and cannot go below it.
# Nothing was gained yet; what the network buys is the freedom to read more context without a
# table that grows as $V^{n}$.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. An MLP over a context window (Bengio et al., 2003)
#
# Bengio, Ducharme, Vincent and Jauvin (2003) embed each of the last $n$ tokens in a small vector
# $C(x)$, concatenate, and apply an MLP:
#
# $$\text{logits}_t = W_2 \tanh\!\big(W_1 [C(x_{t-n+1}); \dots; C(x_t)] + b_1\big) + b_2 .$$
#
# Positions before the start are filled with start tokens. The pretrained MLP reads $n = 4$
# characters. A model is autoregressive only if output $t$ ignores every later token; we change
# one token at a time and look at the earlier outputs:

# %%
x = jnp.asarray(test[0][:8, :-1])  # (8, 12) test names
windows = mlp.windows(x)
print("windows:", windows.shape, "  e.g. position 2 of the first name reads", windows[0, 2].tolist())
mlp_logits = jax.jit(lambda x: mlp(x))  # compiled once, called 13 times
base = mlp_logits(x)
for t in range(x.shape[1]):
    changed = mlp_logits(x.at[:, t].set((x[:, t] + 1) % vocab.size))
    assert jnp.array_equal(changed[:, :t], base[:, :t])  # earlier logits: bit for bit unchanged
    assert not jnp.allclose(changed[:, t], base[:, t])  # the changed position itself matters
print("changing token t never changed the logits of positions < t")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. A small causal transformer
#
# The MLP's window is fixed. Attention (Vaswani et al., 2017) lets each position read *all*
# earlier positions, weighted by relevance. For one head of width $D_h$, with queries, keys and
# values $q = xW_q$, $k = xW_k$, $v = xW_v$:
#
# $$A = \operatorname{softmax}\!\Big(\frac{q k^\top}{\sqrt{D_h}} + M\Big), \qquad M_{ij} = \begin{cases} 0 & j \le i \\ -\infty & j > i\end{cases}, \qquad \text{head} = A v .$$
#
# The causal mask $M$ is what makes it autoregressive. `course_lib.models.attention` writes this
# out; here is the mask and the weights of a fresh layer on 5 positions:

# %%
print(att.causal_mask(5).astype(int))
layer = att.CausalSelfAttention(32, 4, rngs=nnx.Rngs(0))
h = jax.random.normal(jax.random.key(1), (2, 5, 32))
out, A = layer(h, return_weights=True)  # (2, 5, 32), (2, 4 heads, 5, 5)
print("attention weights, batch 0, head 0:\n", np.round(np.asarray(A[0, 0]), 2))
assert np.allclose(A.sum(-1), 1.0, atol=1e-6)  # every row is a distribution ...
assert np.all(np.asarray(A)[..., ~att.causal_mask(5)] == 0)  # ... over the current and earlier positions

# %% [markdown]
# Our few lines should compute exactly what Flax's `nnx.MultiHeadAttention` computes with the same
# weights and a causal mask; and without the mask, they should not:

# %%
flax_mha = nnx.MultiHeadAttention(num_heads=4, in_features=32, qkv_features=32, out_features=32, decode=False,
                                  rngs=nnx.Rngs(2))
layer.copy_to_flax(flax_mha)
ours, theirs = layer(h), flax_mha(h, mask=nnx.make_causal_mask(jnp.ones((2, 5))))
assert jnp.allclose(ours, theirs, atol=1e-5)
print("with the causal mask, ours and Flax's agree to 1e-5 on every output")
assert not jnp.allclose(ours, flax_mha(h), atol=1e-3)  # no mask: position 0 would see the future

# %% [markdown]
# The transformer stacks two pre-norm blocks, $h \leftarrow h + \text{Attn}(\text{LN}(h))$ then
# $h \leftarrow h + \text{MLP}(\text{LN}(h))$, on top of token plus position embeddings, with 4
# heads of width 12 (`course_lib.models.language.Transformer`). Freshly initialised, its first loss
# should be close to $\log V$ (its output layer starts small); the same future-token check must
# hold through the whole stack:

# %%
fresh = lm.Transformer(vocab.size, **{k: transformer.config[k] for k in ("context", "width", "num_heads",
                                                                          "num_layers")}, rngs=nnx.Rngs(0))
nll_fresh = tl.evaluate_nll(fresh, *val)
print(f"untrained transformer: {nll_fresh:.2f} nats/char; log V = {math.log(vocab.size):.2f}; "
      f"{lm.num_params(transformer):,} parameters")
assert abs(nll_fresh - math.log(vocab.size)) < 0.05
transformer_logits = jax.jit(lambda x: transformer(x))
transformer_logits_and_weights = jax.jit(lambda x: transformer(x, return_weights=True))
base = transformer_logits(x)
for t in range(x.shape[1]):
    changed = transformer_logits(x.at[:, t].set((x[:, t] + 1) % vocab.size))
    assert jnp.allclose(changed[:, :t], base[:, :t], atol=1e-6) and not jnp.allclose(changed[:, t], base[:, t])
print("the trained transformer passes the future-token check too")

# %% [markdown]
# What does the trained model attend to? Each table is one head: row $i$ is a position of the name
# (a query), the shading shows how much it reads each earlier position $j \le i$ (grey: masked).

# %%
display(HTML(lw.render_attention(lw.attention_trace(transformer, vocab, "isabella"), layer=0)))

# %% [markdown]
# The patterns are soft. To summarise them, measure over the test names how much weight each head
# puts on the *previous* character, against what attending uniformly to the visible positions would
# give:

# %%
_, A_test = transformer_logits_and_weights(jnp.asarray(test[0][:, :-1]))  # (L, B, H, T, T)
A_test, m_test = np.asarray(A_test), test[1]
positions = range(1, 11)  # query positions with a previous character
uniform = np.mean([m_test[:, i].sum() / (i + 1) for i in positions]) / np.mean([m_test[:, i].sum() for i in positions])
on_previous = np.array([[np.sum([(A_test[l, :, h, i, i - 1] * m_test[:, i]).sum() for i in positions])
                         / np.sum([m_test[:, i].sum() for i in positions]) for h in range(A_test.shape[2])]
                        for l in range(A_test.shape[0])])
print(f"uniform attention would put {uniform:.2f} on the previous character")
print("weight on the previous character, per layer (rows) and head (columns):\n", np.round(on_previous, 2))
assert np.all(on_previous > uniform)  # every head prefers the previous character to a uniform guess

# %% [markdown]
# Every head leans towards the previous character (a learnt bigram), none sharply: on short names with
# at most 12 positions, a small model spreads its attention over the whole prefix, which also tells
# it how far into the name it is. Try other names and the second layer:

# %%
lw.attention_viewer(transformer, vocab, word="isabella")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. The ladder
#
# Every rung on the same split, the test NLL in nats and bits per character, with the parameter
# count and the training time of the script's run (wall seconds, compilation included, on the
# machine and load recorded in the results file). The two pretrained rows are re-evaluated here and
# must match the file:

# %%
rows = results["rows"]
live = {"bigram counts": counts, "bigram network": bigram_net, "MLP, 4 characters of context": mlp,
        "transformer": transformer}
table = ["| model | test NLL (nats/char) | bits/char | perplexity | parameters | training s |", "|---|---|---|---|---|---|"]
for row in rows:
    nll = tl.evaluate_nll(live[row["model"]], *test)
    if row["model"] in tx.CHECKPOINTS and row["model"] != "bigram network":
        assert abs(nll - row["test_nll_nats"]) < 1e-3, row["model"]  # the checkpoint is the model in the table
    table.append(f"| {row['model']} | {row['test_nll_nats']:.3f} | {row['test_bits_per_char']:.3f} | "
                 f"{math.exp(row['test_nll_nats']):.2f} | {row['params']:,} | {row['train_seconds']:.0f} |")
display(Markdown("\n".join(table)))
nll_of = {r["model"]: r["test_nll_nats"] for r in rows}
assert nll_of["transformer"] < nll_of["MLP, 4 characters of context"] < nll_of["bigram network"] < math.log(vocab.size)
assert abs(nll_of["bigram network"] - nll_of["bigram counts"]) < 0.02

# %% [markdown]
# Perplexity $e^{\text{NLL}}$ is "as uncertain as a uniform choice among that many characters":
# from 28 (uniform) to about 10 with one letter of context and about 7 with four letters or the whole
# prefix. The big step is from one character of context to four; the transformer, with the whole
# name in view, gains only a little more on this small corpus (4,130 names; it overfits soon, so the
# script keeps the parameters with the best validation NLL). Which of these gaps survive a change of
# seed? The script retrained every rung with seeds 1 and 2 too:

# %%
by_seed = results["test_nll_by_seed"]  # {model: {seed: test NLL}}
for model, nll in by_seed.items():
    values = np.array(list(nll.values()))
    print(f"{model:30s} seeds {', '.join(nll)}: {', '.join(f'{v:.3f}' for v in values)}  "
          f"(mean {values.mean():.3f}, spread {values.max() - values.min():.3f})")
context_gain = min(by_seed["bigram network"].values()) - max(by_seed["MLP, 4 characters of context"].values())
gaps = {s: by_seed["MLP, 4 characters of context"][s] - by_seed["transformer"][s] for s in by_seed["transformer"]}
print(f"MLP minus transformer, per seed: {', '.join(f'{g:+.3f}' for g in gaps.values())}")
assert context_gain > 0.3  # four characters of context beat one by far more than any seed moves them

# %% [markdown]
# Four characters of context beat one by almost 0.4 nats per character on every seed. The transformer's
# lead over the MLP is of the size of the seed-to-seed spread, and on one seed the MLP wins: on 4,130
# short names, a window of four characters already holds most of what the whole prefix can tell. The
# order of the two top rungs in the table above is one seed's result, not a finding.
# `python -m course_lib reproduce text-ladder --json --seeds 3` reproduces these rows.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Sampling
#
# To generate, draw $x_1$ from $p(\cdot \mid \texttt{<})$, feed it back, draw $x_2$, and so on until
# the end token: one network pass per character, exactly like MADE's one pass per pixel. Three knobs
# reshape each step's distribution $p = \operatorname{softmax}(z)$ before drawing:
#
# - **temperature** $T$: $p_T = \operatorname{softmax}(z / T)$; $T < 1$ sharpens, $T > 1$ flattens,
#   $T \to 0$ is greedy decoding;
# - **top-k**: keep the $k$ most probable tokens, renormalise;
# - **top-p** (nucleus, Holtzman et al., 2020): keep the most probable tokens until their mass
#   reaches $p$ (the token that crosses $p$ is kept), renormalise.

# %%
z = jnp.array([2.0, 1.0, 0.5, -1.0])
for T in (0.5, 1.0, 2.0):
    print(f"T = {T}: ", np.round(np.asarray(jax.nn.softmax(decoding.apply_temperature(z, T))), 3))
p = jax.nn.softmax(z)
nucleus = np.isfinite(np.asarray(decoding.top_p_filter(z, 0.7)))
print("p =", np.round(np.asarray(p), 3), "  top-p 0.7 keeps", nucleus.astype(int))
assert jax.nn.softmax(z / 0.5)[0] > p[0] > jax.nn.softmax(z / 2.0)[0]  # colder = more mass on the top token
assert p[0] < 0.7 <= p[0] + p[1] and nucleus.tolist() == [True, True, False, False]  # the crossing token stays

# %% [markdown]
# Here is one sampled name, step by step: each row is the distribution the next character was drawn
# from (after temperature and filtering), the drawn character is boxed in red, and its probability is
# on the right.

# %%
trace = lw.sampling_trace(transformer, vocab, prefix="", temperature=1.0, top_p=0.9, seed=4)
display(HTML(lw.render_sampler(trace, vocab)))
assert np.allclose(trace["probs"].sum(axis=1), 1.0, atol=1e-5)
assert all(trace["probs"][i, c] > 0 for i, c in enumerate(trace["chosen"]))  # never a filtered-out token

# %% [markdown]
# Now it is your turn: type a prefix, move the temperature, switch on top-k or top-p, change the seed.
# Watch how the rows sharpen at low temperature and how top-p cuts the long tail of unlikely letters.

# %%
lw.live_sampler(transformer, vocab, prefix="ma", seed=0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ### What temperature does to the samples, measured
#
# For each setting the script drew 1,000 names and measured the transformer's own NLL of its samples
# (with the unmodified model, $T = 1$), the fraction of samples that are *new* (not training names),
# and the fraction that pass a simple plausibility rule (2 to 11 letters, a vowel, no letter three
# times in a row, at most three consonants in a row: `is_plausible_name`).

# %%
assert is_plausible_name("emma") and is_plausible_name("kristofer") and not is_plausible_name("xkcdq")
sampling = results["sampling"]
table = ["| T | top-k | top-p | model NLL of samples | new | plausible | distinct | examples |", "|---|---|---|---|---|---|---|---|"]
for r in sampling:
    table.append(f"| {r['temperature']} | {r['top_k'] or '-'} | {r['top_p']} | {r['sample_nll']:.2f} | "
                 f"{r['fraction_new']:.0%} | {r['fraction_valid']:.0%} | {r['fraction_distinct']:.0%} | "
                 f"{', '.join(r['examples'][:4])} |")
display(Markdown("\n".join(table)))
by_t = [r for r in sampling if r["top_k"] is None and r["top_p"] == 1.0]
fig, axes = plotting.new_figure(3, size=(3.0, 2.5))
for ax, key, label in zip(axes, ("sample_nll", "fraction_new", "fraction_valid"),
                          ("model NLL of its samples (nats/char)", "fraction new", "fraction plausible")):
    ax.plot([r["temperature"] for r in by_t], [r[key] for r in by_t], "o-")
    ax.set_xlabel("temperature $T$")
    ax.set_title(label, fontsize=9)
axes[0].axhline(nll_of["transformer"], color="C3", ls="--", lw=1, label="test NLL")
axes[0].legend(fontsize=8)
display(fig)

# %% [markdown]
# Colder samples are likelier to the model, more often copies of training names and, by our simple
# rule, a little more plausible; hotter ones are novel but drift towards strings the model itself
# finds unlikely. At $T = 1$ the samples cost the model a little less than real test names do (about
# 1.8 against 1.93 nats per character): real names hold surprises that the model rarely produces.
# Top-k and top-p cut the tail without flattening the head: top-k 5 or top-p 0.9 at $T = 1$ keep
# most of the novelty of $T = 1$ while removing almost every implausible sample. Let us check the
# trend live, on 512
# fresh samples per temperature (the printed fractions can move by a sample on another CPU; the
# asserts hold either way):

# %% tags=["nbval-ignore-output"]
live_stats = {T: sample_statistics(transformer, vocab, d["words"]["train"], jax.random.key(7), temperature=T,
                                   num_samples=512) for T in (0.5, 1.0, 2.0)}
for T, s in live_stats.items():
    print(f"T = {T}: NLL of samples {s['sample_nll']:.1f}, new {s['fraction_new']:.1f}, "
          f"plausible {s['fraction_valid']:.1f}")
assert live_stats[0.5]["sample_nll"] < live_stats[1.0]["sample_nll"] < live_stats[2.0]["sample_nll"]
assert live_stats[0.5]["fraction_new"] < live_stats[2.0]["fraction_new"]
assert live_stats[0.5]["fraction_valid"] > live_stats[2.0]["fraction_valid"]
assert abs(live_stats[1.0]["sample_nll"] - nll_of["transformer"]) < 0.25

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. A key-value cache
#
# Generating token $t$ without a cache runs the whole prefix through the network again: the keys and
# values of positions $0..t-1$ are recomputed at every step. They never change (the mask stops them
# from seeing later tokens), so we can keep them and compute only the new position's query, key and
# value: `Transformer.decode`. The cached and uncached generations must agree token for token:

# %%
plain, _ = decoding.generate(transformer, vocab, jax.random.key(3), num_samples=512, prefix="jo", use_cache=False)
cached, _ = decoding.generate(transformer, vocab, jax.random.key(3), num_samples=512, prefix="jo", use_cache=True)
assert jnp.array_equal(plain, cached)  # 512 names, every token identical
print("with and without the cache: the same 512 names, token for token")

# %% tags=["nbval-ignore-output"]
speed = {c: decoding.tokens_per_second(transformer, vocab, use_cache=c, num_samples=512, repeats=3)
         for c in (False, True)}
print(f"without cache: {speed[False]:,.0f} tokens/s;  with cache: {speed[True]:,.0f} tokens/s;  "
      f"speed-up {speed[True] / speed[False]:.1f}x  (script's run: {results['cache']['speedup']}x)")
assert speed[True] > speed[False]

# %% [markdown]
# With 12 positions the saving is modest; it grows with the context, since the uncached cost per
# token grows with the prefix length (quadratically for attention) and the cached one only linearly.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A language model is an explicit-density model: the chain rule turns $p(\text{text})$ into a
#   product of next-token distributions, the same factorisation as MADE (07), with an exact
#   likelihood measured in nats or bits per character.
# - Counting bigrams gives the closed-form MLE; a one-layer network trained by gradient descent
#   reaches the same NLL. More context (an MLP over 4 characters, attention over the whole prefix)
#   lowers the test NLL from 2.35 to about 1.95 nats per character; on this small corpus the MLP and
#   the transformer are within seed noise of each other.
# - Masked self-attention is a softmax over earlier positions; the mask is what makes the model
#   autoregressive, and "changing a future token never changes an earlier output" checks it.
# - Temperature, top-k and top-p trade novelty for plausibility; the model's NLL of its own samples
#   measures how far a setting moves away from the model's distribution.
# - A key-value cache gives the same samples with less work per token.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# **Exercise 1.** Write the causal mask: a $(T, T)$ boolean array that is True where position $i$
# may attend to position $j$.

# %% tags=["solution"]
def causal_mask(T):
    """(T, T) bool, True where j <= i."""
    return np.tril(np.ones((T, T), dtype=bool))


# %%
result = ch09.check_causal_mask(causal_mask)

# %% [markdown]
# **Exercise 2.** Write the softmax with temperature $T$ over the last axis of `logits`.

# %% tags=["solution"]
def softmax_temperature(logits, T):
    """softmax(logits / T) over the last axis."""
    z = np.asarray(logits, float) / T
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# %%
result = ch09.check_softmax_temperature(softmax_temperature)

# %% [markdown]
# **Exercise 3.** Write nucleus (top-p) filtering of a 1-D probability vector: keep the most probable
# tokens until their mass reaches $p$ (keep the one that crosses $p$), set the rest to 0, renormalise.

# %% tags=["solution"]
def top_p(probs, p):
    """Filtered, renormalised copy of probs (1-D)."""
    probs = np.asarray(probs, float)
    order = np.argsort(-probs)
    mass_before = np.cumsum(probs[order]) - probs[order]
    keep = np.zeros(len(probs), bool)
    keep[order[mass_before < p]] = True
    out = np.where(keep, probs, 0.0)
    return out / out.sum()


# %%
result = ch09.check_top_p(top_p)

# %% [markdown]
# **Exercise 4.** A model has a test NLL of `nats` per character. Return its bits per character and
# its perplexity.

# %% tags=["solution"]
def bits_perplexity(nats):
    """(bits per character, perplexity)."""
    return nats / math.log(2), math.exp(nats)


# %%
result = ch09.check_bits_perplexity(bits_perplexity)

# %% [markdown]
# **Try it:** in the live sampler, find the lowest temperature at which the names stop being copies
# of common names (type a few into the training list check: `name in d["words"]["train"]`). In the
# attention viewer, find the head that leans most on the previous character, and a name on which some
# head looks back further (double letters, "-ella" endings). Then design the experiment that would
# tell the MLP and the transformer apart beyond seed noise: more names (the census surname list in the
# same `names` package has 88,799), longer strings, or more seeds? Predict the outcome before you run it.
#
# **Next:** [10 - FAQ and glossary](10_faq_glossary.ipynb): short answers to common questions, and a self-check quiz.
