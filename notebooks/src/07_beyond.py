# %% [markdown] slideshow={"slide_type": "slide"}
# # 07 · Beyond VAEs and GANs: flows, diffusion and autoregressive models, measured side by side
#
# {{COLAB_BADGE}}
#
# **Time:** about 60 minutes. **You will:**
#
# - build a normalizing flow from affine coupling layers, check its change-of-variables
#   likelihood against autodiff, and watch it warp data into a Gaussian layer by layer;
# - noise data with the diffusion forward process in one jump, undo it with a learned reverse
#   process, and scrub a time slider from pure noise to digits;
# - write an image's probability as a product of one-pixel conditionals with a masked MLP (MADE),
#   and check that it is an exact, normalized likelihood;
# - read one table that measures five families (autoregressive, with a masked MLP and a transformer;
#   flow, VAE, diffusion, GAN) on the same 8x8 digits, the same split and the same metrics, and weigh
#   what each one costs;
# - see how the same training code runs data-parallel on a GPU, a TPU or several of them.
#
# VAEs (04) and GANs (05) are two answers to one question: how to fit a distribution over images
# with a neural network. Here are the three other answers that matter most today. Every model of
# this notebook was trained by `python scripts/train_beyond_checkpoints.py` (about ten minutes on a
# laptop CPU); the notebook loads the results.

# %%
{{COLAB_BOOTSTRAP}}

# %% [markdown]
# One setup cell: the imports of the whole notebook, the device JAX uses, the 8x8 digits as
# integer grey levels 0..16 (scikit-learn's stored order cut 1000 / 350 / 447, the split of
# github.com/jmtomczak/intro_dgm, as in 04_vae), and the pretrained models.

# %% tags=["nbval-ignore-output"]
# %matplotlib inline
import itertools
import math

import matplotlib
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from IPython.display import Markdown, display
from scipy import stats

from course_lib import data, plotting
from course_lib.exercises import ch07_beyond
from course_lib.models import diffusion as dm
from course_lib.models import flow as fl
from course_lib.models.autoregressive import MADE, made_masks
from course_lib.reproduce import family_table as ft
from course_lib.reproduce import family_transformer as ftr
from course_lib.training import parallel
from course_lib.training.generic import fit
from course_lib.widgets import beyond

print("JAX devices:", jax.devices())
digits = ft.digits_splits()  # int32 levels 0..16: train (1000, 64), val (350, 64), test (447, 64)
flow_moons, _ = ft.load_beyond("flow_moons")
ddpm_moons, schedule_moons, _ = ft.load_beyond("ddpm_moons")
flow_digits, _ = ft.load_beyond("flow_digits")
ddpm_digits, schedule_digits, _ = ft.load_beyond("ddpm_digits")
made_digits, _ = ft.load_beyond("made_digits")
vae_digits, _ = ft.load_beyond("vae_digits")
gan_digits, _ = ft.load_beyond("gan_digits")
rows = ft.read_results()  # data/results/family_table.json, written by the reproduce command
print({s: x.shape for s, x in digits.items()})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Three more answers to one question
#
# A VAE *bounds* the likelihood of an image through a latent variable; a GAN gives up on the
# likelihood and trains a sampler against a critic. Three other families keep the likelihood and
# pay for it in different currencies:
#
# | family | log-likelihood | sampling | what it costs |
# |---|---|---|---|
# | normalizing flow (Tabak & Turner, 2013; Rezende & Mohamed, 2015; NICE, Dinh et al., 2015; RealNVP, Dinh et al., 2017) | exact, by a change of variables | one network pass | every layer must be invertible, with a cheap Jacobian |
# | diffusion model (Ho et al., 2020) | a variational bound | hundreds of network passes | slow sampling |
# | autoregressive model (NADE, Larochelle & Murray, 2011; MADE, Germain et al., 2015; PixelCNN, van den Oord et al., 2016) | exact, by the chain rule | one pass per pixel | slow sampling, an order on the pixels |
#
# We build each one from its equation, check the equation in code, and then put all five
# families in one table.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Normalizing flows
#
# Take a simple base density, $z \sim \mathcal{N}(0, I)$, and an **invertible** map $f$ from data
# to base, $z = f(x)$. Then $x = f^{-1}(z)$ is a sampler, and the density of $x$ follows from the
# change of variables (02_probability):
#
# $$\log p_X(x) = \log \mathcal{N}\big(f(x); 0, I\big) + \log \left|\det \frac{\partial f(x)}{\partial x}\right| .$$
#
# The log-determinant corrects for how much $f$ stretches or squeezes volume around $x$. For a
# general network it costs $O(D^3)$ and the inverse may not exist; flows are built from layers
# where both are cheap.

# %% [markdown] slideshow={"slide_type": "fragment"}
# An **affine coupling layer** (RealNVP) splits the coordinates with a binary mask $m$: the
# kept half $m \odot h$ passes unchanged and decides a scale $s$ and a shift $t$ for the other half,
#
# $$h' = m \odot h + (1 - m) \odot \big(h \odot e^{s(m \odot h)} + t(m \odot h)\big), \qquad
# \log|\det| = \sum_d (1 - m_d)\, s_d(m \odot h).$$
#
# The Jacobian is triangular (the kept half does not depend on the moved half), so its
# determinant is the product of the diagonal, $e^{s_d}$ for the moved coordinates. The inverse
# only needs $s$ and $t$ of the kept half, which the layer did not change. Let us check both
# claims on the first layer of a flow trained on the two-moons data, against autodiff's full
# Jacobian.

# %%
layer = flow_moons.coupling_0
print("mask of layer 0:", layer.mask, "| layers in the flow:", flow_moons.num_layers)
x = data.sample_toy("moons", jax.random.key(1), 5)  # (5, 2)
h, log_det = layer.forward(x)


@jax.jit
def jacobians(x):
    """Autodiff Jacobians (5, 2, 2) of the first layer and of the whole flow, point by point."""
    def one_layer(v):
        return layer.forward(v[None])[0][0]

    def whole_flow(v):
        return flow_moons.forward(v[None])[0][0]

    return jax.vmap(jax.jacfwd(one_layer))(x), jax.vmap(jax.jacfwd(whole_flow))(x)


jac, full_jac = jacobians(x)
print("log|det| from the layer:", np.round(np.asarray(log_det), 4))
print("log|det| from autodiff: ", np.round(np.asarray(jnp.linalg.slogdet(jac)[1]), 4))
assert np.allclose(log_det, jnp.linalg.slogdet(jac)[1], atol=1e-4)
assert np.allclose(layer.inverse(h), x, atol=1e-5)  # exact inverse
z, total_log_det = flow_moons.forward(x)
assert np.allclose(total_log_det, jnp.linalg.slogdet(full_jac)[1], atol=1e-3)  # and for all 8 layers

# %% [markdown]
# Training maximizes the exact log-likelihood of the data, so the loss is one line. The course's
# generic trainer `fit` minimizes any such loss over minibatches, running whole epochs inside one
# compiled `jax.lax.scan`; it trains the flow, the diffusion model and the autoregressive model of
# this notebook. The pretrained flow (8 layers) came from
#
# ```python
# graphdef, params = nnx.split(flow, nnx.Param)
# result = fit(flow_loss, params, x_train, key=jax.random.key(1), num_epochs=100, batch_size=250,
#              lr=3e-3, lr_schedule="cosine")  # x_train: 5,000 points of the moons
# ```
#
# Here is the loss of a fresh, untrained flow (every layer starts as the identity, so it is the
# standard normal's) and of the pretrained one, on the same 2,000 training points:

# %%
x_moons = data.sample_toy("moons", jax.random.key(0), 2000)
fresh = fl.RealNVP(2, num_layers=8, hidden=(64, 64), rngs=nnx.Rngs(0))


def flow_loss(params, xb, key, graphdef=nnx.split(fresh, nnx.Param)[0]):
    """Mean negative log-likelihood of a batch, in nats (the key is unused: no noise here)."""
    return -jnp.mean(nnx.merge(graphdef, params).log_prob(xb)), {}


loss_value = jax.jit(lambda params: flow_loss(params, x_moons, None)[0])  # one compilation serves both flows
losses_by_flow = {name: float(loss_value(nnx.state(m, nnx.Param)))
                  for name, m in (("fresh", fresh), ("pretrained", flow_moons))}
for name, value in losses_by_flow.items():
    print(f"{name:10s} flow: {value:.3f} nats per point")
gaussian_nll = -float(jnp.mean(stats.multivariate_normal(np.zeros(2), np.eye(2)).logpdf(np.asarray(x_moons))))
assert abs(losses_by_flow["fresh"] - gaussian_nll) < 1e-3

# %% [markdown]
# Look at three things in the figure below: the training data, the density of the pretrained
# flow on a grid (computed exactly, point by point), and fresh samples $x = f^{-1}(z)$.

# %%
flow_log_prob = jax.jit(flow_moons.log_prob)
x_test_moons = data.sample_toy("moons", jax.random.key(99), 2000)
print(f"test NLL of the pretrained flow: {-float(jnp.mean(flow_log_prob(x_test_moons))):.3f} nats per point")
flow_samples = np.asarray(flow_moons.sample(jax.random.key(2), 2000))
fig, axes = plotting.new_figure(3, size=(3.3, 3.3))
plotting.scatter_2d(axes[0], x_test_moons, size=2, limits=3.5)
axes[0].set_title("data (two moons)", fontsize=9)
image = plotting.density_heatmap(axes[1], lambda pts: flow_log_prob(jnp.asarray(pts)), limits=3.5, resolution=300,
                                 log=True, norm=matplotlib.colors.PowerNorm(0.4))
fig.colorbar(image, ax=axes[1], shrink=0.7, label="p(x) (power scale)")
axes[1].set_title("flow density p(x)", fontsize=9)
plotting.scatter_2d(axes[2], flow_samples, size=2, color="C1", limits=3.5)
axes[2].set_title("flow samples", fontsize=9)
for ax in axes:
    ax.set_xlabel("$x_1$")
axes[0].set_ylabel("$x_2$")
display(fig)
_, _, grid = plotting.grid_points(3.5, 300)  # the same grid as the picture
mass = float(jnp.sum(jnp.exp(flow_log_prob(jnp.asarray(grid))))) * (7.0 / 299) ** 2
print(f"integral of p(x) over [-3.5, 3.5]^2: {mass:.3f}")
assert abs(mass - 1.0) < 0.02  # a true density (almost all of its mass is inside the square)

# %% [markdown]
# The density follows both moons and integrates to one, as the change of variables promises. But
# look at the tips of the moons: thin filaments of density run off them, and some samples land
# between the moons, where there are no data. A flow is a continuous, invertible deformation of a
# Gaussian, which is one connected blob; it cannot tear it into two pieces, only stretch the part in
# between very thin. That is the price of invertibility. We count the samples that land near the
# data (within 0.15 of a test point):

# %%
def near_data(samples, reference, radius=0.15):
    """Fraction of samples within ``radius`` of their nearest reference point."""
    d2 = np.sum((np.asarray(samples)[:, None, :] - np.asarray(reference)[None, :, :]) ** 2, axis=-1)
    return float(np.mean(np.sqrt(d2.min(axis=1)) < radius))


