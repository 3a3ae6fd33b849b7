# %% [markdown] slideshow={"slide_type": "slide"}
# # 02 · Probability for generative models
#
# {{COLAB_BADGE}}
#
# **Time:** about 45 minutes. **Prerequisites:** [01 - Concepts](01_concepts.ipynb); some calculus.
#
# **You will learn to:**
# - sample from Bernoulli, categorical, Gaussian and mixture distributions, by inverse CDF and by
#   reparameterization;
# - work with joint, marginal and conditional distributions, Bayes' rule and the multivariate Gaussian;
# - write a likelihood and maximise it, in closed form and by gradient ascent;
# - define entropy, cross-entropy and the KL divergence (in nats), compute KL (closed form, Monte Carlo,
#   quadrature) and explain why fitting with the forward KL covers modes while the reverse KL seeks one;
# - use the Jensen-Shannon divergence and the change-of-variables formula, the tools behind GANs and flows.
#
# Every formula below is followed by code that computes it and an `assert` that checks it.

# %%
{{COLAB_BOOTSTRAP}}

# %% [markdown]
# One setup cell (`%matplotlib inline` makes the figures that `course_lib` returns show up as pictures).

# %% tags=["nbval-ignore-output"]
# %matplotlib inline
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
from IPython.display import display
from scipy import integrate, stats

import course_lib
from course_lib import losses, plotting
from course_lib.lessons import distributions
from course_lib.exercises.ch02_probability import (check_gaussian_mle, check_inverse_cdf_exponential,
                                                  check_kl_gaussian_1d)
from course_lib.widgets.probability import (KL_MUS, KL_SIGMAS, KL_TARGETS, kl_explorer, mixture_data,
                                            mixture_explorer, render_kl, render_mixture)

print(f"course_lib {course_lib.__version__}, jax {jax.__version__}, devices {jax.devices()}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Random variables and three building blocks
#
# A random variable $X$ is described by its distribution: a **probability mass function** $p(x) = P(X = x)$
# when $X$ takes separate values, a **density** $p(x)$ with $P(a \le X \le b) = \int_a^b p(x)\,dx$ when it
# is continuous. Three distributions build almost everything in this course:
#
# - **Bernoulli**($\theta$), one binary pixel: $\;p(x) = \theta^x (1-\theta)^{1-x}$, $x \in \{0, 1\}$;
# - **categorical**($\pi_1, \dots, \pi_K$), one grey level or one token: $\;p(x = k) = \pi_k$;
# - **Gaussian** $\mathcal{N}(\mu, \sigma^2)$: $\;p(x) = \frac{1}{\sigma\sqrt{2\pi}}\exp\!\big(-\frac{(x-\mu)^2}{2\sigma^2}\big)$.
#
# Sampling is how we check a distribution's formula: frequencies of samples must match the probabilities.
# With $n$ samples, a frequency has standard error $\sqrt{\theta(1-\theta)/n}$; we allow 4 of them.

# %%
key_b, key_c, key_g = jax.random.split(jax.random.key(0), 3)
n = 10_000
theta = 0.3
x_bern = jax.random.bernoulli(key_b, theta, (n,))  # (n,) booleans
pi = jnp.array([0.5, 0.3, 0.15, 0.05])
x_cat = jax.random.categorical(key_c, jnp.log(pi), shape=(n,))  # (n,) in 0..3
freq_bern = float(jnp.mean(x_bern))
freq_cat = np.bincount(np.asarray(x_cat), minlength=4) / n
print(f"Bernoulli: frequency of 1 = {freq_bern:.4f} (theta = {theta})")
print(f"categorical: frequencies {np.round(freq_cat, 4).tolist()} (pi = [0.5, 0.3, 0.15, 0.05])")
assert abs(freq_bern - theta) < 4 * math.sqrt(theta * (1 - theta) / n)
assert np.all(np.abs(freq_cat - np.asarray(pi)) < 4 * np.sqrt(np.asarray(pi) * (1 - np.asarray(pi)) / n))

# %% [markdown]
# The Gaussian density, written from the formula, must match scipy's and integrate to 1:

# %%
def normal_pdf(x, mu, sigma):
    """N(x; mu, sigma^2), straight from the formula."""
    return jnp.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * jnp.sqrt(2 * jnp.pi))


xs = np.linspace(-8, 10, 4001)
pdf = np.asarray(normal_pdf(jnp.asarray(xs), 1.0, 1.5))
print(f"max |ours - scipy| = {np.max(np.abs(pdf - stats.norm.pdf(xs, 1.0, 1.5))):.1e}, "
      f"integral = {integrate.trapezoid(pdf, xs):.6f}")
assert np.allclose(pdf, stats.norm.pdf(xs, 1.0, 1.5), atol=1e-6)
assert abs(integrate.trapezoid(pdf, xs) - 1.0) < 1e-5
x_gauss = 1.0 + 1.5 * jax.random.normal(key_g, (n,))  # samples of N(1, 1.5^2)

# %% [markdown]
# Look for: bars of sample frequencies on top of the true probabilities, and a histogram under the curve.

# %%
fig, axes = plotting.new_figure(3, size=(3.2, 2.6))
axes[0].bar([0, 1], [1 - theta, theta], color="0.8", label="p(x)")
axes[0].bar([0, 1], [1 - freq_bern, freq_bern], width=0.4, color="C0", label="sample frequency")
axes[0].set_xticks([0, 1])
axes[0].set_title(f"Bernoulli({theta})", fontsize=9)
axes[1].bar(range(4), np.asarray(pi), color="0.8", label="p(x)")
axes[1].bar(range(4), freq_cat, width=0.4, color="C0", label="sample frequency")
axes[1].set_title("categorical", fontsize=9)
axes[2].hist(np.asarray(x_gauss), bins=60, density=True, color="C0", alpha=0.5, label="samples (histogram)")
axes[2].plot(xs, pdf, color="k", label="density p(x)")
axes[2].set_xlim(-5, 7)
axes[2].set_title("N(1, 1.5^2)", fontsize=9)
for ax, ylabel in zip(axes, ("probability", "probability", "density")):
    ax.set_xlabel("x")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
display(fig)

# %% [markdown]
# With 10,000 samples the frequencies agree with the probabilities to about 0.005, and the histogram
# follows the density. This "sample and compare" check is what the tests of `course_lib` do too.

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Several variables: joint, marginal, conditional, Bayes' rule
#
# Two random variables $X$ and $Y$ together have a **joint** distribution $p(x, y)$. From it:
#
# - the **marginal** $p(x) = \sum_y p(x, y)$ (an integral $\int p(x, y)\,dy$ for a continuous $y$): forget $y$;
# - the **conditional** $p(y \mid x) = p(x, y) / p(x)$: how $y$ is distributed among the cases with this $x$;
# - so the **product rule** $p(x, y) = p(x)\,p(y \mid x) = p(y)\,p(x \mid y)$, and **Bayes' rule**
#   $p(y \mid x) = p(x \mid y)\,p(y) / p(x)$, which notebook 01 used to classify and notebook 04 uses for
#   the posterior over latent codes, $p(z \mid x)$;
# - $X$ and $Y$ are **independent** when $p(x, y) = p(x)\,p(y)$, that is when $p(y \mid x)$ does not depend on $x$;
# - the **expectation** of a function is its probability-weighted average,
#   $\mathbb{E}[f(X)] = \sum_x p(x) f(x)$ (or $\int p(x) f(x)\,dx$), which a sample mean estimates (Monte Carlo).
#
# A joint table of two discrete variables makes all of these concrete. The formulas are applied to the
# table; the check is against samples of the pairs, which know nothing of the formulas.

