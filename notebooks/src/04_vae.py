# %% [markdown] slideshow={"slide_type": "slide"}
# # 04 · The variational autoencoder: derived, checked, trained and explored
#
# {{COLAB_BADGE}}
#
# **Time:** about 75 minutes. **You will:**
#
# - see why the likelihood of a latent-variable model is intractable, and derive the evidence
#   lower bound (ELBO) in two ways;
# - check the ELBO numerically on a model whose posterior is known exactly;
# - meet the pieces of a VAE: closed-form Gaussian KL, the reparameterization trick, amortized
#   inference, and the decoder likelihood that sets the loss;
# - train VAEs on 8x8 digits and on MNIST-5k in seconds, and read their loss curves;
# - explore a 2-D latent space live, and see how beta trades rate against distortion;
# - measure a VAE in nats with the importance-weighted bound, and watch posterior collapse
#   happen and get fixed.
#
# The VAE was introduced by Kingma & Welling (2013) and, independently, by Rezende, Mohamed &
# Wierstra (2014). Everything below runs on a laptop CPU.

# %%
{{COLAB_BOOTSTRAP}}

# %% [markdown]
# One setup cell: the imports of the whole notebook (`%matplotlib inline` shows the figures that
# course_lib returns as pictures), the device JAX uses, and the two datasets
# in the form the VAEs use: the 8x8 digits as integer grey levels 0..16, and MNIST-5k binarized
# at a fixed threshold of 0.5. The digits are split in scikit-learn's stored order, the first
# 1,000 images for training, the next 350 for validation, the last 447 for testing: the split of
# J. Tomczak's `intro_dgm` code (github.com/jmtomczak/intro_dgm, the companion code of *Deep
# Generative Modeling*), so that we can compare with that code's models on the same images.

# %% tags=["nbval-ignore-output"]
# %matplotlib inline
import time

import matplotlib.lines

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from IPython.display import display
from scipy import special, stats

from course_lib import losses, plotting, pretrained
from course_lib.data import load_vae_data
from course_lib.evaluation import likelihood as lik
from course_lib.exercises import ch04_vae
from course_lib.models import VAE, count_params
from course_lib.reproduce.vae import ANCHORS_DIGITS, SETTINGS
from course_lib.training import History, train_vae
from course_lib.widgets import latent

print("JAX devices:", jax.devices())
digits = load_vae_data("digits")  # int32 levels 0..16; scikit-learn's order cut 1000 / 350 / 447
mnist = load_vae_data("mnist5k")  # float32 in {0, 1}; 4000 / 500 / 500 images
print("digits:", {s: digits[s].shape for s in ("train", "val", "test")})
print("mnist5k:", {s: mnist[s].shape for s in ("train", "val", "test")})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. A latent-variable model, and why its likelihood is hard
#
# A latent-variable model explains each image $x$ by a hidden cause $z$: first draw
# $z \sim p(z) = \mathcal{N}(0, I)$, then draw $x \sim p_\theta(x \mid z)$, where a neural network,
# the **decoder**, turns $z$ into the parameters of a distribution over images. The probability
# the model gives to an image is the marginal
#
# $$p_\theta(x) = \int p_\theta(x \mid z)\, p(z)\, dz .$$
#
# Maximum likelihood needs $\log p_\theta(x)$ (and its gradient) for every training image. With a
# neural decoder the integral has no closed form. Estimating it by sampling from the prior,
# $p_\theta(x) \approx \frac1S \sum_s p_\theta(x \mid z_s)$ with $z_s \sim p(z)$, is unbiased but
# useless in practice: almost every $z$ drawn from the prior explains a given $x$ very badly, and
# the few that explain it well are almost never drawn.
#
# We can watch this fail on a model where the integral *does* have a closed form: the
# linear-Gaussian model (probabilistic PCA, Tipping & Bishop, 1999),
# $x \mid z \sim \mathcal{N}(Wz + b, \sigma^2 I)$, for which
# $p(x) = \mathcal{N}(x; b, WW^\top + \sigma^2 I)$.

# %%
rng = np.random.default_rng(0)
q_big, _ = np.linalg.qr(rng.normal(size=(20, 6)))
W_big = jnp.asarray(2.0 * q_big, jnp.float32)  # (D=20, J=6) loadings
b_big = jnp.zeros(20)  # (D,)
sigma_big = 0.1
x_big = W_big @ jnp.asarray(rng.normal(size=6), jnp.float32) + sigma_big * jnp.asarray(rng.normal(size=20), jnp.float32)

exact = float(lik.linear_gaussian_log_marginal(x_big[None], W_big, b_big, sigma_big)[0])
scipy_exact = stats.multivariate_normal(np.zeros(20), np.asarray(W_big @ W_big.T) + sigma_big**2 * np.eye(20)).logpdf(
    np.asarray(x_big))
assert abs(exact - scipy_exact) < 1e-3
print(f"exact log p(x)                   {exact:9.2f}")
noise = stats.multivariate_normal(np.zeros(20), sigma_big**2 * np.eye(20))  # x - (W z + b) ~ N(0, sigma^2 I)
for num in (10, 1_000, 100_000):
    z = np.random.default_rng(num).normal(size=(num, 6))  # z_s ~ p(z), (S, J)
    log_lik = noise.logpdf(np.asarray(x_big) - z @ np.asarray(W_big).T - np.asarray(b_big))  # log p(x | z_s), (S,)
    naive = float(special.logsumexp(log_lik) - np.log(num))
    print(f"prior sampling, S = {num:>7,}      {naive:9.2f}")
    assert naive < exact - 5  # far below the truth, even with 100,000 samples

# %% [markdown]
# Even 100,000 prior samples leave the estimate many nats below the truth, in only 6 latent
# dimensions. The samples that matter are those from the **posterior** $p(z \mid x)$, which is
# exactly what we do not know. The fix is to bring in a distribution $q(z \mid x)$ that proposes
# good $z$ for each $x$, and to bound $\log p(x)$ with it.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The evidence lower bound, two ways
#
# **Way 1: Jensen's inequality.** For any distribution $q(z \mid x)$ that is positive where the
# posterior is, multiply and divide by it, then use that $\log$ is concave
# ($\log \mathbb{E}[w] \ge \mathbb{E}[\log w]$):
#
# $$\log p(x) = \log \mathbb{E}_{q(z\mid x)}\!\left[\frac{p(x \mid z)\,p(z)}{q(z \mid x)}\right]
# \;\ge\; \mathbb{E}_{q(z\mid x)}\!\left[\log \frac{p(x \mid z)\,p(z)}{q(z \mid x)}\right]
# = \mathrm{ELBO}(q).$$

# %% [markdown] slideshow={"slide_type": "fragment"}
# **Way 2: an exact identity.** Write $p(x, z) = p(z \mid x)\, p(x)$ inside the ELBO:
#
# $$\mathrm{ELBO}(q) = \mathbb{E}_q\!\left[\log p(x) + \log \frac{p(z\mid x)}{q(z\mid x)}\right]
# = \log p(x) - \mathrm{KL}\big(q(z\mid x)\,\|\,p(z\mid x)\big),$$
#
# so $\log p(x) = \mathrm{ELBO}(q) + \mathrm{KL}(q(z\mid x)\,\|\,p(z\mid x))$. The gap is
# exactly how far $q$ is from the true posterior; it is zero when $q$ *is* the posterior.
# Maximizing the ELBO over $q$ therefore does approximate inference. Over the model's parameters
# $\theta$ it raises a *lower bound* on $\log p(x)$, and a bound can rise in two ways: either
# $\log p(x)$ rises, or the model's own posterior $p_\theta(z\mid x)$ moves towards $q$ and the
# gap shrinks. Training therefore favours models whose posteriors the encoder can represent
# (Turner & Sahani, 2011; Cremer, Li & Duvenaud, 2018), one root of posterior collapse (section 9).

