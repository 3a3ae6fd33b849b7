# %% [markdown] slideshow={"slide_type": "slide"}
# # 05 · Generative adversarial networks: the game, a live lab, and mode collapse measured
#
# {{COLAB_BADGE}}
#
# **Time:** about 75 minutes. **You will:**
#
# - write down the two-player game of a GAN, its value function $V(D, G)$, and derive the best
#   discriminator $D^*$; then train a real discriminator and see it land on $D^*$;
# - check numerically that against $D^*$ the generator minimises a Jensen-Shannon divergence;
# - see why practice replaces the generator's original loss by the non-saturating one;
# - watch gradient descent on a two-player game spiral, cycle or converge (the Dirac GAN), and see
#   why the JSD gives no gradient on disjoint supports and what Wasserstein losses and penalties do;
# - play with a live GAN lab: both players, their gradients and the generator's warp of noise;
# - make mode collapse happen, measure it with the protocol of the literature, fix it, and find out
#   by an ablation which change fixed it;
# - score a GAN on digits with a classifier-feature Fréchet distance, precision and recall.
#
# GANs were introduced by Goodfellow et al. (2014). Everything below runs on a laptop CPU; the
# longer trainings were done once by scripts in `scripts/`, and their checkpoints load in a second.

# %%
{{COLAB_BOOTSTRAP}}

# %% [markdown]
# One setup cell: the imports of the whole notebook and the device JAX uses.

# %% tags=["nbval-ignore-output"]
# %matplotlib inline
import math

import jax
import jax.numpy as jnp
import numpy as np
from IPython.display import display
from scipy import linalg, stats
from scipy.spatial.distance import jensenshannon

from course_lib import data, losses, plotting, pretrained
from course_lib.lessons import games
from course_lib.evaluation import classifier as clf_lib
from course_lib.paths import data_dir
from course_lib.evaluation.frechet import frechet_distance, image_quality
from course_lib.evaluation.modes import mode_coverage
from course_lib.exercises import ch05_gan
from course_lib.training.gan import fit_discriminator
from course_lib.training.gan_lab_session import LAB_DEFAULTS, LabSession
from course_lib.widgets import gan_lab as lab_widgets

print("JAX devices:", jax.devices())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The game and its value function
#
# A GAN has two networks. The **generator** $G$ turns noise $z \sim p(z) = \mathcal{N}(0, I)$
# into a sample $G(z)$; the samples follow some distribution $p_g$ that has no formula, we can
# only draw from it. The **discriminator** $D$ looks at a point $x$ and outputs $D(x) \in (0, 1)$,
# its belief that $x$ came from the data rather than from $G$. They play a zero-sum game on the
# **value function**
#
# $$V(D, G) = \mathbb{E}_{x \sim p_\text{data}}[\log D(x)] + \mathbb{E}_{z \sim p(z)}[\log(1 - D(G(z)))] ,$$
#
# which $D$ maximises (say "data" on data, "fake" on fakes) and $G$ minimises (make $D$ wrong):
# $\min_G \max_D V(D, G)$. In code, $D$ outputs a logit $\ell$ and $D = \sigma(\ell)$, so that
# $\log D = -\operatorname{softplus}(-\ell)$ and $\log(1 - D) = -\operatorname{softplus}(\ell)$ never
# take the log of 0. `course_lib.losses.gan_value` is this per-example value; we check it against
# the formula with probabilities.