# %%
joint = np.array([[0.10, 0.25, 0.05],
                  [0.30, 0.10, 0.20]])  # p(x, y): x in {0, 1} (rows), y in {0, 1, 2} (columns)
p_x, p_y = joint.sum(axis=1), joint.sum(axis=0)  # marginals (2,) and (3,)
p_y_given_x = joint / p_x[:, None]  # each row a distribution over y
p_x_given_y = joint / p_y[None, :]
bayes = p_x_given_y * p_y[None, :] / p_x[:, None]  # Bayes' rule: p(y | x) from p(x | y), p(y), p(x)
print("p(x) =", p_x.round(3).tolist(), " p(y) =", p_y.round(3).tolist())
print("p(y | x=1) =", p_y_given_x[1].round(3).tolist(), " E[y] =", float(p_y @ np.arange(3)))
assert np.allclose(bayes, p_y_given_x)  # an identity: the two routes agree by algebra
assert not np.allclose(joint, np.outer(p_x, p_y))  # x and y are dependent here
# The check that could fail: sample pairs (x, y) from the joint and count.
cells = np.asarray(jax.random.categorical(jax.random.key(10), jnp.log(joint.ravel()), shape=(40_000,)))
x_s, y_s = cells // 3, cells % 3  # the row and column of each sampled cell
freq_y_given_x1 = np.bincount(y_s[x_s == 1], minlength=3) / np.sum(x_s == 1)
n1 = np.sum(x_s == 1)
print("sampled frequencies of y among the pairs with x = 1:", freq_y_given_x1.round(3).tolist(),
      f"({n1} pairs); sample mean of y {y_s.mean():.3f}")
assert np.all(np.abs(freq_y_given_x1 - p_y_given_x[1]) < 4 * np.sqrt(p_y_given_x[1] * (1 - p_y_given_x[1]) / n1))
assert abs(y_s.mean() - p_y @ np.arange(3)) < 4 * math.sqrt((p_y @ np.arange(3) ** 2 - (p_y @ np.arange(3)) ** 2)
                                                           / y_s.size)

# %% [markdown] slideshow={"slide_type": "slide"}
# ### The multivariate Gaussian
#
# A vector $x \in \mathbb{R}^D$ is Gaussian with mean $\mu$ and covariance matrix $\Sigma$ (symmetric,
# positive definite) when
#
# $$\mathcal{N}(x; \mu, \Sigma) = \frac{1}{(2\pi)^{D/2} \lvert\Sigma\rvert^{1/2}}
#   \exp\!\Big(-\tfrac12 (x - \mu)^\top \Sigma^{-1} (x - \mu)\Big), \qquad
#   \log \mathcal{N}(x; \mu, \Sigma) = -\tfrac{D}{2}\log(2\pi) - \tfrac12 \log\lvert\Sigma\rvert
#   - \tfrac12 (x - \mu)^\top \Sigma^{-1} (x - \mu).$$
#
# In code, one factors $\Sigma = L L^\top$ (Cholesky): then $\log\lvert\Sigma\rvert = 2\sum_i \log L_{ii}$,
# the quadratic form is $\lVert L^{-1}(x - \mu)\rVert^2$, and $x = \mu + L\varepsilon$ with
# $\varepsilon \sim \mathcal{N}(0, I)$ is a sample (reparameterization in $D$ dimensions, section 3). With a
# **diagonal** $\Sigma = \operatorname{diag}(\sigma_1^2, \dots, \sigma_D^2)$ the log-density is the sum of $D$
# one-dimensional Gaussian log-densities: the form the VAE of notebook 04 uses for its encoder and prior.
#
# Marginals and conditionals of a Gaussian are Gaussian. In two dimensions,
# $x_1 \sim \mathcal{N}(\mu_1, \Sigma_{11})$ and
# $x_1 \mid x_2 \sim \mathcal{N}\big(\mu_1 + \tfrac{\Sigma_{12}}{\Sigma_{22}}(x_2 - \mu_2),\ \Sigma_{11} - \tfrac{\Sigma_{12}^2}{\Sigma_{22}}\big)$:
# knowing $x_2$ shifts the mean of $x_1$ and shrinks its variance. We check the log-density against
# scipy, and the conditional against samples whose $x_2$ falls in a thin slice.

# %%
def mvn_log_density(x, mu, cov):
    """log N(x; mu, cov) for (N, D) points, through the Cholesky factor cov = L L^T."""
    L = np.linalg.cholesky(cov)  # (D, D) lower triangular
    z = np.linalg.solve(L, (x - mu).T).T  # (N, D): L^{-1} (x - mu)
    return -0.5 * x.shape[1] * math.log(2 * math.pi) - np.sum(np.log(np.diag(L))) - 0.5 * np.sum(z**2, axis=1)


mu_2d = np.array([1.0, -1.0])
cov_2d = np.array([[2.0, 1.2], [1.2, 1.0]])
eps_2d = np.asarray(jax.random.normal(jax.random.key(11), (200_000, 2)), np.float64)
x_2d = mu_2d + eps_2d @ np.linalg.cholesky(cov_2d).T  # (200000, 2) samples x = mu + L eps
ours_2d = mvn_log_density(x_2d[:5], mu_2d, cov_2d)
print("log N(x; mu, Sigma), ours: ", ours_2d.round(5).tolist())
print("scipy:                     ", stats.multivariate_normal(mu_2d, cov_2d).logpdf(x_2d[:5]).round(5).tolist())
assert np.allclose(ours_2d, stats.multivariate_normal(mu_2d, cov_2d).logpdf(x_2d[:5]), atol=1e-10)
diag_cov = np.diag([2.0, 0.5])  # diagonal: a sum of 1-D log-densities
assert np.allclose(mvn_log_density(x_2d[:5], mu_2d, diag_cov),
                   stats.norm.logpdf(x_2d[:5], mu_2d, np.sqrt(np.diag(diag_cov))).sum(axis=1), atol=1e-10)
slice_ = np.abs(x_2d[:, 1] - 0.0) < 0.05  # samples with x2 close to 0
cond_mean = mu_2d[0] + cov_2d[0, 1] / cov_2d[1, 1] * (0.0 - mu_2d[1])
cond_var = cov_2d[0, 0] - cov_2d[0, 1] ** 2 / cov_2d[1, 1]
n_slice = int(slice_.sum())
print(f"x1 given x2 = 0: formula mean {cond_mean:.3f}, variance {cond_var:.3f}; samples in the slice "
      f"(about {round(n_slice, -2)}) mean {x_2d[slice_, 0].mean():.2f}, variance {x_2d[slice_, 0].var():.2f}")