# %% [markdown] slideshow={"slide_type": "fragment"}
# **The form a VAE computes.** Split $p(x, z) = p(x\mid z)\,p(z)$ instead:
#
# $$\mathrm{ELBO}(q) = \underbrace{\mathbb{E}_{q(z\mid x)}[\log p(x \mid z)]}_{\text{reconstruction}}
# - \underbrace{\mathrm{KL}\big(q(z\mid x)\,\|\,p(z)\big)}_{\text{rate}} .$$
#
# The first term rewards codes that let the decoder rebuild $x$; the second pulls each $q(z\mid x)$
# towards the prior. What makes samples $z \sim p(z)$ decode to sensible images is a property of
# all codes together: the **aggregate posterior** $q(z) = \frac1N \sum_{n} q(z \mid x_n)$, the
# distribution of codes over the whole dataset, should cover the prior. Where $p(z)$ has mass but
# $q(z)$ has none, the decoder was never trained, and it draws nonsense there. Section 7
# measures $q(z)$ against $p(z)$.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. The ELBO checked on a model we can solve
#
# In the linear-Gaussian model everything is Gaussian, so the posterior is known exactly:
#
# $$p(z \mid x) = \mathcal{N}\!\big(M^{-1}W^\top (x - b),\; \sigma^2 M^{-1}\big), \qquad
# M = W^\top W + \sigma^2 I,$$
#
# and for a Gaussian $q(z\mid x) = \mathcal{N}(m, S)$ the ELBO has a closed form:
# $\mathbb{E}_q[\log p(x\mid z)] = \log \mathcal{N}(x; Wm + b, \sigma^2 I) - \operatorname{tr}(W^\top W S)/(2\sigma^2)$,
# minus the Gaussian KL to the prior. We take a small model ($D = 5$, $J = 2$), draw four points
# from it, and first check the exact pieces against scipy. We choose $W$ with **orthogonal
# columns**: then $M = W^\top W + \sigma^2 I$ is diagonal, so the exact posterior has a diagonal
# covariance (uncorrelated latents). Section 4.3 needs this, and the end of this section shows
# what changes when the columns are not orthogonal.

# %%
rng = np.random.default_rng(1)
D, J, sigma = 5, 2, 0.5
q_small, _ = np.linalg.qr(rng.normal(size=(D, J)))
W = jnp.asarray(q_small * np.array([2.0, 0.7]), jnp.float32)  # (D, J), orthogonal columns
b = jnp.asarray(0.3 * rng.normal(size=D), jnp.float32)  # (D,)
z_true = jnp.asarray(rng.normal(size=(4, J)), jnp.float32)
x = z_true @ W.T + b + sigma * jnp.asarray(rng.normal(size=(4, D)), jnp.float32)  # (N=4, D)

log_px = np.asarray(lik.linear_gaussian_log_marginal(x, W, b, sigma))  # (N,)
reference = stats.multivariate_normal(np.asarray(b), np.asarray(W @ W.T) + sigma**2 * np.eye(D)).logpdf(np.asarray(x))
assert np.allclose(log_px, reference, atol=1e-4)

post_mu, post_cov = lik.linear_gaussian_posterior(x, W, b, sigma)  # (N, J), (J, J)
# Bayes' rule by brute force for the first point: p(z|x) is proportional to p(x|z) p(z) on a grid
grid = np.stack(np.meshgrid(np.linspace(-4, 4, 401), np.linspace(-4, 4, 401)), -1).reshape(-1, 2)
log_joint = (stats.multivariate_normal(np.zeros(D), sigma**2 * np.eye(D)).logpdf(
    np.asarray(x[0]) - grid @ np.asarray(W).T - np.asarray(b)) + stats.multivariate_normal(np.zeros(J)).logpdf(grid))
weights = np.exp(log_joint - log_joint.max())
grid_mean = weights @ grid / weights.sum()
assert np.allclose(grid_mean, post_mu[0], atol=1e-3)
print("log p(x) for the 4 points:", np.round(log_px, 3))
print("posterior mean of point 0:", np.round(np.asarray(post_mu[0]), 3), "(grid:", np.round(grid_mean, 3), ")")

# %% [markdown]
# Now the two claims of section 2, for several choices of $q$: the ELBO never exceeds
# $\log p(x)$, and the gap $\log p(x) - \mathrm{ELBO}(q)$ equals
# $\mathrm{KL}(q \,\|\, p(z\mid x))$, computed independently with the closed-form KL between
# two Gaussians.

# %%
candidates = {
    "exact posterior": (post_mu, post_cov),
    "mean shifted by 0.5": (post_mu + 0.5, post_cov),
    "2x too wide": (post_mu, 4.0 * post_cov),
    "2x too narrow": (post_mu, 0.25 * post_cov),
    "the prior N(0, I)": (jnp.zeros_like(post_mu), jnp.eye(J)),
}
print(f"{'q(z|x)':22}{'ELBO':>9}{'log p(x)':>10}{'gap':>8}{'KL(q||p(z|x))':>15}   (point 0)")
for name, (m, S) in candidates.items():
    elbo = np.asarray(lik.linear_gaussian_elbo(x, W, b, sigma, m, S))  # (N,)
    kl = np.asarray(lik.gaussian_kl_full(m, S, post_mu, post_cov))  # (N,)
    gap = log_px - elbo
    assert np.all(elbo <= log_px + 1e-4)  # a lower bound, for every point
    assert np.allclose(gap, kl, atol=1e-3)  # the gap is the KL to the posterior
    row = [round(float(v[0]), 3) + 0.0 for v in (elbo, log_px, gap, kl)]  # + 0.0 turns -0.0 into 0.0
    print(f"{name:22}{row[0]:9.3f}{row[1]:10.3f}{row[2]:8.3f}{row[3]:15.3f}")

# %% [markdown]
# Look for: a curve that touches the horizontal line at exactly one point. We scale the
# posterior's standard deviations by a factor $s$ and plot $\mathrm{ELBO}(s)$ for point 0.

# %%
scales = np.geomspace(0.2, 5.0, 60)
elbo_curve = [float(lik.linear_gaussian_elbo(x[:1], W, b, sigma, post_mu[:1], s**2 * post_cov)[0]) for s in scales]
fig, (ax,) = plotting.new_figure(1, size=(5.0, 3.2))
ax.plot(scales, elbo_curve, label="ELBO(q), q = N(posterior mean, s² · posterior cov)")
ax.axhline(log_px[0], color="k", ls="--", lw=1, label="log p(x), exact")
ax.set_xscale("log")
ax.set_xticks([0.2, 0.5, 1, 2, 5], labels=["0.2", "0.5", "1", "2", "5"])
ax.set_xticks([], minor=True)
ax.set_xlabel("scale s of q's standard deviations")
ax.set_ylabel("nats")
ax.legend(fontsize=8)
display(fig)
assert abs(scales[int(np.argmax(elbo_curve))] - 1.0) < 0.1 and max(elbo_curve) <= log_px[0] + 1e-4

# %% [markdown]
# The ELBO stays below $\log p(x)$ everywhere and touches it only at $s = 1$, where $q$ is the
# exact posterior: here the family of $q$ contains the posterior, so nothing is under- or
# over-dispersed at the optimum. The curve is asymmetric: the gap $\mathrm{KL}(q\,\|\,p(z\mid x))$
# charges more for mass that $q$ puts where the posterior has little (too wide) than for spread
# that $q$ misses (too narrow).
#
# **Under-dispersion** appears when the family of $q$ is *restricted*. Take $W$ with correlated
# columns: the posterior's latents are then correlated, and a factorised ("mean-field")
# $q = \mathcal{N}(m, \operatorname{diag} v)$ cannot represent that. Maximising the ELBO over $m$ and
# $v$ gives $v_j = 1/\Lambda_{jj}$, with $\Lambda = \Sigma^{-1}$ the posterior precision (Bishop,
# PRML §10.1.2, Fig. 10.2), and $1/\Lambda_{jj} \le \Sigma_{jj}$: the factorised $q$ is narrower than
# every marginal of the posterior. We fit $q$ numerically with the closed-form ELBO above and check
# both claims.