# %%
real_logits = jnp.array([2.0, -0.5, 0.1])  # D's logits on three data points
fake_logits = jnp.array([-3.0, 0.4, 1.2])  # ... and on three generated points
value = losses.gan_value(real_logits, fake_logits)  # (3,)
by_hand = jnp.log(jax.nn.sigmoid(real_logits)) + jnp.log(1 - jax.nn.sigmoid(fake_logits))
print("V per example:", np.round(np.asarray(value), 4))
assert np.allclose(value, by_hand, atol=1e-6) and np.all(value <= 0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The optimal discriminator
#
# Fix $G$. Writing both expectations as integrals over $x$ (the second one with the density
# $p_g$ of the samples $G(z)$),
#
# $$V(D, G) = \int \big[p_\text{data}(x) \log D(x) + p_g(x) \log(1 - D(x))\big]\, dx .$$

# %% [markdown] slideshow={"slide_type": "fragment"}
# $D$ can choose its value at every $x$ separately, so we maximise the integrand pointwise. For
# $a, b \ge 0$, the function $y \mapsto a \log y + b \log(1 - y)$ on $(0, 1)$ has derivative
# $a / y - b / (1 - y)$, zero at $y = a / (a + b)$, and is concave, so that is its maximum:
#
# $$D^*_G(x) = \frac{p_\text{data}(x)}{p_\text{data}(x) + p_g(x)} .$$
#
# The best discriminator is the posterior probability that $x$ is real when real and fake
# points are equally common. Where only data lives it says 1, where only fakes live 0, and where
# $p_g = p_\text{data}$ it says $\tfrac12$ everywhere: it cannot tell.

# %% [markdown] slideshow={"slide_type": "fragment"}
# **Check it.** In 1-D, take data from a two-bump mixture and a "generator" $G(z) = 0.5 + z$, so
# that $p_g = \mathcal{N}(0.5, 1)$ and both densities are known. We train a small MLP
# discriminator on samples only (`fit_discriminator`: 1,500 Adam steps of the
# discriminator's loss, one compiled `lax.scan`) and overlay it on the formula.

# %% tags=["nbval-ignore-output"]
# a training result: its last printed digit can differ on another CPU, so nbval checks the assert, not the text
def sample_data_1d(key, n):
    k_side, k_eps = jax.random.split(key)
    side = jnp.where(jax.random.bernoulli(k_side, 0.5, (n, 1)), 1.5, -1.5)
    return side + 0.5 * jax.random.normal(k_eps, (n, 1))  # (n, 1)


def sample_g_1d(key, n):
    return 0.5 + jax.random.normal(key, (n, 1))  # G(z) = 0.5 + z


def p_data_1d(x):
    return 0.5 * stats.norm.pdf(x, -1.5, 0.5) + 0.5 * stats.norm.pdf(x, 1.5, 0.5)


def p_g_1d(x):
    return stats.norm.pdf(x, 0.5, 1.0)


d_1d = fit_discriminator(sample_data_1d, sample_g_1d, jax.random.key(0), dim=1, num_steps=1500)
xs = np.linspace(-4, 4, 401)
d_star = p_data_1d(xs) / (p_data_1d(xs) + p_g_1d(xs))
d_learned = np.asarray(jax.nn.sigmoid(d_1d(jnp.asarray(xs[:, None], jnp.float32))))
mass = 0.5 * (p_data_1d(xs) + p_g_1d(xs))  # where the discriminator sees samples
error = np.sum(mass * np.abs(d_learned - d_star)) / np.sum(mass)
print(f"mean |D - D*| where the samples are: {error:.3f}")
assert error < 0.05

# %% [markdown]
# Look for: the trained curve (orange) following $D^*$ (black): high over the left bump, which the
# generator barely reaches; near 0 at $x = 0$, where only the generator has mass; about 2/3 over
# the right bump, which the generator's bell overlaps.

# %%
fig, (ax, ax_d) = plotting.new_figure(2, size=(4.6, 3.0))
ax.plot(xs, p_data_1d(xs), color="C2", label="p_data")
ax.plot(xs, p_g_1d(xs), color="C4", label="p_g")
ax.set_title("the two densities")
ax.set_xlabel("x")
ax.set_ylabel("density")
ax.legend(fontsize=8)
ax_d.plot(xs, d_star, color="k", lw=2.5, label="D* = p_data / (p_data + p_g)")
ax_d.plot(xs, d_learned, color="C1", lw=1.5, label="trained D")
ax_d.set_ylim(-0.02, 1.02)
ax_d.set_title("optimal vs trained discriminator")
ax_d.set_xlabel("x")
ax_d.set_ylabel("D(x) = P(real | x)")
ax_d.legend(fontsize=8)
display(fig)

# %% [markdown]
# The trained discriminator lands on $D^*$ where there are samples to learn from. At the far
# ends $D^*$ falls back towards 0, because the generator's bell has heavier tails than the data's
# narrow bumps, but both densities are tiny there, the discriminator has seen almost no samples,
# and it simply extrapolates. A real discriminator only ever *estimates* the density ratio
# $p_\text{data} / p_g$, and only where it has samples.
#
# The same check in 2-D: data from a ring of 8 Gaussians (its density is known,
# `data.toy_log_density`), a Gaussian "generator" $\mathcal{N}(0, 1.5^2 I)$.

# %% tags=["nbval-ignore-output"]
# a training result: its last printed digit can differ on another CPU, so nbval checks the assert, not the text
RING_WIDE = {"radius": 2.0, "std": 0.3}


def sample_ring(key, n):
    return data.sample_toy("ring", key, n, **RING_WIDE)


def sample_gauss(key, n):
    return 1.5 * jax.random.normal(key, (n, 2))


d_2d = fit_discriminator(sample_ring, sample_gauss, jax.random.key(1), dim=2, num_steps=1500)
xx, yy, pts = plotting.grid_points(3.5, 80)
p_d = np.exp(np.asarray(data.toy_log_density("ring", pts, **RING_WIDE)))
p_gauss = stats.multivariate_normal(np.zeros(2), 1.5**2 * np.eye(2)).pdf(pts)
d_star_2d = p_d / (p_d + p_gauss)
d_learned_2d = np.asarray(jax.nn.sigmoid(d_2d(jnp.asarray(pts))))
mass_2d = p_d + p_gauss
error_2d = np.sum(mass_2d * np.abs(d_learned_2d - d_star_2d)) / np.sum(mass_2d)
print(f"2-D: mean |D - D*| where the samples are: {error_2d:.3f}")
assert error_2d < 0.06

# %%
fig, axes = plotting.new_figure(2, size=(3.3, 3.3))
for ax, values, title in zip(axes, (d_star_2d, d_learned_2d), ("D*(x)", "trained D(x)")):
    image = ax.imshow(values.reshape(xx.shape), origin="lower", extent=(-3.5, 3.5, -3.5, 3.5), cmap="PRGn",
                      vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_xlabel("x1")
axes[0].set_ylabel("x2")
fig.colorbar(image, ax=list(axes), shrink=0.8, label="D(x) = P(real | x)")
display(fig)

# %% [markdown]
# Both maps are green (close to 1) on the eight bumps and purple in the middle, where the
# Gaussian generator puts most of its mass; the trained map is a slightly blurred copy of $D^*$.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. What the generator minimises: a Jensen-Shannon divergence
#
# Put $D^*$ back into $V$. The generator then faces
# $C(G) = \max_D V(D, G) = V(D^*_G, G)$, and with $m = \tfrac12(p_\text{data} + p_g)$:
#
# $$C(G) = \int p_\text{data} \log \frac{p_\text{data}}{2m} + \int p_g \log \frac{p_g}{2m}
#        = -\log 4 + \mathrm{KL}(p_\text{data} \,\|\, m) + \mathrm{KL}(p_g \,\|\, m)
#        = -\log 4 + 2\,\mathrm{JSD}(p_\text{data} \,\|\, p_g) .$$

# %% [markdown] slideshow={"slide_type": "fragment"}
# The Jensen-Shannon divergence is $\ge 0$ and is 0 only when the two distributions are equal,
# so the generator's best move is $p_g = p_\text{data}$, where $C = -\log 4$ and $D^* = \tfrac12$
# (Goodfellow et al., 2014).
#
# On the 1-D example we first *illustrate* the identity by numerical integration. Be aware of
# what this can and cannot show: on one grid, $2\,\mathrm{JSD} - C$ is, term by term,
# $\log 2 \cdot \sum (p_\text{data} + p_g)\,dx$, so the two sides agree for *any* pair of
# densities that integrate to 1, whatever $D^*$ is; and SciPy's `jensenshannon` computes the same
# sum on the same grid, so it checks our code, not the identity. The checks that could fail come
# after: a Monte Carlo estimate of the JSD from samples against the quadrature value, and $D^*$
# against perturbed discriminators, which must all score lower.

# %%
grid = np.linspace(-12, 12, 48_001)
dx = grid[1] - grid[0]
pd_, pg_ = p_data_1d(grid), p_g_1d(grid)
ds = pd_ / (pd_ + pg_)
C = np.sum(pd_ * np.log(ds) + pg_ * np.log(1 - ds)) * dx  # V(D*, G) by quadrature
m = 0.5 * (pd_ + pg_)
jsd = 0.5 * np.sum(pd_ * np.log(pd_ / m)) * dx + 0.5 * np.sum(pg_ * np.log(pg_ / m)) * dx
jsd_scipy = jensenshannon(pd_, pg_) ** 2  # SciPy returns the square root of JSD (natural log)
print(f"V(D*, G) = {C:.6f}   -log 4 + 2 JSD = {-math.log(4) + 2 * jsd:.6f}   JSD = {jsd:.5f} (SciPy {jsd_scipy:.5f})")
assert abs(C - (-math.log(4) + 2 * jsd)) < 1e-9  # an identity on the grid (see above): an illustration
assert abs(jsd - jsd_scipy) < 1e-6 and 0 < jsd < math.log(2)  # checks our sum against SciPy's

# Checks that can fail. (1) The JSD from samples: JSD = 1/2 E_data[log(p_data / m)] + 1/2 E_g[log(p_g / m)],
# each expectation estimated with 200,000 draws; the standard error is about 0.001.
x_d = np.asarray(sample_data_1d(jax.random.key(20), 200_000))[:, 0]
x_g = np.asarray(sample_g_1d(jax.random.key(21), 200_000))[:, 0]
m_d, m_g = 0.5 * (p_data_1d(x_d) + p_g_1d(x_d)), 0.5 * (p_data_1d(x_g) + p_g_1d(x_g))
jsd_mc = 0.5 * np.mean(np.log(p_data_1d(x_d) / m_d)) + 0.5 * np.mean(np.log(p_g_1d(x_g) / m_g))
print(f"JSD from samples: {jsd_mc:.4f}  (quadrature {jsd:.4f})")
assert abs(jsd_mc - jsd) < 0.005
# (2) D* is the best discriminator: 200 random smooth perturbations of its logit all score lower.
rng_pert = np.random.default_rng(0)
logit_star = np.log(ds) - np.log1p(-ds)
worse = []
for _ in range(200):
    a, b, c = rng_pert.normal(size=3) * [0.3, 0.3, 0.5]
    d_pert = 1 / (1 + np.exp(-(logit_star + a + b * np.sin(c * grid))))
    worse.append(np.sum(pd_ * np.log(d_pert) + pg_ * np.log(1 - d_pert)) * dx < C)
print(f"perturbed discriminators scoring below V(D*, G): {sum(worse)}/200")
assert all(worse)

# %% [markdown]
# The sample estimate of the JSD lands on the quadrature value, and no perturbed discriminator
# beats $D^*$. The headline check needs no formula for $D^*$ at all: with the *trained*
# discriminator of section 2, the average of $\log D$ over data plus $\log(1 - D)$ over fakes is
# exactly the quantity $D$ was trained to maximise, so it is a (lower) estimate of
# $C(G) = -\log 4 + 2\,\mathrm{JSD}$, computed from samples only. It would miss if the trained $D$
# were not close to $D^*$, or if $C(G)$ were not the JSD expression.

# %% tags=["nbval-ignore-output"]
# a training result: its last printed digit can differ on another CPU, so nbval checks the assert, not the text
x_real = sample_data_1d(jax.random.key(10), 200_000)
x_fake = sample_g_1d(jax.random.key(11), 200_000)
C_hat = float(jnp.mean(losses.gan_value(d_1d(x_real), d_1d(x_fake))))
print(f"C(G) estimated with the trained D: {C_hat:.4f}  (exact {C:.4f})")
assert C - 0.02 < C_hat <= C + 0.005

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Saturating vs non-saturating generator loss
#
# Early in training the generator is bad, $D$ rejects its samples confidently, and
# $D(G(z)) \approx 0$. The minimax generator loss $\log(1 - D(G(z)))$ is then flat: with
# $D = \sigma(\ell)$, its derivative with respect to the logit is $-\sigma(\ell) = -D$, which
# vanishes exactly when the generator most needs a signal. Goodfellow et al. (2014) proposed
# instead to *maximise* $\log D(G(z))$, i.e. minimise $-\log D(G(z))$: the same ideal fixed point
# $p_g = p_\text{data}$, but derivative $-(1 - D)$, which is largest when $D(G(z)) \approx 0$. We compute both with
# `jax.grad` of `losses.generator_loss` and compare with these closed forms.

# %%
logits = jnp.linspace(-12, 4, 400)
d_of_g = np.asarray(jax.nn.sigmoid(logits))


def logit_grad(kind):
    return np.asarray(jax.vmap(jax.grad(lambda l: losses.generator_loss(l[None], kind)[0]))(logits))


g_minimax, g_ns = logit_grad("minimax"), logit_grad("non_saturating")
assert np.allclose(g_minimax, -d_of_g, atol=1e-6) and np.allclose(g_ns, -(1 - d_of_g), atol=1e-6)
i = int(np.argmin(np.abs(d_of_g - 1e-3)))
print(f"at D(G(z)) = {d_of_g[i]:.4f}: |grad| minimax {abs(g_minimax[i]):.4f}, non-saturating {abs(g_ns[i]):.4f}")

# %% [markdown]
# Look for: the two curves crossing at $D(G(z)) = \tfrac12$, and the minimax one falling towards
# zero on the left, where training starts.

# %%
fig, (ax,) = plotting.new_figure(1, size=(5.0, 3.2))
ax.loglog(d_of_g, np.abs(g_minimax), label="minimax: log(1 - D(G(z)))")
ax.loglog(d_of_g, np.abs(g_ns), label="non-saturating: -log D(G(z))")
ax.axvspan(1e-5, 1e-2, color="0.9")
ax.text(1.3e-5, 2e-4, "D confidently rejects\nthe samples", fontsize=8)
ax.set_xlabel("D(G(z))")
ax.set_ylabel("|d loss / d logit|")
ax.legend(fontsize=8)
display(fig)

# %% [markdown]
# When the discriminator says "fake" with 99.9% confidence, the minimax gradient is a thousand
# times smaller than the non-saturating one. That saves training in practice, and the
# non-saturating loss is the default everywhere in the course (the least-squares loss of LSGAN,
# Mao et al., 2017, is a third option you can try in the lab below).
#
# **The switch is not free in theory.** The two losses share only the *ideal* fixed point
# $p_g = p_\text{data}$. The game stops being zero-sum (the generator no longer minimises what the
# discriminator maximises), and against $D^*$ the generator follows a different divergence.
# Arjovsky & Bottou (2017, Theorem 2.5) show that, with $D^*$ held fixed,
#
# $$\nabla_\theta\, \mathbb{E}_z[-\log D^*(G_\theta(z))] = \nabla_\theta\big[\mathrm{KL}(p_g \,\|\, p_\text{data}) - 2\,\mathrm{JSD}(p_\text{data} \,\|\, p_g)\big],$$
#
# while the minimax loss follows $\nabla_\theta\, 2\,\mathrm{JSD}$. The reverse KL
# $\mathrm{KL}(p_g \| p_\text{data})$ is *mode-seeking*: it punishes fakes where there is no data
# far more than data that has no fakes, so it is one theoretical cause of the mode dropping of
# section 7. We check both gradients on the 1-D example of section 2, where the generator is
# $G_\mu(z) = \mu + z$ at $\mu = 0.5$: finite differences of the two losses with $D^*$ frozen,
# against finite differences of the two divergences, all by quadrature.

# %%
def quad(f_vals):  # integral over the grid of section 3
    return np.sum(f_vals) * dx


def p_g_mu(mu):
    return stats.norm.pdf(grid, mu, 1.0)


def kl_grid(p, q):
    return quad(np.where(p > 0, p * np.log(np.where(p > 0, p, 1) / np.maximum(q, 1e-300)), 0.0))


def jsd_grid(mu):
    m_mu = 0.5 * (pd_ + p_g_mu(mu))
    return 0.5 * kl_grid(pd_, m_mu) + 0.5 * kl_grid(p_g_mu(mu), m_mu)


mu0, h = 0.5, 1e-4
d_frozen = pd_ / (pd_ + p_g_mu(mu0))  # D* of the generator at mu0, then held fixed


def central(f):
    return (f(mu0 + h) - f(mu0 - h)) / (2 * h)


grad_ns = central(lambda mu: quad(p_g_mu(mu) * -np.log(d_frozen)))
grad_rkl = central(lambda mu: kl_grid(p_g_mu(mu), pd_) - 2 * jsd_grid(mu))
grad_mm = central(lambda mu: quad(p_g_mu(mu) * np.log(1 - d_frozen)))
grad_jsd = central(lambda mu: 2 * jsd_grid(mu))
print(f"non-saturating loss: d/dmu = {grad_ns:+.4f}   KL(p_g||p_data) - 2 JSD: {grad_rkl:+.4f}")
print(f"minimax loss:        d/dmu = {grad_mm:+.4f}   2 JSD:                   {grad_jsd:+.4f}")
assert abs(grad_ns - grad_rkl) < 1e-4 and abs(grad_mm - grad_jsd) < 1e-4
assert abs(grad_ns - grad_mm) > 0.1  # two different directions from the same point

# %% [markdown]
# Both theorems check out, and the two generators are told different things: the minimax
# generator is nudged slightly left (towards the middle, which covers both bumps), the
# non-saturating one pushed firmly right, towards the single bump it already overlaps most. That
# is the mode-seeking pull of the reverse KL. It is one reason why mode collapse (section 7) is
# common in practice, where everyone uses the non-saturating loss.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Game dynamics: gradient steps on a two-player game
#
# Minimising one loss with gradient descent goes downhill. A game is different: each player
# descends its own loss, and the pair can circle forever. The smallest example is the
# **Dirac GAN** (Mescheder et al., 2018): data is a point mass at 0, the generator a point mass
# at $\theta$, the discriminator $D(x) = \sigma(\psi x)$, with logit $\ell(x) = \psi x$ and, as in
# section 1, $D$ the probability that $x$ is real. The value function of section 1 becomes
#
# $$V(\theta, \psi) = \log D(0) + \log\big(1 - D(\theta)\big) = f(0) + f(-\psi\theta), \qquad f = \log\sigma ,$$
#
# (using $1 - \sigma(t) = \sigma(-t)$), and the unique equilibrium is $\theta = \psi = 0$.
# (Mescheder et al. write $f(\psi\theta) + f(0)$: their logit is large on *fakes*. The two
# conventions are mirror images under $\psi \to -\psi$.) Near the equilibrium the game is bilinear,
# $V \approx \text{const} - \tfrac12\psi\theta$: the gradient field rotates around the equilibrium
# instead of pointing at it.
#
# We compare three ways of stepping (`games.dirac_gan`), all with learning rate 0.2:
# **simultaneous** (both players step from the same old point), **alternating** (D steps, then G
# answers the new D, as in the training loop of section 6), and alternating with the **R1
# penalty** on real data, $\tfrac{\gamma}{2}\|\nabla_x \ell(x)\|^2$. R1 penalises the gradient of
# the discriminator's *logit*, not of the probability $D$; here $\nabla_x \ell = \psi$, so the
# penalty is $\tfrac{\gamma}{2}\psi^2$. First a check that can fail: one step of
# `games.dirac_gan` must equal one gradient step on $V$ written with probabilities, exactly as
# section 1 wrote it (`jax.grad`), and the discriminator's step must lower $D$ on the fake.

# %%
def dirac_value(theta, psi):  # section 1's V for the Dirac GAN, with probabilities
    return jnp.log(jax.nn.sigmoid(psi * 0.0)) + jnp.log(1 - jax.nn.sigmoid(psi * theta))


theta0, psi0, eta, gamma = 0.7, -1.3, 0.1, 0.3
d_theta, d_psi = jax.grad(dirac_value, argnums=(0, 1))(theta0, psi0)
d_psi_r1 = d_psi - gamma * jax.grad(lambda p: 0.5 * jax.grad(lambda x: p * x)(0.0) ** 2)(psi0)  # minus R1's gradient
step = games.dirac_gan(theta0, psi0, lr=eta, num_steps=1, mode="simultaneous", r1_gamma=gamma)[1]
print(f"engine: {np.round(step, 6)}   by jax.grad of V - R1: {np.round([theta0 - eta * d_theta, psi0 + eta * d_psi_r1], 6)}")
assert np.allclose(step, [theta0 - eta * d_theta, psi0 + eta * d_psi_r1], atol=1e-6)
psi1 = games.dirac_gan(1.0, 0.0, lr=0.5, num_steps=1, mode="alternating")[1, 1]  # fake at theta = 1
assert jax.nn.sigmoid(psi1 * 1.0) < 0.5  # after one step, D calls the fake "fake"

# %%
start, lr, n_steps = (1.0, 1.0), 0.2, 400
paths = {
    "simultaneous": games.dirac_gan(*start, lr=lr, num_steps=n_steps, mode="simultaneous"),
    "alternating": games.dirac_gan(*start, lr=lr, num_steps=n_steps, mode="alternating"),
    "alternating + R1 (gamma = 0.3)": games.dirac_gan(*start, lr=lr, num_steps=n_steps, mode="alternating",
                                                        r1_gamma=0.3),
}
radius = {name: np.linalg.norm(path, axis=1) for name, path in paths.items()}
for name, r in radius.items():
    print(f"{name:32s} distance to equilibrium: start {r[0]:.2f}, end {r[-1]:.2f}, max {r.max():.2f}")
assert radius["simultaneous"][-1] > 2 * radius["simultaneous"][0]  # spirals out
assert 0.5 < radius["alternating"].min() and radius["alternating"].max() < 2.5  # cycles
assert radius["alternating + R1 (gamma = 0.3)"][-1] < 0.1  # converges
near = games.dirac_gan(1e-4, 1e-4, lr=lr, num_steps=1, mode="simultaneous")  # one step next to (0, 0)
growth = np.linalg.norm(near[1]) / np.linalg.norm(near[0])
print(f"one simultaneous step near the equilibrium multiplies the distance by {growth:.5f}")
assert abs(growth - math.sqrt(1 + (lr * 0.5) ** 2)) < 1e-6  # f'(0) = sigmoid(0) = 1/2

# %% [markdown]
# Look for: the outward spiral, the closed orbit, and the inward spiral. The grey arrows are the
# players' joint update direction $(-\partial V / \partial\theta,\ +\partial V / \partial\psi)
# = D(\theta)\,(\psi,\ -\theta)$ (without R1), a clockwise rotation.

# %%
th, ps = np.meshgrid(np.linspace(-3, 3, 15), np.linspace(-3, 3, 15))
d_theta_grid = 1 / (1 + np.exp(-ps * th))  # D(theta) = sigmoid(psi theta) = f'(-psi theta)
fig, axes = plotting.new_figure(3, size=(3.2, 3.2))
for ax, (name, path) in zip(axes, paths.items()):
    ax.quiver(th, ps, d_theta_grid * ps, -d_theta_grid * th, color="0.7")
    ax.plot(path[:, 0], path[:, 1], color="C3", lw=1)
    ax.plot(*path[0], "ko", ms=4)
    ax.plot(0, 0, "k*", ms=8)
    ax.set_xlim(-3, 3)
    ax.set_ylim(-3, 3)
    ax.set_xlabel("theta (generator)")
    ax.set_title(name, fontsize=9)
axes[0].set_ylabel("psi (discriminator)")
display(fig)

# %% [markdown]
# Simultaneous steps multiply the distance to the equilibrium by about
# $\sqrt{1 + (\eta f'(0))^2} > 1$ each step near it, so they spiral out however small the learning
# rate; alternating steps stay on a closed orbit, never settling; of these three, only the
# penalty, which damps the discriminator, makes the players converge. (Mescheder et al., 2018,
# section 3, show that instance noise, the R2 penalty on fakes and consensus optimisation also
# converge here, while WGAN and WGAN-GP do not.) Real GANs are high-dimensional versions of this
# picture: oscillation is normal, and the R1 penalty is a standard stabiliser.

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Why the JSD gives no signal on disjoint supports, and what Wasserstein losses and penalties do
#
# The Dirac GAN is an extreme case of something common: data and fakes on supports that do not
# overlap (images lie near thin manifolds in pixel space, and two thin manifolds rarely meet).
# Exercise 2 below shows that then $\mathrm{JSD} = \log 2$, its maximum, *whatever the distance
# between the supports*. So $C(G) = -\log 4 + 2\,\mathrm{JSD}$ is flat in $\theta$, and an optimal
# discriminator, which is 1 on the data and 0 on the fakes, tells the generator nothing about
# which way to move (Arjovsky & Bottou, 2017). Three remedies:
#
# - **Instance noise** (Sønderby et al., 2017; Arjovsky & Bottou, 2017): add noise to real and fake
#   inputs; the supports now overlap and the JSD of the noisy distributions varies with $\theta$.
# - **A Wasserstein loss** (WGAN, Arjovsky, Chintala & Bottou, 2017): replace the JSD by the
#   earth mover's distance $W_1(p_\text{data}, p_g) = \sup_{\|f\|_L \le 1} \mathbb{E}_\text{data} f - \mathbb{E}_g f$
#   (Kantorovich-Rubinstein duality), which grows with the distance between the supports. The
#   "critic" $f$ must be 1-Lipschitz: WGAN clips its weights, WGAN-GP (Gulrajani et al., 2017) adds
#   the gradient penalty $\lambda\,(\|\nabla_{\hat x} f(\hat x)\| - 1)^2$ at points $\hat x$ between real
#   and fake samples, and spectral normalisation (Miyato et al., 2018) divides each layer's
#   weights by their largest singular value.
# - **Penalising the discriminator's gradient** on real data, R1 (section 5): it forbids the step
#   function that the optimal discriminator of disjoint supports would be, so $D$ stays smooth
#   and its slope keeps pointing the fakes towards the data.
#
# A numeric demonstration with data $\mathcal{N}(0, \sigma^2)$ and fakes $\mathcal{N}(\theta, \sigma^2)$,
# $\sigma = 0.02$, so that for $\theta \ge 0.25$ the supports are disjoint to machine precision:
# the JSD by quadrature, the JSD after instance noise of std 0.5 added to both, and $W_1$, whose
# closed form for two translated copies is $|\theta|$ and which we estimate from samples with
# SciPy's `wasserstein_distance`.

# %%
sigma, noise_std = 0.02, 0.5
thetas = np.linspace(0.25, 3.0, 12)
line = np.linspace(-4, 7, 110_001)
dline = line[1] - line[0]


def jsd_gauss(theta, std):  # JSD(N(0, std^2) || N(theta, std^2)) by quadrature, in nats
    p, q = stats.norm.pdf(line, 0, std), stats.norm.pdf(line, theta, std)
    mix = 0.5 * (p + q)
    kl_p = np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1) / np.maximum(mix, 1e-300)), 0)) * dline
    kl_q = np.sum(np.where(q > 0, q * np.log(np.where(q > 0, q, 1) / np.maximum(mix, 1e-300)), 0)) * dline
    return 0.5 * kl_p + 0.5 * kl_q