assert abs(x_2d[slice_, 0].mean() - cond_mean) < 4 * math.sqrt(cond_var / n_slice)
assert abs(x_2d[slice_, 0].var() - cond_var) < 4 * cond_var * math.sqrt(2 / n_slice)
assert np.allclose(np.cov(x_2d.T), cov_2d, atol=0.03)  # the samples have covariance Sigma

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Mixtures
#
# A **mixture** combines $K$ components with weights $\pi_k \ge 0$, $\sum_k \pi_k = 1$:
#
# $$p(x) = \sum_{k=1}^K \pi_k\, \mathcal{N}(x;\, \mu_k, \sigma_k^2), \qquad
#   \log p(x) = \operatorname{logsumexp}_k \big[\log \pi_k + \log \mathcal{N}(x; \mu_k, \sigma_k^2)\big].$$
#
# The log-sum-exp form is how `distributions.log_density` computes it: it never takes the log of a
# number that underflowed to 0. Its mean and variance have closed forms,
# $\mathbb{E}[x] = \sum_k \pi_k \mu_k$ and $\operatorname{Var}[x] = \sum_k \pi_k(\sigma_k^2 + \mu_k^2) - \mathbb{E}[x]^2$.

# %%
p_mix = distributions.mixture([0.3, 0.5, 0.2], [-2.0, 0.5, 3.0], [0.5, 0.8, 0.4])
log_p = np.asarray(distributions.log_density(p_mix, xs), np.float64)
by_hand = np.log(sum(w * stats.norm.pdf(xs, m, s) for w, m, s in zip(*p_mix)))
print(f"max |logsumexp - log of the sum| = {np.max(np.abs(log_p - by_hand)):.1e}, "
      f"integral = {integrate.trapezoid(np.exp(log_p), xs):.6f}")
assert np.allclose(log_p, by_hand, atol=1e-4)
assert abs(integrate.trapezoid(np.exp(log_p), xs) - 1.0) < 1e-5

samples = np.asarray(distributions.sample(p_mix, jax.random.key(1), 20_000), np.float64)
mean, var = distributions.moments(p_mix)
print(f"mean: formula {mean:.3f}, samples {samples.mean():.3f};  variance: formula {var:.3f}, "
      f"samples {samples.var():.3f}")
assert abs(samples.mean() - mean) < 4 * math.sqrt(var / samples.size)
assert abs(samples.var() - var) < 0.04 * var

# %% [markdown]
# Sampling is *ancestral* (notebook 01): pick a component $k \sim \text{Categorical}(\pi)$, then
# $x = \mu_k + \sigma_k \varepsilon$ with $\varepsilon \sim \mathcal{N}(0, 1)$.
#
# Look for: the density (blue) as the weighted sum of its components (dashed), the histogram of samples,
# and a data set of 200 points (red ticks) that we will fit in section 4.

# %%
fig, summary = render_mixture([0.3, 0.5, 0.2], [-2.0, 0.5, 3.0], [0.5, 0.8, 0.4], num_samples=5000)
display(fig)

# %% [markdown]
# The red ticks were drawn from exactly this mixture, so it explains them well: the title reports their
# mean log-likelihood, a number we define properly in section 4. A maximum-likelihood fit found by EM
# scores slightly *higher* on these 200 points than the true parameters do; section 4 says why that
# is expected.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Sampling
#
# ### Inverse CDF
#
# If $F(x) = P(X \le x)$ is the cumulative distribution function and $U \sim \text{Uniform}(0, 1)$, then
# $X = F^{-1}(U)$ has distribution $F$, because $P(F^{-1}(U) \le x) = P(U \le F(x)) = F(x)$. This holds as
# written for a continuous, strictly increasing $F$; otherwise (jumps, flat parts) use the generalised
# inverse $F^{-1}(u) = \inf\{x : F(x) \ge u\}$ (Devroye 1986, section II.2).
#
# For the exponential distribution, $F(x) = 1 - e^{-\lambda x}$, so $F^{-1}(u) = -\log(1 - u)/\lambda$.
# We check the samples against scipy's exponential with the Kolmogorov-Smirnov statistic, the largest
# gap between the empirical and the true CDF; for $n$ samples from the right distribution it stays
# below $1.63/\sqrt{n}$ 99% of the time.

# %%
rate = 2.0
u = jax.random.uniform(jax.random.key(2), (20_000,))
x_exp = np.asarray(-jnp.log1p(-u) / rate, np.float64)  # F^{-1}(u)
ks = stats.kstest(x_exp, stats.expon(scale=1 / rate).cdf).statistic
print(f"KS statistic {ks:.4f} (99% bound {1.63 / math.sqrt(x_exp.size):.4f}); mean {x_exp.mean():.4f} "
      f"(1/rate = {1 / rate})")
assert ks < 1.63 / math.sqrt(x_exp.size)

# %% [markdown]
# Look for: the histogram of $F^{-1}(u)$ under the exponential density.

# %%
fig, (ax,) = plotting.new_figure(1, size=(5.0, 2.6))
grid = np.linspace(0, 4, 400)
ax.hist(x_exp, bins=80, range=(0, 4), density=True, color="C0", alpha=0.5, label="-log(1 - u) / rate")
ax.plot(grid, stats.expon(scale=1 / rate).pdf(grid), color="k", label="rate * exp(-rate x)")
ax.set_xlabel("x")
ax.set_ylabel("density")
ax.legend(fontsize=8)
display(fig)

# %% [markdown]
# The inverse CDF works whenever $F^{-1}$ is cheap. For a Gaussian it has no closed form, but a Gaussian
# with any mean and scale can be made from a standard one, which leads to the most important trick of
# the course.
#
# ### Reparameterization
#
# $$x = \mu + \sigma \varepsilon, \quad \varepsilon \sim \mathcal{N}(0, 1) \quad\Longrightarrow\quad
#   x \sim \mathcal{N}(\mu, \sigma^2).$$
#
# The randomness sits in $\varepsilon$, and the sample is a differentiable function of the parameters:
# $\partial x/\partial\mu = 1$, $\partial x/\partial\sigma = \varepsilon$. So we can differentiate an
# average over samples with respect to $\mu$ and $\sigma$. Example:
# $\frac{d}{d\mu}\mathbb{E}[x^2] = \frac{d}{d\mu}(\mu^2 + \sigma^2) = 2\mu$.

# %%
mu0, sigma0 = 1.5, 0.7
eps = jax.random.normal(jax.random.key(3), (50_000,))
x_rep = mu0 + sigma0 * eps
print(f"samples: mean {float(x_rep.mean()):.4f} (mu = {mu0}), std {float(x_rep.std()):.4f} (sigma = {sigma0})")
assert abs(float(x_rep.mean()) - mu0) < 4 * sigma0 / math.sqrt(eps.size)
assert abs(float(x_rep.std()) - sigma0) < 0.01

mc_grad = jax.grad(lambda m: jnp.mean((m + sigma0 * eps) ** 2))(mu0)  # d/dmu of a Monte-Carlo average
print(f"d/dmu E[x^2]: Monte Carlo through the samples {float(mc_grad):.4f}, exact 2 mu = {2 * mu0}")
assert abs(float(mc_grad) - 2 * mu0) < 4 * 2 * sigma0 / math.sqrt(eps.size)