# %%
from scipy import optimize

rng = np.random.default_rng(7)
w_first = rng.normal(size=D)
W_corr = jnp.asarray(np.stack([w_first, 0.8 * w_first + 0.6 * rng.normal(size=D)], 1), jnp.float32)  # (D, J)
x_corr = jnp.asarray(rng.normal(size=(1, D)), jnp.float32)  # (1, D)
_, Sigma = lik.linear_gaussian_posterior(x_corr, W_corr, jnp.zeros(D), sigma)  # exact posterior covariance (J, J)
Sigma = np.asarray(Sigma, np.float64)
print("posterior correlation of z1 and z2:", round(float(Sigma[0, 1] / np.sqrt(Sigma[0, 0] * Sigma[1, 1])), 2))


@jax.jit
@jax.value_and_grad
def negative_elbo_factorised(theta):
    """-ELBO of q = N(m, diag(exp(log_v))) with theta = (m (J,), log_v (J,)), for the point x_corr."""
    m, log_v = theta[:J], theta[J:]
    return -lik.linear_gaussian_elbo(x_corr, W_corr, jnp.zeros(D), sigma, m[None], jnp.diag(jnp.exp(log_v)))[0]


fitted = optimize.minimize(lambda th: float(negative_elbo_factorised(jnp.asarray(th, jnp.float32))[0]),
                           np.zeros(2 * J), method="L-BFGS-B",
                           jac=lambda th: np.asarray(negative_elbo_factorised(jnp.asarray(th, jnp.float32))[1], np.float64))
v_fitted = np.exp(fitted.x[J:])
v_mean_field = 1.0 / np.diag(np.linalg.inv(Sigma))  # 1 / Lambda_jj
print("variance of q, fitted by maximising the ELBO:", np.round(v_fitted, 3))
print("1 / Lambda_jj (mean-field theory):            ", np.round(v_mean_field, 3))
print("posterior marginal variances Sigma_jj:        ", np.round(np.diag(Sigma), 3))
assert np.allclose(v_fitted, v_mean_field, rtol=0.01)  # the optimiser finds the mean-field solution
assert np.all(v_fitted < 0.8 * np.diag(Sigma))  # and it is under-dispersed: every marginal too narrow

# %% [markdown]
# The fitted variances are about two thirds of the posterior's: a factorised $q$ fitted by the
# reverse KL $\mathrm{KL}(q\,\|\,p)$ shrinks to stay inside the posterior's correlated ellipse
# rather than spill outside it. The same zero-forcing makes a unimodal $q$ pick one mode of a
# multimodal posterior. A VAE's encoder outputs exactly such a factorised Gaussian.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The pieces of a VAE
#
# ### 4.1 Closed-form Gaussian KL
#
# A VAE's encoder outputs a mean $\mu$ and a log-variance $\log\sigma^2$ per latent dimension:
# $q(z\mid x) = \mathcal{N}(\mu, \operatorname{diag}\sigma^2)$. Its KL to the prior $\mathcal{N}(0, I)$
# needs no sampling:
#
# $$\mathrm{KL}\big(q(z\mid x)\,\|\,p(z)\big) = \tfrac12 \sum_{j=1}^{J}\big(\sigma_j^2 + \mu_j^2 - 1 - \log\sigma_j^2\big).$$
#
# We check `losses.gaussian_kl` against a Monte-Carlo estimate $\mathbb{E}_q[\log q(z) - \log p(z)]$.

# %%
rng = np.random.default_rng(2)
mu = jnp.asarray(rng.normal(size=(3, 4)), jnp.float32)  # (B, J)
logvar = jnp.asarray(0.5 * rng.normal(size=(3, 4)), jnp.float32)  # (B, J)
kl = losses.gaussian_kl(mu, logvar)  # (B,)
mu_np, std_np = np.asarray(mu, np.float64), np.exp(0.5 * np.asarray(logvar, np.float64))
z = mu_np + std_np * np.random.default_rng(3).normal(size=(200_000, 3, 4))  # (S, B, J) samples from q
kl_mc = np.mean(np.sum(stats.norm.logpdf(z, mu_np, std_np) - stats.norm.logpdf(z), axis=-1), axis=0)  # (B,)
print("closed form :", np.round(np.asarray(kl), 3))
print("Monte Carlo :", np.round(np.asarray(kl_mc), 3))
assert np.allclose(kl, kl_mc, atol=0.02)

# %% [markdown] slideshow={"slide_type": "fragment"}
# ### 4.2 The reparameterization trick
#
# The reconstruction term $\mathbb{E}_{q_\phi(z\mid x)}[f(z)]$ is an expectation over a
# distribution that depends on the encoder's parameters $\phi$, so we cannot just average
# gradients of $f$ at sampled points. Write the sample as a deterministic function of $\phi$ and
# parameter-free noise instead:
#
# $$z = \mu + \sigma \odot \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, I), \qquad
# \nabla_\phi\, \mathbb{E}_{q_\phi}[f(z)] = \mathbb{E}_{\varepsilon}\big[\nabla_\phi f(\mu + \sigma\odot\varepsilon)\big].$$
#
# Check with $f(z) = \lVert z\rVert^2$, where $\mathbb{E}_q[f] = \sum_j \mu_j^2 + \sigma_j^2$,
# so the exact gradients are $2\mu$ for $\mu$ and $\sigma^2$ for $\log\sigma^2$.

# %%
def expected_f(mu, logvar, eps):
    """Monte-Carlo estimate of E_q[||z||^2] with z = mu + exp(logvar / 2) * eps; eps (S, J)."""
    z = mu + jnp.exp(0.5 * logvar) * eps  # (S, J)
    return jnp.mean(jnp.sum(z**2, axis=-1))


mu1, logvar1 = jnp.array([0.5, -1.0, 2.0]), jnp.array([0.0, -1.0, 0.5])
eps = jnp.asarray(np.random.default_rng(4).normal(size=(200_000, 3)), jnp.float32)  # (S, J)
grad_mu, grad_logvar = jax.grad(expected_f, argnums=(0, 1))(mu1, logvar1, eps)
print("d/d mu     :", np.round(np.asarray(grad_mu), 3), " exact", np.asarray(2 * mu1))
print("d/d logvar :", np.round(np.asarray(grad_logvar), 3), " exact", np.round(np.asarray(jnp.exp(logvar1)), 3))
assert np.allclose(grad_mu, 2 * mu1, atol=0.05) and np.allclose(grad_logvar, jnp.exp(logvar1), atol=0.05)

# %% [markdown] slideshow={"slide_type": "fragment"}
# ### 4.3 Amortized inference
#
# Classical variational inference fits separate parameters $(m_x, S_x)$ of $q$ for every data
# point. A VAE instead trains one **encoder** network that maps any $x$ to its $q(z\mid x)$ in a
# single forward pass: the cost of inference is *amortized* over the dataset, and new images
# get a posterior for free. The price is the *amortization gap* (Cremer et al., 2018): one
# network may not reach the best $q$ for each point.
#
# For the linear-Gaussian model a *linear* encoder is enough, because the exact posterior
# mean is linear in $x$ and its covariance does not depend on $x$. `lik.set_linear_gaussian`
# writes that encoder and the model's decoder into a course_lib `VAE` with no hidden layers.
# With the exact posterior as $q$, every importance weight
# $\log w = \log p(x\mid z) + \log p(z) - \log q(z\mid x)$ equals $\log p(x)$, whatever $z$ was drawn.