jsd_disjoint = np.array([jsd_gauss(t, sigma) for t in thetas])
jsd_noisy = np.array([jsd_gauss(t, math.hypot(sigma, noise_std)) for t in thetas])
rng_w = np.random.default_rng(1)
w1_samples = np.array([stats.wasserstein_distance(rng_w.normal(0, sigma, 20_000), rng_w.normal(t, sigma, 20_000))
                       for t in thetas])
print("theta:        ", np.round(thetas, 2))
print("JSD:          ", np.round(jsd_disjoint, 4), f"(log 2 = {math.log(2):.4f})")
print("JSD + noise:  ", np.round(jsd_noisy, 4))
print("W1 (samples): ", np.round(w1_samples, 3))
assert np.ptp(jsd_disjoint) < 1e-6 and abs(jsd_disjoint.mean() - math.log(2)) < 1e-4  # flat: no gradient
assert np.all(np.diff(jsd_noisy) > 1e-3)  # instance noise: the JSD grows with theta again
assert np.max(np.abs(w1_samples - thetas)) < 0.01  # W1 = |theta|: slope 1 everywhere

# %%
fig, (ax,) = plotting.new_figure(1, size=(5.0, 3.2))
ax.plot(thetas, jsd_disjoint, "o-", color="C3", label="JSD, disjoint supports")
ax.plot(thetas, jsd_noisy, "s-", color="C0", label=f"JSD with instance noise (std {noise_std})")
ax.plot(thetas, w1_samples, "^-", color="C2", label="W1 (Wasserstein-1), from samples")
ax.axhline(math.log(2), color="0.5", ls=":", lw=1, label="log 2")
ax.set_xlabel("theta (distance between the fake and the real point)")
ax.set_ylabel("divergence (nats) / distance")
ax.legend(fontsize=8)
display(fig)