# %% [markdown]
# Notebook 03 compares this *reparameterization gradient* with the alternative that does not need it,
# and notebook 04 uses it to train a VAE.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Likelihood and maximum likelihood
#
# Given data $x_1, \dots, x_N$ assumed independent from $p_\theta$, the **log-likelihood** is
#
# $$\ell(\theta) = \sum_{n=1}^N \log p_\theta(x_n),$$
#
# and **maximum likelihood** picks $\hat\theta = \arg\max_\theta \ell(\theta)$. For a Gaussian,
# $\ell(\mu, \sigma) = -\frac{N}{2}\log(2\pi\sigma^2) - \sum_n \frac{(x_n - \mu)^2}{2\sigma^2}$.
# The library's `losses.gaussian_log_likelihood` (per example, summed over dimensions) must agree with scipy:

# %%
x_data = 2.0 + 1.5 * jax.random.normal(jax.random.key(4), (200,))  # (200,) data, true mu 2, sigma 1.5


def log_likelihood(mu, sigma):
    return jnp.sum(losses.gaussian_log_likelihood(x_data[:, None], jnp.full((200, 1), mu),
                                                  jnp.full((200, 1), 2 * jnp.log(sigma))))


ll = float(log_likelihood(1.0, 2.0))
print(f"log-likelihood at (1, 2): course_lib {ll:.3f}, scipy {stats.norm.logpdf(np.asarray(x_data), 1.0, 2.0).sum():.3f}")
assert abs(ll - stats.norm.logpdf(np.asarray(x_data), 1.0, 2.0).sum()) < 1e-3

# %% [markdown] slideshow={"slide_type": "fragment"}
# Setting the derivatives to zero gives the closed form:
#
# $$\frac{\partial \ell}{\partial \mu} = \sum_n \frac{x_n - \mu}{\sigma^2} = 0 \Rightarrow
#   \hat\mu = \frac{1}{N}\sum_n x_n, \qquad
#   \frac{\partial \ell}{\partial \sigma} = -\frac{N}{\sigma} + \sum_n \frac{(x_n - \mu)^2}{\sigma^3} = 0
#   \Rightarrow \hat\sigma^2 = \frac{1}{N}\sum_n (x_n - \hat\mu)^2.$$
#
# (Note $1/N$, not $1/(N-1)$: the maximum-likelihood variance is the biased one.) At $\hat\theta$ the
# gradient, computed by `jax.grad`, must vanish:

# %%
mu_hat = float(jnp.mean(x_data))
sigma_hat = float(jnp.sqrt(jnp.mean((x_data - mu_hat) ** 2)))
grad_at_mle = jax.grad(log_likelihood, argnums=(0, 1))(mu_hat, sigma_hat)
largest = max(abs(float(g)) for g in grad_at_mle)  # exactly 0 in exact arithmetic; float32 leaves ~1e-5
print(f"MLE mu = {mu_hat:.4f}, sigma = {sigma_hat:.4f}; "
      f"every component of the gradient there is below 1e-3 in size: {largest < 1e-3}")
assert largest < 1e-3

# %% [markdown] slideshow={"slide_type": "fragment"}
# Most models have no closed form, and we climb the log-likelihood by gradient steps instead. We use Adam
# (notebook 03) on $(\mu, \log\sigma)$, so that $\sigma$ stays positive, and check that it lands on the
# closed form:

# %%
def fit_by_gradient(theta0, num_steps=500, lr=0.1):
    """Maximise the mean log-likelihood over theta = (mu, log sigma) with Adam; returns the path."""
    opt = optax.adam(lr)
    loss = lambda th: -log_likelihood(th[0], jnp.exp(th[1])) / x_data.shape[0]  # noqa: E731

    def step(carry, _):
        th, state = carry
        updates, state = opt.update(jax.grad(loss)(th), state)
        th = optax.apply_updates(th, updates)
        return (th, state), th

    _, path = jax.lax.scan(step, (theta0, opt.init(theta0)), None, length=num_steps)
    return jnp.concatenate([theta0[None], path])  # (num_steps + 1, 2)


path = np.asarray(jax.jit(fit_by_gradient)(jnp.array([-1.0, jnp.log(0.5)])))
mu_gd, sigma_gd = path[-1, 0], math.exp(path[-1, 1])
print(f"gradient ascent: mu = {mu_gd:.4f}, sigma = {sigma_gd:.4f}   closed form: {mu_hat:.4f}, {sigma_hat:.4f}")
assert abs(mu_gd - mu_hat) < 1e-3 and abs(sigma_gd - sigma_hat) < 1e-3

# %% [markdown]
# Look for: the path of gradient ascent on the contours of the mean log-likelihood, ending at the
# closed-form maximum (star).

# %%
mus, sigmas = np.linspace(-1.5, 3.5, 120), np.linspace(0.4, 3.5, 120)
surface = jax.vmap(jax.vmap(log_likelihood, in_axes=(0, None)), in_axes=(None, 0))(jnp.asarray(mus),
                                                                                   jnp.asarray(sigmas)) / 200
fig, (ax,) = plotting.new_figure(1, size=(4.8, 3.6))
levels = np.sort(float(surface.max()) - np.geomspace(0.01, 10, 15))
ax.contour(mus, sigmas, np.asarray(surface), levels=levels, cmap="viridis")
ax.plot(path[:, 0], np.exp(path[:, 1]), ".-", color="C3", ms=2, lw=1, label="gradient ascent (Adam)")
ax.plot([mu_hat], [sigma_hat], "*", color="gold", mec="k", ms=14, label="closed-form MLE")
ax.set_xlabel("mu")
ax.set_ylabel("sigma")
ax.legend(fontsize=8)
display(fig)

# %% [markdown]
# The path bends: Adam moves both coordinates at similar speeds at first, then follows the ridge to the
# top. Both routes agree to three decimals.
#
# **Maximum likelihood and KL.** As $N$ grows, $\frac{1}{N}\ell(\theta) \to \mathbb{E}_{p_{\text{data}}}[\log p_\theta(x)]$,
# and maximising that is the same as minimising the *forward* KL divergence
# $\mathrm{KL}(p_{\text{data}} \,\|\, p_\theta)$ of section 6.
#
# **Fitted optimum against the truth.** On a finite sample, a fitted optimum near the true parameters
# typically scores higher on its own training data than the true parameters do: it was chosen to fit these
# points, noise included. That is why EM beat the true mixture in section 2. But EM, like gradient ascent,
# finds only a *local* maximum, and for a Gaussian mixture there is no global one: a component that sits on
# a single data point and shrinks its $\sigma_k \to 0$ sends the likelihood to $+\infty$ (Bishop, PRML
# section 9.2.1). Each factor of 1,000 in $\sigma_k$ adds $\log(1000)/N$ to the mean log-likelihood of $N$
# points. Fitted mixtures avoid this degenerate "maximum" only through their initialisation, early stopping
# or a floor on $\sigma_k$:

# %%
x_mix_data = mixture_data()  # (200,) the red ticks of section 2
x_first = x_mix_data[0]
wide = stats.norm.pdf(x_mix_data, x_mix_data.mean(), x_mix_data.std())  # (200,) one broad component


