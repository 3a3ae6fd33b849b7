# %% [markdown] slideshow={"slide_type": "slide"}
# # 03 · Gradient descent, and two gradient tricks behind VAEs and GANs
#
# {{COLAB_BADGE}}
#
# **Time:** about 45 minutes. **Prerequisites:** [02 - Probability](02_probability.ipynb).
#
# **You will learn to:**
# - compute derivatives with `jax.grad` and check them;
# - run gradient descent, momentum and Adam (optax) on 2-D loss surfaces, and pick a learning rate;
# - explain minibatch noise and why `jax.jit` matters (measured here);
# - fit a density by gradient ascent on its log-likelihood;
# - measure the variance of the reparameterization and score-function gradients (the VAE's trick), and
#   see simultaneous gradient play spiral away from a game's equilibrium (the GAN's difficulty).

# %%
{{COLAB_BOOTSTRAP}}

# %% [markdown]
# One setup cell (`%matplotlib inline` makes the figures that `course_lib` returns show up as pictures).

# %% tags=["nbval-ignore-output"]
# %matplotlib inline
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from IPython.display import display

import course_lib
from course_lib import plotting
from course_lib.lessons import distributions, games, gradient_estimators, surfaces
from course_lib.exercises.ch03_gradient_descent import (check_alternating_step, check_momentum_step,
                                                       check_score_function_estimate)
from course_lib.training import CompiledStep
from course_lib.widgets.optim import optimizer_explorer, render_bilinear, render_optimizer, render_trajectories
from course_lib.lessons.distributions import em_fit
from course_lib.widgets.probability import mixture_data