# %% [markdown]
# Look for: the red JSD line lying flat on $\log 2$, so its slope, the generator's signal, is zero;
# the blue line that noise makes climb again (but it too flattens far away); and the green
# $W_1$, whose slope is 1 at every distance. That is the case for Wasserstein losses. In
# practice, however, the penalties won: StyleGAN (Karras et al., 2019) trains with the
# non-saturating loss and R1, while Mescheder et al. (2018) show that WGAN and WGAN-GP do not converge
# on the Dirac GAN itself.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. The GAN lab
#
# Now a real GAN on 2-D data, where every quantity can be seen. The engine
# (`course_lib.training.gan_lab`) runs *bursts* of compiled training steps; each step makes
# `d_steps` discriminator updates, then one generator update. After each burst four views are
# drawn: the samples, the discriminator's map with arrows showing where the next generator update
# pushes each generated point ($-\nabla_x$ of the generator loss), the image of a square grid of
# $z$ under $G$, and the losses.
#
# The static version first: 1,000 steps on the ring of 8 Gaussians, at the lab's default
# settings (two hidden layers of 64 units per player, batches of 128, Adam with learning rate
# 0.002), in bursts of 10 steps as the widget runs them.

# %% tags=["nbval-ignore-output"]
# a GAN's trajectory is chaotic: after 1,000 steps the numbers differ between CPUs (their matmuls
# round differently), so nbval checks the assert, not the text
lab = LabSession(LAB_DEFAULTS, seed=0)
for _ in range(100):
    metrics = lab.advance(10)