def collapsed_mean_ll(s):
    """Mean log-likelihood of 0.9 N(mean, std^2) + 0.1 N(x_first, s^2): a component on one data point."""
    return float(np.mean(np.log(0.9 * wide + 0.1 * stats.norm.pdf(x_mix_data, x_first, s))))


collapse = {s_: collapsed_mean_ll(s_) for s_ in (1e-1, 1e-3, 1e-6, 1e-9)}
print("mean log-likelihood as sigma_k shrinks:", {f"{k:.0e}": round(v, 3) for k, v in collapse.items()})
assert collapse[1e-9] > collapse[1e-6] > collapse[1e-3] > collapse[1e-1]  # no maximum: it keeps growing
assert abs((collapse[1e-6] - collapse[1e-3]) - math.log(1e3) / x_mix_data.size) < 1e-3
#
# ### Your turn: fit the mixture by hand
#
# A mixture has no closed-form MLE; the EM algorithm (Dempster, Laird & Rubin, 1977) or gradient ascent
# (notebook 03) find one. Move the weights, means and scales below and try to reach the EM fit's mean
# log-likelihood on the red data. The static version first, at the widget's starting point:

# %%
fig, summary = render_mixture([0.4, 0.3, 0.3], [-2.0, 0.0, 2.0], [1.0, 1.0, 1.0], num_samples=2000)
display(fig)
print(f"mean log-likelihood {summary['log_likelihood']:.3f}; EM fit {summary['em_log_likelihood']:.3f}")
densities = stats.norm.pdf(mixture_data()[:, None], [-2.0, 0.0, 2.0], 1.0)  # (200, 3) component densities
expected = np.mean(np.log(densities @ np.array([0.4, 0.3, 0.3])))  # mean log sum_k pi_k N(x; mu_k, s_k^2)
assert abs(summary["log_likelihood"] - expected) < 1e-4
assert summary["log_likelihood"] < summary["em_log_likelihood"]

# %%
mixture_explorer()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Entropy, cross-entropy and KL divergence
#
# The **entropy** of a distribution is the average surprise $-\log p(x)$ of its own samples,
#
# $$H(p) = -\mathbb{E}_{x \sim p}[\log p(x)].$$
#
# With the natural logarithm it is measured in **nats**; with $\log_2$, in **bits** (divide nats by
# $\ln 2$). For a density ("differential entropy") it can be negative: $H(\mathcal{N}(\mu, \sigma^2)) =
# \tfrac12\log(2\pi e\sigma^2)$, below 0 once $\sigma < 1/\sqrt{2\pi e} \approx 0.24$. The **cross-entropy**
# $H(p, q) = -\mathbb{E}_{x \sim p}[\log q(x)]$ is the average surprise when samples come from $p$ but are
# scored by $q$; maximum likelihood minimises its sample estimate $-\frac1N\sum_n \log q(x_n)$ (section 4).
# The excess of the cross-entropy over the entropy is the **KL divergence**,
# $\mathrm{KL}(p \,\|\, q) = H(p, q) - H(p)$. All three are checked below: by sampling against the closed
# forms, and against scipy.

# %%
pi_np = np.array([0.5, 0.3, 0.15, 0.05])
h_nats = -np.sum(pi_np * np.log(pi_np))  # the categorical of section 1
print(f"categorical {pi_np.tolist()}: H = {h_nats:.4f} nats = {h_nats / math.log(2):.4f} bits "
      f"(scipy: {stats.entropy(pi_np):.4f} nats, {stats.entropy(pi_np, base=2):.4f} bits)")
assert abs(h_nats - stats.entropy(pi_np)) < 1e-12 and abs(h_nats / math.log(2) - stats.entropy(pi_np, base=2)) < 1e-12
for sigma_h in (2.0, 0.1):
    z_h = sigma_h * np.asarray(jax.random.normal(jax.random.key(12), (100_000,)), np.float64)
    surprise = -stats.norm.logpdf(z_h, 0.0, sigma_h)  # -log p(x) of p's own samples
    h_mc, h_se = surprise.mean(), surprise.std() / math.sqrt(surprise.size)
    h_closed = 0.5 * math.log(2 * math.pi * math.e * sigma_h**2)
    print(f"N(0, {sigma_h}^2): H Monte Carlo {h_mc:.3f} +- {4 * h_se:.3f}, closed form {h_closed:.3f}, "
          f"scipy {float(stats.norm(0, sigma_h).entropy()):.3f} nats")
    assert abs(h_mc - h_closed) < 4 * h_se and abs(h_closed - float(stats.norm(0, sigma_h).entropy())) < 1e-12
assert h_closed < 0  # sigma = 0.1: a negative differential entropy
# cross-entropy of p = N(0, 2^2) scored by q = N(1, 1.5^2), by sampling p; KL = H(p, q) - H(p)
z_p = 2.0 * np.asarray(jax.random.normal(jax.random.key(13), (100_000,)), np.float64)
surprise_q = -stats.norm.logpdf(z_p, 1.0, 1.5)  # -log q(x) for samples of p
cross_entropy = float(surprise_q.mean())
kl_closed = math.log(1.5 / 2.0) + (2.0**2 + 1.0) / (2 * 1.5**2) - 0.5
h_p = 0.5 * math.log(2 * math.pi * math.e * 2.0**2)
print(f"H(p, q) = {cross_entropy:.3f}, H(p) = {h_p:.3f}: difference {cross_entropy - h_p:.3f}; "
      f"closed-form KL(p || q) = {kl_closed:.3f} nats")
assert abs(cross_entropy - h_p - kl_closed) < 4 * surprise_q.std() / math.sqrt(surprise_q.size)

# %% [markdown]
# The Kullback-Leibler divergence measures how badly $p$ stands in for $q$:
#
# $$\mathrm{KL}(q \,\|\, p) = \mathbb{E}_{x \sim q}\big[\log q(x) - \log p(x)\big] \ \ge\ 0,$$
#
# with equality only when $q = p$. It is **not symmetric**. For two Gaussians it has a closed form,
#
# $$\mathrm{KL}\big(\mathcal{N}(\mu_q, \sigma_q^2) \,\|\, \mathcal{N}(\mu_p, \sigma_p^2)\big)
#   = \log\frac{\sigma_p}{\sigma_q} + \frac{\sigma_q^2 + (\mu_q - \mu_p)^2}{2\sigma_p^2} - \frac{1}{2},$$
#
# which `losses.gaussian_kl_between` implements (summed over dimensions, with log-variances). We compare
# it with a Monte-Carlo average over samples of $q$ (fixed key; the error bar is 4 standard errors)
# and with quadrature (`distributions.kl_divergence`).

# %%
mu_q, sigma_q, mu_p, sigma_p = 1.0, 0.5, -0.5, 2.0
closed = float(losses.gaussian_kl_between(jnp.array([[mu_q]]), jnp.array([[2 * math.log(sigma_q)]]),
                                          jnp.array([[mu_p]]), jnp.array([[2 * math.log(sigma_p)]]))[0])