print(f"flow samples near the data: {near_data(flow_samples, x_test_moons):.3f}; "
      f"fresh data near the data: {near_data(data.sample_toy('moons', jax.random.key(5), 2000), x_test_moons):.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ### The flow, layer by layer
#
# Each coupling layer moves one coordinate as a function of the other. Below, the same test
# points after 0, 2, 4 and 8 layers, coloured by their position in the data, so you can follow
# them: the moons are bent, stretched and finally pressed into a round Gaussian.

# %%
stack = beyond.flow_layer_stack(flow_moons, x_test_moons[:1500])
fig, axes = plotting.new_figure(4, size=(2.8, 2.8))
for ax, l in zip(axes, (0, 2, 4, 8)):
    small_fig, summary = beyond.render_flow_layer(stack, l, limits=3.5)
    pts = stack[l]
    ax.scatter(pts[:, 0], pts[:, 1], c=beyond._colours(stack[0]), cmap="hsv", s=2, alpha=0.7, linewidths=0)
    ax.set_xlim(-3.5, 3.5), ax.set_ylim(-3.5, 3.5), ax.set_aspect("equal")
    ax.set_title(small_fig.axes[0].get_title(), fontsize=9)
display(fig)
z_out = np.asarray(stack[-1])  # (1500, 2) the test points after the last layer
print("after the last layer: mean", np.round(z_out.mean(0), 2), "std", np.round(z_out.std(0), 2))
assert np.all(np.abs(z_out.mean(0)) < 0.1) and np.all(np.abs(z_out.std(0) - 1) < 0.1)
# Matching mean and std is not being Gaussian. Kolmogorov-Smirnov tests of each coordinate against N(0, 1), and of
# the squared radius against chi-squared with 2 degrees of freedom (what |z|^2 of a 2-D standard normal follows):
p_values = [stats.kstest(z_out[:, 0], "norm").pvalue, stats.kstest(z_out[:, 1], "norm").pvalue,
            stats.kstest(np.sum(z_out**2, axis=1), stats.chi2(2).cdf).pvalue]
print("KS p-values (z1, z2, |z|^2):", [f"{p:.2f}" for p in p_values])
assert min(p_values) > 0.01  # none rejects the Gaussian at the 1% level
uniform_cloud = np.random.default_rng(0).uniform(-math.sqrt(3), math.sqrt(3), size=(1500, 2))  # mean 0, std 1
assert stats.kstest(uniform_cloud[:, 0], "norm").pvalue < 0.01  # while a non-Gaussian cloud with mean 0, std 1 fails

# %% [markdown]
# After eight layers the points have mean about 0 and standard deviation about 1 in each
# coordinate, and their marginals and radii pass tests of normality that a uniform cloud with the
# same mean and spread fails: the flow has mapped the moons onto the base distribution closely.
# Not perfectly: the last panel shows stripes and thin gaps. They are the images of the empty
# space between and around the moons, which the flow must squeeze into regions of low base
# density. The colours show that neighbours stay neighbours (the map is continuous). Now do it yourself: drag the slider
# through the layers (the points are computed once; moving the slider only redraws).

# %%
beyond.flow_explorer(flow_moons, x_test_moons[:1500])

# %% [markdown] slideshow={"slide_type": "slide"}
# ### A flow on digits: dequantization, and why its number is a bound
#
# A flow is a density over real vectors; a digit is a vector of integer levels $x \in
# \{0..16\}^{64}$. A density of a continuous variable gives probability zero to any single point,
# and maximizing it on integers would pile infinite density on them. **Uniform dequantization**
# (Uria et al., 2013; Theis et al., 2016) trains the flow on $v = x + u$, $u \sim U[0,1)^{64}$
# instead, which defines a discrete model $P(x) = \int_{[0,1)^{64}} p(x + u)\, du$. Jensen's
# inequality then gives
#
# $$-\log P(x) \;\le\; \mathbb{E}_u\left[-\log p(x + u)\right],$$
#
# so the flow's dequantized NLL is an **upper bound** on the NLL of the discrete images, not the
# NLL itself. Before the flow, $y = v/17 \in [0, 1)$ goes through a logit; to keep it finite at
# $y = 0$, the code applies it to $\alpha + (1 - 2\alpha)\,y$ with a small $\alpha$ (RealNVP's trick,
# Dinh et al., 2017, §4.1), and the log-determinants of both maps are part of the likelihood.
#
# How loose is the bound for one test digit? With $K$ draws of $u$, $-\log \frac1K \sum_k p(x + u_k)$
# is an importance-sampling estimate of $-\log P(x)$, biased upwards like the VAE's $-\mathcal{L}_K$
# of 04 (the proposal is the uniform noise itself), and it falls towards $-\log P(x)$ as $K$ grows.
# $K = 1$ is the bound. We check that the estimate decreases with $K$ (from 2,000 draws).

# %%
from course_lib.evaluation.likelihood import iwae_bounds_by_k

x_one = jnp.asarray(np.repeat(digits["test"][:1], 2000, axis=0))  # one digit, 2000 copies
u = jax.random.uniform(jax.random.key(3), x_one.shape)
log_p = fl.dequantized_log_prob(flow_digits, x_one, u, 17)  # (2000,) log p(x + u)
by_k = {k: -v for k, v in iwae_bounds_by_k(np.asarray(log_p, np.float64)[None], (1, 10, 100, 1000)).items()}
for k, v in by_k.items():
    print(f"K = {k:4d}: -log mean_k p(x + u_k) = {v:7.2f} nats" + ("   (the bound, E_u[-log p(x + u)])" if k == 1 else ""))
values = list(by_k.values())
assert all(a > b for a, b in zip(values, values[1:]))  # falls with K: the bound is not tight

# %% [markdown]
# For this digit the bound is at least the printed difference between $K = 1$ and $K = 1000$ above
# $-\log P(x)$ (at least, because the $K = 1000$ estimate is itself still above it): the flow's
# density is far from flat inside the unit bins, so uniform noise lands in places the flow finds
# unlikely, and the bound pays for it.
# Learning the noise instead, $u \sim q(u \mid x)$ (variational dequantization, Ho et al., 2019,
# Flow++), closes much of this gap. Over the whole test set:

# %%
nll_flow = ft.flow_nll_bound(flow_digits, digits["test"], jax.random.key(10_000), num_draws=10)
print(f"flow, test: {nll_flow.mean():.2f} nats per image (an upper bound) = "
      f"{ft.bits_per_dim(nll_flow.mean()):.3f} bits/dim")
flow_row = next(r for r in rows if r["family"] == "flow")
assert abs(nll_flow.mean() - flow_row["test_nll_nats"]) < 0.5  # the number in the table below

# %% [markdown]
# Bits per dimension divide the NLL by $64 \ln 2$, so that images of different sizes compare. A
# calibration point: the model that gives all 17 levels of every pixel the same probability scores
# $\log_2 17 = 4.09$ bits/dim ($64 \ln 17 = 181.3$ nats). These numbers are for 17 levels and do not
# compare with the 8-bit (256-level) bits/dim reported for CIFAR-10 or ImageNet.
# Here are 16 samples: draw $z$, invert the flow, undo the logit, and read off the level of each
# pixel.

# %%
flow_digit_samples = np.asarray(fl.sample_levels(flow_digits, jax.random.key(4), 16, 17))  # (16, 64) levels
display(plotting.image_grid(flow_digit_samples / 16, (8, 8), ncols=16, cell_size=0.55))

# %% [markdown]
# Many of them are recognisable digits, some are smudges. A flow of this size spends much of its
# capacity on exact invertibility; the table below shows that fewer of its samples look like real
# digits (lower precision) than the GAN's, although the flow has a density and the GAN has none.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Diffusion models
#
# A diffusion model (Sohl-Dickstein et al., 2015; Ho et al., 2020) fixes a *forward* process that
# destroys data with Gaussian noise in $T$ small steps, and learns to run it *backwards*. The forward
# steps are $q(x_t \mid x_{t-1}) = \mathcal{N}(\sqrt{\alpha_t}\, x_{t-1}, \beta_t I)$ with
# $\alpha_t = 1 - \beta_t$; because Gaussians compose, any step can be reached in one jump,
#
# $$q(x_t \mid x_0) = \mathcal{N}\big(\sqrt{\bar\alpha_t}\, x_0,\; (1 - \bar\alpha_t) I\big), \qquad
# \bar\alpha_t = \prod_{s \le t} \alpha_s, \qquad x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\,\varepsilon .$$
#
# We check the jump against 20,000 draws for one pixel, then look at a digit at several times. The
# digits live in $[-1, 1]$ here (level $k$ at $2k/16 - 1$).

# %%
x0 = dm.levels_to_data(jnp.asarray(digits["test"][:1]), 17)  # (1, 64) in [-1, 1]
t = 200
eps = jax.random.normal(jax.random.key(5), (20_000, 64))
x_t = dm.q_sample(schedule_digits, jnp.broadcast_to(x0, eps.shape), jnp.full((20_000,), t), eps)
ab = float(schedule_digits.alpha_bar[t])
print(f"t = {t}: alpha_bar = {ab:.4f}; pixel 20: mean {float(x_t[:, 20].mean()):.3f} "
      f"(expected {math.sqrt(ab) * float(x0[0, 20]):.3f}), var {float(x_t[:, 20].var()):.3f} (expected {1 - ab:.3f})")
assert abs(float(x_t[:, 20].mean()) - math.sqrt(ab) * float(x0[0, 20])) < 0.02
assert abs(float(x_t[:, 20].var()) - (1 - ab)) < 0.02
times = [0, 10, 50, 100, 200, 400, 1000]
noisy = [dm.q_sample(schedule_digits, x0, jnp.array([s]), eps[:1]) for s in times]
fig = plotting.image_grid(np.clip((np.concatenate(noisy) + 1) / 2, 0, 1), (8, 8), ncols=len(times),
                          titles=[f"t={s}" for s in times], cell_size=0.9)
display(fig)
alpha_bar_T = float(schedule_digits.alpha_bar[-1])
betas = np.linspace(ft.DDPMSettings.beta_1, ft.DDPMSettings.beta_T, ft.DDPMSettings.num_steps)  # the schedule, again
print(f"alpha_bar_T = {alpha_bar_T:.2e} (product of 1 - beta_t in float64: {np.prod(1 - betas):.2e})")
assert abs(alpha_bar_T / np.prod(1 - betas) - 1) < 0.01 and 5e-6 < alpha_bar_T < 7e-6

# %% [markdown]
# By $t = 200$ the digit is hard to see, by $t = 1000$ ($\bar\alpha_T \approx 6\cdot 10^{-6}$ for this
# schedule, $\beta_t$ linear from 0.004 to 0.02) nothing of it is left: $x_T$ is a standard normal
# sample, whatever the digit was. That is what makes generation
# possible: start from noise, and undo the steps.

# %% [markdown] slideshow={"slide_type": "fragment"}
# **The reverse process.** Given $x_0$, the step back is Gaussian with a known mean,
# $q(x_{t-1} \mid x_t, x_0) = \mathcal{N}(\tilde\mu_t, \tilde\beta_t I)$. Without $x_0$, a network
# $\varepsilon_\theta(x_t, t)$ predicts the noise that was added, which gives a guess of $x_0$ and the
# mean of the learned step,
#
# $$p_\theta(x_{t-1} \mid x_t) = \mathcal{N}\Big(\mu_\theta,\, \sigma_t^2 I\Big), \qquad
# \mu_\theta = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\, \varepsilon_\theta(x_t, t)\Big).$$
#
# If the prediction were perfect, $\mu_\theta$ would equal $\tilde\mu_t$ exactly. Check that with the
# true noise:

# %%
tt = jnp.full((20_000,), t)
mu_tilde, _ = dm.q_posterior(schedule_digits, jnp.broadcast_to(x0, eps.shape), x_t, tt)
assert np.allclose(dm.p_mean(schedule_digits, x_t, tt, eps), mu_tilde, atol=1e-4)
print("mu_theta with the true noise equals the posterior mean mu_tilde: checked on 20,000 draws")

# %% [markdown]
# So training is regression on the noise: Ho et al. (2020) minimize
# $L_\text{simple} = \mathbb{E}_{t, x_0, \varepsilon}\,\|\varepsilon - \varepsilon_\theta(x_t, t)\|^2$,
# with $t$ uniform in $1..T$. How does that relate to the likelihood? With the variance fixed at
# $\sigma_t^2 = \beta_t$ (this model's choice; DDPM's other option is $\tilde\beta_t$), each term of
# the variational bound of the next section is a KL between two Gaussians whose means differ by
# $\frac{\beta_t}{\sqrt{\alpha_t}\sqrt{1-\bar\alpha_t}}(\varepsilon_\theta - \varepsilon)$, so (Ho et al., 2020, eq. 12)
#
# $$L_{t-1} = \lambda_t\, \mathbb{E}\,\|\varepsilon - \varepsilon_\theta(x_t, t)\|^2 + C_t, \qquad
# \lambda_t = \frac{\beta_t^2}{2\sigma_t^2\,\alpha_t\,(1 - \bar\alpha_t)},$$
#
# with $C_t$ from the mismatch of the variances $\tilde\beta_t$ and $\sigma_t^2$, independent of
# $\theta$. $L_\text{simple}$ drops the weights $\lambda_t$. We check the formula at $t = 200$ with the
# trained model, against the KL computed directly from the two Gaussians:

# %%
eps_hat = ddpm_digits(x_t[:2000], tt[:2000])  # the trained model's noise prediction at t = 200, (2000, 64)
beta_t, alpha_t = float(schedule_digits.betas[t]), float(schedule_digits.alphas[t])
var_q, var_p = float(schedule_digits.beta_tilde[t]), beta_t  # variances of q(x_{t-1}|x_t,x_0) and p_theta
mean_p = dm.p_mean(schedule_digits, x_t[:2000], tt[:2000], eps_hat)
kl_direct = jnp.sum(0.5 * (jnp.log(var_p / var_q) + (var_q + (mu_tilde[:2000] - mean_p) ** 2) / var_p - 1), axis=-1)
lam = beta_t**2 / (2 * var_p * alpha_t * (1 - ab))
c_t = 32 * (var_q / var_p - 1 - math.log(var_q / var_p))  # D / 2 * (...), D = 64
kl_weighted = lam * jnp.sum((eps[:2000] - eps_hat) ** 2, axis=-1) + c_t
print(f"t = {t}: lambda_t = {lam:.4f}; mean L_(t-1) direct {float(kl_direct.mean()):.4f}, "
      f"from the weighted noise error {float(kl_weighted.mean()):.4f} nats")
assert np.allclose(kl_direct, kl_weighted, rtol=1e-3, atol=1e-3)
lam_all = np.asarray(schedule_digits.betas[1:] / (2 * schedule_digits.alphas[1:] * (1 - schedule_digits.alpha_bar[1:])))
print(f"lambda_t at t = 1, 10, 100, 1000: {np.round(lam_all[[0, 9, 99, 999]], 4)}")
assert lam_all[0] > 10 * lam_all[-1]  # the bound weighs the first steps far more than L_simple does

# %% [markdown]
# $L_\text{simple}$ thus weighs the late, noisy steps up to about fifty times more than the bound
# does, relative to the first ones. That gives better samples (Ho et al., 2020) but a looser
# likelihood bound: it is one reason why this model's bound is the worst of the table below, and
# not a property of diffusion as such. Training the variances too, or the bound itself
# ($L_\text{hybrid}$, Nichol & Dhariwal, 2021), or a learned noise schedule (VDM, Kingma et al.,
# 2021) gives diffusion models likelihoods as good as the best autoregressive models.
#
# The noise predictor here is an MLP that sees $x_t$ and sinusoidal features of $t$; `dm.ddpm_loss` is the per-example loss, and `fit` trains it like the flow.
# Sampling runs $T = 1000$ steps $x_{t-1} = \mu_\theta + \sigma_t z$ from $x_T \sim \mathcal{N}(0, I)$,
# with $\sigma_t^2 = \beta_t$ and no noise added at the last step $t = 1$.
# Below, the same reverse process for the two-moons model and the digit model, frozen at four times.

# %%
traj_moons = ft.ddpm_sample(ddpm_moons, schedule_moons, jax.random.key(6), 500, trajectory=True)[1]
traj_digits = ft.ddpm_sample(ddpm_digits, schedule_digits, jax.random.key(7), 16, trajectory=True)[1]
traj_moons, traj_digits = np.asarray(traj_moons), np.asarray(traj_digits)
noise_std = np.sqrt(1 - np.asarray(schedule_digits.alpha_bar))
fig, axes = plotting.new_figure(4, size=(2.8, 2.8))
for ax, s in zip(axes, (1000, 300, 100, 0)):
    plotting.scatter_2d(ax, traj_moons[s], size=2, limits=3.5)
    ax.set_title(f"t = {s}", fontsize=9)
display(fig)
for s in (1000, 300, 100, 0):
    display(beyond.render_diffusion_step(traj_digits[:, :8], s, image_shape=(8, 8), noise_std=noise_std)[0])
near = {"diffusion": near_data(traj_moons[0], x_test_moons), "flow": near_data(flow_samples[:500], x_test_moons)}
se = math.sqrt(sum(p * (1 - p) / 500 for p in near.values()))  # standard error of the difference, 500 samples each
print(f"samples near the data: diffusion {near['diffusion']:.3f}, flow {near['flow']:.3f} "
      f"(difference {near['diffusion'] - near['flow']:+.3f}, standard error {se:.3f})")

# %% [markdown]
# Until about $t = 300$ the points and pixels still look like noise; the structure appears late, in
# the last hundred or so steps, first coarse (which half-moon, which digit), then fine. Both models
# put some mass between the moons, and with 500 samples and one seed the difference between them
# printed above is within about two standard errors: no evidence either way. Diffusion does not
# escape the flow's topological argument: the same model defines a *probability-flow ODE* (Song et
# al., 2021), a continuous invertible map with the same marginals. It can only make the bridge
# thinner, its map being a deep, time-dependent ODE with very steep regions near $t = 0$. Scrub through the whole
# process with the slider (the trajectories above are reused; pick the data in the dropdown):

# %%
beyond.diffusion_scrubber({"digits": traj_digits, "moons": traj_moons}, image_shapes={"digits": (8, 8)},
                          noise_std={"digits": noise_std, "moons": np.sqrt(1 - np.asarray(schedule_moons.alpha_bar))},
                          limits=3.5)

# %% [markdown] slideshow={"slide_type": "slide"}
# ### The diffusion model's likelihood is a bound
#
# A diffusion model is a VAE with $T$ latent layers $x_1..x_T$ and a fixed encoder $q$, so its
# negative ELBO bounds $-\log p(x_0)$:
#
# $$-\log p(x_0) \le \underbrace{\mathrm{KL}(q(x_T \mid x_0)\,\|\,p(x_T))}_{L_T}
# + \sum_{t=2}^{T} \underbrace{\mathbb{E}_q\,\mathrm{KL}(q(x_{t-1} \mid x_t, x_0)\,\|\,p_\theta(x_{t-1} \mid x_t))}_{L_{t-1}}
# \underbrace{- \mathbb{E}_q \log p_\theta(x_0 \mid x_1)}_{L_0} .$$
#
# $L_0$ uses a *discretized* Gaussian (each of the 17 levels gets the probability mass of its bin),
# so the bound is on the NLL of the discrete images. Where does it come from? Below, the average
# $L_{t-1}$ over 100 test digits at 12 times:

# %%
ts = jnp.array([2, 3, 5, 10, 20, 50, 100, 200, 400, 600, 800, 1000])
g_ddpm, p_ddpm = nnx.split(ddpm_digits, nnx.Param)
eps_fn = lambda x_t, t: nnx.merge(g_ddpm, p_ddpm)(x_t, t)  # noqa: E731
terms = jax.jit(lambda x, e: dm.vlb_terms(eps_fn, schedule_digits, x, ts, e, num_levels=17))(
    jnp.asarray(digits["test"][:100]), jax.random.normal(jax.random.key(8), (13, 100, 64)))
per_t = np.asarray(terms["per_t"].mean(0))
fig, (ax,) = plotting.new_figure(1, size=(5.0, 3.0))
ax.loglog(np.asarray(ts), per_t, "o-")
ax.set_xlabel("t"), ax.set_ylabel("mean $L_{t-1}$ (nats)")
display(fig)
print(f"L_T = {float(terms['prior'].mean()):.4f} nats, L_0 = {float(terms['decoder'].mean()):.1f} nats")
assert per_t[0] > 10 * per_t[-4]  # the first steps dominate

# %% [markdown]
# The prior term $L_T$ is essentially zero and the late steps cost almost nothing: the bound is paid
# at small $t$, where the model must say precisely which of the 17 levels each pixel came from.
# That is why this model starts its schedule at $\beta_1 = 0.004$ rather than DDPM's $10^{-4}$:
# with levels 0.125 apart, noise much smaller than that only makes the first steps more expensive
# (in our trials the bound got much worse) without making the samples better; the price is a
# larger $L_0$, since the decoder must read the level through noise of standard deviation
# $\sqrt{\beta_1} \approx 0.06$. For the table, the bound's terms are evaluated at every $t = 2..101$
# (each still a one-sample Monte-Carlo estimate over $x_t \sim q$) and the other 899 estimated with
# one random time in each of 50 blocks.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Autoregressive models
#
# The chain rule of probability holds for any distribution and any order of the pixels:
#
# $$p(x) = \prod_{d=1}^{64} p(x_d \mid x_1, \dots, x_{d-1}).$$
#
# Model each factor as a categorical over the 17 levels and the log-likelihood is *exact*: no
# bound, no dequantization. MADE (Germain et al., 2015) computes all 64 conditionals in one pass of
# an MLP whose weight matrices are masked, so that output $d$ can only see inputs $1..d-1$. Each
# hidden unit gets a degree $m(k)$; a connection from a unit of degree $a$ to a hidden unit of degree
# $b$ exists only if $b \ge a$, and to output $d$ only if $d > b$. Multiply the masks to see which
# input can reach which output, here for 4 pixels and 6 hidden units:

# %%
m1, m2 = made_masks(4, (6,))  # (4, 6) input -> hidden, (6, 4) hidden -> output
reach = (m1 @ m2 > 0).astype(int)  # reach[j, d] = 1 if input j can influence output d
print("input -> hidden mask:\n", m1.astype(int))
print("which input reaches which output (rows: inputs, columns: outputs):\n", reach)
assert np.array_equal(reach, np.triu(reach, k=1))  # only earlier pixels reach an output ...
assert np.array_equal(reach, np.triu(np.ones((4, 4), int), k=1))  # ... and every earlier pixel does

# %% [markdown]
# Only earlier pixels reach each output, and all of them do (the strictly upper triangle is full,
# so no conditional is cut off from its context): the network can never peek at the pixel it
# predicts. Then the 17 probabilities of each conditional sum to one, and so do the
# probabilities of all $17^{64}$ images. We cannot list those, but for a tiny MADE over 3 pixels with 3
# levels we can sum all 27:

# %%
tiny = MADE(3, 3, (16,), rngs=nnx.Rngs(0))
every_image = jnp.array(list(itertools.product(range(3), repeat=3)), jnp.int32)  # (27, 3)
total = float(jnp.sum(jnp.exp(jax.jit(tiny.log_prob)(every_image))))
print(f"sum of p(x) over all 27 images: {total:.6f}")
assert abs(total - 1.0) < 1e-5

# %% [markdown]
# The pretrained model shares one network between 16 pixel orders (order-agnostic training,
# Uria et al., 2014; Germain et al., 2015: each minibatch trains one order) and is the uniform
# mixture of the 16 autoregressive models, $p(x) = \frac{1}{16}\sum_m p_m(x)$, which is still exact.
# By Jensen's inequality the mixture's NLL can never exceed the *average* NLL of its orders; the
# informative check is that it beats even the *best* of the single orders we print:

# %%
x_test = jnp.asarray(digits["test"])
nll_made = ft.made_nll(made_digits, digits["test"])
g_made, p_made = nnx.split(made_digits)
nll_one_order = jax.jit(lambda m: -jnp.mean(nnx.merge(g_made, p_made).log_prob_ordering(x_test, m)))
one_order = [float(nll_one_order(m)) for m in range(3)]
print(f"MADE mixture of {made_digits.num_orderings} orders, test: {nll_made.mean():.2f} nats per image (exact) = "
      f"{ft.bits_per_dim(nll_made.mean()):.3f} bits/dim")
print("single orders 0, 1, 2:", [f"{v:.2f}" for v in one_order])
assert nll_made.mean() < min(one_order)

# %% [markdown]
# Sampling is where autoregressive models pay: one network pass per pixel, 64 passes for an 8x8
# digit (a 256x256 colour image would need 196,608). Here are 16 samples, and the time they took:

# %% tags=["nbval-ignore-output"]
start = time.perf_counter()
made_samples = np.asarray(made_digits.sample(jax.random.key(9), 16))
print(f"16 samples in {time.perf_counter() - start:.2f} s (compilation included)")
display(plotting.image_grid(made_samples / 16, (8, 8), ncols=16, cell_size=0.55))

# %% [markdown]
# The samples are sharp-edged (every pixel is drawn from its own conditional, given all pixels
# before it) but often malformed: a single unlucky draw early in the order cannot be taken back.
# The table below puts a number on it: a better likelihood than every family but the other
# autoregressive model below, yet not the best precision. A good likelihood does not guarantee good
# samples (Theis et al., 2016).

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The same chain rule with a transformer
#
# MADE gets its autoregressive structure from masks on an MLP. A causal transformer, the model of
# 09_language_models, gets it from masked attention: it reads the digit as a sentence of 64 tokens in
# raster order, a start token and then the pixels (level $v$ is token $v + 1$), and position $i$
# outputs the 17 logits $z_i$ of the next pixel. The likelihood is the same exact chain rule,
#
# $$\log p(x) = \sum_{i=1}^{64} \log \operatorname{softmax}(z_{i-1})_{x_i}, \qquad z_{i-1} = f_\theta(\text{start}, x_1, \ldots, x_{i-1}),$$
#
# but every position shares the same weights and attends to the whole prefix. With 1,000 training
# images such a model overfits fast, so training adds dropout (10% on the embeddings and on both
# branches of every block) and replaces 10% of the *input* pixels by random levels (the targets stay
# clean); the likelihood is always evaluated without either. The pretrained model (three blocks of
# width 128, trained by `python scripts/train_beyond_checkpoints.py --only digits --families transformer`)
# on the 447 test digits, and the chain rule computed a second way, one pixel at a time through the
# key-value cache of 09, for the first test digit:

# %%
transformer_digits, _ = ft.load_beyond("transformer_digits")
nll_tf = ftr.pixel_nll(transformer_digits, digits["test"])
print(f"transformer, test: {nll_tf.mean():.2f} nats per image (exact); MADE: {nll_made.mean():.2f}")
first = digits["test"][0]
g_tf, s_tf = nnx.split(transformer_digits)
decode = jax.jit(lambda state, tok, pos, c: nnx.merge(g_tf, state).decode(tok, pos, c))  # one compiled step
cache, token, log_p_first = transformer_digits.init_cache(1), jnp.zeros((1,), jnp.int32), 0.0
for i in range(64):  # p(x_i | x_<i) from the cached pass, then feed x_i as the next token
    logits, cache = decode(s_tf, token, i, cache)
    log_p_first += float(jax.nn.log_softmax(logits[0, 1:])[first[i]])
    token = jnp.asarray(first[i:i + 1] + 1)
print(f"first test digit: -log p(x) {nll_tf[0]:.3f} from the full pass, {-log_p_first:.3f} pixel by pixel")
assert abs(nll_tf[0] + log_p_first) < 1e-2  # a model that saw the pixel it predicts would fail this
assert nll_tf.mean() < nll_made.mean() - 1.0  # the transformer is the better of the two by more than a nat

# %% [markdown]
# Its samples, drawn pixel by pixel with the cache (64 passes of one position each):

# %% tags=["nbval-ignore-output"]
start = time.perf_counter()
transformer_samples = np.asarray(ftr.pixel_sample(transformer_digits, jax.random.key(9), 16))
print(f"16 samples in {time.perf_counter() - start:.2f} s (compilation included)")
display(plotting.image_grid(transformer_samples / 16, (8, 8), ncols=16, cell_size=0.55))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Five families, one table
#
# `python -m course_lib reproduce family-table --json` trains one model of each family (two of the
# autoregressive family: MADE, the row "autoregressive", and the transformer) on the same
# 1,000 training digits (each keeps its best validation check), measures it on the 447 test digits
# and writes `data/results/family_table.json`, rendered here. The protocol:
#
# - **test NLL** in nats per image, and what the number is: *exact*, a *bound* (an upper bound on the
#   true NLL), or an *IS estimate* (importance sampling with 1,000 samples: an upper bound in
#   expectation). bits/dim = nats / (64 ln 2). The GAN has no likelihood.
# - **peer vs course, same estimator**: the models of github.com/jmtomczak/intro_dgm (the code of
#   Tomczak's *Deep Generative Modeling*, whose split this is), *measured by running its code, with
#   its author's settings, on the same split*; each is set beside the course's number of the same
#   kind on the same 447 test images: the causal-convolution autoregressive model
#   (`arms/arm_example.ipynb`, exact test NLL 86.44 nats; validation 88.88; 293 s of training) against
#   the exact NLLs of MADE and of the transformer; the VAE (`vaes/vae_example.ipynb`, test negative ELBO 96.64; validation 100.47) against the
#   course VAE's test negative ELBO (not its importance-weighted estimate); RealNVP with
#   $U(0, 0.5]$ dequantization (`flows/realnvp_example.ipynb`: 122.51 nats of continuous density in
#   raw pixel units, which is 166.87 nats as a bound on the discrete NLL) against the course flow's
#   dequantization bound. Differences under one nat read "on par". Its diffusion and
#   flow-matching models work on images rescaled to $[-1, 1]$ without dequantization, so their
#   numbers are not likelihoods of the discrete images and are left out.
# - **parameters** and **training**: what each model had to work with (the best validation
#   check's epoch, out of the epochs run); the families differ a lot in both.
# - **FD, precision, recall**: 1,000 samples against the test digits in the features of the digit
#   classifier of 05_gan. The *reference* row scores 1,000 real training digits the same way: the
#   best a perfect model could do with this many samples.
# - **train wall (s)** and **train CPU (s)**: the training time, compilation included, as wall-clock
#   seconds and as CPU seconds of the process, on a 2-core CPU; the JSON file records the load
#   average at the start of each family's training, printed below the table. When the load exceeds
#   the 2 cores, other jobs stretch the wall time; the CPU seconds depend less on the load and are
#   the fairer comparison. **ms / sample**: wall time to draw 1,000 samples in one batch, per sample.

# %%
display(Markdown(ft.table_markdown(rows)))
by_family = {r["family"]: r for r in rows}
for family in ("autoregressive", "transformer", "flow", "VAE"):
    r = by_family[family]
    field = r["anchor_course_field"]
    print(f"{family:15s} course {field} {r[field]:6.1f} vs peer {r['anchor_nats']:6.1f}: {r['vs_anchor']}")
vae_row = by_family["VAE"]
print(f"VAE, same test images: negative ELBO {vae_row['test_nelbo_nats']:.1f}, importance-weighted "
      f"{vae_row['test_nll_nats']:.1f} nats")
loads = [r["load_average_at_start"] for r in rows if r.get("load_average_at_start") is not None]
print(f"load average at the start of each training (2 cores): {min(loads):.1f} to {max(loads):.1f}")
uniform_bits = math.log2(17)  # the model that gives every level of every pixel probability 1/17
assert all(r["test_bits_per_dim"] < uniform_bits for r in rows if r["test_bits_per_dim"] is not None)

# %% [markdown]
# And the samples, ten per model (true samples of each model; for the VAE every pixel is drawn from
# its categorical given $z$, the mean image is not a sample):

# %%
key = jax.random.key(11)
samples = {  # the autoregressive, flow and diffusion samples are the ones drawn above
    "test digits": digits["test"][:10] / 16,
    "MADE": made_samples[:10] / 16,
    "transformer": transformer_samples[:10] / 16,
    "flow": flow_digit_samples[:10] / 16,
    "VAE": np.asarray(ft.vae_sample_levels(vae_digits, key, 10)) / 16,
    "diffusion": np.asarray(dm.data_to_levels(jnp.asarray(traj_digits[0, :10]), 17)) / 16,
    "GAN": np.asarray(gan_digits.sample(key, 10)),
}
rows_of_tiles = [np.pad(np.asarray(v, np.float32).reshape(10, 8, 8), ((0, 0), (1, 1), (1, 1))) for v in samples.values()]
mosaic = np.concatenate([np.concatenate(list(r), axis=1) for r in rows_of_tiles], axis=0)  # (7 * 10, 10 * 10)
fig, (ax,) = plotting.new_figure(1, size=(6.5, 4.8))
ax.imshow(mosaic, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
ax.set_yticks(10 * np.arange(len(samples)) + 4.5, list(samples)), ax.set_xticks([])
ax.set_title("ten samples per model (top row: real test digits)", fontsize=9)
display(fig)

# %% [markdown]
# The reference row of the table scores *training* digits, the images the models were trained on,
# so FD, precision and recall cannot tell a model that copies its training set from one that
# generalises. A direct check for copying: the distance from each sample to its nearest training
# digit (Euclidean, pixels in $[0, 1]$), against the same distance for real test digits, which no
# model has seen. (The samples come from long chains of random draws, so the printed distances
# may differ in the last digit on another CPU; the check does not.)

# %% tags=["nbval-ignore-output"]
train01 = digits["train"] / 16  # (1000, 64)


def nearest_train_distance(images01):
    """Euclidean distance from each image (N, 64) in [0, 1] to its nearest training digit."""
    d2 = np.sum((np.asarray(images01, np.float64)[:, None, :] - train01[None]) ** 2, axis=-1)  # (N, 1000)
    return np.sqrt(d2.min(axis=1))


nn_distance = {name: nearest_train_distance(v) for name, v in samples.items()}
for name, d in nn_distance.items():
    print(f"{name:15s} nearest training digit: median distance {np.median(d):.2f}, smallest {d.min():.2f}")
assert all(nn_distance[f].min() > 0.05 for f in samples if f != "test digits")  # no sample copies a training digit

# %% [markdown]
# No family copies its training digits: every family's samples lie *farther* from the nearest
# training digit than real test digits do. Their problem is the opposite of memorisation: many
# samples are off the data, which is what the precision column measures. (Ten samples per family
# is a small check; the table's 1,000 samples were not kept.)

# %% [markdown] slideshow={"slide_type": "slide"}
# ### What the table says, and what it does not
#
# - **Likelihood and sample quality measure different things.** The two autoregressive models have
#   the best likelihoods, and MADE with the VAE the highest recall: a likelihood punishes a model without
#   mercy for every test digit it gives little probability to, so likelihood training covers the
#   data. The GAN has no likelihood at all, yet the best precision: its samples are the most
#   realistic, but its recall is the lowest, because nothing punishes a GAN for the digits it never
#   makes. FD mixes the two into one number; precision and recall show the trade. The VAE is the
#   pitfall to remember: the best FD of the six with a precision below the flow's, the diffusion
#   model's and the GAN's (level with the autoregressive models'), because its samples (every pixel
#   drawn on its own given $z$) are speckled but spread over all the data.
# - **Exact is not the same as comparable.** Only the autoregressive numbers are exact NLLs. The
#   VAE's is an estimate that is an upper bound on average, the flow's an upper bound through
#   dequantization, the diffusion model's a variational bound. A bound above another model's
#   exact value does not prove that the bounded model is worse; it only fails to prove that it is
#   better. The same holds across codebases: the peer column compares only numbers of one kind.
#   On that footing the course's flow is far below intro_dgm's RealNVP bound, its VAE's negative
#   ELBO 0.9 nats below intro_dgm's VAE (under the one nat the table calls "on par"), MADE about 3 nats *above* intro_dgm's causal-convolution model and the
#   transformer about 2 nats *below* it (on validation too: 87.7 against 88.9), after about half the
#   peer's training time on the same kind of CPU. A masked MLP sees each pixel through fixed
#   connections and must learn every conditional anew; convolutions and attention share their
#   weights across positions, and attention reads the whole prefix.
# - **Everything is paid for somewhere.** The flow samples in one pass but spends its capacity on
#   being invertible; the autoregressive models need 64 passes per sample; the diffusion model needs
#   1,000, nearly four orders of magnitude more time per sample than the GAN. Real diffusion systems
#   cut this with better samplers and distillation, to tens of steps or one.
# - **This is a small, noisy benchmark.** 1,000 training images, one seed, minute-scale training on
#   a shared CPU, a classifier trained on the same 8x8 digits for the features. The reference row
#   shows that even real training digits reach only FD 3.3 and precision 0.79 against the test
#   digits: in scikit-learn's order the last 447 images come from other writers than the first
#   1,000. Treat differences of a nat or two, or of one FD point, as noise; run `--seeds 3` to see
#   how much the numbers move. At scale, diffusion models lead on sample quality today; a small MLP,
#   1,000 tiny images and one CPU minute are not that scale, and here the diffusion model leads on
#   nothing.

# %%
nll_rank = sorted((r["test_nll_nats"], f) for f, r in by_family.items() if r["test_nll_nats"] is not None)
models = [f for f in by_family if f != "reference"]
assert [f for _, f in nll_rank[:2]] == ["transformer", "autoregressive"]  # the two best likelihoods, both exact
tf_row = by_family["transformer"]
assert tf_row["vs_anchor"] == "below" and tf_row["val_nll_nats"] < ft.ANCHORS["transformer"]["val_nats"]
assert tf_row["train_seconds"] < ft.ANCHORS["transformer"]["train_seconds"]  # less training time than the peer's
assert max(models, key=lambda f: by_family[f]["precision"]) == "GAN"  # the most realistic samples ...
assert min(models, key=lambda f: by_family[f]["recall"]) == "GAN"  # ... and the least coverage
assert min(models, key=lambda f: by_family[f]["fd"]) == "VAE"  # the best FD ...
assert by_family["VAE"]["precision"] < min(by_family[f]["precision"] for f in ("flow", "diffusion", "GAN"))  # ... yet low precision
assert by_family["diffusion"]["ms_per_sample"] > 1000 * by_family["GAN"]["ms_per_sample"]
assert by_family["flow"]["precision"] < by_family["GAN"]["precision"]  # the claim of section 2
print("likelihood ranking:", [f for _, f in nll_rank])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5b. What this notebook leaves out (2026)
#
# The three families above are the foundations; today's large image, video and text models build
# on them in ways this notebook does not show:
#
# - **Score matching and the SDE view.** The noise predictor is a rescaled *score*,
#   $\varepsilon_\theta(x_t, t) \approx -\sqrt{1-\bar\alpha_t}\,\nabla_{x_t} \log q(x_t)$, and Tweedie's
#   formula turns it into the denoised guess $\hat x_0$ used above (Song & Ermon, 2019; Song et al.,
#   2021). The same model then has a deterministic probability-flow ODE, and fast samplers such as
#   DDIM (Song, Meng & Ermon, 2021) need tens of steps instead of 1,000.
# - **Flow matching and rectified flows** (Lipman et al., 2023; Liu et al., 2023; Albergo &
#   Vanden-Eijnden, 2023) regress a velocity field that carries noise to data along simple paths:
#   the continuous flow of section 2 trained with the simple regression loss of section 3. It is
#   the training objective of many leading image and video models.
# - **Guidance and conditioning**: classifier guidance (Dhariwal & Nichol, 2021) and
#   classifier-free guidance (Ho & Salimans, 2022) trade diversity for fidelity to a class or a
#   text prompt; **latent diffusion** (Rombach et al., 2022) runs the process on an autoencoder's
#   codes instead of pixels.
# - **Transformers as autoregressive models**: GPT-style decoders over tokens, and over images
#   through discrete tokenizers (VQ-VAE, van den Oord et al., 2017; ImageGPT, Chen et al., 2020).
#   Causal attention plays the role of MADE's masks.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Scaling past one machine
#
# Everything above ran on one CPU. The same code runs unchanged on a GPU, a TPU or a machine with
# eight GPUs, and uses all of them: the course's trainers (`fit` of this section, `train_vae` of 04,
# `train_gan` of 05 and 06) are **data-parallel** (course_lib/training/parallel.py).
# It builds one mesh over every local device, replicates the parameters and optimizer state on each,
# and splits every batch along its first axis, so that with $n$ devices each holds $B/n$ rows. Under
# `jax.jit` with these shardings, XLA's SPMD partitioner compiles *one* program that every device
# runs on its own share of the data, and inserts the all-reduce that averages the gradients, so
# each device applies the full-batch gradient and the copies stay identical. Here is
# the mesh of this machine, and a batch placed on it:

# %% tags=["nbval-ignore-output"]
mesh = parallel.data_mesh()
batch = parallel.shard_batch(jnp.zeros((100, 64)), mesh)
print(mesh)
print("devices holding the batch:", len(batch.sharding.device_set), "| rows per device:",
      [s.data.shape[0] for s in batch.addressable_shards])

# %% [markdown]
# With one device the mesh has one entry and splitting is a no-op. To see the split on a CPU, start
# Python with `XLA_FLAGS=--xla_force_host_platform_device_count=4` (before JAX is imported): JAX
# then shows four CPU devices, each batch of 100 rows becomes four blocks of 25, and
# `tests/test_parallel.py` checks that `fit`, `train_vae` and `train_gan` give the same losses as on
# one device (up to the order of floating-point sums).
#
# **On Colab.** *Runtime → Change runtime type → GPU* (or TPU), run the first cell of the notebook,
# and check `jax.devices()`: it lists the GPU, or the 8 cores of a TPU. Nothing else changes; with a
# TPU the batch is split eight ways (`batch_size` must be a multiple of the device count; the
# trainers say so if it is not). **On a machine with several GPUs**, the same holds with all of
# them in the mesh. **Across machines**, each host calls `jax.distributed.initialize()` first; the mesh then
# spans the devices of every host and each host feeds its share of the batch. Data parallelism is
# the right first step when the model fits on one device; very large models also split the
# parameters themselves (a second mesh axis), with the same `jax.sharding` tools.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A **flow** maps data to a Gaussian with invertible layers; the change of variables gives an exact
#   density. Coupling layers make the inverse and the log-determinant cheap. On discrete images,
#   uniform dequantization turns the flow's NLL into an upper bound.
# - A **diffusion model** learns to undo a fixed noising process one small step at a time, by
#   predicting the noise; its likelihood is a variational bound, paid mostly at the smallest noise
#   levels, and its samples need hundreds of steps.
# - An **autoregressive model** multiplies one-pixel conditionals; masks make an MLP respect the
#   order; the likelihood is exact, sampling takes one pass per pixel.
# - Measured side by side, likelihood and sample quality rank the families differently, and every
#   family pays somewhere: invertibility, sampling steps, or the lack of a likelihood.
# - The course's trainers are data-parallel over all local devices with `jax.sharding`; the same
#   notebooks run on a GPU or TPU without changes.
#
# ## Exercises
#
# **Exercise 1.** Write an affine coupling layer with given scale and shift: return
# $h' = m \odot h + (1 - m) \odot (h \odot e^{s} + t)$ and $\log|\det| = \sum_d (1 - m_d) s_d$ per row.

# %% tags=["solution"]
def affine_coupling(x, mask, s, t):
    """x, s, t: (B, D); mask: (D,) of 0/1. Returns (y (B, D), log_det (B,))."""
    y = mask * x + (1 - mask) * (x * np.exp(s) + t)
    return y, np.sum((1 - mask) * s, axis=-1)


# %%
result = ch07_beyond.check_affine_coupling(affine_coupling)

# %% [markdown]
# **Exercise 2.** Write the forward jump of a diffusion model, $x_t = \sqrt{\bar\alpha_t}\, x_0 +
# \sqrt{1 - \bar\alpha_t}\, \varepsilon$, for a scalar $\bar\alpha_t$.

# %% tags=["solution"]
def q_sample(x0, alpha_bar_t, eps):
    """x0, eps: (B, D); alpha_bar_t: a number in (0, 1]. Returns x_t (B, D)."""
    return np.sqrt(alpha_bar_t) * x0 + np.sqrt(1 - alpha_bar_t) * eps


# %%
result = ch07_beyond.check_q_sample(q_sample)

# %% [markdown]
# **Exercise 3.** Write the mask of a MADE layer between hidden layers (or from the inputs): entry
# $(j, k)$ is 1 when unit $k$ of the next layer may see unit $j$ of this one, that is when
# $m_\text{out}(k) \ge m_\text{in}(j)$.

# %% tags=["solution"]
def made_mask(in_degrees, out_degrees):
    """in_degrees: (I,), out_degrees: (O,) integers. Returns the (I, O) 0/1 mask."""
    return (np.asarray(out_degrees)[None, :] >= np.asarray(in_degrees)[:, None]).astype(float)


# %%
result = ch07_beyond.check_made_mask(made_mask)

# %% [markdown]
# **Exercise 4.** You need the exact log-likelihood of discrete images (say, for compression), and
# sampling speed does not matter. Which family do you choose?
#
# - (a) an autoregressive model
# - (b) a normalizing flow on dequantized images
# - (c) a VAE
# - (d) a GAN

# %% tags=["solution"]
answer = "a"

# %%
result = ch07_beyond.check_family_choice(answer)

# %% [markdown]
# **Try it:** in the flow explorer, find the layer where the two moons first stop looking like
# moons. In the diffusion scrubber, find the time $t$ at which you can first tell which digit each
# sample will become. Then run `python -m course_lib reproduce family-table --seeds 3 --json` (about
# half an hour) and see which differences in the table survive a change of seed.
#
# **Next:** [08 - Score matching, diffusion and flow matching](08_vector_fields.ipynb): the DDPM of this
# notebook seen as one learned vector field, with fast samplers, ODE likelihoods and guidance.