print(f"step {lab.step}: D loss {metrics['d_loss']:.2f}, G loss {metrics['g_loss']:.2f}, "
      f"D(real) {metrics['d_real']:.2f}, D(fake) {metrics['d_fake']:.2f}")
assert all(np.isfinite(v) for v in metrics.values())

# %% [markdown]
# Look for: purple samples gathering on the green bumps; the discriminator's green islands over
# the data; arrows pointing from purple regions into green ones; the warped grid folding so that
# most of $z$-space lands on the ring.

# %%
view = lab.snapshot()
assert np.mean(view.d_loss[-200:]) < math.log(4) < np.mean(view.d_loss[-200:]) + 1  # D keeps an edge...
assert np.mean(view.g_loss[-200:]) > math.log(2)  # ... and G pays for it
fig = lab_widgets.lab_figure(view)
ax_loss = fig.axes[3]  # the losses view: mark both players' values at the equilibrium D = 1/2
ax_loss.axhline(math.log(4), color="C0", ls="--", lw=1, label="D at equilibrium: log 4")
ax_loss.axhline(math.log(2), color="C1", ls="--", lw=1, label="G at equilibrium: log 2")
ax_loss.set_ylim(min(ax_loss.get_ylim()[0], 0.6), ax_loss.get_ylim()[1])
ax_loss.set_ylabel("loss", fontsize=8)
ax_loss.set_title("losses: D (blue), G (orange)", fontsize=7.5)
ax_loss.legend(fontsize=6.5, loc="upper right")
display(fig)

# %% [markdown]
# After 1,000 steps the generator has found all eight modes, but not all of its samples sit on
# them: a few lie between modes, where the discriminator is purple and the arrows push them along
# the ring towards the nearest green island. The warp view shows how the generator does it: it
# cannot tear $z$-space, so it folds the square grid of $z$ into an octagon whose corners are the
# modes, and stretches thin the pieces that map between them. The losses do not settle at the
# values they would have at the equilibrium, where $D = \tfrac12$ everywhere: $\log 4 \approx 1.39$
# for D's loss (blue dashed line) and $-\log \tfrac12 = \log 2 \approx 0.69$ for G's
# non-saturating loss (orange dashed line). D's loss stays below $\log 4$ and G's above
# $\log 2$: the discriminator keeps an edge, and both players keep moving, as in section 5.
#
# Now the live lab. Press **Play** (each tick runs one frame: `steps/frame` training steps and a
# redraw), **Step** for one frame, **Reset** for new players. Things to try:
#
# - train **D only** for a while, then **G only**: watch the discriminator become sharp and the
#   arrows grow, then the generator chase the green regions and overshoot;
# - switch the loss to `minimax` after a Reset and compare how fast the samples start moving;
# - the `grid` target with `D steps / G step` = 1 vs 5; a learning rate of 0.05;
# - a negative learning rate or 0 D steps, to see the lab refuse them.

# %%
panel = lab_widgets.gan_lab(lab_widgets.LAB_DEFAULTS, steps_per_frame=10)
panel