print(f"course_lib {course_lib.__version__}, jax {jax.__version__}, optax {optax.__version__}, "
      f"devices {jax.devices()}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Derivatives with `jax.grad`
#
# `jax.grad(f)` returns a new function that computes $f'$ exactly (by automatic differentiation, not by
# finite differences). For $f(x) = x^2 \sin x$, calculus gives $f'(x) = 2x\sin x + x^2\cos x$; a central
# finite difference $\frac{f(x+h) - f(x-h)}{2h}$ should agree to about $h^2$.

# %%
def f(x):
    return x**2 * jnp.sin(x)


x0, h = 1.3, 1e-2
auto = float(jax.grad(f)(x0))
exact = 2 * x0 * math.sin(x0) + x0**2 * math.cos(x0)
finite = float((f(x0 + h) - f(x0 - h)) / (2 * h))
print(f"jax.grad {auto:.6f}, calculus {exact:.6f}, finite difference {finite:.6f}")
assert abs(auto - exact) < 1e-5 and abs(finite - exact) < 1e-3

# %% [markdown]
# It works for functions of many parameters too. For the least-squares loss
# $L(\theta) = \frac12\lVert A\theta - b\rVert^2$ the gradient is $\nabla L = A^\top(A\theta - b)$:

# %%
A = jax.random.normal(jax.random.key(0), (5, 3))
b = jax.random.normal(jax.random.key(1), (5,))
theta = jnp.array([0.5, -1.0, 2.0])
grad = jax.grad(lambda t: 0.5 * jnp.sum((A @ t - b) ** 2))(theta)
print("jax.grad:", np.round(np.asarray(grad), 4), "  A^T (A theta - b):", np.round(np.asarray(A.T @ (A @ theta - b)), 4))
assert jnp.allclose(grad, A.T @ (A @ theta - b), atol=1e-5)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Gradient descent on a loss surface
#
# Gradient descent repeats one step: move against the gradient, scaled by the **learning rate** $\eta$,
#
# $$\theta_{t+1} = \theta_t - \eta\, \nabla L(\theta_t).$$
#
# On the elongated bowl $L(x, y) = \frac12(x^2 + 10y^2)$ each coordinate evolves on its own:
# $x_{t+1} = (1 - \eta)x_t$ and $y_{t+1} = (1 - 10\eta)y_t$, so $x_t = (1-\eta)^t x_0$ and
# $y_t = (1 - 10\eta)^t y_0$. `surfaces.run_optimizer` (optax's SGD, compiled with `jax.lax.scan`) must
# reproduce this:

# %%
lr, steps = 0.05, 60
run = surfaces.run_optimizer("bowl", "sgd", lr, start=(-4.0, 2.0), num_steps=steps)
closed = np.array([-4.0 * (1 - lr) ** steps, 2.0 * (1 - 10 * lr) ** steps])
print(f"after {steps} steps: optax {np.round(run.trajectory[-1], 6)}, closed form {np.round(closed, 6)}")
assert np.allclose(run.trajectory[-1], closed, rtol=1e-4, atol=1e-6)

# %% [markdown] slideshow={"slide_type": "fragment"}
# The closed form also tells us when descent fails: it converges only if $|1 - \eta\lambda| < 1$ for
# every curvature $\lambda$ of the bowl (here 1 and 10), that is $\eta < 2/\lambda_{\max} = 0.2$. First the
# failure, then the fix.
#
# Look for: the blue run (lr 0.21, just above 0.2) bouncing further out at every step; the orange run
# just below 0.2 zigzagging across the narrow direction; the green run (small learning rate) crawling
# along the long one. The red dot is the common start, the star the minimum.

# %%
fig, runs = render_trajectories("bowl", {"lr 0.21 (too large)": ("sgd", 0.21), "lr 0.19 (zigzag)": ("sgd", 0.19),
                                         "lr 0.05": ("sgd", 0.05)}, start=(-4.0, 2.0), num_steps=150)
display(fig)
for label, r in runs.items():
    print(f"{label:20s} " + (f"diverged: loss above 1e12 at step {r.diverged_at}, run stopped there"
                             if r.diverged_at is not None else f"final loss {r.final_loss:.3g}"))
assert runs["lr 0.21 (too large)"].diverged_at is not None
assert runs["lr 0.19 (zigzag)"].final_loss < 1e-4 and runs["lr 0.05"].final_loss < 1e-3

# %% [markdown]
# Just above the threshold the narrow direction is amplified by $|1 - 2.1| = 1.1$ per step and the run
# blows up (the run is stopped, and its loss curve ends, at the first step where the loss exceeds
# $10^{12}$). Just below, it shrinks by 0.9 per step, with a
# sign flip each time: the zigzag. The largest stable learning rate is set by the *steepest* direction, and
# then the *flattest* direction moves slowly: ill-conditioning, the reason for the next two optimizers.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Momentum and Adam
#
# **Momentum** (Polyak's heavy ball, 1964) accumulates a velocity, so that consistent gradients add up
# and oscillating ones cancel:
#
# $$v_{t+1} = \beta v_t + \nabla L(\theta_t), \qquad \theta_{t+1} = \theta_t - \eta\, v_{t+1} \qquad (\beta = 0.9).$$
#
# **Adam** (Kingma & Ba, 2014) divides each coordinate's step by a running estimate of its gradient's
# scale, so flat and steep directions move at similar speeds:
#
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad s_t = \beta_2 s_{t-1} + (1-\beta_2) g_t^2, \quad
#   \theta_t = \theta_{t-1} - \eta\, \frac{m_t / (1-\beta_1^t)}{\sqrt{s_t / (1-\beta_2^t)} + \epsilon}.$$
#
# The factors $1/(1 - \beta^t)$ are the **bias correction**. The averages start at $m_0 = s_0 = 0$, so
# early on they are pulled towards 0: with a constant gradient $g$, $m_t = (1 - \beta_1^t)\,g$, only
# $0.1\,g$ after the first step. Dividing by $1 - \beta_1^t$ gives back $g$ at every step (and likewise
# $g^2$ for $s_t$), so the first steps are neither tiny nor, for $s_t$, huge (Kingma & Ba 2015, section 3).
#
# The course uses optax's implementations. To be sure the formula above is what optax computes, we run it
# by hand for 5 steps on the Rosenbrock valley and compare:

# %%
rosenbrock = surfaces.get_surface("rosenbrock").fn
grad_fn = jax.grad(rosenbrock)
lr = 0.05  # optax.adam has no default learning rate
b1, b2, eps = 0.9, 0.999, 1e-8  # optax.adam's defaults
# Bias correction, with a constant gradient g: m_t alone is (1 - b1^t) g; m_t / (1 - b1^t) is g.
g_const, m_t = 3.0, 0.0
for t in range(1, 6):
    m_t = b1 * m_t + (1 - b1) * g_const
    assert abs(m_t / (1 - b1**t) - g_const) < 1e-12 and m_t < 0.5 * g_const  # corrected: g; raw: far below
theta = np.array([-1.5, 2.5])
m, s = np.zeros(2), np.zeros(2)
for t in range(1, 6):
    g = np.asarray(grad_fn(jnp.asarray(theta, jnp.float32)), np.float64)
    m = b1 * m + (1 - b1) * g
    s = b2 * s + (1 - b2) * g**2
    theta = theta - lr * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
optax_run = surfaces.run_optimizer("rosenbrock", "adam", lr, start=(-1.5, 2.5), num_steps=5)
print("by hand:", np.round(theta, 5), "  optax:", np.round(optax_run.trajectory[-1], 5))
assert np.allclose(theta, optax_run.trajectory[-1], atol=1e-5)

# %% [markdown]
# Look for: on Rosenbrock's curved valley (minimum at the star), how far each optimizer gets in 500 steps
# from the same start, and how fast each loss curve falls.

# %%
fig, runs = render_trajectories("rosenbrock", {"SGD, lr 0.001": ("sgd", 0.001), "momentum, lr 0.001": ("momentum", 0.001),
                                               "Adam, lr 0.05": ("adam", 0.05)}, num_steps=500)
display(fig)
for label, r in runs.items():
    print(f"{label:20s} final loss {r.final_loss:.4f}")
assert runs["momentum, lr 0.001"].final_loss < runs["SGD, lr 0.001"].final_loss
assert runs["Adam, lr 0.05"].final_loss < runs["SGD, lr 0.001"].final_loss
assert runs["momentum, lr 0.001"].final_loss < runs["Adam, lr 0.05"].final_loss  # momentum wins here
adam_steps = np.linalg.norm(np.diff(runs["Adam, lr 0.05"].trajectory, axis=0), axis=1)  # (500,) step lengths
print(f"Adam's mean step length {adam_steps.mean():.3f}, against its learning rate 0.05")
assert adam_steps.mean() < 0.3 * 0.05

# %% [markdown]
# Plain gradient descent must use a tiny learning rate (the valley walls are steep) and then barely moves
# along the flat valley floor. Momentum, with the same learning rate, builds up speed along the floor
# and **wins here**: its final loss is the lowest of the three. Adam beats plain SGD, but it is well behind
# momentum after 500 steps, although its learning rate is 50 times larger. The reason is in its update:
# a coordinate moves by about $\eta$ only while its gradient keeps the same sign. In this narrow, curved
# valley (not aligned with the axes) each step overshoots the valley a little, the gradient components
# change sign from step to step, the average $m_t$ partly cancels while $s_t$ remembers the large
# gradients of the steep walls, and the steps shrink: the measured mean step is about a sixth of $\eta$.
# Adam's strength is that one learning rate works for coordinates of very different scales, not that it is
# always faster. None of this transfers blindly: on another surface, or with another learning rate, the
# ranking can change. Try it.
#
# ### Your turn: the optimizer explorer
#
# The static version first, at the explorer's starting point: Adam on Rosenbrock from its default start,
# for 300 steps. It is still far from the minimum: the figure shows it creeping along the valley floor.

# %%
fig, summary = render_optimizer("rosenbrock", "adam", 0.05, -1.5, 2.5, num_steps=300)
display(fig)
print(f"final loss {summary['final_loss']:.4f}, distance to the minimum {summary['distance_to_minimum']:.3f}")
assert summary["diverged_at"] is None and summary["distance_to_minimum"] > 1.0  # not there yet

# %% [markdown]
# Change the surface, optimizer, learning rate (log scale), start point and number of steps. When a run
# diverges, the status line says at which step. Things to try: the largest SGD learning rate that still
# converges on each surface; from which starts `himmelblau` ends in each of its four minima.

# %%
optimizer_explorer("rosenbrock", "adam", 0.05, num_steps=300)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Minibatch noise
#
# Deep-learning losses are averages over data, $L(\theta) = \frac1N\sum_i \ell_i(\theta)$. A **minibatch**
# of $B$ examples drawn at random gives an unbiased estimate of the gradient,
# $\hat g_B = \frac1B\sum_{i \in \text{batch}} \nabla\ell_i$, whose variance shrinks like $1/B$ (for
# examples drawn independently):
#
# $$\mathbb{E}[\hat g_B] = \nabla L, \qquad \operatorname{Var}[\hat g_B] = \frac{\operatorname{Var}_i[\nabla \ell_i]}{B}.$$
#
# We check both on a linear regression, $\ell_i(w, c) = (y_i - w x_i - c)^2$, at a fixed $\theta$.

# %%
kx, ky = jax.random.split(jax.random.key(2))
x_reg = jax.random.normal(kx, (2000,))
y_reg = 3.0 * x_reg - 1.0 + 0.5 * jax.random.normal(ky, (2000,))  # true w = 3, c = -1


def example_loss(params, x, y):
    return (y - params[0] * x - params[1]) ** 2


per_example_grads = jax.vmap(jax.grad(example_loss), in_axes=(None, 0, 0))  # (N, 2)
params0 = jnp.array([0.0, 0.0])
g_all = per_example_grads(params0, x_reg, y_reg)  # (2000, 2)
g_all = np.asarray(g_all, np.float64)
full_grad, var_one = g_all.mean(axis=0), g_all.var(axis=0)
rng = np.random.default_rng(3)  # a seeded NumPy generator: plain indexing, nothing to compile
draws = 20_000
# These per-example gradients are heavy-tailed (kurtosis k), so a variance measured from `draws` minibatches
# is itself uncertain by about sqrt((k - 1) / draws) in relative terms; we allow 4 times that.
kurtosis = np.mean((g_all[:, 0] - full_grad[0]) ** 4) / var_one[0] ** 2
for batch_size in (1, 10, 100):
    idx = rng.integers(0, 2000, size=(draws, batch_size))  # 20,000 minibatches, drawn with replacement
    g_b = g_all[idx].mean(axis=1)  # (draws, 2)
    ratio = g_b[:, 0].var() * batch_size / var_one[0]
    print(f"B = {batch_size:3d}: mean dL/dw {g_b[:, 0].mean():7.3f} (full {full_grad[0]:.3f}), "
          f"B * variance / Var_i = {ratio:.3f}")
    assert abs(g_b[:, 0].mean() - full_grad[0]) < 4 * math.sqrt(var_one[0] / batch_size / draws)
    assert abs(ratio - 1.0) < 4 * math.sqrt((kurtosis - 1) / draws)

# %% [markdown]
# Look for: how the loss curve of stochastic gradient descent (SGD) wobbles for each batch size, with the
# same learning rate and number of steps.

# %%
def sgd_losses(key, batch_size, num_steps=300, lr=0.05):
    """SGD on the regression with minibatches of batch_size; returns the full-data loss after each step."""
    def step(params, k):
        idx = jax.random.randint(k, (batch_size,), 0, x_reg.shape[0])
        g = jax.grad(lambda p: jnp.mean(example_loss(p, x_reg[idx], y_reg[idx])))(params)
        params = params - lr * g
        return params, jnp.mean(example_loss(params, x_reg, y_reg))

    _, losses = jax.lax.scan(step, jnp.zeros(2), jax.random.split(key, num_steps))
    return losses


design = np.stack([np.asarray(x_reg), np.ones(2000)], axis=1)  # (N, 2) for the exact least-squares fit
best_params = np.linalg.lstsq(design, np.asarray(y_reg), rcond=None)[0]
best_loss = float(np.mean((np.asarray(y_reg) - design @ best_params) ** 2))
fig, (ax,) = plotting.new_figure(1, size=(5.5, 3.0))
tails = {}
for batch_size in (1, 10, 100):
    losses = np.asarray(jax.jit(sgd_losses, static_argnums=1)(jax.random.key(4), batch_size))
    tails[batch_size] = float(losses[-100:].mean())
    ax.plot(losses, lw=1, label=f"B = {batch_size}")
ax.axhline(best_loss, color="k", ls=":", lw=1, label="least-squares optimum")
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("full-data loss")
ax.legend(fontsize=8)
display(fig)
print(f"mean loss over the last 100 steps: {', '.join(f'B = {k}: {v:.4f}' for k, v in tails.items())}; "
      f"optimum {best_loss:.4f}")
assert tails[1] > tails[100] >= best_loss - 1e-6

# %% [markdown]
# All three runs head for the same answer at the same average speed, but with $B = 1$ the parameters keep
# jittering around the optimum and the loss never settles at the least-squares optimum (about 0.25, the
# variance of the noise we added). Larger batches or a decaying learning rate remove the jitter; a little noise is cheap
# and sometimes even helps to escape poor regions.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. `jax.jit`: compile once, run fast
#
# Run eagerly, every `jnp` operation is dispatched from Python on its own. `jax.jit` traces the function
# once into a graph, compiles it with XLA, fuses the operations, and reuses the compiled code for every
# later call with the same shapes. We time 50 small element-wise updates of a vector, eagerly and jitted
# (the numbers depend on your machine, so the notebook checks only that jit wins):

# %% tags=["nbval-ignore-output"]
def many_small_ops(x):
    for _ in range(50):
        x = jnp.tanh(x) * 1.01 + 0.01
    return x


def best_time(fn, x, repeats=10):
    fn(x).block_until_ready()  # warm-up (and, for jit, compilation)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x).block_until_ready()
        times.append(time.perf_counter() - start)
    return min(times)


x_vec = jnp.ones(1000)
eager_s = best_time(many_small_ops, x_vec)
jit_s = best_time(jax.jit(many_small_ops), x_vec)
print(f"eager {1e3 * eager_s:.2f} ms, jitted {1e3 * jit_s:.3f} ms: {eager_s / jit_s:.0f} times faster")
assert jit_s < eager_s

# %% [markdown]
# Compilation happens at the first call for each new input shape. The course's training steps are
# wrapped in `CompiledStep`, which counts the traces so a test can prove that a step compiled once. A
# `print` inside a jitted function runs only while tracing, which makes the traces visible:

# %%
def scaled_sum(x):
    print(f"  tracing for shape {x.shape}")
    return jnp.sum(2.0 * x)


step = CompiledStep(scaled_sum, name="scaled_sum")
for x in (jnp.ones(3), jnp.zeros(3), jnp.arange(3.0), jnp.ones(5)):
    print(f"call with shape {x.shape} -> {float(step(x)):.1f}")
print(step)
assert step.num_traces == 2  # one per distinct shape: (3,) and (5,)

# %% [markdown]
# Three calls with shape (3,) traced once; the new shape (5,) traced again. In a training loop, an input
# whose shape changes every step (a last, smaller batch, say) silently recompiles every time: keep shapes
# fixed.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Fitting a density by gradient ascent
#
# Notebook 02 fitted a single Gaussian in closed form. A mixture has no closed form, but its
# log-likelihood is differentiable in all its parameters. We maximise the mean log-likelihood
# $\frac1N\sum_n \log p_\theta(x_n)$ of the 200 points of notebook 02's mixture explorer with Adam, using
# unconstrained parameters: weights $\pi = \operatorname{softmax}(a)$ and scales $\sigma = e^{r}$.

# %%
x_mix = jnp.asarray(mixture_data(), jnp.float32)  # (200,)


def as_mixture(params):
    return distributions.Mixture1D(jax.nn.softmax(params["logits"]), params["means"], jnp.exp(params["log_scales"]))


def mean_log_likelihood(params):
    return jnp.mean(distributions.log_density(as_mixture(params), x_mix))


@jax.jit
def fit_mixture(params, num_steps=1000, lr=0.05):
    opt = optax.adam(lr)

    def step(carry, _):
        params, state = carry
        value, grads = jax.value_and_grad(lambda p: -mean_log_likelihood(p))(params)
        updates, state = opt.update(grads, state)
        return (optax.apply_updates(params, updates), state), -value

    (params, _), history = jax.lax.scan(step, (params, opt.init(params)), None, length=num_steps)
    return params, history


init = {"logits": jnp.zeros(3), "means": jnp.array([-1.0, 0.0, 1.0]), "log_scales": jnp.zeros(3)}
fitted, history = fit_mixture(init)
em = em_fit(mixture_data())
em_ll = float(np.mean(distributions.log_density(em, mixture_data())))
mu_hat, sigma_hat = float(x_mix.mean()), float(x_mix.std())  # the single-Gaussian MLE
one_gauss_ll = float(jnp.mean(distributions.log_density(distributions.gaussian(mu_hat, sigma_hat), x_mix)))
print(f"mean log-likelihood: single Gaussian {one_gauss_ll:.4f}, mixture by gradient ascent "
      f"{float(history[-1]):.4f}, mixture by EM {em_ll:.4f}")
print("gradient-ascent fit: weights", np.round(np.asarray(jax.nn.softmax(fitted["logits"])), 3),
      "means", np.round(np.asarray(fitted["means"]), 3), "scales", np.round(np.exp(np.asarray(fitted["log_scales"])), 3))
assert abs(float(history[-1]) - em_ll) < 1e-3  # both found the same maximum
assert float(history[-1]) > one_gauss_ll + 0.1

# %% [markdown]
# Look for: the mixture found by gradient ascent on top of the data histogram, the single Gaussian's
# poor fit, and the log-likelihood climbing during training.

# %%
fig, (ax, ax_h) = plotting.new_figure(2, size=(4.2, 3.0))
xs = np.linspace(-5, 5, 500)
ax.hist(np.asarray(x_mix), bins=40, density=True, color="0.8", label="data (200 points)")
ax.plot(xs, np.exp(np.asarray(distributions.log_density(as_mixture(fitted), xs))), color="C3",
        label="mixture, gradient ascent")
ax.plot(xs, np.exp(np.asarray(distributions.log_density(distributions.gaussian(mu_hat, sigma_hat), xs))),
        "--", color="C0", label="one Gaussian (MLE)")
ax.legend(fontsize=7)
ax_h.plot(np.asarray(history), color="C3")
ax_h.axhline(em_ll, color="k", ls=":", lw=1, label="EM")
ax_h.set_xlabel("Adam step")
ax_h.set_ylabel("mean log-likelihood")
ax_h.legend(fontsize=8)
display(fig)

# %% [markdown]
# Gradient ascent and EM end at the same log-likelihood. EM is not specific to mixtures: it applies to any
# latent-variable or missing-data model whose posterior over the latents can be computed exactly (the
# E-step) and whose M-step is tractable, such as hidden Markov models (Baum-Welch), factor analysis and
# probabilistic PCA (notebook 04). Gradient ascent needs only a differentiable log-likelihood or bound, which
# is why every deep generative model uses it: $\log p_\theta(x)$ (or a bound on it) is differentiable in
# millions of network weights, while the exact posterior of a neural network's latents is not available. A
# VAE is, in this sense, what you get when the exact E-step is replaced by an amortised approximation
# (Dempster, Laird & Rubin 1977; Neal & Hinton 1998).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Bridge to VAEs: differentiating through sampling
#
# A VAE must differentiate an **expectation over samples** with respect to the parameters of the
# distribution that produced them: $\nabla_\theta\, \mathbb{E}_{z \sim q_\theta}[f(z)]$ with
# $q_\theta = \mathcal{N}(\mu, \sigma^2)$. There are two standard unbiased estimators (there are others,
# such as measure-valued gradients; Mohamed, Rosca, Figurnov & Mnih 2020 survey them):
#
# - **reparameterization** (pathwise): write $z = \mu + \sigma\varepsilon$, then
#   $\nabla_\theta \mathbb{E}[f(z)] = \mathbb{E}_\varepsilon\big[f'(\mu + \sigma\varepsilon)\,(1, \varepsilon)\big]$.
#   Needs $f$ differentiable. It is much older than VAEs (Price 1958 for Gaussians; infinitesimal
#   perturbation analysis, Glasserman 1991); Kingma & Welling (2013) and Rezende et al. (2014) made it the
#   way to train latent-variable networks.
# - **score function** (likelihood ratio, Glynn 1990; REINFORCE, Williams 1992):
#   $\nabla_\theta \mathbb{E}[f(z)] = \mathbb{E}_z\big[f(z)\,\nabla_\theta \log q_\theta(z)\big]$,
#   here $\nabla_{(\mu, \sigma)}\log q = \big(\varepsilon/\sigma,\ (\varepsilon^2 - 1)/\sigma\big)$. Works for any $f$.
#
# With $f(z) = z^2$, $\mathbb{E}[f] = \mu^2 + \sigma^2$, so the true gradient is $(2\mu, 2\sigma)$. Each
# estimate averages $N = 10$ samples; we repeat it 2,000 times with a fixed key and measure the spread.

# %%
def f_sq(z):
    return z**2


mu, sigma, n_samples, repeats = 1.0, 1.0, 10, 2000
spread = gradient_estimators.estimator_spread(f_sq, mu, sigma, jax.random.key(5), n_samples, repeats)
print("                 d/dmu mean  (var)    d/dsigma mean  (var)     true (2 mu, 2 sigma) = (2, 2)")
for kind in ("reparam", "score"):
    mean_, var_ = spread[f"{kind}_mean"], spread[f"{kind}_var"]
    print(f"{kind:15s} {mean_[0]:8.3f} ({var_[0]:6.3f}) {mean_[1]:10.3f} ({var_[1]:6.3f})")
    assert np.all(np.abs(mean_ - [2 * mu, 2 * sigma]) < 4 * np.sqrt(var_ / repeats))  # unbiased
# reparameterization: Var[2 z] / N = 4 sigma^2 / N and Var[2 z eps] / N = 12 sigma^2 / N (for mu = sigma = 1)
assert np.allclose(spread["reparam_var"], [4 * sigma**2 / n_samples, 12 * sigma**2 / n_samples], rtol=0.1)
assert np.all(spread["reparam_var"] < spread["score_var"])
print(f"variance ratio score / reparam: d/dmu {spread['score_var'][0] / spread['reparam_var'][0]:.1f}, "
      f"d/dsigma {spread['score_var'][1] / spread['reparam_var'][1]:.1f}")

# %% [markdown]
# In practice the score function is never used bare: one subtracts a **baseline** $b$,
# $\mathbb{E}_z\big[(f(z) - b)\,\nabla_\theta \log q_\theta(z)\big]$, which is still unbiased because
# $\mathbb{E}_z[\nabla_\theta \log q_\theta(z)] = \int \nabla_\theta q_\theta = \nabla_\theta 1 = 0$. A common
# choice that needs no extra model is the *leave-one-out* baseline: for sample $n$, the mean of $f$ over the
# other $N - 1$ samples (independent of $z_n$, so still unbiased; Kool, van Hoof & Welling 2019). We
# measure it on the same 2,000 repeats.

# %%
eps = jax.random.normal(jax.random.key(6), (repeats, n_samples))  # (repeats, N)
score = np.stack([np.asarray(eps), np.asarray(eps) ** 2 - 1], axis=-1) / sigma  # (repeats, N, 2) d log q
f_values = np.asarray(f_sq(mu + sigma * eps), np.float64)  # (repeats, N)
loo_baseline = (f_values.sum(axis=1, keepdims=True) - f_values) / (n_samples - 1)  # mean of the others
baseline_est = np.mean((f_values - loo_baseline)[..., None] * score, axis=1)  # (repeats, 2)
baseline_mean, baseline_var = baseline_est.mean(axis=0), baseline_est.var(axis=0, ddof=1)
print(f"score function with baseline: mean {np.round(baseline_mean, 3).tolist()}, "
      f"variance {np.round(baseline_var, 2).tolist()} (without: {np.round(spread['score_var'], 2).tolist()}, "
      f"reparameterization: {np.round(spread['reparam_var'], 2).tolist()})")
assert np.all(np.abs(baseline_mean - [2 * mu, 2 * sigma]) < 4 * np.sqrt(baseline_var / repeats))  # unbiased
assert np.all(baseline_var < 0.8 * spread["score_var"])  # the baseline removes a good part of the noise
assert np.all(spread["reparam_var"] < baseline_var)  # for this smooth f the pathwise one still wins

# %% [markdown]
# Look for: three histograms of the same quantity, the estimated $\partial/\partial\mu$ from 10 samples
# (2,000 repeats each), all with mean 2 (the true value): the bare score function widest and skewed to the
# right (its peak sits below 2), the baseline version narrower, the reparameterization gradient narrowest.
# The bins cover the whole range of every estimate, so nothing is cut off.

# %%
rep = np.asarray(gradient_estimators.reparameterization_gradient(f_sq, mu, sigma, eps.ravel()))[:, 0]
sco = np.asarray(gradient_estimators.score_function_gradient(f_sq, mu, sigma, eps.ravel()))[:, 0]
estimates = {"score function": sco.reshape(repeats, n_samples).mean(axis=1),
             "score function, leave-one-out baseline": baseline_est[:, 0],
             "reparameterization": rep.reshape(repeats, n_samples).mean(axis=1)}
lo = math.floor(min(v.min() for v in estimates.values()))
hi = math.ceil(max(v.max() for v in estimates.values()))
bins = np.linspace(lo, hi, 4 * (hi - lo) + 1)  # bins of width 0.25 over every estimate: none is clipped
fig, (ax,) = plotting.new_figure(1, size=(6.0, 3.2))
for (label, values), color in zip(estimates.items(), ("C1", "C2", "C0")):
    counts, _, _ = ax.hist(values, bins=bins, histtype="step", lw=1.5, color=color, label=label)
    assert counts.sum() == repeats  # every estimate falls inside the bins
ax.axvline(2 * mu, color="k", ls=":", label="true gradient 2 mu")
ax.set_xlabel(f"estimate of d/dmu E[z^2] from {n_samples} samples")
ax.set_ylabel(f"count (out of {repeats:,})")
ax.legend(fontsize=7)
display(fig)
print(f"estimates range from {lo} to {hi}")

# %% [markdown]
# All three are right on average, but the bare score-function estimate is several times noisier: it
# multiplies $f(z)$ by a random sign-changing weight and never uses the slope of $f$. A baseline removes
# part of that noise. The reparameterization gradient uses the slope, so its noise comes only from where the
# sample landed. This is why the VAE samples its latent code as $z = \mu + \sigma \odot \varepsilon$
# (notebook 04). The score function remains the tool for discrete latents, where there is no slope to
# follow, always with a baseline or other variance reduction.
#
# "Lower variance" is not a law, though: it holds when $f$ is smooth. If $f$ varies quickly, its slope is
# large and erratic and the pathwise estimator inherits it. With $f(z) = \cos(20 z)$ the slope is up to 20
# while $f$ itself stays in $[-1, 1]$ (Mohamed et al. 2020, sections 4-5 and 8):

# %%
def f_wiggly(z):
    return jnp.cos(20.0 * z)


wiggly = gradient_estimators.estimator_spread(f_wiggly, mu, sigma, jax.random.key(7), n_samples, repeats)
# true gradient: d/dmu E[cos(k z)] = -k sin(k mu) exp(-k^2 sigma^2 / 2), about 0 here
print(f"f = cos(20 z), variance of d/dmu: reparameterization {wiggly['reparam_var'][0]:.1f}, "
      f"score function {wiggly['score_var'][0]:.3f}")
assert np.all(wiggly["score_var"] < 0.1 * wiggly["reparam_var"])  # here the score function wins

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. Bridge to GANs: gradient play in a game
#
# A GAN is a two-player game: the generator minimises what the discriminator maximises. The simplest
# game with that structure is
#
# $$\min_x \max_y\ f(x, y) = x\,y,$$
#
# whose only equilibrium is $(0, 0)$. Each player follows its own gradient ($\partial f/\partial x = y$,
# $\partial f/\partial y = x$). **Simultaneously**: $x' = x - \eta y$, $y' = y + \eta x$. Then
#
# $$x'^2 + y'^2 = (x - \eta y)^2 + (y + \eta x)^2 = (1 + \eta^2)(x^2 + y^2),$$
#
# so the distance to the equilibrium **grows** by $\sqrt{1 + \eta^2}$ at every step, whatever $\eta > 0$.

# %%
lr = 0.2
sim = games.bilinear_play(1.0, 0.0, lr, 40, "simultaneous")
r = games.radius(sim)
print(f"radius after 0, 10, 40 steps: {r[0]:.3f}, {r[10]:.3f}, {r[40]:.3f}; "
      f"predicted after 40: {(1 + lr**2) ** 20:.3f}")
assert np.allclose(r[1:] / r[:-1], math.sqrt(1 + lr**2))

# %% [markdown] slideshow={"slide_type": "fragment"}
# **Alternating** updates let $y$ respond to the *new* $x$: $x' = x - \eta y$, then $y' = y + \eta x'$. The
# map has determinant 1, and one can check that $Q(x, y) = x^2 + y^2 - \eta\,x y$ is exactly conserved.
# For $\eta < 2$, $Q$ is positive definite, so the iterates circle the equilibrium on an ellipse: bounded,
# though they never converge either.

# %%
alt = games.bilinear_play(1.0, 0.0, lr, 40, "alternating")
q_values = games.alternating_invariant(alt, lr)
print(f"alternating: radius stays in [{games.radius(alt).min():.3f}, {games.radius(alt).max():.3f}], "
      f"Q varies by {np.ptp(q_values):.1e}")
assert np.ptp(q_values) < 1e-12 and games.radius(alt).max() < 1.2

# %% [markdown]
# Look for: the red spiral moving out, the blue loop staying put, and the radius of the simultaneous play
# following the dotted prediction exactly.

# %%
display(render_bilinear(lr, 40))

# %% [markdown]
# Smaller steps slow the spiral down: over a fixed "time" $T = \eta \times (\text{number of steps})$ the
# radius grows by $(1 + \eta^2)^{T/(2\eta)} \le e^{\eta T/2}$, which tends to 1 as $\eta \to 0$ (the
# continuous-time flow just circles). With $T = 10$:

# %%
growth = {}
for eta in (0.5, 0.1, 0.01):
    path = games.bilinear_play(1.0, 0.0, eta, int(round(10 / eta)), "simultaneous")
    growth[eta] = games.radius(path)[-1]
    print(f"lr {eta:5.2f}: {int(round(10 / eta)):5d} steps, radius {growth[eta]:.3f} (bound e^(lr T / 2) = "
          f"{math.exp(eta * 10 / 2):.3f})")
    assert growth[eta] <= math.exp(eta * 10 / 2) + 1e-9
assert growth[0.5] > growth[0.1] > growth[0.01] > 1.0

# %% [markdown]
# GAN training is this game with neural networks in place of $x$ and $y$, and the same effects appear:
# players that orbit or spiral instead of settling. Practical recipes in notebook 05 (alternating updates,
# small learning rates, Adam with $\beta_1 = 0.5$ as in DCGAN, Radford et al. 2015, different learning
# rates for the two players, Heusel et al. 2017) are heuristics that, in part, damp these rotations.
#
# Some methods target the rotation directly. **Extragradient** takes a look-ahead step and then updates
# with the gradient at the look-ahead point; **optimistic gradient descent** (Daskalakis, Ilyas, Syrgkanis &
# Zeng, ICLR 2018) approximates that look-ahead with the previous gradient,
# $\theta_{t+1} = \theta_t - \eta\,(2 g_t - g_{t-1})$; **consensus optimisation** (Mescheder, Nowozin &
# Geiger, NIPS 2017) adds a penalty on the gradient's norm (see also Gidel et al., ICLR 2019). On
# $xy$, with the same $\eta = 0.2$ and start $(1, 0)$, optimistic play converges to the equilibrium:

# %%
def optimistic_play(x, y, lr, num_steps):
    """Optimistic gradient play on min_x max_y x*y: each player uses 2 * (gradient now) - (previous one)."""
    path = [(x, y)]
    gx_prev, gy_prev = y, x  # at the first step, the previous gradient is the current one (a plain step)
    for _ in range(num_steps):
        gx, gy = y, x  # df/dx = y, df/dy = x
        x, y = x - lr * (2 * gx - gx_prev), y + lr * (2 * gy - gy_prev)
        gx_prev, gy_prev = gx, gy
        path.append((x, y))
    return np.array(path)  # (num_steps + 1, 2)


optimistic = optimistic_play(1.0, 0.0, lr, 200)
r_opt = np.hypot(optimistic[:, 0], optimistic[:, 1])
print(f"optimistic play, radius after 0, 40, 100, 200 steps: {r_opt[0]:.3f}, {r_opt[40]:.3f}, "
      f"{r_opt[100]:.3f}, {r_opt[200]:.4f}")
assert r_opt[200] < 0.05 and r_opt[200] < r_opt[100] < r_opt[40] < r_opt[0]

# %% [markdown]
# Look for: the distance to the equilibrium over 200 steps, on a log scale: simultaneous play grows,
# alternating play stays bounded, optimistic play shrinks steadily.

# %%
steps_200 = np.arange(201)
fig, (ax,) = plotting.new_figure(1, size=(5.5, 3.0))
ax.semilogy(steps_200, games.radius(games.bilinear_play(1.0, 0.0, lr, 200, "simultaneous")), color="C3",
            label="simultaneous")
ax.semilogy(steps_200, games.radius(games.bilinear_play(1.0, 0.0, lr, 200, "alternating")), color="C0",
            label="alternating")
ax.semilogy(steps_200, r_opt, color="C2", label="optimistic")
ax.set_xlabel("step t")
ax.set_ylabel("distance to equilibrium (log scale)")
ax.set_title(f"gradient play on x*y, lr = {lr}", fontsize=9)
ax.legend(fontsize=8)
display(fig)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - `jax.grad` computes exact derivatives of Python functions; check them once against calculus or a
#   finite difference.
# - Gradient descent $\theta \leftarrow \theta - \eta\nabla L$ converges on a quadratic only if
#   $\eta < 2/\lambda_{\max}$; ill-conditioning makes it slow. Momentum accumulates speed; Adam rescales
#   each coordinate.
# - Minibatch gradients are unbiased with variance $\propto 1/B$. `jax.jit` compiles once per input
#   shape and makes small operations much faster.
# - Any differentiable log-likelihood can be maximised by gradient ascent: for a mixture it finds the
#   same maximum as EM.
# - For smooth $f$ the reparameterization gradient has much lower variance than the score-function
#   gradient, even with a baseline (VAEs); for a rapidly varying $f$ the order can flip.
#   Simultaneous gradient play on $\min_x\max_y xy$ spirals out by $\sqrt{1+\eta^2}$ per step;
#   alternating play stays bounded; optimistic play converges (GANs).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# **Exercise 1 (momentum).** Write `momentum_step(theta, velocity, grad, lr, beta)` returning
# `(theta_new, velocity_new)` for one heavy-ball step in optax's convention (section 3).

# %% tags=["solution"]
def momentum_step(theta, velocity, grad, lr, beta):
    velocity = beta * velocity + grad
    return theta - lr * velocity, velocity


# %%
result = check_momentum_step(momentum_step)

# %% [markdown]
# **Exercise 2 (score function).** Write `score_function_estimate(mu, sigma, eps)`: the score-function
# estimate of $\frac{d}{d\mu}\mathbb{E}_{z \sim \mathcal{N}(\mu, \sigma^2)}[z^2]$ from standard normal
# noise `eps` of shape `(N,)`, averaged over the N samples.

# %% tags=["solution"]
def score_function_estimate(mu, sigma, eps):
    z = mu + sigma * eps
    return np.mean(z**2 * (z - mu) / sigma**2)


# %%
result = check_score_function_estimate(score_function_estimate)

# %% [markdown]
# **Exercise 3 (alternating play).** Write `alternating_step(x, y, lr)` returning `(x_new, y_new)` for one
# alternating step of gradient play on $\min_x\max_y xy$.

# %% tags=["solution"]
def alternating_step(x, y, lr):
    x_new = x - lr * y
    return x_new, y + lr * x_new


# %%
result = check_alternating_step(alternating_step)

# %% [markdown]
# **Try it:** in the optimizer explorer, choose `himmelblau` and SGD with a learning rate of 0.01, and move
# the start point around the plane. Can you find starts that end in each of the four minima? Then try
# Adam with learning rate 0.5 from the same starts: does it end in the same minimum?
#
# **Next:** [04 - The VAE](04_vae.ipynb): the reparameterization gradient put to work in a variational
# autoencoder.