# %%
linear_vae = lik.set_linear_gaussian(VAE(D, J, hidden=(), likelihood="gaussian", rngs=nnx.Rngs(0)), W, b, sigma)
log_w = lik.log_importance_weights(linear_vae, x, jax.random.key(5), num_samples=100)  # (N, K)
spread = float(np.max(np.ptp(log_w, axis=1)))  # max over points of (largest - smallest log w)
print("log w, first 3 samples of point 0:", np.round(log_w[0, :3], 3), " log p(x):", round(float(log_px[0]), 3))
print(f"spread of log w over 100 draws of z, worst point: {'below 0.001' if spread < 1e-3 else spread} nats")
assert np.allclose(log_w, log_px[:, None], atol=1e-3)

# %% [markdown] slideshow={"slide_type": "fragment"}
# ### 4.4 Decoder likelihoods, and what they mean for the loss
#
# The reconstruction term is a log-likelihood, and the choice of $p(x \mid z)$ *is* the choice of
# loss:
#
# | data | $p(x\mid z)$ | $-\log p(x\mid z)$ is | used here for |
# |---|---|---|---|
# | binary pixels | Bernoulli, $\mathrm{sigmoid}(\ell_d)$ | binary cross-entropy $\sum_d \mathrm{softplus}(\ell_d) - x_d\ell_d$ | MNIST-5k, binarized |
# | real values | Gaussian $\mathcal{N}(\mu_d, \sigma_d^2)$ | $\sum_d \frac{(x_d-\mu_d)^2}{2\sigma_d^2} + \frac12\log(2\pi\sigma_d^2)$: squared error, weighted by $1/\sigma^2$ | the linear model above |
# | $K$ grey levels | categorical, $\mathrm{softmax}(\ell_{d,\cdot})$ | cross-entropy over the $K$ levels of each pixel | 8x8 digits, $K = 17$ |
#
# Two consequences. A Gaussian decoder with a fixed variance turns the loss into mean squared
# error, and $\sigma^2$ silently sets how much reconstruction counts against the KL. And only a
# likelihood that is a proper distribution over the *actual* data values gives numbers in nats
# that can be compared across models; that is why the digits benchmark uses a categorical over
# the 17 levels. We check each of course_lib's log-likelihoods against scipy.

# %%
rng = np.random.default_rng(6)
logits = jnp.asarray(rng.normal(size=(4, 784)), jnp.float32)
x_bin = jnp.asarray(mnist["test"][:4])  # (4, 784) in {0, 1}
ref = stats.bernoulli.logpmf(np.asarray(x_bin), special.expit(np.asarray(logits, np.float64))).sum(1)
assert np.allclose(losses.bernoulli_log_likelihood(x_bin, logits), ref, rtol=1e-5)

x_real = jnp.asarray(digits["test"][:4] / 16.0, jnp.float32)  # (4, 64) in [0, 1]
mean = jnp.asarray(rng.uniform(size=(4, 64)), jnp.float32)
ref = stats.norm.logpdf(np.asarray(x_real), np.asarray(mean), np.exp(-1.0)).sum(1)  # sigma = e^-1
assert np.allclose(losses.gaussian_log_likelihood(x_real, mean, -2.0), ref, rtol=1e-5)
sq_err = jnp.sum((x_real - mean) ** 2, axis=1) / (2 * np.exp(-2.0)) + 64 * 0.5 * np.log(2 * np.pi * np.exp(-2.0))
assert np.allclose(-losses.gaussian_log_likelihood(x_real, mean, -2.0), sq_err, rtol=1e-5)  # = scaled MSE + const

x_lev = jnp.asarray(digits["test"][:4])  # (4, 64) levels 0..16
level_logits = jnp.asarray(rng.normal(size=(4, 64, 17)), jnp.float32)
log_probs = special.log_softmax(np.asarray(level_logits, np.float64), axis=-1)
ref = np.take_along_axis(log_probs, np.asarray(x_lev)[..., None], axis=-1)[..., 0].sum(1)
assert np.allclose(losses.categorical_log_likelihood(x_lev, level_logits), ref, rtol=1e-5)
print("Bernoulli, Gaussian and categorical log-likelihoods agree with scipy.")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Training on the 8x8 digits
#
# The model of the `vae-digits` experiment: an MLP encoder with two hidden layers of 128 tanh units
# to a 16-dimensional $z$, and a mirrored decoder that outputs 17 logits per pixel. (With ELU units the
# same recipe overfits the 1,000 training digits sooner: its best validation negative ELBO was about
# 1.7 nats worse, 101.7 against 99.9 for seed 0, measured when the recipe was chosen.) We build it and
# check the shape of every piece before training.

# %%
cfg = SETTINGS["vae-digits"]
model = VAE(64, cfg.z_dim, cfg.hidden, likelihood="categorical", num_levels=17, activation=cfg.activation,
            rngs=nnx.Rngs(0))
x5 = jnp.asarray(digits["train"][:5])
mu5, logvar5 = model.encode(x5)
logits5 = model.decode(mu5)
print(f"{count_params(model):,} parameters; hidden {cfg.hidden}, z_dim {cfg.z_dim}")
print("x", x5.shape, "-> mu, logvar", mu5.shape, logvar5.shape, "-> logits", logits5.shape)
assert mu5.shape == (5, 16) and logits5.shape == (5, 64, 17)
assert count_params(model) == (64 * 128 + 128) + (128 * 128 + 128) + (128 * 32 + 32) \
    + (16 * 128 + 128) + (128 * 128 + 128) + (128 * 64 * 17 + 64 * 17)

# %% [markdown]
# `train_vae` runs each epoch as one compiled `lax.scan` over minibatches. Each step estimates
# the ELBO's gradient with **one** reparameterised sample $z$ per image: an unbiased estimate, and
# averaging over the 50 images of a minibatch already keeps its noise low (Kingma & Welling, 2014,
# §2.4, used one sample per image with minibatches of 100). We use a KL warm-up (Bowman et al.,
# 2016; Sønderby et al., 2016): the weight of the KL term grows linearly from 0.1 to 1 over the
# first 10 epochs, so the encoder learns useful codes before the KL starts pulling them towards the
# prior.

# %% tags=["nbval-ignore-output"]
start = time.perf_counter()
history = train_vae(model, digits["train"], key=jax.random.key(0), num_epochs=30, batch_size=50, lr=1e-3,
                    kl_warmup_epochs=10, x_val=digits["val"], progress=False)
print(f"30 epochs in {time.perf_counter() - start:.1f} s")
last = history.last()
print(f"train: -ELBO {last['loss']:.1f} = rec {last['rec']:.1f} + KL {last['kl']:.1f} nats")
print(f"val:   -ELBO {last['val_loss']:.1f} = rec {last['val_rec']:.1f} + KL {last['val_kl']:.1f} nats")
assert last["val_loss"] < 105 and abs(last["val_loss"] - last["val_rec"] - last["val_kl"]) < 1e-3

# %% [markdown]
# Look for: the two terms moving in opposite directions at first. The negative ELBO is the sum
# of the reconstruction term (left) and the KL (middle); the right panel shows the KL weight.

# %%
fig, axes = plotting.new_figure(3, size=(3.4, 2.8))
plotting.loss_curves(history, ["rec", "val_rec"], ax=axes[0], xlabel="epoch", title="reconstruction -E[log p(x|z)]")
plotting.loss_curves(history, ["kl", "val_kl"], ax=axes[1], xlabel="epoch", title="KL(q(z|x) || p(z))")
plotting.loss_curves(history, ["beta"], ax=axes[2], xlabel="epoch", title="KL weight (warm-up)")
for ax in axes[:2]:
    ax.set_ylabel("nats per image")
display(fig)