# %% [markdown]
# How fast is a frame? The cell below drives the widget exactly as the Play button does (setting
# the Play value) and reports the kernel-side time per frame. The browser adds the time to
# send four small PNG images.

# %% tags=["nbval-ignore-output"]
play = panel.controls["play"]
for i in range(1, 31):
    play.value = i
frame_ms = np.median(panel.timer.samples_ms[5:])
print(f"median frame: {frame_ms:.0f} ms = {1000 / frame_ms:.0f} frames/s "
      f"({panel.controls['steps_per_frame'].value} training steps + 4 views each)")
assert panel.lab.step == 300

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Mode collapse: make it happen, measure it, fix it
#
# A generator that covers only some of the data's modes can still fool the discriminator
# locally; when $D$ adapts, $G$ hops to other modes, and the game can settle on a subset. This is
# **mode collapse**. To measure it we use the protocol of Srivastava et al. (2017) and Lin et al.
# (2018): data from a ring of 8 Gaussians (radius 1, std 0.01) or a grid of 25 (spacing 2, std
# 0.05); draw 2,500 samples; a sample is **high quality** if it lies within 3 std of its nearest
# mode; a mode is **captured** if it has at least one high-quality sample
# (`course_lib.evaluation.modes.mode_coverage`). One sample out of 2,500 is a lenient criterion: a
# mode the generator barely visits counts as captured. That is why we also report the balance of
# the high-quality samples over the modes, $\mathrm{KL}(q \,\|\, w)$ between their histogram $q$ and
# the uniform mode weights $w$ (0 for a perfectly balanced generator). First the ruler itself: samples from the data
# score all modes, with the fraction of high-quality samples that a 2-D Gaussian predicts,
# $P(\chi^2_2 \le 9) = 1 - e^{-9/2}$.

# %%
GRID = {"spacing": 2.0, "std": 0.05}
grid_mix = data.toy_mixture("grid", **GRID)
x_true = np.asarray(data.sample_toy("grid", jax.random.key(0), 2500, **GRID))
ruler = mode_coverage(x_true, grid_mix)
print(f"data itself: {ruler.modes}/25 modes, {ruler.hq_fraction:.3f} high quality "
      f"(theory {1 - math.exp(-4.5):.3f})")
assert ruler.modes == 25 and abs(ruler.hq_fraction - (1 - math.exp(-4.5))) < 0.01

# %% [markdown]
# **Make it happen.** A plain GAN on the grid: three hidden layers of 64 units per player, one
# discriminator step per generator step, the non-saturating loss, batches of 64, and 50,000 steps
# of Adam with a learning rate of 0.002 that decays linearly to zero over the last 35,000 (both networks work in
# units of $x / 4$, so that the grid spans about $[-1, 1]^2$). **Fix it.** The same GAN with
# *three* changes. *Packing* (PacGAN, Lin et al., 2018): the discriminator judges two samples at
# once, concatenated into one 4-D input; a generator that drops modes produces pairs whose joint
# statistics differ from pairs of real points, so a packed discriminator can penalise missing
# modes more than a single-sample one. The *R1 penalty* of section 5 (weight 0.1), which keeps
# the discriminator from overshooting so that the players settle. And, as a side effect of
# packing, *twice as many samples per step*: the batch is 64 packs, i.e. 128 samples for each
# player, against the plain GAN's 64. Which of the three does the work is a question for an
# ablation, further below. Both generators were
# trained by `python scripts/train_gan_checkpoints.py --only toy` (about half a minute each) with
# the recipes of `course_lib/reproduce/gan.py` and seed 1: the first seed at which the plain GAN
# drops modes (at seed 0 it happens to find all 25, which is why we look at 10 seeds below).
# We load them and measure.

# %%
results = {}
for name in ("grid_plain", "grid_packed"):
    gen, _ = pretrained.load(f"gan_{name}_generator")
    x_gen = gen.sample(jax.random.key(10_001), 2500)  # the evaluation key of seed 1
    results[name] = (x_gen, mode_coverage(x_gen, grid_mix))
    cov = results[name][1]
    print(f"{name:12s}: {cov.modes:2d}/25 modes, {cov.hq_fraction:.3f} high quality, "
          f"KL(modes || uniform) {cov.kl:.3f}")
assert results["grid_plain"][1].modes < 25 and results["grid_packed"][1].modes == 25
assert results["grid_packed"][1].kl < results["grid_plain"][1].kl

# %% [markdown]
# Look for: red circles, the modes without a single high-quality sample, in the plain GAN; the
# number next to each mode, its count of high-quality samples (a balanced generator puts about
# 2,500 / 25 = 100 on each); and the thin trails of samples between modes, the price a continuous
# generator pays for jumping from one mode to the next. Some grey ("captured") modes of the plain
# GAN look empty: they hold only a handful of samples, which is all the criterion asks.

# %%
fig, axes = plotting.new_figure(2, size=(3.9, 3.9))
for ax, (name, (x_gen, cov)) in zip(axes, results.items()):
    plotting.scatter_2d(ax, x_gen, size=3, alpha=0.3, limits=5.5)
    missed = cov.counts == 0
    ax.scatter(*grid_mix.means[~missed].T, s=70, facecolors="none", edgecolors="0.4", linewidths=0.8,
               label="captured (>= 1 high-quality sample)")
    ax.scatter(*grid_mix.means[missed].T, s=70, facecolors="none", edgecolors="C3", linewidths=1.8,
               label="missed")
    for (mx, my), count in zip(grid_mix.means, cov.counts):
        ax.text(mx + 0.3, my + 0.3, str(count), fontsize=6.5, color="C3" if count == 0 else "0.15")
    ax.set_title(f"{name}: {cov.modes}/25 modes, {cov.hq_fraction:.0%} high quality", fontsize=9)
    ax.set_xlabel("x1")
axes[0].set_ylabel("x2")
for ax in axes:
    ax.set_ylim(-5.5, 7.0)  # room for the legend above the top row of modes
axes[0].legend(fontsize=7, loc="upper center", ncols=2, framealpha=0.9)
display(fig)
plain_counts = results["grid_plain"][1].counts
print(f"plain GAN: {int(np.sum((plain_counts > 0) & (plain_counts < 10)))} captured modes hold fewer than 10 "
      f"high-quality samples; the packed GAN's smallest mode holds {results['grid_packed'][1].counts.min()}")

