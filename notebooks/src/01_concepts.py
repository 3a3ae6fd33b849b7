# %% [markdown] slideshow={"slide_type": "slide"}
# # 01 · Concepts: what is a generative model?
#
# {{COLAB_BADGE}}
#
# **Time:** about 30 minutes. **Prerequisites:** [00 - Start here](00_start_here.ipynb).
#
# **You will learn to:**
# - say precisely what a generative model is: a density you can evaluate, a sampler you can run, or both;
# - tell an *explicit* density from an *implicit* one, and see what a *latent variable* is;
# - separate generative from discriminative classifiers on the same data, and sample new data from the
#   generative one;
# - place the main families (autoregressive, flows, VAEs, GANs, diffusion, energy-based) in a table of
#   their strengths and typical failures, and on a correctly dated timeline.

# %%
{{COLAB_BOOTSTRAP}}

# %% [markdown]
# One setup cell: everything this notebook imports, and the versions it ran with.
# (`%matplotlib inline` makes the figures that `course_lib` returns show up as pictures.)

# %% tags=["nbval-ignore-output"]
# %matplotlib inline
import jax
import jax.numpy as jnp
import numpy as np
from IPython.display import display
from scipy import special
from sklearn.datasets import make_moons
from sklearn.linear_model import LogisticRegression
from sklearn.mixture import GaussianMixture
from sklearn.naive_bayes import GaussianNB

import course_lib
from course_lib import data, plotting
from course_lib.lessons import families, timeline
from course_lib.exercises.ch01_concepts import (check_ancestral_sample, check_gan_year, check_generative_quiz,
                                               check_posterior)
from course_lib.widgets.concepts import classifier_figure, family_explorer, render_family, render_family_gallery