q, p = distributions.gaussian(mu_q, sigma_q), distributions.gaussian(mu_p, sigma_p)
x_q = distributions.sample(q, jax.random.key(5), 100_000)
terms = np.asarray(distributions.log_density(q, x_q) - distributions.log_density(p, x_q), np.float64)
mc, se = terms.mean(), terms.std() / math.sqrt(terms.size)
quad = float(distributions.kl_divergence(q, p))
print(f"KL(q || p): closed form {closed:.4f}, Monte Carlo {mc:.4f} +- {4 * se:.4f}, quadrature {quad:.4f}")
print(f"KL(p || q) = {float(distributions.kl_divergence(p, q)):.4f}  (not symmetric)")
assert abs(mc - closed) < 4 * se and abs(quad - closed) < 1e-4
assert abs(float(distributions.kl_divergence(p, q)) - closed) > 1.0

# %% [markdown]
# KL is never negative. A quick spot check over random pairs of Gaussians (the closed form, with a
# fixed key):

# %%
params = jax.random.normal(jax.random.key(6), (1000, 4))  # (mu_q, log var_q, mu_p, log var_p) per row
kls = losses.gaussian_kl_between(params[:, :1], params[:, 1:2], params[:, 2:3], params[:, 3:4])
same = losses.gaussian_kl_between(params[:, :1], params[:, 1:2], params[:, :1], params[:, 1:2])
print(f"smallest of 1000 KLs: {float(kls.min()):.4f}; KL of each Gaussian with itself: max {float(same.max()):.1e}")
assert float(kls.min()) >= 0 and float(jnp.abs(same).max()) < 1e-6

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Forward vs reverse KL: covering modes or seeking one
#
# Fit a single Gaussian $q = \mathcal{N}(\mu, \sigma^2)$ to a target $p$ with two separate modes. The two
# directions of KL ask different things:
#
# - **forward** $\mathrm{KL}(p \,\|\, q) = \mathbb{E}_p[\log p - \log q]$ averages over $p$: wherever $p$ has
#   mass and $q$ is tiny, $-\log q$ explodes. $q$ must **cover every mode**. This is maximum likelihood.
# - **reverse** $\mathrm{KL}(q \,\|\, p) = \mathbb{E}_q[\log q - \log p]$ averages over $q$: $q$ is punished
#   for putting mass where $p$ has none, but not for missing a mode. $q$ **seeks one mode**. This is what
#   variational inference (the VAE's encoder) minimises.
#
# Why does variational inference use the reverse direction? Its target is a posterior
# $p(z \mid x) = p(x, z) / p(x)$, known only up to the normaliser $p(x)$, and we cannot sample it.
# $\mathrm{KL}(q \,\|\, p(z \mid x)) = \mathbb{E}_q[\log q(z) - \log p(x, z)] + \log p(x)$ needs only samples
# from $q$, which we choose, and the unnormalised $p(x, z)$; the constant $\log p(x)$ does not move the
# minimiser. The forward $\mathrm{KL}(p(z \mid x) \,\|\, q)$ is an average over the posterior itself, exactly
# what we cannot sample (Blei, Kucukelbir & McAuliffe 2017, section 2). Notebook 04 builds on this.
#
# For the forward direction the optimum is known exactly. Since
# $\mathrm{KL}(p \,\|\, q) = -H(p) - \mathbb{E}_p[\log q]$ and
# $\mathbb{E}_p[\log q] = -\tfrac12\log(2\pi\sigma^2) - \frac{\operatorname{Var}_p[x] + (\mathbb{E}_p[x] - \mu)^2}{2\sigma^2}$,
# the minimum is at $\mu^* = \mathbb{E}_p[x]$, $\sigma^{*2} = \operatorname{Var}_p[x]$: **moment matching**.

# %%
target = KL_TARGETS["two equal modes"]  # 0.5 N(-2, 0.6^2) + 0.5 N(2, 0.6^2)
mu_f, sigma_f = distributions.fit_forward_kl(target)
print(f"forward-KL optimum: mu = {mu_f:.3f}, sigma = {sigma_f:.3f} (sqrt(0.6^2 + 2^2) = {math.sqrt(4.36):.3f})")
assert abs(mu_f) < 1e-9 and abs(sigma_f - math.sqrt(4.36)) < 1e-9
kl_f = distributions.gaussian_fit_kl(target, mu_f, sigma_f, "forward")
for d_mu, d_sigma in ((0.05, 0), (-0.05, 0), (0, 0.05), (0, -0.05)):  # any small move is worse
    assert distributions.gaussian_fit_kl(target, mu_f + d_mu, sigma_f + d_sigma, "forward") > kl_f

# %% [markdown]
# The reverse direction needs only samples of $q$ and $p$ up to a constant. We check that with an
# *unnormalised* target $\tilde p = 7p$: the Monte-Carlo average of $\log q - \log\tilde p$ over samples of
# $q$ is the reverse KL minus $\log 7$, the same for every $q$, so it has the same minimiser.

# %%
q_try = distributions.gaussian(1.5, 0.8)
z_q = np.asarray(distributions.sample(q_try, jax.random.key(14), 100_000), np.float64)
unnormalised = (np.asarray(distributions.log_density(q_try, z_q), np.float64)
                - (math.log(7.0) + np.asarray(distributions.log_density(target, z_q), np.float64)))
reverse_quad = float(distributions.kl_divergence(q_try, target))
print(f"E_q[log q - log(7 p)] from samples of q: {unnormalised.mean():.3f}; "
      f"KL(q || p) - log 7 by quadrature: {reverse_quad - math.log(7):.3f}")
assert abs(unnormalised.mean() - (reverse_quad - math.log(7))) < 4 * unnormalised.std() / math.sqrt(unnormalised.size)

# %% [markdown]
# The reverse direction has no closed form; we minimise it by gradient descent (Adam on $\mu$ and
# $\log\sigma$, with the expectation over $q$ computed by quadrature) from three starting points:

# %%
for mu_start, sigma_start in ((-1.0, 0.5), (1.0, 0.5), (0.0, 2.0)):
    mu_r, sigma_r, history = distributions.fit_reverse_kl(target, mu_start, sigma_start)
    print(f"start N({mu_start:+.1f}, {sigma_start}^2) -> N({mu_r:+.3f}, {sigma_r:.3f}^2), "
          f"KL(q || p) = {history[-1]:.4f}")
    if sigma_start == 0.5:  # narrow starts settle on the nearer mode
        assert abs(mu_r - 2.0 * np.sign(mu_start)) < 0.05 and abs(sigma_r - 0.6) < 0.05
        assert abs(history[-1] - math.log(2)) < 0.01
    else:  # a wide, centred start stays in a wide compromise: a worse local minimum
        assert abs(mu_r) < 1e-3 and 1.5 < sigma_r < 2.0 and history[-1] > math.log(2) + 0.3

# %% [markdown]
# Why is the reverse KL at a mode $\approx \log 2$? Near the right mode $p(x) \approx \tfrac12\mathcal{N}(x; 2, 0.6^2)$,
# so with $q$ equal to that component, $\log q - \log p \approx \log 2$ everywhere $q$ has mass.
#
# Look for: in the left panel, the target (grey), the forward optimum (blue dashed: wide, covering both
# modes), the best reverse optimum (orange dotted: on one mode) and, in red, a narrow $q = \mathcal{N}(-1, 0.5^2)$
# of our choice, the first start above. In the two landscapes (colour: $\log_{10}$ of the KL, bright = small;
# the red dot is that $q$), one forward minimum (star) against three reverse local minima, found by descents
# from six starts: one per mode (star and plus, equally good, KL 0.69) and a wide one in between (plus, KL
# 1.14), whose small basin the contours at KL 1.15 and 1.2 outline.