# %% [markdown]
# In the first epochs the KL weight is small and the encoder spends nats freely: the KL spikes
# while the reconstruction error falls fast. As the weight grows the KL is pushed down to about
# 6 nats, and after the warm-up it stays there while the reconstruction keeps improving. A gap opens between training and validation reconstruction (the training curve is a
# running average over each epoch, measured while the weights change). The validation curve is
# still falling at epoch 30, so this is a generalisation gap, not yet overfitting; with longer
# training on 1,000 images the validation ELBO eventually turns up, which is what the
# `vae-digits` experiment's early stopping on the validation ELBO guards against.
#
# Reconstructions: the top row shows test images, the bottom row the decoder's mean
# $\mathbb{E}[x \mid z = \mu(x)]$. Then samples: $z \sim \mathcal{N}(0, I)$, decoded the same way
# (the mean image), and one row of true samples $x \sim p(x \mid z)$, each pixel drawn from its
# categorical over the 17 levels: the speckle that the mean image hides.

# %%
x_show = digits["test"][:10]
x_hat = model.decode_mean(model.encode(jnp.asarray(x_show))[0])  # (10, 64) in [0, 1]
display(plotting.image_grid(np.concatenate([x_show / 16.0, x_hat]), (8, 8), ncols=10, cell_size=0.6,
                            suptitle="top: test images; bottom: E[x | z = mu(x)]"))
z_prior = jax.random.normal(jax.random.key(1), (10, cfg.z_dim))  # (10, J) draws from p(z)
x_draws = jax.random.categorical(jax.random.key(2), model.decode(z_prior), axis=-1)  # (10, 64) levels
display(plotting.image_grid(np.concatenate([model.decode_mean(z_prior), x_draws / 16.0]), (8, 8), ncols=10,
                            cell_size=0.6, suptitle="z ~ N(0, I); top: E[x | z]; bottom: x ~ p(x | z)"))

# %% [markdown]
# The reconstructions keep each digit's identity and rough shape while smoothing its strokes:
# 16 numbers cannot hold every pixel. Some samples are clear digits, others blurred in-between
# shapes: the prior also reaches regions of $z$-space that few training codes occupy. The true
# draws in the last row are noisier than the means above them: every pixel is drawn on its own
# given $z$, and this decoder cannot correlate neighbouring pixels except through $z$.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Training on MNIST-5k, and the pretrained checkpoints
#
# For the live explorer we want a **2-D** latent space on the 28x28 MNIST digits. A script trained
# one such VAE for each KL weight $\beta \in \{0.5, 1, 4\}$ with course_lib's training loop and saved
# them with their SHA-256 and training history (under 3 MB together). To retrain them yourself:
#
# ```
# python scripts/train_vae_checkpoints.py
# ```
#
# We load the $\beta = 1$ model, then train the *same* architecture for 3 epochs with the same
# seed and settings, live: the numbers must reproduce the first 3 epochs recorded in the
# checkpoint.

# %%
mnist_vae, manifest = pretrained.load(pretrained.beta_vae(1.0))
meta = manifest["metadata"]
print("config:", manifest["config"])
print(f"trained {meta['settings']['num_epochs']} epochs; test -ELBO {meta['test_nelbo']:.2f} nats, "
      f"importance-sampled NLL {meta['test_nll_is']:.2f} nats; sha256 {manifest['sha256'][:12]}...")

# %% tags=["nbval-ignore-output"]
s = meta["settings"]
fresh = VAE(784, s["z_dim"], tuple(s["hidden"]), likelihood="bernoulli", activation=s["activation"],
            rngs=nnx.Rngs(s["seed"]))
start = time.perf_counter()
live = train_vae(fresh, mnist["train"], key=jax.random.key(s["seed"]), num_epochs=3, batch_size=s["batch_size"],
                 lr=s["lr"], kl_warmup_epochs=s["kl_warmup_epochs"], progress=False)
print(f"3 epochs on 4,000 images in {time.perf_counter() - start:.1f} s")
print("live      -ELBO per epoch:", np.round(live["loss"], 2))
print("recorded  -ELBO per epoch:", np.round(meta["history"]["loss"][:3], 2))
assert np.allclose(live["loss"], meta["history"]["loss"][:3], rtol=1e-3)

# %% [markdown]
# Look for: the gap between training and validation curves, and the KL settling after the
# warm-up. These are the full recorded curves of the pretrained model.

# %%
recorded = History()
recorded.append({k: np.array(v) for k, v in meta["history"].items()})
fig, axes = plotting.new_figure(2, size=(3.8, 2.8))
plotting.loss_curves(recorded, ["rec", "val_rec"], ax=axes[0], xlabel="epoch", title="reconstruction (nats)")
plotting.loss_curves(recorded, ["kl", "val_kl"], ax=axes[1], xlabel="epoch", title="KL (nats)")
display(fig)

# %% [markdown]
# With only two latent dimensions the KL stays around 6 nats: a 2-D code cannot carry much
# about an image, and most of the negative ELBO is reconstruction error. The validation
# reconstruction flattens while the training one keeps falling, the usual sign of a model
# starting to memorise its 4,000 training images. Reconstructions and samples:

# %%
x_show = mnist["test"][:10]
x_hat = mnist_vae.decode_mean(mnist_vae.encode(jnp.asarray(x_show))[0])
display(plotting.image_grid(np.concatenate([x_show, x_hat]), (28, 28), ncols=10, cell_size=0.7,
                            suptitle="top: test images; bottom: E[x | z = mu(x)]"))
display(plotting.image_grid(mnist_vae.sample(jax.random.key(2), 20), (28, 28), ncols=10, cell_size=0.7,
                            suptitle="E[x | z], z ~ N(0, I) (decoder means, not Bernoulli draws)"))

# %% [markdown]
# Reconstructions are blurry prototypes: the decoder's mean averages over all images that share
# a code, and a 2-D code is shared by many. A 4 may come back as a 9 when the two overlap in
# latent space. Samples look like plausible, smooth digits for the same reason.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Exploring the latent space
#
# A 2-D latent space can be seen whole. Three static views first (the widget below draws the
# same pictures): where the test images land, $\mu(x)$ coloured by digit; what the decoder
# makes of a grid of $z$ values; and a straight walk in $z$ between two test images.
#
# Look for: clusters by digit in the scatter, and the same layout in the grid of decoded images.

# %%
x_test, y_test = mnist["test"], mnist["y_test"]
codes = latent.encode_means(mnist_vae, x_test)  # (500, 2)
decoder = latent.LatentDecoder(mnist_vae, (28, 28))
index_a, index_b = int(np.flatnonzero(y_test == 1)[0]), int(np.flatnonzero(y_test == 0)[0])
frames, path = latent.render_interpolation(decoder, codes[index_a], codes[index_b], num_steps=9)
display(latent.render_code_scatter(codes, y_test, z=codes[index_a], path=path, limits=4.5))
display(latent.render_manifold(decoder))
outside = np.any(np.abs(codes) > 3, axis=1)  # outside the square [-3, 3]^2 that the decoded grid shows
print(f"codes outside [-3, 3]^2: {outside.mean():.1%}; largest |mu|: {np.abs(codes).max():.1f}")
assert np.all(np.abs(codes) < 4.5)  # the scatter's frame holds every code

# %% [markdown]
# Most digits form their own regions (3, 5 and 8, and 4, 7 and 9, overlap heavily), and most codes
# lie within about 3 of the origin, as the $\mathcal{N}(0, I)$ prior asks; the few percent printed
# below lie outside the square $[-3, 3]^2$ that the decoded grid shows (mostly 1s, along its left
# and bottom edges). The decoded grid follows the scatter: where the 1s sit in the
# scatter, the grid draws 1s, and between two regions it draws shapes that morph from one digit
# into the other. Similar digits (4 and 9, 3, 5 and 8) are neighbours, the 0s and 1s far apart.
# In a corner far from every code the decoder draws speckled noise: the prior gives that region
# little mass, so training never taught the decoder what to draw there. The dashed line in the
# scatter is the walk below, from the first 1 of the test set to its first 0:

# %%
display(plotting.image_grid(frames, (28, 28), ncols=9, titles=[f"t={t:.2f}" for t in np.linspace(0, 1, 9)],
                            cell_size=0.8))

# %% [markdown]
# Now live. Move the sliders `z1`, `z2`: the decoded image follows, and a cross marks the
# point on the scatter. Pick two test images by index to interpolate between them. The `beta`
# slider switches between the three pretrained models.

# %%
pretrained = latent.load_pretrained()  # {0.5: VAE, 1.0: VAE, 4.0: VAE}
explorer = latent.latent_explorer(pretrained, x_test, y_test, (28, 28), beta=1.0, index_a=index_a, index_b=index_b)
explorer

# %% [markdown]
# Optional, and not about VAEs: how responsive is the explorer? It times, inside the kernel, each
# update from a slider change to the new images being set. We move `z1` through 100 positions,
# check that every move produced an update, and print the times (they depend on your machine;
# the course's benchmark `benchmarks/widgets.py` measures the 30 ms target on a quiet machine).

# %% tags=["nbval-ignore-output"]
first = len(explorer.timer.samples_ms)
for value in np.linspace(-2.5, 2.5, 100):
    explorer.controls["z1"].value = float(value)
explorer.controls["z1"].value = 0.0
times_ms = np.array(explorer.timer.samples_ms[first:])
print(f"{len(times_ms)} updates: median {np.median(times_ms):.1f} ms, 95th percentile {np.percentile(times_ms, 95):.1f} ms")
assert len(times_ms) == 101 and "z = (+0.00, +0.00)" in explorer.status.text

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Rate and distortion: what beta does
#
# A $\beta$-VAE (Higgins et al., 2017) minimises $D + \beta R$, where the **rate**
# $R = \mathbb{E}_x\,\mathrm{KL}(q(z\mid x)\,\|\,p(z))$ bounds from above how many nats the code carries
# about $x$, and the **distortion** $D = -\mathbb{E}_q[\log p(x\mid z)]$ measures how badly $x$ is
# rebuilt; $\beta = 1$ is the
# ELBO (Alemi et al., 2018, read the ELBO this way). A larger $\beta$ makes information in $z$
# more expensive: lower rate, higher distortion. We measure both on the training images, where
# the objective was optimised.

# %%
rd = {beta: lik.rate_distortion(m, mnist["train"], jax.random.key(3), num_samples=2) for beta, m in pretrained.items()}
print(f"{'beta':>5}{'rate R':>9}{'distortion D':>14}{'-ELBO = D + R':>15}")
for beta, r in rd.items():
    print(f"{beta:5g}{r['rate']:9.1f}{r['distortion']:14.1f}{r['nelbo']:15.1f}")
rates = [rd[b]["rate"] for b in sorted(rd)]
distortions = [rd[b]["distortion"] for b in sorted(rd)]
assert rates[0] > rates[1] > rates[2] and distortions[0] < distortions[1] < distortions[2]

# %% [markdown]
# Why "bounds from above"? Average the KL over the data and split it with the aggregate posterior
# $q(z)$ of section 2 (Hoffman & Johnson, 2016, *ELBO surgery*):
#
# $$R = \mathbb{E}_x\,\mathrm{KL}\big(q(z\mid x)\,\|\,p(z)\big) = \underbrace{I_q(x; z)}_{\text{information in the code}}
# + \underbrace{\mathrm{KL}\big(q(z)\,\|\,p(z)\big)}_{\text{how far the codes are from the prior}} .$$
#
# On the 500 test images we estimate both terms by sampling ($q(z)$ is then a mixture of 500
# Gaussians) and check that they add up to the closed-form rate. $I_q$ can never exceed
# $\log 500 = 6.2$ nats (the code cannot tell apart more than the 500 images), a limit that the
# rate itself does not respect.

# %%
def rate_decomposition(vae, x, key, num_z=10):
    """Monte-Carlo I_q(x; z) and KL(q(z) || p(z)) over the images x, and the closed-form rate; nats."""
    mu, logvar = (np.asarray(a, np.float64) for a in vae.encode(jnp.asarray(x)))  # (N, J) each
    std = np.exp(0.5 * logvar)
    z = mu[:, None] + std[:, None] * np.asarray(jax.random.normal(key, (len(x), num_z, mu.shape[1])))  # (N, S, J)

    def log_normal(z, m, s):  # log N(z; m, diag s^2), summed over the last axis
        return np.sum(-0.5 * ((z - m) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi), axis=-1)

    log_q_cond = log_normal(z, mu[:, None], std[:, None])  # (N, S) log q(z | x_n) at its own samples
    log_q_agg = special.logsumexp(log_normal(z[:, :, None], mu[None, None], std[None, None]), axis=-1) - np.log(len(x))
    log_prior = log_normal(z, 0.0, 1.0)  # (N, S)
    rate = np.mean(0.5 * np.sum(std**2 + mu**2 - 1.0 - logvar, axis=-1))
    return {"rate": rate, "info": np.mean(log_q_cond - log_q_agg), "kl_agg": np.mean(log_q_agg - log_prior)}


parts = {beta: rate_decomposition(m, x_test, jax.random.key(7)) for beta, m in pretrained.items()}
print(f"{'beta':>5}{'rate R':>9}{'I_q(x; z)':>11}{'KL(q(z)||p(z))':>16}{'sum':>7}   (500 test images)")
for beta, r in parts.items():
    print(f"{beta:5g}{r['rate']:9.2f}{r['info']:11.2f}{r['kl_agg']:16.2f}{r['info'] + r['kl_agg']:7.2f}")
    assert abs(r["info"] + r["kl_agg"] - r["rate"]) < 0.1  # Monte Carlo agrees with the closed form
    assert 0 < r["info"] <= np.log(len(x_test)) + 0.01
kl_agg = [parts[b]["kl_agg"] for b in sorted(parts)]
assert kl_agg[0] > kl_agg[1] > kl_agg[2]  # a larger beta pulls the codes' distribution towards the prior
assert parts[0.5]["rate"] > np.log(len(x_test))  # at beta = 0.5 the rate exceeds what the code can carry

# %% [markdown]
# At $\beta = 0.5$ the rate exceeds $\log 500$: part of it is not information about $x$ but codes
# that sit away from the prior. A larger $\beta$ shrinks $\mathrm{KL}(q(z)\,\|\,p(z))$ most in
# relative terms: the codes fill the prior better. Look for the same in the pictures: the codes of
# the test images (top) and the decoded grids over the square $[-3, 3]^2$ (bottom), getting simpler
# from left to right.

# %%
fig, axes = plotting.new_figure(3, size=(3.0, 3.0))
for ax, (beta, m) in zip(axes, pretrained.items()):
    c = latent.encode_means(m, x_test)  # (500, 2)
    ax.scatter(c[:, 0], c[:, 1], c=[latent.DIGIT_COLORS[k] for k in y_test], s=4, linewidths=0)
    ax.plot([-3, 3, 3, -3, -3], [-3, -3, 3, 3, -3], "k:", lw=0.8)
    ax.set_xlim(-4.5, 4.5), ax.set_ylim(-4.5, 4.5), ax.set_aspect("equal")
    ax.set_xlabel("$z_1$"), ax.set_ylabel("$z_2$")
    ax.set_title(f"beta = {beta:g}: codes of the test images", fontsize=9)