# %% [markdown]
# One seed is an anecdote. The command below repeats each recipe over 10 seeds and prints one
# JSON line per experiment (modes_mean, modes_min, hq_mean, seconds_per_run); its results on a
# 2-core CPU are in the table, next to the published numbers on the same protocol (Lin et al.,
# 2018, Table 1: plain GAN and the best packed GAN, trained much longer with larger networks).
#
# ```
# python -m course_lib reproduce gan-grid-plain --seeds 10 --json
# python -m course_lib reproduce gan-grid --seeds 10 --json
# python -m course_lib reproduce gan-ring-plain --seeds 10 --json
# python -m course_lib reproduce gan-ring --seeds 10 --json
# ```
#
# | recipe, 10 seeds | ring: modes (min) | ring: high quality | ring: KL | grid: modes (min) | grid: high quality | grid: KL |
# |---|---|---|---|---|---|---|
# | plain GAN (this course) | 8.0 (8) | 97.6% | 0.007 | 21.7 (18) | 96.2% | 0.28 |
# | packing + R1 (this course) | 8.0 (8) | 97.4% | 0.002 | **25.0 (25)** | 95.5% | 0.0085 |
# | plain GAN (Lin et al., 2018) | 6.3 | 98.2% | (not compared) | 17.3 | 94.8% | (not compared) |
# | best PacGAN (Lin et al., 2018) | 7.8-7.9 | about 96% | (not compared) | 24.8 | 93.6% | (not compared) |
#
# (The ring recipe uses 20,000 steps and no input scaling, the grid recipe 50,000; a run takes
# about 12 s (ring) or 28 s (grid) of CPU time on a 2-core CPU. KL is our
# $\mathrm{KL}(q \,\|\, w)$ of the high-quality histogram against the uniform weights. Lin et al.'s
# Table 1 also reports a reverse KL over the modes, but its histogram is built by their own
# assignment of samples to modes, which we have not matched to ours, so we leave those cells
# empty rather than set two different estimators side by side.)
#
# On the ring our plain GAN already finds every mode: careful training (a decaying learning
# rate, three-layer networks) removes much of the collapse reported in 2018, and the fixed recipe
# only balances the modes better (KL 0.007 against 0.002). On the grid the difference is large:
# the plain GAN misses 3.3 modes on average and up to 7, the fixed one never misses any, at a
# slightly lower fraction of high-quality samples.
#
# **Which change did it?** The fix changed three things: packing, R1 and the samples per step.
# `python scripts/gan_grid_ablation.py` separates them. It trains, at 128 samples per step for
# each player, the plain GAN, packing alone, R1 alone, and (the row above) packing with R1: a
# 2 x 2 design at equal samples, next to the plain GAN at 64. Every recipe runs with seeds 0 to 4
# (training key `jax.random.key(s)`, evaluation key `jax.random.key(10_000 + s)`: five seeds, not
# the table's ten, to keep the script's run near half an hour on a 2-core CPU), and the script
# records the result in `data/results/gan_grid_ablation.json`, which we load.

# %%
import json  # here rather than in the setup cell: only this cell reads a recorded result

ablation = json.loads((data_dir() / "results" / "gan_grid_ablation.json").read_text())["experiments"]
ABLATION_ROWS = {"gan-grid-plain": "plain GAN, 64 samples/step", "gan-grid-plain-128": "plain GAN, 128 samples/step",
                 "gan-grid-pack-only": "packing only (128)", "gan-grid-r1-only": "R1 only (128)",
                 "gan-grid": "packing + R1 (128)"}
print(f"{'recipe, seeds 0-4':30s} {'modes':>6s} {'min':>4s} {'high q.':>8s} {'KL':>7s}   modes per seed")
for key, label in ABLATION_ROWS.items():
    row = ablation[key]
    assert row["seeds"] == 5 and not row["quick"]
    print(f"{label:30s} {row['modes_mean']:6.1f} {row['modes_min']:4d} {row['hq_mean']:8.1%} {row['kl_mean']:7.3f}   "
          f"{[r['modes'] for r in row['per_seed']]}")
modes = {key: ablation[key]["modes_mean"] for key in ABLATION_ROWS}
assert abs(modes["gan-grid-plain-128"] - modes["gan-grid-plain"]) < 1.5  # more samples per step: no fix
assert ablation["gan-grid-r1-only"]["modes_min"] == 25  # R1 alone: every mode at every seed
assert modes["gan-grid-plain-128"] < modes["gan-grid-pack-only"] < 25  # packing alone: helps, not fully
assert ablation["gan-grid-pack-only"]["kl_mean"] > 3 * ablation["gan-grid-r1-only"]["kl_mean"]

# %% [markdown]
# The ablation overturns the story told above. Twice the samples per step changes nothing: the
# plain GAN misses as many modes at 128 as at 64. **R1 alone** captures all 25 modes at every
# seed, as balanced as the full fix. Packing alone helps (fewer modes missed than the plain GAN)
# but not fully, and leaves the modes about ten times less balanced (KL) than R1. So on this
# problem, with these networks and this schedule, the penalty does most of the work. Packing's
# mechanism (Lin et al. prove that a packed discriminator penalises mode collapse more) is real,
# but it is not what fixed our grid. Two caveats: five seeds resolve differences of a mode or
# so, not less; and R1 may work here partly because it lets the players converge (section 5),
# which a decaying learning rate then freezes in place.
#
# Besides packing, other fixes attack the same problem from different sides: minibatch
# discrimination (Salimans et al., 2016) lets $D$ compare samples within a batch, unrolled GANs
# (Metz et al., 2017) let $G$ anticipate $D$'s next moves, and gradient penalties such as R1
# (section 5) keep $D$ from overshooting so that the players converge instead of chasing each
# other.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. A GAN on digits, and how to score it
#
# On images we cannot count modes, and "does it look like a digit?" is not a number. The standard
# answer (FID, Heusel et al., 2017) compares real and generated images in the feature space of a
# classifier: fit a Gaussian to each set of features and compute the **Fréchet distance**
#
# $$\mathrm{FD} = \|\mu_r - \mu_g\|^2 + \operatorname{Tr}\big(\Sigma_r + \Sigma_g - 2(\Sigma_r\Sigma_g)^{1/2}\big).$$
#
# (The trace can also be written $\operatorname{Tr}\big((\Sigma_r^{1/2}\Sigma_g\Sigma_r^{1/2})^{1/2}\big)$, as in
# notebook 06: $\Sigma_r\Sigma_g$ is similar to the symmetric matrix $\Sigma_r^{1/2}\Sigma_g\Sigma_r^{1/2}$, so
# the two square roots have the same eigenvalues and the same trace; Dowson & Landau, 1982.)
# FD mixes fidelity and diversity in one number. **Precision and recall** (Kynkäänniemi et al.,
# 2019) separate them: around each real feature vector put a ball reaching its 3rd nearest real
# neighbour; precision is the fraction of generated samples inside the union of those balls
# (are the samples realistic?), recall the fraction of real samples inside the balls built the
# same way around generated ones (is the data covered?).
#
# Our classifier is a small MLP trained on the 8x8 digits (`python scripts/train_digit_classifier.py`;
# about 92% accuracy on the test digits, which were written by other people than the training
# digits) and its 128 hidden units are the features. The GAN is an MLP
# generator (16-D noise, two hidden layers of 256, sigmoid pixels) trained on the 1,000 training
# digits by `python scripts/train_gan_checkpoints.py --only digits`. First the formula: FD
# computed by `course_lib.evaluation.frechet` against SciPy's matrix square root.

# %%
rng = np.random.default_rng(0)
fa, fb = rng.normal(size=(300, 5)), 0.5 + 1.3 * rng.normal(size=(300, 5))
mu_a, mu_b, S_a, S_b = fa.mean(0), fb.mean(0), np.cov(fa.T), np.cov(fb.T)
fd_scipy = np.sum((mu_a - mu_b) ** 2) + np.trace(S_a + S_b - 2 * linalg.sqrtm(S_a @ S_b).real)
print(f"FD: course_lib {frechet_distance(fa, fb):.6f}, SciPy {fd_scipy:.6f}")
assert abs(frechet_distance(fa, fb) - fd_scipy) < 1e-8

# %%
classifier, _ = clf_lib.load_classifier("digits")
generator, _ = pretrained.load("gan_digits_generator")
print(generator.config)
test = data.load_digits("test")
x_test = data.to_unit_interval(test.x, test.num_levels)  # (447, 64) in [0, 1]
accuracy = clf_lib.accuracy(classifier, x_test, test.y)
print(f"classifier test accuracy {accuracy:.3f}")
assert 0.9 < accuracy < 0.95  # the "about 92%" of the text

# %% [markdown]
# Look for: digits you can name, in all ten classes, with the blocky look of the 8x8 data.