print(f"course_lib {course_lib.__version__}, jax {jax.__version__}, devices {jax.devices()}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. A generative model is a distribution you can use
#
# We have examples $x_1, \dots, x_N$ drawn from an unknown distribution $p_{\text{data}}$. A
# **generative model** is a distribution $p_\theta$ with parameters $\theta$, fitted so that
# $p_\theta \approx p_{\text{data}}$, which lets us do at least one of two things:
#
# 1. **evaluate** a density $p_\theta(x)$ at any point (how plausible is this $x$?);
# 2. **sample** new points $x \sim p_\theta$ (show me more examples like the data).
#
# A classifier that outputs $p(y \mid x)$ does neither for $x$: it takes $x$ as given.
#
# The simplest useful example is the `ring` from notebook 00, a mixture of 8 Gaussians with
# means $m_k$ on a circle of radius 2 and a common standard deviation $s$:
#
# $$p(x) = \sum_{k=1}^{8} \frac{1}{8}\, \mathcal{N}(x;\, m_k,\, s^2 I), \qquad
#   \mathcal{N}(x; m, s^2 I) = \frac{1}{2\pi s^2} \exp\!\Big(-\frac{\lVert x - m\rVert^2}{2 s^2}\Big).$$
#
# We write this formula in five lines and check it against the library's `toy_log_density`.

# %%
ring = data.toy_mixture("ring")  # weights (8,), means (8, 2), std
x = np.asarray(data.sample_toy("ring", jax.random.key(0), 1000), np.float64)  # (1000, 2)


def ring_density(x):
    """p(x) for (N, 2) points, straight from the formula."""
    sq_dist = np.sum((x[:, None, :] - ring.means[None]) ** 2, axis=-1)  # (N, 8)
    normal = np.exp(-sq_dist / (2 * ring.std**2)) / (2 * np.pi * ring.std**2)  # (N, 8)
    return normal @ ring.weights  # (N,)


ours = np.log(ring_density(x))
library = np.asarray(data.toy_log_density("ring", x))
print(f"max |difference| of log p(x) over 1000 points: {np.max(np.abs(ours - library)):.1e}")
assert np.allclose(ours, library, atol=1e-4)

# %% [markdown]
# A density must integrate to 1. We check it with a Riemann sum on a fine grid (the ring's mass
# sits well inside $[-3, 3]^2$):

# %%
ticks = np.linspace(-3, 3, 601)
xx, yy = np.meshgrid(ticks, ticks)
grid = np.stack([xx.ravel(), yy.ravel()], axis=1)  # (361201, 2)
integral = np.sum(ring_density(grid)) * (ticks[1] - ticks[0]) ** 2
print(f"integral of p(x) over [-3, 3]^2: {integral:.4f}")
assert abs(integral - 1.0) < 1e-3

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Latent variables
#
# The mixture has a second reading. Draw a hidden label $z$ first, then $x$ given $z$:
#
# $$z \sim \text{Categorical}(\pi_1, \dots, \pi_8), \qquad x \mid z \sim \mathcal{N}(m_z, s^2 I), \qquad
#   p(x) = \sum_z p(z)\, p(x \mid z).$$
#
# $z$ is a **latent variable**: never observed, but it makes sampling easy (*ancestral sampling*: sample
# the parents, then the children) and gives each point an explanation ("it came from mode 3"). VAEs,
# GANs and diffusion models all have latents; theirs are continuous and the map from $z$ to $x$ is a
# neural network.
#
# We sample the ring this way and check that each mode receives about 1/8 of the points.

# %%
k_z, k_eps = jax.random.split(jax.random.key(1))
z = np.asarray(jax.random.categorical(k_z, jnp.log(ring.weights), shape=(8000,)))  # (8000,) hidden labels
x_ancestral = ring.means[z] + ring.std * np.asarray(jax.random.normal(k_eps, (8000, 2)))  # (8000, 2)
counts = np.bincount(z, minlength=8)
print("points per mode:", counts.tolist())
# each count is Binomial(8000, 1/8): standard deviation sqrt(8000 * 1/8 * 7/8) = 29.6
assert np.all(np.abs(counts - 1000) < 4 * 29.6)
# a sanity check, true by construction (x = m_z + s eps): every sample lies near the mean of its own mode
assert np.max(np.linalg.norm(x_ancestral - ring.means[z], axis=1)) < 6 * ring.std

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Explicit and implicit models
#
# The ring has an **explicit** density: a formula for $p(x)$. Many modern generators are **implicit**:
# they are a procedure $x = g(z)$ applied to random noise $z$, with no tractable formula for $p(x)$. A
# density may exist (for example when $z$ has at least as many dimensions as $x$, or when $g$ adds
# noise to its output), but nobody can evaluate it. A GAN generator is of this kind.
#
# An extreme, but common, case: if $z$ has fewer dimensions than $x$ and $g$ is smooth (as a neural
# network is), the samples lie on a thin surface and a density over the whole space *does not exist*.
# (A merely measurable $g$ could map one number onto any distribution in the plane; smoothness is what
# rules that out.) Here $z \sim \text{Uniform}(0, 1)$ is one number and $g(z)$ a point on a spiral in the
# plane.
#
# How can we *see* that there is no density? Estimate it the naive way, the fraction of samples
# within a radius $h$ of a point $x_0$, divided by the disc's area:
#
# $$\hat p_h(x_0) = \frac{\#\{n : \lVert x_n - x_0\rVert < h\}}{N \pi h^2}.$$
#
# For a real density, $\hat p_h(x_0) \to p(x_0)$ as $h$ shrinks. On a curve, the fraction falls only
# like $h$ (a length), not $h^2$ (an area), so $\hat p_h$ grows like $1/h$: it diverges.

# %%
def spiral(z):
    """An implicit sampler: one latent number z in [0, 1] -> a point on a spiral in the plane."""
    angle = 3 * np.pi * z
    return np.stack([z * np.cos(angle), z * np.sin(angle)], axis=-1) * 2.5  # (N, 2)


def local_density(x, x0, h):
    """Fraction of samples within distance h of x0, divided by the disc's area pi h^2."""
    inside = np.linalg.norm(x - x0, axis=1) < h
    return np.mean(inside) / (np.pi * h**2)


n = 200_000
x_spiral = spiral(np.asarray(jax.random.uniform(jax.random.key(2), (n,)), np.float64))
x_gauss = np.asarray(jax.random.normal(jax.random.key(3), (n, 2)), np.float64)
x0_spiral = spiral(np.array(0.5))  # a point on the curve
print("   h    spiral   Gaussian (true p(0) = 1/(2 pi) = 0.159)")
estimates = []
for h in (0.4, 0.2, 0.1, 0.05):
    estimates.append((local_density(x_spiral, x0_spiral, h), local_density(x_gauss, np.zeros(2), h)))
    print(f"{h:5.2f} {estimates[-1][0]:8.2f} {estimates[-1][1]:9.3f}")
spiral_est, gauss_est = np.array(estimates).T
assert spiral_est[-1] > 5 * spiral_est[0]  # no density: the estimate keeps growing
assert np.all(np.abs(gauss_est - 1 / (2 * np.pi)) < 0.02)  # a density: the estimate settles

# %% [markdown]
# Look for: a spiral made of points (left) and the same points' "density" estimate, which does not
# settle as the radius shrinks (right), unlike the Gaussian's.

# %%
fig, (ax, ax_h) = plotting.new_figure(2, size=(3.6, 3.2))
plotting.scatter_2d(ax, x_spiral[:2000], size=3, limits=2.8)
ax.plot(*x0_spiral, "o", color="C3")
ax.set_title("implicit sampler x = g(z), z in [0, 1]", fontsize=9)
hs = [0.4, 0.2, 0.1, 0.05]
ax_h.loglog(hs, spiral_est, "o-", color="C3", label="spiral at the red point")
ax_h.loglog(hs, gauss_est, "s-", color="C0", label="Gaussian at 0")
ax_h.minorticks_off()
ax_h.set_xticks(hs, [str(h) for h in hs])
ax_h.set_yticks([0.125, 0.25, 0.5, 1.0], ["0.125", "0.25", "0.5", "1"])
ax_h.set_xlabel("radius h")
ax_h.set_ylabel("estimated density")
ax_h.legend(fontsize=8)
display(fig)

# %% [markdown]
# On the log-log plot the spiral's estimate is a straight line of slope -1 (it doubles each time $h$
# halves): there is no finite $p(x_0)$ to converge to. The Gaussian's estimate is flat at its true value.
# So for an implicit model we cannot evaluate $p(x)$, and when $\dim z < \dim x$ (as in most GANs)
# $p(x)$ does not even exist, so likelihood training is impossible, not just hard (Mohamed &
# Lakshminarayanan 2016; Arjovsky & Bottou 2017). GANs are trained by a different principle (a classifier
# that tells real from generated, notebook 05).
#
# | | explicit density | implicit (sampler only) |
# |---|---|---|
# | you can evaluate | $p_\theta(x)$ exactly (autoregressive, flows), a bound (VAE, diffusion) or up to a constant (energy-based) | nothing: no tractable density (none at all when $\dim z < \dim x$) |
# | you can sample | yes (sometimes slowly) | yes, usually fast |
# | trained by | maximum likelihood or a bound on it (energy-based models: mostly contrastive divergence, score matching or noise-contrastive estimation, since $p$ is known only up to a constant) | a two-sample test, e.g. a discriminator (GAN) |

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Generative vs discriminative, on the same data
#
# A classifier sees pairs $(x, y)$. There are two ways to build one:
#
# - **discriminative**: model $p(y \mid x)$ directly (logistic regression, SVMs, random forests, most
#   neural classifiers). Nothing is said about how $x$ is distributed.
# - **generative**: model how the data are *made*, $p(y)$ and $p(x \mid y)$, and classify with Bayes' rule
#
# $$p(y \mid x) = \frac{p(x \mid y)\, p(y)}{\sum_{c} p(x \mid c)\, p(c)}.$$
#
# (Joint, marginal and conditional distributions and Bayes' rule are written out and checked against
# samples in [notebook 02](02_probability.ipynb), section 1.) Because it has $p(x, y) = p(y)\, p(x \mid y)$,
# a generative classifier can also **sample new labelled data**. (Random forests and SVMs are discriminative: they can predict $y$ but cannot produce an $x$.)
#
# Data: two interleaved half-moons with labels, 400 for training and 200 for testing.

# %%
x_all, y_all = make_moons(600, noise=0.2, random_state=0)
x_train, y_train, x_test, y_test = x_all[:400], y_all[:400], x_all[400:], y_all[400:]
print("train", x_train.shape, "test", x_test.shape, "class balance", np.bincount(y_train).tolist())

# %% [markdown]
# Three classifiers: **Gaussian naive Bayes** (generative; $p(x \mid y)$ is a Gaussian with a
# diagonal covariance), a **mixture Bayes classifier** (generative; $p(x \mid y)$ is a mixture of 4
# Gaussians per class), and **logistic regression** (discriminative; $p(y=1 \mid x) = \sigma(w^\top x + b)$).

# %%
class MixtureBayes:
    """Generative classifier: p(y) from label counts, p(x | y) a Gaussian mixture per class."""

    def __init__(self, num_components=4, seed=0):
        self.num_components, self.seed = num_components, seed

    def fit(self, x, y):
        self.log_prior = np.log(np.bincount(y) / len(y))  # (C,)
        self.class_models = [GaussianMixture(self.num_components, random_state=self.seed).fit(x[y == c])
                             for c in range(len(self.log_prior))]
        return self

    def predict_proba(self, x):
        log_px_given_y = np.stack([m.score_samples(x) for m in self.class_models], axis=1)  # (N, C)
        return special.softmax(log_px_given_y + self.log_prior, axis=1)  # Bayes' rule, in logs

    def score(self, x, y):
        return float(np.mean(self.predict_proba(x).argmax(axis=1) == y))


naive_bayes = GaussianNB().fit(x_train, y_train)
mixture_bayes = MixtureBayes().fit(x_train, y_train)
logistic = LogisticRegression().fit(x_train, y_train)
for name, model in (("naive Bayes", naive_bayes), ("mixture Bayes", mixture_bayes),
                    ("logistic regression", logistic)):
    print(f"{name:20s} test accuracy {model.score(x_test, y_test):.3f}")

# %% [markdown] slideshow={"slide_type": "fragment"}
# Bayes' rule is all a generative classifier needs. We recompute naive Bayes' $p(y \mid x)$ from its
# fitted means $\mu_{y,d}$, variances $v_{y,d}$ and priors, with
# $\log p(x \mid y) = \sum_d \log \mathcal{N}(x_d; \mu_{y,d}, v_{y,d})$, and check it against scikit-learn's:

# %%
log_px_given_y = -0.5 * np.sum(np.log(2 * np.pi * naive_bayes.var_)[None]
                               + (x_test[:, None, :] - naive_bayes.theta_[None]) ** 2 / naive_bayes.var_[None],
                               axis=2)  # (N, C)
posterior = special.softmax(log_px_given_y + np.log(naive_bayes.class_prior_), axis=1)
print(f"max |ours - sklearn|: {np.max(np.abs(posterior - naive_bayes.predict_proba(x_test))):.1e}")
assert np.allclose(posterior, naive_bayes.predict_proba(x_test), atol=1e-8)

# %% [markdown]
# Look for: where each model puts its decision boundary ($p = 0.5$, black line). Naive Bayes' one
# Gaussian per class cannot follow the moons; the mixture can; logistic regression's boundary is a line.

# %%
display(classifier_figure(x_test, y_test, {"naive Bayes (generative)": naive_bayes,
                                           "mixture Bayes (generative)": mixture_bayes,
                                           "logistic regression (discriminative)": logistic}))

# %% [markdown]
# Naive Bayes and logistic regression both draw almost straight boundaries and score about 0.9;
# the mixture's curved boundary follows the moons and scores about 0.96. Being generative is not a handicap
# for classification, but it costs something: the generative models had to describe all of $x$, a
# harder job than drawing one boundary.
#
# What only the generative models can do: **sample new labelled data**. Ancestral sampling again:
# $y \sim p(y)$, then $x \sim p(x \mid y)$.

# %%
def sample_naive_bayes(model, key, n):
    """y ~ class prior, then x ~ N(theta_y, diag(var_y))."""
    k_y, k_x = jax.random.split(key)
    y = np.asarray(jax.random.categorical(k_y, jnp.log(model.class_prior_), shape=(n,)))
    eps = np.asarray(jax.random.normal(k_x, (n, 2)))
    return model.theta_[y] + np.sqrt(model.var_[y]) * eps, y


def sample_mixture_bayes(model, n, seed=0):
    """y ~ p(y), then x ~ that class's mixture (sklearn's sampler, seeded by the model's random_state)."""
    y = np.random.default_rng(seed).choice(len(model.log_prior), size=n, p=np.exp(model.log_prior))
    x = np.zeros((n, 2))
    for c, class_model in enumerate(model.class_models):
        x[y == c] = class_model.sample(int(np.sum(y == c)))[0]  # (n_c, 2)
    return x, y


x_nb, y_nb = sample_naive_bayes(naive_bayes, jax.random.key(4), 400)
x_mb, y_mb = sample_mixture_bayes(mixture_bayes, 400)
for name, ys in (("naive Bayes", y_nb), ("mixture Bayes", y_mb)):
    print(f"{name:14s} samples: fraction of class 1 = {ys.mean():.3f} (prior {np.mean(y_train):.3f})")
    assert abs(ys.mean() - np.mean(y_train)) < 4 * np.sqrt(0.25 / 400)

# %% [markdown]
# Look for: which set of generated points could pass for the training data.

# %%
fig, axes = plotting.new_figure(3, size=(3.0, 2.6))
for ax, (title, pts, labels) in zip(axes, (("training data", x_train, y_train),
                                           ("sampled from naive Bayes", x_nb, y_nb),
                                           ("sampled from mixture Bayes", x_mb, y_mb))):
    for c, color in ((0, "C0"), (1, "C3")):
        ax.scatter(*pts[labels == c].T, s=5, color=color, linewidths=0, label=f"y = {c}")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_xlim(-2, 3)
    ax.set_ylim(-1.5, 2)
    ax.set_aspect("equal")
display(fig)

# %% [markdown]
# Naive Bayes' samples are two axis-aligned Gaussian blobs: its classifier was fine, but as a model of
# $x$ it is poor. The mixture's samples trace the moons. Logistic regression, a random forest or an SVM
# cannot produce this picture at all: they have no $p(x)$. The rest of the course is about making the
# right-hand picture possible for data like images, where $p(x \mid y)$ must be a neural network.
#
# "Could pass for the data" can be measured, two ways. (1) The **held-out log-likelihood** of each model:
# the mean of $\log p(x) = \log \sum_y p(y)\,p(x \mid y)$ over the 200 test points (higher is better; it
# punishes a model that misses where the data are). (2) A check on the **samples alone**: the mean
# distance from each generated point to its nearest test point, which is large when samples fall where
# the data have none (the gaps between the moons). As a yardstick, the 400 training points, which come
# from the data distribution itself, give the value to expect. Matching the class means, by contrast,
# would not separate the models: naive Bayes matches them exactly too.

# %%
def mean_nearest_distance(samples, reference):
    """Mean over the samples (N, D) of the distance to the nearest reference point (M, D)."""
    return np.linalg.norm(samples[:, None, :] - reference[None, :, :], axis=-1).min(axis=1).mean()


held_out = {
    "naive Bayes": special.logsumexp(log_px_given_y + np.log(naive_bayes.class_prior_), axis=1).mean(),
    "mixture Bayes": special.logsumexp(np.stack([m.score_samples(x_test) for m in mixture_bayes.class_models], axis=1)
                                       + mixture_bayes.log_prior, axis=1).mean(),
}
nearest = {"naive Bayes": mean_nearest_distance(x_nb, x_test), "mixture Bayes": mean_nearest_distance(x_mb, x_test)}
yardstick = mean_nearest_distance(x_train, x_test)
for name in held_out:
    print(f"{name:14s} held-out mean log p(x) {held_out[name]:6.3f} nats; samples to the nearest test point "
          f"{nearest[name]:.3f} on average")
print(f"training points to the nearest test point: {yardstick:.3f} on average (the yardstick)")
assert held_out["mixture Bayes"] > held_out["naive Bayes"] + 0.1
assert nearest["mixture Bayes"] < 0.8 * nearest["naive Bayes"] and nearest["mixture Bayes"] < 1.2 * yardstick

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. The families of deep generative models
#
# Every family answers the same question, how to make a flexible $p_\theta(x)$ that we can train and
# sample, with a different compromise:
#
# | family | early and landmark papers | exact log-likelihood? | latent space? | sampling speed | typical failure |
# |---|---|---|---|---|---|
# | **autoregressive** | fully visible sigmoid belief nets (Neal 1992; Frey, Hinton & Dayan 1996), neural autoregressive models (Bengio & Bengio 1999), NADE (2011), PixelRNN/PixelCNN (2016), WaveNet (2016) | yes: $p(x)=\prod_d p(x_d \mid x_{<d})$ | no (only the ordering) | slow: one dimension at a time | errors compound along the sequence; slow generation |
# | **normalizing flow** | Gaussianization (Chen & Gopinath 2000), Tabak & Vanden-Eijnden (2010), Tabak & Turner and Rippel & Adams (2013), NICE (2014), normalizing flows for VI (2015), RealNVP (2016) | yes, by the change of variables | yes, same size as $x$, invertible | fast: one pass | needs many invertible layers; weaker samples per parameter |
# | **VAE** | Kingma & Welling (2013), Rezende et al. (2014) | no: a lower bound (ELBO) | yes, low-dimensional | fast: one decoder pass | blurry samples; posterior collapse |
# | **GAN** | Goodfellow et al. (2014) | no tractable density (implicit; none at all when $\dim z < \dim x$) | yes, the noise $z$ | fast: one pass | mode collapse; unstable training |
# | **diffusion / score-based** | score matching (Hyvärinen 2005), Sohl-Dickstein et al. (2015), NCSN (Song & Ermon 2019), DDPM (Ho et al. 2020) | a lower bound; an exact density via the probability-flow ODE (Song et al. 2021), costly and usually computed with a stochastic (Hutchinson) trace estimate | yes: noisy versions of $x$, same size | slow: tens to thousands of steps | slow sampling |
# | **energy-based** | Boltzmann machines (1983, 1985), RBMs (1986) | only up to the normalizing constant | optional (hidden units) | slow: Markov chain Monte Carlo | chains that mix poorly; hard training |
#
# The second column gives the earliest papers the surveys record (Papamakarios et al. 2021, JMLR, section 1,
# for flows) and the landmarks that made each family work on images; "first" is always debatable.
#
# The table is a rough guide; modern models mix the families (a VAE with an autoregressive decoder,
# diffusion in a VAE's latent space, a flow as a VAE's posterior).

# %% [markdown] slideshow={"slide_type": "slide"}
# ### The families in miniature
#
# No family needs a deep network to show its defining trait. `course_lib.lessons.families` fits, in
# milliseconds, a miniature model of each family to 1,000 points:
#
# - **autoregressive**: $p(x_1)\,p(x_2 \mid x_1)$, each factor a histogram;
# - **latent variable**: a Gaussian mixture fitted by EM (as the ring above, but learned);
# - **flow**: $x = \mu + L z$ with $z \sim \mathcal{N}(0, I)$, one invertible linear layer, density by the
#   change of variables (notebook 02);
# - **implicit**: a data point moved a random fraction of the way towards one of its neighbours, a
#   sampler with no formula for $p(x)$ (a stand-in for a GAN generator);
# - **energy-based**: $E(x) = -\log \sum_i \exp(-\lVert x - x_i\rVert^2 / 2h^2)$, sampled by 60 steps
#   of Langevin dynamics, $x \leftarrow x - \tfrac{\eta}{2} \nabla E(x) + \sqrt{\eta}\,\varepsilon$.
#
# A check first: the flow's density is the change of variables
# $\log p(x) = \log \mathcal{N}(L^{-1}(x - \mu); 0, I) - \log\lvert\det L\rvert$, which must equal the
# density of the Gaussian $\mathcal{N}(\mu, L L^\top)$:

# %%
moons = np.asarray(data.sample_toy("moons", jax.random.key(5), 1000), np.float64)
flow = families.fit_family("affine_flow", moons)
mu, cov = moons.mean(axis=0), np.cov(moons.T, bias=True)
diff = moons[:5] - mu
direct = -0.5 * np.sum(diff @ np.linalg.inv(cov) * diff, axis=1) - 0.5 * np.log(np.linalg.det(2 * np.pi * cov))
print("change of variables:", np.round(flow.log_density(moons[:5]), 4))
print("Gaussian formula:   ", np.round(direct, 4))
assert np.allclose(flow.log_density(moons[:5]), direct, atol=1e-8)

# %% [markdown]
# Look for: in the top row, which samples look like the data; in the bottom row, which models have a
# density at all, and whether it is normalised.

# %%
display(render_family_gallery("moons", num_samples=1000, seed=0))

# %% [markdown]
# The bottom row shows $\log p(x)$ on one shared colour scale (values below $-8$ share the darkest colour),
# except the energy-based panel, which has its own: it shows $-E(x)$, known only up to a constant.
# Whether a model is normalised is a number we can compute: a Riemann sum of $p(x) = e^{\log p(x)}$ over a
# grid that covers the data (here $[-6, 6]^2$, spacing 0.03) must be 1.

# %%
ticks = np.linspace(-6, 6, 401)
xx, yy = np.meshgrid(ticks, ticks)
grid = np.stack([xx.ravel(), yy.ravel()], axis=1)  # (160801, 2)
cell = (ticks[1] - ticks[0]) ** 2
integrals = {}
for family in ("autoregressive", "latent_mixture", "affine_flow", "energy_langevin"):
    model = families.fit_family(family, moons)
    integrals[family] = float(np.sum(np.exp(model.log_density(grid))) * cell)
    print(f"{families.FAMILY_TITLES[family]:40s} integral of exp(log-density) = {integrals[family]:8.3f}")
for family in ("autoregressive", "latent_mixture", "affine_flow"):
    assert abs(integrals[family] - 1.0) < 0.01  # normalised
assert integrals["energy_langevin"] > 10  # exp(-E) is not a density: Z is far from 1

# %% [markdown]
# - The **histograms** and the **mixture** give both samples and a normalised density; the histogram's
#   density is blocky, the mixture's smooth.
# - The single **affine flow** is one Gaussian: it cannot bend space, so its samples miss the moons.
#   Real flows stack dozens of nonlinear invertible layers.
# - The **implicit** sampler's points look as good as any here, yet it has no density panel: nothing to
#   evaluate, so no likelihood to report. Judging implicit models needs other tools (notebook 05).
# - The **energy-based** model has a density shape, but only up to a constant: $\int e^{-E(x)}dx = Z$ came
#   out far from 1. Its samples took 60 gradient steps each: the slowest sampler of the five. This
#   miniature is a special case, though: its energy is a Gaussian kernel density estimate,
#   $e^{-E(x)} = \sum_{i=1}^{N} e^{-\lVert x - x_i\rVert^2 / 2h^2}$, so $Z = N \cdot 2\pi h^2$ is known exactly
#   ($N = 400$ kernel centres here; the sum above, about 150, corresponds to a bandwidth $h \approx 0.24$). With a neural-network energy, $Z$ is an intractable integral, which is
#   what makes energy-based models hard to train and evaluate.
#
# The same render function drives the live version: pick a toy distribution and a family. The status
# line reports the mean log-likelihood of 1,000 held-out points where it exists, and how long drawing
# 2,000 samples took.

# %%
fig, summary = render_family("moons", "latent_mixture", num_samples=1000, seed=0)
display(fig)
print(f"mean log-likelihood of held-out points: {summary['test_log_likelihood']:.3f} nats")
assert summary["has_density"] and summary["normalized"]  # sanity check: flags (the Riemann sums above check it)

# %%
family_explorer("moons", "latent_mixture", num_samples=1000, seed=0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. A short, corrected history
#
# Texts on this topic sometimes claim that GANs go back to the 1980s. They do not: what the 1980s
# produced were **energy-based** models, the Boltzmann machine (first presented in 1983, with its learning
# algorithm in 1985) and the restricted Boltzmann machine (1986). Generative adversarial networks were
# introduced by Goodfellow et al. in **2014**.
#
# The adversarial idea has real precursors, and the credit is debated. Schmidhuber's artificial
# curiosity (1990) trains a controller to produce outputs that a learned predictor cannot predict, and
# predictability minimisation (1992) sets units against predictors; Schmidhuber (2020) argues that GANs
# are a special case. Noise-contrastive estimation (Gutmann & Hyvärinen 2010) learns a density by training
# a classifier to tell data from noise: the discriminator's idea, with a fixed "generator". What 2014
# introduced is a generator network trained to fool a learned discriminator, so that it becomes a sampler.
#
# The timeline below lists each milestone with the year it first appeared (preprint or conference),
# precursors included.

# %%
for m in timeline.TIMELINE:
    print(f"{m.year}  {m.name:45s} {m.reference}")
# sanity checks of the table's content and order (the table is the claim; its references are the evidence)
assert timeline.first_year("GAN") == 2014 and timeline.first_year("energy-based") == 1983
assert [m.year for m in timeline.TIMELINE] == sorted(m.year for m in timeline.TIMELINE)

# %% [markdown]
# Look for: the energy-based models of the 1980s, the precursors of the 1990s and 2000s (autoregressive
# networks, Gaussianization, score matching, noise-contrastive estimation), and the burst of families after
# 2013. The deep belief network (grey) is a hybrid: an undirected RBM on top of a directed belief net.

# %%
display(timeline.timeline_figure())

# %% [markdown]
# Two things made the post-2013 burst possible: gradient estimators that pass through sampling (the
# *reparameterization trick* of VAEs, notebook 03) and networks plus hardware able to fit $p(x)$ for
# images. Diffusion models were proposed in 2015 but produced competitive images only in 2019-2020, with
# score-based models (NCSN, Song & Ermon 2019) and DDPM (2020): a reminder that a first paper and a
# working method can be years apart.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A generative model is a distribution $p_\theta(x)$ you can **evaluate**, **sample**, or both.
#   Explicit models give $p_\theta(x)$ (exactly, as a bound, or up to a constant); implicit models only
#   sample: their density cannot be evaluated, and with a low-dimensional latent and a smooth generator
#   it does not exist at all.
# - A **latent variable** $z$ explains each $x$ and makes sampling ancestral: $z$ first, then $x \mid z$.
#   (Joint, marginal and conditional distributions and Bayes' rule are defined properly in notebook 02.)
# - **Generative** classifiers model $p(x \mid y)\,p(y)$ and can sample new data; **discriminative** ones
#   (logistic regression, SVMs, random forests) model only $p(y \mid x)$.
# - The families trade exact likelihoods, latent spaces and sampling speed against each other; none wins
#   on every column.
# - Boltzmann machines date from 1983-85, VAEs from 2013, GANs from 2014 (with precursors in artificial
#   curiosity and noise-contrastive estimation), deep flows from 2014-16 (Gaussianization, 2000, and
#   Tabak's flows, 2010-13, came first), diffusion from 2015 (score-based models 2019, DDPM 2020).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# Each exercise checks your answer as soon as you run the cell below it. Hints appear when an answer is
# wrong.
#
# **Exercise 1 (Bayes' rule).** Write `posterior(log_px_given_y, log_prior)` that returns $p(y \mid x)$,
# an array `(N, C)` whose rows sum to 1, from class log-likelihoods `(N, C)` and log-priors `(C,)`.
# One test case has log-likelihoods around -1000, as in high dimensions: `np.exp` of those is 0.

# %% tags=["solution"]
def posterior(log_px_given_y, log_prior):
    a = log_px_given_y + log_prior  # log p(x, y), (N, C)
    a = a - a.max(axis=1, keepdims=True)  # shift so that exp does not underflow
    return np.exp(a) / np.exp(a).sum(axis=1, keepdims=True)


# %%
result = check_posterior(posterior)

# %% [markdown]
# **Exercise 2 (ancestral sampling).** Write `ancestral_sample(weights, means, stds, u, eps)` for a
# mixture with weights `(K,)`, means `(K, D)` and standard deviations `(K,)`. The noise is given: `u`
# `(N,)` is uniform on [0, 1) and picks the component (the first $k$ with $u <$ the cumulative weight
# up to $k$); `eps` `(N, D)` is standard normal. Return `(N, D)` samples.

# %% tags=["solution"]
def ancestral_sample(weights, means, stds, u, eps):
    z = np.searchsorted(np.cumsum(weights), u, side="right")  # the latent component
    z = np.minimum(z, len(weights) - 1)
    return means[z] + stds[z][:, None] * eps


# %%
result = check_ancestral_sample(ancestral_sample)

# %% [markdown]
# **Exercise 3 (quiz).** Which of these models can draw new inputs $x$?
# (a) logistic regression, (b) a random forest, (c) Gaussian naive Bayes, (d) a support vector machine.
# Set `answer` to a letter.

# %% tags=["solution"]
answer = "c"

# %%
result = check_generative_quiz(answer)

# %% [markdown]
# **Exercise 4 (quiz).** In which year were generative adversarial networks introduced:
# "1985", "1995", "2013" or "2014"?

# %% tags=["solution"]
answer = "2014"

# %%
result = check_gan_year(answer)

# %% [markdown]
# **Try it:** in the explorer, fit every family to `checkerboard`: which ones keep the empty squares
# empty? Then choose `ring` and the autoregressive family: its mean held-out log-likelihood is
# $-\infty$. Why? (Look at the histogram bins that received no training point, and ask what
# $\log p(x)$ is for a held-out point that falls into one.)
#
# **Next:** [02 - Probability](02_probability.ipynb): the distributions, divergences and the
# change-of-variables formula that every family is built from.