axes[-1].legend(handles=[matplotlib.lines.Line2D([], [], ls="", marker="o", ms=4, color=latent.DIGIT_COLORS[k],
                                                 label=str(k)) for k in range(10)],
                title="digit", fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
fig.suptitle("posterior means mu(x) of the 500 test images, coloured by digit; dotted: the square [-3, 3]²",
             fontsize=9)
display(fig)
fig, axes = plotting.new_figure(3, size=(3.0, 3.0))
for ax, (beta, m) in zip(axes, pretrained.items()):
    ax.imshow(latent.manifold_canvas(latent.LatentDecoder(m, (28, 28)), n=12), cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(f"beta = {beta:g}: R = {rd[beta]['rate']:.1f} nats", fontsize=9)
    ax.set_axis_off()
fig.suptitle("E[x | z] on a 12 x 12 grid of z over [-3, 3]²", fontsize=9)
display(fig)

# %% [markdown]
# At $\beta = 4$ the code is squeezed to fewer nats, so the decoder can tell fewer images apart:
# the grid shows fewer, blurrier prototypes and smoother transitions, and the codes cover the
# region $[-3, 3]^2$ shown with fewer empty patches. At $\beta = 0.5$ the code carries more, the
# shapes are sharper, but the codes spread past the square and leave patches where the decoder
# draws speckled noise. None of the three is "right": $\beta$ picks a point on the
# rate-distortion trade-off. Since $\mathbb{E}_q[\log p(x\mid z)] - \beta\,\mathrm{KL} =
# \mathrm{ELBO} - (\beta - 1)\,\mathrm{KL}$ and the KL is never negative, $\beta = 1$ optimises the
# tightest of these bounds on $\log p(x)$ (the ELBO), $\beta > 1$ a looser one, and $\beta < 1$ no
# bound at all.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. Evaluation: how many nats?
#
# The ELBO is a lower bound, so it can make a good model look worse than it is. A tighter
# estimate reuses the encoder as an importance-sampling proposal (Burda et al., 2016):
#
# $$\mathcal{L}_K(x) = \log \frac1K \sum_{k=1}^{K} \frac{p(x\mid z_k)\,p(z_k)}{q(z_k\mid x)}, \qquad z_k \sim q(z\mid x).$$
#
# $\mathbb{E}[\mathcal{L}_1]$ is the ELBO; $\mathbb{E}[\mathcal{L}_K]$ never decreases with $K$ and, when
# the weights $w_k$ are bounded, tends to $\log p(x)$ (Burda et al., 2016, Theorem 1). For large $K$
# the remaining gap shrinks roughly like $1/K$ (Maddison et al., 2017; Nowozin, 2018), so each
# tenfold increase of $K$ should buy less than the one before. We compute $K = 1000$ weights per
# image for the first 100 test digits with the model trained in section 5, and check both claims.

# %% tags=["nbval-ignore-output"]
start = time.perf_counter()
log_w = lik.log_importance_weights(model, digits["test"][:100], jax.random.key(4), num_samples=1000)  # (100, 1000)
print(f"100 x 1000 importance weights in {time.perf_counter() - start:.1f} s")
bounds = lik.iwae_bounds_by_k(log_w, (1, 10, 100, 1000))
for k, value in bounds.items():
    print(f"K = {k:4d}: -L_K = {-value:6.2f} nats")
gains = np.diff([bounds[k] for k in (1, 10, 100, 1000)])  # nats gained by each tenfold increase of K
print("gain per tenfold K:", np.round(gains, 2))
assert np.all(gains > 0)  # -L_K decreases with K ...
assert gains[0] > gains[1] > gains[2]  # ... by less and less, as a gap shrinking like 1/K does

# %% [markdown]
# Look for: how much of the ELBO's gap the extra samples close (100 test digits, one model).

# %%
ks = np.array(sorted(bounds))
fig, (ax,) = plotting.new_figure(1, size=(5.0, 3.2))
ax.plot(ks, [-bounds[k] for k in ks], "o-", label="this notebook's VAE (30 epochs), $-\\mathcal{L}_K$")
ax.set_xscale("log")
ax.set_xlabel("K, importance samples per image")
ax.set_ylabel("nats per image (lower is better)")
ax.set_title("$-\\mathcal{L}_K$ on the first 100 test digits; K = 1 is the negative ELBO", fontsize=9)
ax.legend(fontsize=8)
display(fig)

# %% [markdown]
# Going from $K = 1$ to $K = 1000$ lowers the estimated negative log-likelihood by about two nats: at
# least that much of the ELBO's gap was the KL between $q(z\mid x)$ and the true posterior, not a
# weakness of the model itself (how much gap remains at $K = 1000$ we cannot tell). So compare
# models only with the same estimator, on the same images: a negative ELBO with a negative ELBO,
# an importance-weighted estimate with another, validation with validation, test with test.
#
# **Against another codebase.** The split is that of `intro_dgm`, so we can compare with its VAE.
# Its numbers below were *measured by running github.com/jmtomczak/intro_dgm's code on the same
# split* (`vaes/vae_example.ipynb`, the author's settings, PyTorch on a 2-core CPU; 36 s of
# training): best validation negative ELBO 100.47 and test negative ELBO 96.64 nats. Its
# autoregressive model (`arms/arm_example.ipynb`, causal convolutions) reached an **exact** test
# NLL of 86.44 nats. The full protocol of this course (train with early stopping on the validation
# ELBO, evaluate all 447 test images with $K = 1000$) is one command, which prints one JSON line
# per seed with its settings:
#
# ```
# python -m course_lib reproduce vae-digits --seeds 2 --json
# ```
#
# Its recorded output (`data/results/vae_digits.jsonl`), set beside the peer's numbers of the
# same kind:

# %%
import json

from course_lib import paths

with open(paths.data_dir() / "results" / "vae_digits.jsonl", encoding="utf-8") as f:
    recorded_runs = [r for r in map(json.loads, f) if not r.get("summary")]
print(f"{'':34}{'val -ELBO':>10}{'test -ELBO':>11}{'test -L_1000':>13}{'train s':>9}")
print(f"{'intro_dgm VAE (peer, measured)':34}{ANCHORS_DIGITS['peer_vae_nelbo_val']:10.2f}"
      f"{ANCHORS_DIGITS['peer_vae_nelbo_test']:11.2f}{'n/a':>13}{36:9d}")
for r in recorded_runs:
    print(f"{'course vae-digits, seed ' + str(r['seed']):34}{r['best_val_nelbo']:10.2f}{r['test_nelbo']:11.2f}"
          f"{r['test_nll_is']:13.2f}{r['train_seconds']:9.0f}")
print(f"{'intro_dgm ARM (peer), exact NLL':34}{ANCHORS_DIGITS['peer_arm_nll_val']:10.2f}"
      f"{ANCHORS_DIGITS['peer_arm_nll_test']:11.2f}")
for r in recorded_runs:
    assert r["test_nll_is"] < r["test_nelbo"] and r["num_test"] == 447 and not r["quick"]
    assert r["test_nelbo"] < ANCHORS_DIGITS["peer_vae_nelbo_test"]  # same estimator, same 447 images
    assert r["best_val_nelbo"] < ANCHORS_DIGITS["peer_vae_nelbo_val"] + 0.5

# %% [markdown]
# Like with like: the course's test negative ELBO is below the peer's on both seeds (by 0.7 to 0.9
# nats), and its best validation negative ELBO is on par (within about half a nat), after a few
# seconds of training against the peer's 36. The importance-weighted column has no peer number of
# its kind, so it stays unpaired; the peer's autoregressive model has an exact NLL, comparable with
# exact NLLs only (07_beyond's family table sets it beside two).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9. Posterior collapse, shown and fixed
#
# If the KL term is too costly, the optimiser can switch latent units off: $q(z_j \mid x) = p(z_j)$
# for every $x$, so unit $j$ carries nothing and the decoder learns to ignore it. When all units
# do this, the posterior has **collapsed**. We count *active units* with the statistic of Burda
# et al. (2016): unit $j$ is active when $A_j = \operatorname{Var}_x\big(\mathbb{E}_{q}[z_j \mid x]\big) > 0.01$.
#
# The classic posterior collapse happens at $\beta = 1$, with a decoder expressive enough to model
# $x$ without $z$, such as an autoregressive decoder (Bowman et al., 2016, with an LSTM over words;
# Chen et al., 2017, *Variational lossy autoencoder*): then every nat put into $z$ costs KL and buys
# nothing the decoder could not get alone, so the optimum ignores $z$. Our decoder is a plain MLP
# that draws the 64 pixels independently given $z$; it needs $z$ to correlate the pixels, so at
# $\beta = 1$ it keeps its code. We therefore provoke collapse with a heavy KL weight, $\beta = 8$,
# and fix it with **free bits** (Kingma et al., 2016): each unit's KL, averaged over the batch, only
# counts above $\lambda$ nats, $\sum_j \max\big(\lambda, \overline{\mathrm{KL}}_j\big)$, so the
# optimiser gains nothing by pushing a unit below $\lambda$. A third run at $\beta = 1$ without
# warm-up is the control for the claim about warm-up below.

# %% tags=["nbval-ignore-output"]
runs = {"beta 8": {"beta": 8.0}, "beta 8 + free bits 0.5": {"beta": 8.0, "free_bits": 0.5}, "beta 1, no warm-up": {}}
results = {}
for name, options in runs.items():
    m = VAE(64, 8, (128, 128), likelihood="categorical", num_levels=17, activation="elu", rngs=nnx.Rngs(0))
    train_vae(m, digits["train"], key=jax.random.key(0), num_epochs=20, batch_size=100, progress=False, **options)
    results[name] = (m, lik.rate_distortion(m, digits["val"], jax.random.key(5)), lik.active_units(m, digits["val"]))
last = history.last()  # the section 5 model, measured on the validation set after its last epoch
results["beta 1 + warm-up (section 5)"] = (model, {"rate": last["val_kl"], "distortion": last["val_rec"],
                                                   "nelbo": last["val_loss"]}, lik.active_units(model, digits["val"]))
print(f"{'run':30}{'KL (rate)':>10}{'rec':>8}{'-ELBO':>8}{'active units':>14}")
for name, (m, r, activity) in results.items():
    print(f"{name:30}{r['rate']:10.2f}{r['distortion']:8.1f}{r['nelbo']:8.1f}{(activity > 0.01).sum():>9d} of {m.z_dim}")
(collapsed, r_c, a_c), (fixed, r_f, a_f) = results["beta 8"], results["beta 8 + free bits 0.5"]
assert r_c["rate"] < 0.1 and (a_c > 0.01).sum() == 0  # collapsed: no unit carries information
assert (a_f > 0.01).sum() == 8 and r_f["rate"] > 2 and r_f["nelbo"] < r_c["nelbo"]  # fixed, and a better ELBO
assert (results["beta 1, no warm-up"][2] > 0.01).sum() == 8  # at beta = 1 no unit collapses, warm-up or not

# %% [markdown]
# Look for: ten samples from each model, drawn with the same $z$ values.

# %%
display(plotting.image_grid(collapsed.sample(jax.random.key(6), 10), (8, 8), ncols=10, cell_size=0.6,
                            suptitle="beta 8: collapsed"))
display(plotting.image_grid(fixed.sample(jax.random.key(6), 10), (8, 8), ncols=10, cell_size=0.6,
                            suptitle="beta 8 + free bits 0.5"))
assert float(np.std(np.asarray(collapsed.sample(jax.random.key(6), 10)), axis=0).max()) < 0.05

# %% [markdown]
# The collapsed model draws the same blurred average digit whatever $z$ is: its decoder ignores
# the code, and its KL is almost exactly zero. With free bits every unit keeps about
# $\lambda = 0.5$ nats, the samples differ from each other again and some are recognisable digits,
# and the negative ELBO is a few nats better even though the objective still weighs the KL by 8.
# KL warm-up is the other common remedy (Bowman et al., 2016; Sønderby et al., 2016): it lets the
# encoder find useful codes before the KL bites. The control run shows that it is not what keeps
# this model's units alive at $\beta = 1$: without warm-up all 8 units stay active too. It matters
# where collapse threatens, with heavy $\beta$ or an expressive decoder (see *Try it* below).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - $\log p(x) = \mathrm{ELBO}(q) + \mathrm{KL}(q(z\mid x)\,\|\,p(z\mid x))$: the ELBO is a lower
#   bound whose gap is the posterior approximation error. We checked both facts to $10^{-3}$ nats
#   on a linear-Gaussian model.
# - A VAE computes $\mathrm{ELBO} = \mathbb{E}_q[\log p(x\mid z)] - \mathrm{KL}(q\,\|\,p(z))$ with an
#   encoder (amortized inference), a closed-form KL and one reparameterised sample; the decoder
#   likelihood sets the reconstruction loss.
# - On the 8x8 digits a small VAE trains in seconds on a CPU; the importance-weighted estimate
#   sits a few nats below the negative ELBO. Compare models only with the same estimator on the
#   same images.
# - In a 2-D latent space, digits form regions that the decoder turns into a smooth manifold;
#   $\beta$ trades rate against distortion.
# - Too heavy a KL (or, at $\beta = 1$, a decoder that needs no code) collapses the posterior; free
#   bits keep the code alive.
#
# ## Exercises
#
# **Exercise 1.** Write the closed-form KL between $\mathcal{N}(\mu, \operatorname{diag} e^{\log\sigma^2})$
# and $\mathcal{N}(0, I)$, one value per example.

# %% tags=["solution"]
def gaussian_kl(mu, logvar):
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per example: (B, J), (B, J) -> (B,)."""
    return 0.5 * jnp.sum(jnp.exp(logvar) + mu**2 - 1.0 - logvar, axis=-1)


# %%
result = ch04_vae.check_gaussian_kl(gaussian_kl)

# %% [markdown]
# **Exercise 2.** Write the reparameterised sample $z = \mu + \sigma \odot \varepsilon$ from $\mu$,
# $\log\sigma^2$ and the noise $\varepsilon$. The check also differentiates your function with
# respect to $\log\sigma^2$.

# %% tags=["solution"]
def reparameterize(mu, logvar, eps):
    """A sample of q(z|x) = N(mu, diag(exp(logvar))) written as a function of eps ~ N(0, I); all (B, J)."""
    return mu + jnp.exp(0.5 * logvar) * eps


# %%
result = ch04_vae.check_reparameterize(reparameterize)

# %% [markdown]
# **Exercise 3.** Given log-weights $\log w$ of shape (B, K), return the importance-weighted bound
# $\mathcal{L}_K$ per example. Real log-weights are around $-100$ to $-1000$ nats: make it stable.

# %% tags=["solution"]
def iwae_from_log_weights(log_w):
    """The importance-weighted bound L_K of each example from its K log-weights: (B, K) -> (B,)."""
    return jax.scipy.special.logsumexp(log_w, axis=1) - jnp.log(log_w.shape[1])


# %%
result = ch04_vae.check_iwae_bound(iwae_from_log_weights)

# %% [markdown]
# **Exercise 4.** A trained VAE reports $\mathrm{KL}(q(z\mid x)\,\|\,p(z)) \approx 0.01$ nats for every
# training image. Which statement is right?
#
# - (a) The model fits the data very well.
# - (b) The code carries almost no information about $x$: the posterior has collapsed.
# - (c) The reconstruction term must be close to 0 as well.
# - (d) The prior has moved to match $q(z\mid x)$.

# %% tags=["solution"]
answer = "b"

# %%
result = ch04_vae.check_collapse_quiz(answer)

# %% [markdown]
# **Try it:** in the explorer, set `beta` to 4 and walk between a 4 and a 9: where in the walk
# does the digit change? Then retrain the collapse experiment with `kl_warmup_epochs=10` instead
# of free bits: does warm-up alone rescue $\beta = 8$?
#
# **Next:** [05 - The GAN](05_gan.ipynb): a generative model with no likelihood at all.