# %%
fig, summary = render_kl(-1.0, 0.5, "two equal modes", q_label="q = N(-1, 0.5^2)")
display(fig)
minima = sorted(summary["reverse_minima"], key=lambda m: m[0])  # (mu, sigma, KL), left to right
print("reverse-KL local minima (mu, sigma, KL):", [tuple(round(float(v), 2) + 0.0 for v in m) for m in minima])
assert len(minima) == 3 and abs(minima[1][0]) < 0.01 and abs(minima[1][1] - 1.79) < 0.01  # the wide one
assert all(abs(abs(m[0]) - 2.0) < 0.05 and abs(m[2] - minima[0][2]) < 1e-4 for m in (minima[0], minima[2]))
for d_mu, d_sigma in ((0.1, 0), (-0.1, 0), (0, 0.1), (0, -0.1)):  # the wide point is a real local minimum
    assert distributions.gaussian_fit_kl(target, d_mu, minima[1][1] + d_sigma, "reverse") > minima[1][2]
mus, sigmas = KL_MUS, KL_SIGMAS  # the grid drawn above: mu from -5 to 5, sigma from 0.05 to 8 (log-spaced)
grid_kl = distributions.kl_landscape(target, mus, sigmas, "reverse")  # (81, 101) KL(q || p) on the grid
i, j = np.unravel_index(np.argmin(grid_kl), grid_kl.shape)
# The modes have equal weight, so the minimum comes in a mirror pair (mu, -mu): which of the two
# argmin returns is decided by float rounding, so we report |mu| and check the mirror point.
assert np.allclose(mus, -mus[::-1]) and np.isclose(grid_kl[i, len(mus) - 1 - j], grid_kl[i, j], rtol=1e-3)
print(f"reverse-KL grid minimum at mu = +/-{abs(mus[j]):.2f}, sigma = {sigmas[i]:.2f}")
assert abs(abs(mus[j]) - 2.0) < 0.11 and abs(sigmas[i] - 0.6) < 0.05

# %% [markdown]
# The grid search and gradient descent agree: the best reverse fit sits on one mode and ignores the
# other, while the forward fit is a wide Gaussian whose peak falls where $p$ has almost no mass. Neither
# is "right": a model trained by maximum likelihood smears mass over the gaps between modes *when its
# family is too simple to fit every mode*, which is one reason models with simple decoders give blurry
# samples (flows and autoregressive models are trained by maximum likelihood too, and their samples are
# sharp), and a model trained with reverse KL may drop modes entirely.
#
# Move $q$ yourself and watch both divergences and where you are in each landscape. Try the other targets:
# with close modes, the two directions agree.

# %%
kl_explorer(0.0, 1.0, "two equal modes")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Jensen-Shannon divergence
#
# The Jensen-Shannon divergence symmetrises KL through the midpoint $m = \tfrac12(p + q)$:
#
# $$\mathrm{JS}(p, q) = \tfrac12\,\mathrm{KL}(p \,\|\, m) + \tfrac12\,\mathrm{KL}(q \,\|\, m), \qquad
#   0 \le \mathrm{JS}(p, q) \le \log 2.$$
#
# It is bounded because $m \ge \tfrac12 p$, so $\log p - \log m \le \log 2$. The original GAN, with an
# optimal discriminator, minimises $2\,\mathrm{JS}(p_{\text{data}}, p_\theta) - \log 4$ (Goodfellow et al., 2014).
#
# We slide $q = \mathcal{N}(d, 1)$ away from $p = \mathcal{N}(0, 1)$ and compare JS with KL, whose closed
# form here is $d^2/2$:

# %%
ds = np.linspace(0, 10, 21)
p0 = distributions.gaussian(0.0, 1.0)
js = np.array([float(distributions.js_divergence(p0, distributions.gaussian(float(d), 1.0))) for d in ds])
kl = np.array([float(distributions.kl_divergence(p0, distributions.gaussian(float(d), 1.0))) for d in ds])
m3 = distributions.mixture([0.5, 0.5], [0.0, 3.0], [1.0, 1.0])  # the midpoint m for d = 3
js3 = 0.5 * float(distributions.kl_divergence(p0, m3)) + 0.5 * float(
    distributions.kl_divergence(distributions.gaussian(3.0, 1.0), m3))
print(f"d = 3: JS = {js[6]:.4f}, from the definition {js3:.4f}; KL = {kl[6]:.4f} (d^2/2 = 4.5)")
print(f"d = 10: JS = {js[-1]:.5f}, log 2 = {math.log(2):.5f}")
assert abs(js[6] - js3) < 1e-5 and np.allclose(kl, ds**2 / 2, atol=1e-4)
assert np.all(js <= math.log(2) + 1e-6) and js[-1] > 0.999 * math.log(2)
assert abs(js[6] - float(distributions.js_divergence(distributions.gaussian(3.0, 1.0), p0))) < 1e-6  # symmetric

# %% [markdown]
# Look for: KL growing without bound while JS flattens at $\log 2$.

# %%
fig, (ax,) = plotting.new_figure(1, size=(5.0, 3.0))
ax.plot(ds, kl, "o-", color="C1", ms=3, label="KL(p || q) = d^2 / 2")
ax.plot(ds, js, "o-", color="C0", ms=3, label="JS(p, q)")
ax.axhline(math.log(2), color="C0", ls=":", lw=1, label="log 2")
ax.set_ylim(0, 3)
ax.set_xlabel("distance d between the means")
ax.set_ylabel("divergence (nats)")
ax.legend(fontsize=8)
display(fig)

# %% [markdown]
# Once the two distributions barely overlap ($d \gtrsim 6$), JS is stuck at $\log 2$ and its slope is
# almost zero: moving $q$ closer does not change it. A generator trained on JS alone gets no signal
# when its samples are far from the data, the vanishing-gradient problem of the original GAN loss that
# notebook 05 measures and fixes.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. The change-of-variables formula
#
# If $Y = f(X)$ with $f$ invertible and differentiable, then probability in a small interval is conserved,
# $p_Y(y)\,\lvert dy\rvert = p_X(x)\,\lvert dx\rvert$, so
#
# $$p_Y(y) = p_X\big(f^{-1}(y)\big)\,\left|\frac{d f^{-1}(y)}{dy}\right|.$$
#
# Example: $X \sim \mathcal{N}(0, 1)$ and $Y = e^X$, so $f^{-1}(y) = \log y$ and $p_Y(y) = \varphi(\log y)/y$,
# the log-normal density. We check it against scipy, check that it integrates to 1, and check what
# happens **without** the Jacobian factor $1/y$: the result integrates to
# $\int \varphi(\log y)\,dy = \int \varphi(t) e^t\,dt = e^{1/2}$, not 1.