# %%
x_fake = np.asarray(generator.sample(jax.random.key(1), len(x_test)))  # (447, 64)
display(plotting.image_grid(x_fake[:30], (8, 8), ncols=15, cell_size=0.55, suptitle="generated"))
display(plotting.image_grid(x_test[:30], (8, 8), ncols=15, cell_size=0.55, suptitle="real (test)"))
predicted = np.bincount(np.argmax(np.asarray(classifier(x_fake)), axis=1), minlength=10)
print("generated digits per predicted class:", predicted.tolist())
noise_images = np.asarray(jax.random.uniform(jax.random.key(2), (len(x_test), 64)))  # (447, 64) pixel noise
on_noise = np.bincount(np.argmax(np.asarray(classifier(noise_images)), axis=1), minlength=10)
print("uniform-noise images per predicted class:", on_noise.tolist())
assert predicted.min() / predicted.sum() > 0.03  # every class holds more than 3% of the samples
assert on_noise.min() / on_noise.sum() <= 0.03  # ... a check that noise fails: the classifier piles it on few classes

# %% [markdown]
# Now the numbers. As a reference point, 447 *real* training digits are scored against the 447
# test digits the same way: that is what a perfect generator would get with this many samples
# (FD is biased upwards for small sample sizes, so only same-size comparisons are fair).

# %%
train = data.load_digits("train")
x_train = data.to_unit_interval(train.x, train.num_levels)
scores = {"real train digits": image_quality(classifier, x_test, x_train[: len(x_test)]),
          "GAN samples": image_quality(classifier, x_test, x_fake)}
print(f"{'vs 447 test digits':20s} {'FD':>7s} {'precision':>10s} {'recall':>7s}")
for name, q in scores.items():
    print(f"{name:20s} {q['fd']:7.2f} {q['precision']:10.3f} {q['recall']:7.3f}")
gan_q, real_q = scores["GAN samples"], scores["real train digits"]
assert gan_q["fd"] > real_q["fd"] and gan_q["precision"] < real_q["precision"]
print(f"recall, GAN minus real digits: {gan_q['recall'] - real_q['recall']:+.2f}")

# %% [markdown]
# The GAN's samples are farther from the test set than real training digits are in Fréchet
# distance and in precision: the precision gap says that some samples are not convincing digits
# (the smudged ones above). Recall tells another story here: the samples reach the test digits'
# neighbourhoods about as well as 447 real training digits do (the printed difference). The test
# digits were written by other people than the training digits (the split follows scikit-learn's
# stored order), so real training digits miss part of the test variety too, and a generator that
# spreads its samples, smudges between classes included, can land near more of it. Recall alone
# cannot tell spread from quality; that is why it is read together with precision. The numbers
# only make sense against the reference row and for this classifier: they are a ruler for
# comparing models on the same data, not an absolute grade.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9. Summary
#
# - A GAN is a game: $\min_G \max_D V(D, G)$. For a fixed generator the best discriminator is
#   $D^* = p_\text{data} / (p_\text{data} + p_g)$, and against it the generator minimises
#   $-\log 4 + 2\,\mathrm{JSD}(p_\text{data} \| p_g)$; a trained discriminator estimates $D^*$
#   from samples.
# - The non-saturating loss $-\log D(G(z))$ keeps the generator's gradient alive when the
#   discriminator wins, which is how training starts; the price is a non-zero-sum game whose
#   generator follows $\mathrm{KL}(p_g \| p_\text{data}) - 2\,\mathrm{JSD}$, a mode-seeking divergence.
# - Gradient steps on a game rotate around the equilibrium: simultaneous steps spiral out,
#   alternating steps cycle, a penalty on the discriminator's logit gradient (R1) makes them converge.
# - On disjoint supports the JSD is stuck at $\log 2$ and gives no gradient; instance noise,
#   Wasserstein losses (WGAN, WGAN-GP, spectral normalisation) and gradient penalties restore one.
# - Mode collapse is measurable (modes captured, high-quality fraction, balance) and fixable; on the
#   grid an ablation shows that the R1 penalty, not packing or a larger batch, did most of the fixing.
# - Images are scored in a classifier's feature space: FD, precision and recall, always next to a
#   real-data reference.
#
# **Beyond this notebook.** Conditional GANs (Mirza & Osindero, 2014) feed a label to both
# players; StyleGAN (Karras et al., 2019, 2020) reached photographic faces. In 2026, GANs rarely
# generate images on their own, diffusion and flow models do (notebooks 07 and 08_vector_fields),
# but the adversarial *loss* is everywhere: it sharpens the decoders of the autoencoders that
# latent diffusion works in (VQGAN, Esser et al., 2021; Rombach et al., 2022), and adversarial
# diffusion distillation (Sauer et al., 2023) turns a many-step diffusion model into a one- to
# four-step generator.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 10. Exercises
#
# **Exercise 1.** Write `optimal_discriminator(p_data, p_g)`: arrays of the two densities at some
# points in, $D^*$ at those points out.

# %% tags=["solution"]
def optimal_discriminator(p_data, p_g):
    return p_data / (p_data + p_g)


# %%
result = ch05_gan.check_optimal_discriminator(optimal_discriminator)

# %% [markdown]
# **Exercise 2.** Write `js_divergence(p, q)` for two discrete distributions (arrays of
# probabilities that sum to 1), in nats, with the convention $0 \log 0 = 0$. (The check includes
# two distributions with disjoint supports, whose JSD is the largest possible: $\log 2$; section 5
# showed what that constant means for the generator's gradient.)

# %% tags=["solution"]
def js_divergence(p, q):
    p, q = np.asarray(p, float), np.asarray(q, float)
    m = 0.5 * (p + q)
    kl_pm = np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1) / m), 0.0))
    kl_qm = np.sum(np.where(q > 0, q * np.log(np.where(q > 0, q, 1) / m), 0.0))
    return 0.5 * kl_pm + 0.5 * kl_qm


# %%
result = ch05_gan.check_js_divergence(js_divergence)

# %% [markdown]
# **Exercise 3.** Write the non-saturating generator loss from the discriminator's logits,
# `non_saturating_loss(fake_logits)` $= -\log \sigma(\ell) = \log(1 + e^{-\ell})$ per example, so
# that it stays finite and accurate for logits of $\pm 1000$ in float64 and $\pm 100$ in float32.
# The obvious `np.log(1 + np.exp(-l))` overflows: $e^{1000}$ is `inf` in float64 (beyond about
# 709), $e^{100}$ in float32 (beyond about 88); and `-np.log(sigmoid(l))` returns `inf` where
# $\sigma(\ell)$ underflows to 0. Write it as $\log(e^0 + e^{-\ell})$ with `np.logaddexp`, which
# factors out the larger exponent, and the check rejects both naive versions.

# %% tags=["solution"]
def non_saturating_loss(fake_logits):
    return np.logaddexp(0.0, -np.asarray(fake_logits, float))


# %%
result = ch05_gan.check_non_saturating_loss(non_saturating_loss)

# %% [markdown]
# **Exercise 4.** Write `captured_modes(x, means, std)`: the number of modes captured by the
# samples `x` (N, 2) under the protocol of section 7 (nearest mode, within 3 std).

# %% tags=["solution"]
def captured_modes(x, means, std):
    d = np.linalg.norm(np.asarray(x)[:, None, :] - np.asarray(means)[None, :, :], axis=-1)
    nearest = np.argmin(d, axis=1)
    close = d[np.arange(len(d)), nearest] <= 3 * std
    return len(set(nearest[close].tolist()))


# %%
result = ch05_gan.check_captured_modes(captured_modes)

# %% [markdown]
# **Next:** [06 - Code walkthrough](06_code_walkthrough.ipynb): a flawed "VAE" program dissected,
# fixed into a GAN, and the VAE it promised.