# %%
ys = np.geomspace(1e-6, 1e4, 400_001)
p_y = stats.norm.pdf(np.log(ys)) / ys  # p_X(f^{-1}(y)) |d f^{-1}/dy|
no_jacobian = stats.norm.pdf(np.log(ys))
print(f"max |ours - scipy lognorm| = {np.max(np.abs(p_y - stats.lognorm(s=1).pdf(ys))):.1e}")
print(f"integral with the Jacobian {integrate.trapezoid(p_y, ys):.5f}, without {integrate.trapezoid(no_jacobian, ys):.5f} "
      f"(e^(1/2) = {math.exp(0.5):.5f})")
assert np.allclose(p_y, stats.lognorm(s=1).pdf(ys), rtol=1e-10, atol=1e-12)
assert abs(integrate.trapezoid(p_y, ys) - 1.0) < 1e-4
assert abs(integrate.trapezoid(no_jacobian, ys) - math.exp(0.5)) < 1e-3

# %% [markdown]
# Look for: the histogram of $e^X$ for samples of $X$ under the formula, and the density without the
# Jacobian, which is simply wrong.

# %%
y_samples = np.exp(np.asarray(jax.random.normal(jax.random.key(7), (50_000,))))
fig, (ax,) = plotting.new_figure(1, size=(5.0, 2.8))
yy = np.linspace(0.01, 6, 600)
ax.hist(y_samples, bins=120, range=(0, 6), density=True, color="C0", alpha=0.5, label="exp(x), x ~ N(0, 1)")
ax.plot(yy, stats.norm.pdf(np.log(yy)) / yy, color="k", label="phi(log y) / y")
ax.plot(yy, stats.norm.pdf(np.log(yy)), "--", color="C3", label="phi(log y): Jacobian forgotten")
ax.set_xlabel("y")
ax.set_ylabel("density")
ax.legend(fontsize=8)
display(fig)

# %% [markdown] slideshow={"slide_type": "fragment"}
# In several dimensions the derivative becomes the Jacobian matrix and its absolute determinant:
# $\log p_Y(y) = \log p_X(f^{-1}(y)) - \log\lvert\det J_f(x)\rvert$ with $x = f^{-1}(y)$; equivalently
# $+\log\lvert\det J_{f^{-1}}(y)\rvert$, since $J_{f^{-1}}(y) = J_f(x)^{-1}$ (the form in the summary). For $y = Ax + b$ with
# $X \sim \mathcal{N}(0, I)$ the answer must be the Gaussian $\mathcal{N}(b, AA^\top)$. We take the
# Jacobian from `jax.jacfwd`, as a normalizing flow does for each of its layers (notebook 07):

# %%
A = jnp.array([[2.0, 0.5], [-0.3, 0.8]])
b = jnp.array([1.0, -1.0])
f = lambda x: A @ x + b  # noqa: E731
y_pts = jnp.array([[0.5, 0.2], [2.0, -1.5], [-1.0, 0.0]])
x_pts = jnp.linalg.solve(A, (y_pts - b).T).T  # f^{-1}(y)
log_det = jnp.array([jnp.linalg.slogdet(jax.jacfwd(f)(x))[1] for x in x_pts])
log_p_y = stats.multivariate_normal(np.zeros(2), np.eye(2)).logpdf(np.asarray(x_pts)) - np.asarray(log_det)
reference = stats.multivariate_normal(np.asarray(b), np.asarray(A @ A.T)).logpdf(np.asarray(y_pts))
print("change of variables:", np.round(log_p_y, 5))
print("N(b, A A^T):        ", np.round(reference, 5))
assert np.allclose(log_p_y, reference, atol=1e-5)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - Bernoulli, categorical and Gaussian distributions and their **mixtures** (log-sum-exp!) are the
#   building blocks; a formula is checked by sampling and comparing. Joint, marginal and conditional
#   distributions are linked by the product rule and **Bayes' rule**; the **multivariate Gaussian**'s
#   log-density is $-\tfrac D2\log 2\pi - \tfrac12\log\lvert\Sigma\rvert - \tfrac12(x-\mu)^\top\Sigma^{-1}(x-\mu)$.
# - **Inverse CDF**: $x = F^{-1}(u)$. **Reparameterization**: $x = \mu + \sigma\varepsilon$ makes samples
#   differentiable in the parameters.
# - **Maximum likelihood** maximises $\sum_n \log p_\theta(x_n)$: in closed form for a Gaussian (mean and
#   the $1/N$ variance), by gradient ascent in general; it minimises the forward KL to the data.
# - **Entropy** $H(p) = -\mathbb{E}_p\log p$ and **cross-entropy** $H(p, q) = -\mathbb{E}_p \log q$, in nats;
#   $\mathrm{KL}(p \,\|\, q) = H(p, q) - H(p)$.
# - **KL** is non-negative and asymmetric. Fitting one Gaussian to two modes: forward KL covers both
#   (moment matching), reverse KL seeks one, with local minima that depend on the start. Variational
#   inference uses the reverse KL because it needs only samples of $q$ and the unnormalised posterior.
# - **JS** is bounded by $\log 2$ and goes flat when distributions stop overlapping.
# - **Change of variables**: $p_Y(y) = p_X(f^{-1}(y))\,\lvert\det J_{f^{-1}}(y)\rvert$; forget the
#   Jacobian and the "density" no longer integrates to 1.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# **Exercise 1 (maximum likelihood).** Write `gaussian_mle(x)` returning the maximum-likelihood
# `(mu, sigma)` of a 1-D Gaussian for data `x` of shape `(N,)`.

# %% tags=["solution"]
def gaussian_mle(x):
    mu = np.mean(x)
    return mu, np.sqrt(np.mean((x - mu) ** 2))


# %%
result = check_gaussian_mle(gaussian_mle)

# %% [markdown]
# **Exercise 2 (KL between Gaussians).** Write `kl_gaussian_1d(mu_q, sigma_q, mu_p, sigma_p)` returning
# $\mathrm{KL}(\mathcal{N}(\mu_q, \sigma_q^2) \,\|\, \mathcal{N}(\mu_p, \sigma_p^2))$ for scalars.

# %% tags=["solution"]
def kl_gaussian_1d(mu_q, sigma_q, mu_p, sigma_p):
    return np.log(sigma_p / sigma_q) + (sigma_q**2 + (mu_q - mu_p) ** 2) / (2 * sigma_p**2) - 0.5


# %%
result = check_kl_gaussian_1d(kl_gaussian_1d)

# %% [markdown]
# **Exercise 3 (inverse CDF).** Write `inverse_cdf_exponential(u, rate)` that turns uniform numbers
# `u` of shape `(N,)` into exponential samples with the given rate, by inverting the CDF.

# %% tags=["solution"]
def inverse_cdf_exponential(u, rate):
    return -np.log1p(-u) / rate


# %%
result = check_inverse_cdf_exponential(inverse_cdf_exponential)

# %% [markdown]
# **Try it:** in the KL explorer, pick "unequal modes". Which mode does the best reverse-KL fit choose,
# and why the heavier one? Then find a start for $q$ from which gradient descent would end on the
# lighter mode.
#
# **Next:** [03 - Gradient descent](03_gradient_descent.ipynb): how `jax.grad` and optimizers climb these
# objectives, and the two gradient tricks behind VAEs and GANs.
