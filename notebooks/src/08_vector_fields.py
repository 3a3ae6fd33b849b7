# %% [markdown] slideshow={"slide_type": "slide"}
# # 08 · Score matching, diffusion and flow matching as one learned vector field
#
# {{COLAB_BADGE}}
#
# **Time:** about 75 minutes. **You will:**
#
# - write the score of a Gaussian mixture, and of the mixture blurred by noise, in closed form;
#   train a network by denoising score matching and measure how close it gets; sample with Langevin
#   dynamics;
# - see diffusion as a noising SDE, its reverse SDE and its probability-flow ODE, and run DDIM on
#   07's DDPM: the same network, 20 steps instead of 1,000;
# - build flow matching from conditional paths, check a trained velocity against the exact one,
#   and convert velocities into scores and back;
# - measure quality against the number of network evaluations for Euler, Heun, DDIM and ancestral
#   sampling, and see why straight paths need fewer steps;
# - compute exact likelihoods through the ODE (the divergence by autodiff) on a checkerboard whose
#   entropy is known, and on the digits of 07's family table;
# - steer a class-conditional model with classifier-free guidance and measure what it costs.
#
# In 07, a diffusion model predicted noise and sampled in 1,000 small steps. Here the same object
# gets a new reading: a network that learns a **vector field** on data space (a score, a noise
# prediction or a velocity: all three carry the same information) and a sampler that integrates it.
# The models were trained once by `python scripts/train_vector_field_checkpoints.py` (about 25
# minutes on a shared 2-core CPU), which also recorded every long measurement in
# `data/results/vector_fields.json`; the notebook loads both.

# %%
{{COLAB_BOOTSTRAP}}

# %% [markdown]
# One setup cell: the imports, the device JAX uses, the pretrained fields, 07's DDPM, the digit
# classifier of 05 and the recorded results.

# %% tags=["nbval-ignore-output"]
# %matplotlib inline
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from IPython.display import Markdown, display

from course_lib import data, plotting
from course_lib.evaluation.classifier import classifier_features, load_classifier
from course_lib.evaluation.modes import mode_coverage
from course_lib.exercises import ch08_vector_fields as ch08
from course_lib.fields import evaluate as ev
from course_lib.fields import gmm, losses, paths, samplers
from course_lib.fields.ddpm_bridge import ddim_sample
from course_lib.fields.likelihood import dequantize_to_unit, dequantized_nll_offset, ode_log_likelihood
from course_lib.models import diffusion as dm
from course_lib.reproduce import family_table as ft
from course_lib.reproduce import vector_field as vf
from course_lib.widgets import vector_field as vfw

print("JAX devices:", jax.devices())
fields = {(name, path): vf.load(f"vf_{name}_{path}")[0] for name in ("ring", "grid") for path in ("linear", "vp")}
checker_model, _ = vf.load("vf_checkerboard_seed0")
digits_model, _ = vf.load("vf_digits_seed0")
guided_model, _ = vf.load("vf_digits_guided_seed0")
ddpm_digits, schedule_digits, _ = ft.load_beyond("ddpm_digits")
clf, _ = load_classifier("digits")
results = vf.read_results()
digits_test = data.load_digits("test")
ring = data.toy_mixture("ring")
print({k: m.config["prediction"] for k, m in fields.items()})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Scores and denoising score matching
#
# The **score** of a density is the gradient of its log, $s(x) = \nabla_x \log p(x)$. It points
# uphill, towards more probable data, and it does not need the normalising constant: if
# $p = \tilde p / Z$, then $\nabla \log p = \nabla \log \tilde p$. For the ring of 05 (a mixture of
# eight Gaussians $\mathcal N(m_k, \varsigma^2 I)$) it has a closed form,
#
# $$s(x) = \sum_k r_k(x)\, \frac{m_k - x}{\varsigma^2}, \qquad r_k(x) = \frac{w_k \mathcal N(x; m_k, \varsigma^2 I)}{\sum_j w_j \mathcal N(x; m_j, \varsigma^2 I)} .$$
#
# Blur the data with noise, $x_t = \alpha_t x_0 + \sigma_t \varepsilon$, and the blurred density is again
# a mixture, with means $\alpha_t m_k$ and variance $v_t = \alpha_t^2 \varsigma^2 + \sigma_t^2$: its
# score is the same formula with those values (`course_lib.fields.gmm`). We check the formula against
# autodiff's gradient of the log-density, at three noise levels:

# %%
x_check = jax.random.normal(jax.random.key(0), (256, 2)) * 2.0
for t in (0.05, 0.3, 0.8):
    tb = jnp.full((256,), t)
    closed = gmm.score(ring, "vp", x_check, tb)
    auto = jax.grad(lambda x: jnp.sum(gmm.log_density(ring, "vp", x, tb)))(x_check)
    assert np.allclose(closed, auto, rtol=1e-3, atol=1e-3)
    print(f"t = {t}: closed form and autodiff agree to 1e-3 at all 256 points")

# %% [markdown]
# We cannot write the score of real data, but **denoising score matching** (Vincent, 2011) learns
# it anyway. The score of the noising kernel is known: $\nabla_{x_t} \log q(x_t \mid x_0) =
# -(x_t - \alpha_t x_0)/\sigma_t^2 = -\varepsilon / \sigma_t$. Regressing a network on it,
#
# $$L_\text{DSM} = \mathbb E_{t, x_0, \varepsilon}\, \sigma_t^2 \big\| s_\theta(x_t, t) + \varepsilon/\sigma_t \big\|^2
# = \mathbb E \big\| \varepsilon_\theta(x_t, t) - \varepsilon \big\|^2 \quad (s_\theta = -\varepsilon_\theta / \sigma_t),$$
#
# has the same minimiser as regressing on the true, unknown score of $p_t$: averaged over the $x_0$
# that could have produced $x_t$, the kernel's score is the marginal one. With the weight
# $\sigma_t^2$ it is exactly 07's DDPM loss $\|\varepsilon_\theta - \varepsilon\|^2$. The loss is
# smallest at the exact noise prediction $\mathbb E[\varepsilon \mid x_t]$; a scaled copy of it does
# worse (a check that can fail):

# %% tags=["nbval-ignore-output"]
x0_ring = data.sample_toy("ring", jax.random.key(1), 20_000)
t_ring = jax.random.uniform(jax.random.key(2), (20_000,), minval=0.05)
eps_ring = jax.random.normal(jax.random.key(3), (20_000, 2))
exact_eps = lambda x, t: gmm.posterior(ring, "vp", x, t)[2]  # noqa: E731  E[eps | x_t], in closed form
dsm = {scale: float(jnp.mean(losses.dsm_loss(lambda x, t: scale * exact_eps(x, t), "vp", x0_ring, t_ring, eps_ring)))
       for scale in (0.9, 1.0, 1.1)}
print({k: round(v, 3) for k, v in dsm.items()})
assert dsm[1.0] < dsm[0.9] and dsm[1.0] < dsm[1.1]

# %% [markdown]
# A network trained this way (an MLP with three hidden layers of 128 units, 4,000 Adam steps on the
# variance-preserving path below) is compared with the exact noised score on fresh draws of $p_t$.
# We report the relative error $\|s_\theta - s\| / \|s\|$ at each noise level:

# %% tags=["nbval-ignore-output"]
dsm_model = fields[("ring", "vp")]
x0_eval = data.sample_toy("ring", jax.random.key(77), 2000)
errors = ev.field_errors(dsm_model, ring, x0_eval, jax.random.key(78), (0.05, 0.1, 0.3, 0.5, 0.9))
for e in errors:
    print(f"t = {e['t']:.2f}: relative error of the learned score {e['score_rel_error']:.2f}")
assert all(e["score_rel_error"] < 0.3 for e in errors if e["t"] >= 0.1)
assert max(e["score_rel_error"] for e in errors if e["t"] >= 0.5) < 0.1

# %% [markdown]
# The error is a few percent at large noise, where $p_t$ is smooth, and grows as $t \to 0$: there
# the true score is a steep funnel into eight modes of width 0.05, large and fast-changing, which a
# small MLP reproduces only approximately. Look at the field itself: arrows of the exact score and
# of the network at $t = 0.3$ side by side.

# %%
fig, axes = plotting.new_figure(2, size=(3.3, 3.3))
ticks = np.linspace(-3, 3, 17)
gx, gy = np.meshgrid(ticks, ticks)
grid_pts = jnp.asarray(np.stack([gx.ravel(), gy.ravel()], 1), jnp.float32)
tq = jnp.full((len(grid_pts),), 0.3)
learned = paths.convert("vp", grid_pts, tq, dsm_model(grid_pts, tq), source="eps", target="score")
for ax, field, title in ((axes[0], gmm.score(ring, "vp", grid_pts, tq), "exact score, t = 0.3"),
                         (axes[1], learned, "learned score (DSM), t = 0.3")):
    f = np.asarray(field) / (1e-3 + np.linalg.norm(np.asarray(field), axis=1, keepdims=True))
    ax.quiver(grid_pts[:, 0], grid_pts[:, 1], f[:, 0], f[:, 1], color="0.4")
    ax.set_title(title, fontsize=9)
    ax.set_aspect("equal")
display(fig)

# %% [markdown]
# The arrows (normalised to one length) agree: both point to the ring, and between two modes they
# split. **Langevin dynamics** turns a score into samples: $x \leftarrow x + \tfrac{\delta}{2} s(x) +
# \sqrt{\delta}\, z$ has $p$ as its stationary law when $\delta \to 0$. Run on the sharp data density
# it is slow to move mass between modes, because between them the score is tiny and the noise must
# do all the work. **Annealed Langevin** (Song & Ermon, 2019) runs it on $p_t$ for a decreasing
# sequence of noise levels: wide levels spread the points between the modes, narrow ones sharpen them.

# %% tags=["nbval-ignore-output"]
start = jax.random.normal(jax.random.key(4), (2000, 2)) * 0.3  # all points near the centre
score_t0 = lambda x: gmm.score(ring, "vp", x, jnp.full((x.shape[0],), 0.02))  # noqa: E731
plain = samplers.langevin(score_t0, start, jax.random.key(5), step_size=1e-4, num_steps=300)
net_score = lambda x, t: paths.convert("vp", x, t, dsm_model(x, t), source="eps", target="score")  # noqa: E731
annealed = samplers.annealed_langevin(net_score, "vp", start, jax.random.key(6), num_levels=15, steps_per_level=20)
cov_plain, cov_annealed = mode_coverage(np.asarray(plain), ring), mode_coverage(np.asarray(annealed), ring)
print("plain Langevin, 300 steps:   ", cov_plain)
print("annealed Langevin, 300 steps:", cov_annealed)
assert cov_annealed.modes == 8 and cov_annealed.hq_fraction > cov_plain.hq_fraction

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The SDE and ODE view: DDPM and DDIM as two discretisations
#
# Let $T \to \infty$ in 07's DDPM: the noising chain becomes a stochastic differential equation
# (Song et al., 2021) $dx = f(t)\, x\, dt + g(t)\, dw$, whose marginals are our
# $x_t = \alpha_t x_0 + \sigma_t \varepsilon$ when $f = \dot\alpha_t/\alpha_t$ and
# $g^2 = \tfrac{d}{dt}\sigma_t^2 - 2 f \sigma_t^2$. For the **variance-preserving** (VP) path of DDPM,
# $\beta(t) = 0.1 + 19.9\,t$ (07's $T\beta_t$), $\alpha_t = e^{-\frac12\int_0^t \beta}$ and
# $\sigma_t^2 = 1 - \alpha_t^2$. Two processes run it backwards with the same marginals:
#
# - the **reverse SDE** $dx = [f x - g^2 s(x, t)]\, dt + g\, d\bar w$, whose discretisation with
#   fresh noise at each step is DDPM's **ancestral** sampler;
# - the **probability-flow ODE** $\dot x = f x - \tfrac12 g^2 s(x, t)$, deterministic, whose
#   discretisation is **DDIM** (Song, Meng & Ermon, 2021).
#
# The ODE's right-hand side is a **velocity** $v(x, t)$. For the mixture we can compute it two ways:
# from the exact score through this formula, and as the average velocity of the noised points,
# $v = \mathbb E[\dot\alpha_t x_0 + \dot\sigma_t \varepsilon \mid x_t = x]$. They must agree:

# %%
for t in (0.1, 0.5, 0.9):
    tb = jnp.full((256,), t)
    f_t, g2_t = paths.sde_coefficients("vp", jnp.float32(t))
    from_score = f_t * x_check - 0.5 * g2_t * gmm.score(ring, "vp", x_check, tb)
    from_posterior = gmm.velocity(ring, "vp", x_check, tb)
    assert np.allclose(from_score, from_posterior, rtol=1e-3, atol=1e-3)
    print(f"t = {t}: f = {float(f_t):.3f}, g^2 = {float(g2_t):.3f}; the two velocities agree to 1e-3")

# %% [markdown]
# **DDIM on 07's DDPM.** 07's noise predictor was trained for the 1,000-step ancestral sampler; it
# took about 8 ms per sample. DDIM (`course_lib.fields.ddpm_bridge`) uses the *same weights*: at a
# time $\tau_i$ it estimates $\hat x_0 = (x - \sqrt{1-\bar\alpha}\,\hat\varepsilon)/\sqrt{\bar\alpha}$
# and jumps to $\tau_{i-1}$ with $x = \sqrt{\bar\alpha_{\tau_{i-1}}}\hat x_0 + \sqrt{1-\bar\alpha_{\tau_{i-1}}}\hat\varepsilon$,
# one Euler step of the probability-flow ODE in the variables $(x/\alpha, \sigma/\alpha)$. Twenty
# steps on 07's checkpoint:

# %% tags=["nbval-ignore-output"]
graphdef_ddpm, state_ddpm = nnx.split(ddpm_digits)
ddim20 = jax.jit(lambda s, x: ddim_sample(lambda xt, t: nnx.merge(graphdef_ddpm, s)(xt, t), schedule_digits, x, 20))
x_ddim = np.asarray(ddim20(state_ddpm, jax.random.normal(jax.random.key(7), (500, 64))))
levels_ddim = np.asarray(dm.data_to_levels(x_ddim, 17))
real_feats = classifier_features(clf, digits_test.x.astype(np.float32) / 16)
q_ddim = vf.levels_quality(clf, real_feats, levels_ddim)
ddpm_row = next(r for r in ft.read_results() if r["family"] == "diffusion")
print(f"DDIM, 20 steps, 500 samples: FD {q_ddim['fd']:.0f} (07's ancestral sampler, 1,000 steps: FD {ddpm_row['fd']:.1f})")
assert q_ddim["fd"] < 2 * ddpm_row["fd"]
display(plotting.image_grid(levels_ddim[:16] / 16, (8, 8), ncols=16, cell_size=0.5))

# %% [markdown]
# Fifty times fewer network calls, digits of the same kind. The recorded curve (1,000 samples per
# point, from the training script) shows where DDIM breaks down:

# %%
ddim_rows = results["ddim_on_07_ddpm"]
display(Markdown("| DDIM steps on 07's DDPM | " + " | ".join(str(r["nfe"]) for r in ddim_rows) + " | 1,000 ancestral (07) |\n"
                 + "|---" * (len(ddim_rows) + 2) + "|\n| FD | " + " | ".join(f"{r['fd']:.1f}" for r in ddim_rows)
                 + f" | {ddpm_row['fd']:.1f} |"))
assert ddim_rows[-1]["fd"] < ddim_rows[0]["fd"]

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Flow matching: regress the velocity directly
#
# If sampling integrates a velocity, why not learn the velocity? **Flow matching** (Lipman et al.,
# 2023; Liu et al., 2023, "rectified flow"; Albergo & Vanden-Eijnden, 2023) picks a path and regresses
# on the velocity of *one* noised point, which is known. On the **linear path**
# $x_t = (1-t)\, x_0 + t\, \varepsilon$ that conditional velocity is $u_t(x_t \mid x_0) = \varepsilon - x_0$, and
#
# $$L_\text{CFM}(\theta) = \mathbb E_{t, x_0, \varepsilon} \big\| v_\theta(x_t, t) - (\varepsilon - x_0) \big\|^2 .$$
#
# The velocity that actually transports $p_t$ is the *marginal* one,
# $v(x, t) = \mathbb E[\varepsilon - x_0 \mid x_t = x]$, intractable for real data. The two losses
# differ by a constant that does not depend on $\theta$ (expand the square: the cross term's
# conditional expectation is the marginal velocity), so their gradients are equal. Check it on the
# ring, where the marginal velocity has a closed form: for two "networks", the exact field and a bent
# one, the difference of the conditional losses equals the difference of the marginal ones.

# %% tags=["nbval-ignore-output"]
n_mc = 200_000
k1, k2, k3 = jax.random.split(jax.random.key(8), 3)
x0_mc = data.sample_toy("ring", k1, n_mc)
t_mc, eps_mc = jax.random.uniform(k2, (n_mc,)), jax.random.normal(k3, (n_mc, 2))
exact_v = lambda x, t: gmm.velocity(ring, "linear", x, t)  # noqa: E731
bent_v = lambda x, t: exact_v(x, t) + 0.5 * jnp.sin(x)  # noqa: E731
gap_cfm = float(jnp.mean(losses.cfm_loss(bent_v, "linear", x0_mc, t_mc, eps_mc)
                         - losses.cfm_loss(exact_v, "linear", x0_mc, t_mc, eps_mc)))
x_t_mc = paths.sample_path("linear", x0_mc, t_mc, eps_mc)
gap_marginal = float(jnp.mean(jnp.sum((bent_v(x_t_mc, t_mc) - exact_v(x_t_mc, t_mc)) ** 2, -1)))
print(f"difference of CFM losses {gap_cfm:.3f}, of marginal losses {gap_marginal:.3f}")
assert abs(gap_cfm - gap_marginal) < 0.03 * gap_marginal

# %% [markdown]
# The flow-matching network of the ring (same MLP, 4,000 steps) against the exact marginal velocity:

# %% tags=["nbval-ignore-output"]
fm_model = fields[("ring", "linear")]
fm_errors = ev.field_errors(fm_model, ring, x0_eval, jax.random.key(78), (0.1, 0.3, 0.5, 0.7, 0.9))
for e in fm_errors:
    print(f"t = {e['t']:.1f}: relative error of the learned velocity {e['velocity_rel_error']:.2f}")
assert all(e["velocity_rel_error"] < 0.3 for e in fm_errors)

# %% [markdown]
# **One model, four readings.** For any Gaussian path, given $x_t$, the velocity, the score, the
# noise prediction and the data prediction determine each other: $x_t = \alpha_t \hat x_0 + \sigma_t \hat\varepsilon$
# and $v = \dot\alpha_t \hat x_0 + \dot\sigma_t \hat\varepsilon$ is a 2x2 linear system, and $s = -\hat\varepsilon/\sigma_t$.
# So the flow-matching network also *is* a score model. Convert its velocity into a score and
# compare with the exact score of the noised ring; and check the conversion itself on exact fields:

# %% tags=["nbval-ignore-output"]
for t in (0.3, 0.7):
    tb = jnp.full((256,), t)
    v_exact = gmm.velocity(ring, "linear", x_check, tb)
    s_exact = gmm.score(ring, "linear", x_check, tb)
    assert np.allclose(paths.convert("linear", x_check, tb, v_exact, source="velocity", target="score"),
                       s_exact, rtol=1e-3, atol=2e-3)
    assert np.allclose(paths.velocity_from_score("linear", x_check, tb, s_exact), v_exact, rtol=1e-3, atol=2e-3)
    print(f"t = {t}: score of the FM network, relative error "
          f"{next(e['score_rel_error'] for e in fm_errors if e['t'] == t):.2f}")

# %% [markdown]
# Diffusion and flow matching are therefore the same kind of model: a Gaussian path, a regression
# target that only needs $(x_0, \varepsilon)$, and an ODE (or SDE) to sample. They differ in the
# path. Trajectories of the two exact fields from the same noise (Heun, 100 steps) show the difference:

# %% tags=["nbval-ignore-output"]
x1_demo = jax.random.normal(jax.random.key(9), (300, 2))
fig, axes = plotting.new_figure(2, size=(3.3, 3.3))
straightness = {}
for ax, path in zip(axes, ("linear", "vp")):
    _, xs = samplers.integrate(lambda x, t, p=path: gmm.velocity(ring, p, x, t), path, x1_demo, sampler="heun",
                               num_steps=100, trajectory=True)
    steps, total = jnp.diff(xs, axis=0), xs[-1] - xs[0]  # (100, N, 2) per step, (N, 2) in all
    straightness[path] = float(jnp.mean(jnp.sum((100 * steps - total[None]) ** 2, -1))
                               / jnp.mean(jnp.sum(total**2, -1)))
    xs = np.asarray(xs)
    for i in range(60):
        ax.plot(xs[:, i, 0], xs[:, i, 1], lw=0.6, color="C1", alpha=0.7)
    ax.scatter(xs[-1, :, 0], xs[-1, :, 1], s=3, color="C2")
    ax.scatter(xs[25, :60, 0], xs[25, :60, 1], s=6, color="k", zorder=3)
    ax.set_title(f"{path} path: exact ODE (black: t = 0.75)", fontsize=9)
    ax.set_aspect("equal")
display(fig)
print({k: round(v, 2) for k, v in straightness.items()}, "(0 = straight at constant speed)")
assert straightness["linear"] < straightness["vp"]

# %% [markdown]
# Both families of trajectories bend where a point has to choose its mode. The difference is in
# *time*: the black dots mark where each point is at $t = 0.75$. On the linear path a quarter of the
# way is a quarter of the distance; on the VP path the points have hardly moved, and almost the whole
# journey happens close to $t = 0$. The number printed is the **straightness** of Liu et al. (2023),
# $\mathbb E \int_0^1 \| v(x_t, t) - (x_0 - x_1) \|^2 dt$ relative to $\mathbb E\|x_0 - x_1\|^2$: zero
# when every point moves on a line at constant speed, which Euler's method integrates exactly in one
# step. That is the subject of the next section.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Samplers and their cost
#
# With $N$ steps $h = -1/N$ from $t = 1$:
#
# - **Euler**: $x \leftarrow x + h\, v(x, t)$, one network evaluation (NFE) per step;
# - **Heun**: an Euler guess, then the average of the two slopes, $x \leftarrow x + \tfrac h2 [v(x, t) + v(\tilde x, t + h)]$, two NFE;
# - **DDIM**: $(\hat x_0, \hat\varepsilon)$ from $v$, then $x \leftarrow \alpha_{t+h} \hat x_0 + \sigma_{t+h} \hat\varepsilon$ (on the linear path it *is* Euler);
# - **ancestral**: a draw of the Gaussian posterior $q(x_{t+h} \mid x_t, \hat x_0)$, DDPM's Algorithm 2.
#
# Live, on the ring, four Euler steps of each trained network (2,000 samples), scored with the
# mode-coverage protocol of 05 (a sample is *high quality* within three standard deviations of a mode):

# %% tags=["nbval-ignore-output"]
for path in ("linear", "vp"):
    x = ev.sample(fields[("ring", path)], jax.random.key(0), 2000, sampler="euler", num_steps=4)
    cov = mode_coverage(x, ring)
    print(f"{path:6s} path, Euler, 4 steps: {cov.modes} of 8 modes, high-quality fraction {cov.hq_fraction:.2f}")
    if path == "linear":
        hq_linear = cov.hq_fraction
assert hq_linear > 0.3 and hq_linear > cov.hq_fraction

# %% [markdown]
# The recorded curves (the training script, 2,000 samples per point) for every sampler and step
# count, on the ring and on the 5x5 grid:

# %%
fig, axes = plotting.new_figure(2, size=(4.0, 3.0))
for ax, name in zip(axes, ("ring", "grid")):
    for path, style in (("linear", "-"), ("vp", "--")):
        curve = results["toy"][f"{name}_{path}"]["nfe_curve"]
        for sampler, colour in (("euler", "C0"), ("heun", "C1"), ("ancestral", "C2")):
            pts = [(r["nfe"], r["hq_fraction"]) for r in curve if r["sampler"] == sampler]
            ax.plot(*zip(*pts), style, color=colour, marker=".", label=f"{path}, {sampler}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("network evaluations (NFE)")
    ax.set_ylabel("high-quality fraction")
    ax.set_title(name, fontsize=9)
axes[0].legend(fontsize=6)
display(fig)
ring_curve = {p: {r["nfe"]: r["hq_fraction"] for r in results["toy"][f"ring_{p}"]["nfe_curve"] if r["sampler"] == "euler"}
              for p in ("linear", "vp")}
assert all(ring_curve["linear"][n] > ring_curve["vp"][n] for n in (4, 8, 16))

# %% [markdown]
# Solid lines (linear path) rise several times earlier than dashed ones (VP path): at 8 NFE the
# linear path has most of the ring's samples in place while the VP path has a fraction. The curved VP
# trajectories need small steps; Heun's second evaluation only pays once the steps are small enough
# for its error estimate to be meaningful; the ancestral sampler's fresh noise corrects part of the
# accumulated error and ends highest on the ring. The 5x5 grid is harder for these small networks
# (25 modes of width 0.05): all 25 modes are found, but only about a fifth of the samples land within
# three standard deviations; at one Euler step every sample lands at the mean of the data, which
# happens to be the centre mode. On the digits, with the classifier-feature Frechet distance of 05
# (recorded, 1,000 samples, lower is better):

# %%
q_fm = results["digits"][0]["quality_by_sampler"]
rows_md = ["| NFE | FM, Euler | FM, Heun | 07's DDPM, DDIM |", "|---|---|---|---|"]
ddim_by_nfe = {r["nfe"]: r["fd"] for r in ddim_rows}
for n in (2, 4, 8, 16, 32):
    euler = q_fm.get(f"euler_{n}", {}).get("fd")
    heun = q_fm.get(f"heun_{n // 2}", {}).get("fd") if n >= 4 else None
    cell = lambda v: "n/a" if v is None else f"{v:.1f}"  # noqa: E731
    rows_md.append(f"| {n} | {cell(euler)} | {cell(heun)} | {cell(ddim_by_nfe.get(n))} |")
display(Markdown("\n".join(rows_md)))
assert q_fm["euler_8"]["fd"] < ddim_by_nfe[8]

# %% [markdown]
# At 8 network evaluations the flow-matching model is already close to its best FD while DDIM on the
# DDPM is still far from it; by 32 both are near their floor. Part of this is the path, part the
# training (the two networks differ in size and data scaling), so read it as one measurement, not a
# law; the ring curves above, with identical networks, isolate the path.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Likelihood through the probability-flow ODE
#
# An ODE is an invertible map, so the flow-matching model is a continuous normalising flow (Chen et
# al., 2018), and the density along a trajectory obeys $\tfrac{d}{dt}\log p_t(x_t) = -\nabla\cdot v(x_t, t)$.
# Integrating from the data to the noise,
#
# $$\log p_0(x_0) = \log \mathcal N(x_1; 0, I) + \int_0^1 \nabla\cdot v(x_t, t)\, dt .$$
#
# The divergence is the trace of the $D \times D$ Jacobian; `jax.jacfwd` computes it exactly with
# $D$ forward passes, cheap for $D = 2$ and $D = 64$. First on the *exact* ring field, where the
# answer is the mixture's own log-density (with the std widened to 0.3 so that a few ODE steps resolve it):

# %% tags=["nbval-ignore-output"]
wide = data.toy_mixture("ring", std=0.3)
x_lik = data.sample_toy("ring", jax.random.key(10), 200, std=0.3)
exact_wide = lambda x, t: gmm.velocity(wide, "linear", x, t)  # noqa: E731
log_p_ode, _ = jax.jit(lambda x: ode_log_likelihood(exact_wide, "linear", x, num_steps=100))(x_lik)
log_p_true = data.toy_log_density("ring", x_lik, std=0.3)
print(f"mean log p: ODE {float(jnp.mean(log_p_ode)):.3f}, closed form {float(jnp.mean(log_p_true)):.3f}")
assert np.allclose(log_p_ode, log_p_true, atol=0.05)

# %% [markdown]
# **The checkerboard.** Uniform on 8 unit squares, its density is $1/8$ there and 0 elsewhere, so
# its entropy is $H = \ln 8 = 2.079$ nats, and no model can have a lower expected test NLL:
# $\mathbb E[-\log q] = H + \mathrm{KL}(p\,\|\,q) \ge H$. The gap to $H$ is the model's KL from the
# truth. A flow-matching model (MLP 3x256 that also reads 64 random Fourier features of $x$, see
# below; 24,000 steps), its NLL on 500 fresh test points now, and the training script's 5,000-point value:

# %% tags=["nbval-ignore-output"]
x_cb = data.sample_toy("checkerboard", jax.random.key(11), 500)
nll_cb = float(-np.mean(ev.log_likelihood(checker_model, x_cb, num_steps=50)))
cb = results["checkerboard"][0]
print(f"test NLL now (500 points, 50 Heun steps) {nll_cb:.2f}; recorded (5,000 points, {cb['ode_steps']} steps) "
      f"{cb['test_nll_nats']:.3f}; entropy {cb['entropy_nats']:.3f}; gap {cb['gap_nats']:.3f} nats")
print("recorded NLL by ODE steps:", cb["nll_by_ode_steps"])
plain = results["checkerboard_ablation"][0]
print(f"the same MLP without the Fourier features, same steps: test NLL {plain['test_nll_nats']:.3f}, "
      f"gap {plain['gap_nats']:.3f} nats")
assert nll_cb > cb["entropy_nats"] - 0.1 and abs(nll_cb - cb["test_nll_nats"]) < 0.3
assert cb["gap_nats"] <= 0.1 < plain["gap_nats"]  # the target, met with the features and missed without
fig, axes = plotting.new_figure(2, size=(3.3, 3.3))
plotting.scatter_2d(axes[0], x_cb, size=2, limits=2.5)
axes[0].set_title("checkerboard data", fontsize=9)
plotting.scatter_2d(axes[1], ev.sample(checker_model, jax.random.key(12), 2000, sampler="heun", num_steps=20),
                    size=2, color="C1", limits=2.5)
axes[1].set_title("flow-matching samples (Heun, 20 steps)", fontsize=9)
display(fig)

# %% [markdown]
# The gap is under the 0.1 nats we aimed for, and the ablation shows what it took. The density has
# jumps at the edges of the squares, and near $t = 0$ the marginal velocity
# $v(x, t) = (x - \mathbb E[x_0 \mid x_t = x])/t$ changes over a distance of order $t$ around each edge.
# An MLP of the raw coordinates is smooth at the scale of its input, so it blurs the edges and the
# model spends mass between the squares (the few samples that fall there). Feeding it
# $[\sin(xB), \cos(xB)]$ for a fixed random $B$ with $N(0, 3^2)$ entries (Tancik et al., 2020, "Fourier
# features let networks learn high frequency functions in low dimensional domains") gives it
# oscillations of about that frequency to build sharp edges from; `tests/test_vector_field_training.py`
# shows the same effect on a plain regression of a $\pm 1$ board. Without the features, longer runs
# help only slowly: twice the steps (48,000, the model this notebook used before) left a gap of 0.13
# nats. The ODE discretisation is not the limit: 50 and 100 Heun steps agree to a thousandth.
# `python -m course_lib reproduce fm-checkerboard --seeds 3` re-measures it.
#
# **The digits, in the family table's units.** As for 07's flow: uniform dequantisation
# $y = 2(x + u)/17 - 1$ with $u \sim U[0,1)^{64}$, so that $-\log p(x + u) = -\log p_Y(y) + 64 \ln(17/2)$
# is an upper bound on the discrete NLL of the 17-level image once averaged over $u$. The model is
# trained on the 1,000 training digits, measured on the 447 test digits (scikit-learn's stored
# order, the split of 07). Twenty test images live, with 10 and 20 Heun steps:

# %% tags=["nbval-ignore-output"]
x_live = digits_test.x[:20].astype(np.int32)
y_live = dequantize_to_unit(x_live, jax.random.uniform(jax.random.key(13), x_live.shape), 17)
nll_live = {n: float(np.mean(-ev.log_likelihood(digits_model, y_live, num_steps=n)))
            + dequantized_nll_offset(64, 17) for n in (10, 20)}
print({n: round(v, 0) for n, v in nll_live.items()}, "nats per image (20 test images)")
assert abs(nll_live[10] - nll_live[20]) < 3.0

# %% [markdown]
# The recorded row, three seeds (447 test images, 20 Heun steps), added to 07's family table:

# %%
seeds_nll = [r["test_nll_nats"] for r in results["digits"]]
fm_row = dict(results["digits"][0], family="flow matching", test_nll_nats=float(np.mean(seeds_nll)),
              test_bits_per_dim=float(np.mean(seeds_nll)) / (64 * math.log(2)), anchor_nats=None,
              **{k: results["digits"][0]["quality_by_sampler"]["heun_16"][k] for k in ("fd", "precision", "recall")})
print(f"flow matching: test NLL {np.mean(seeds_nll):.1f} ± {np.std(seeds_nll, ddof=1):.1f} nats "
      f"(mean ± std over {len(seeds_nll)} seeds: {seeds_nll})")
display(Markdown(ft.table_markdown([r for r in ft.read_results() if r["family"] != "reference"] + [fm_row])))
assert 64 * math.log(2) < np.mean(seeds_nll) < 64 * math.log(17)  # better than uniform levels, worse than nothing

# %% [markdown]
# (FD, precision and recall of the flow-matching row: Heun, 16 steps, 1,000 samples; "ms / sample" is
# not measured here.) The flow-matching bound lands between 07's RealNVP and its DDPM: a better
# likelihood than the diffusion model's bound, with no invertible layers to design, but not as good
# as the RealNVP trained for likelihood directly; flow matching never sees the likelihood during
# training. Its cost sits at evaluation: 40 network passes times 64 Jacobian columns per image.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Conditional generation and classifier-free guidance
#
# Give the network the class too, $v_\theta(x, t \mid c)$, and replace $c$ by a *null* label with
# probability 0.2 during training, so the same network also learns the unconditional field
# $v_\theta(x, t \mid \varnothing)$. **Classifier-free guidance** (Ho & Salimans, 2021) extrapolates,
#
# $$v_w = (1 + w)\, v_\theta(x, t \mid c) - w\, v_\theta(x, t \mid \varnothing),$$
#
# which in score terms adds $w \nabla \log p_t(c \mid x)$: an implicit classifier pushes the samples
# to where the class is unmistakable. $w = 0$ is the plain conditional model. Sixteen threes, live,
# with the classifier's verdict:

# %% tags=["nbval-ignore-output"]
labels3 = np.full(16, 3, np.int32)
for w in (0.0, 4.0):
    mosaic, verdict = vfw.render_guidance(guided_model, clf, 3, w, num_steps=10)
    print(f"w = {w}: classifier says {verdict['verdicts']}")
    display(plotting.image_grid(mosaic[None], mosaic.shape, ncols=1, cell_size=2.0))
assert verdict["accuracy"] >= 0.8

# %% [markdown]
# The recorded trade-off (1,000 samples, 100 per class, Heun with 10 steps): the class accuracy by the
# classifier of 05, the recall against the test digits (how much of the real variety the samples
# cover) and the within-class spread in the classifier's features (1 = as spread as the test digits
# of the class).

# %%
g = results["guidance"]
fig, ax = plotting.new_figure(1, size=(4.5, 3.0))
ws = [r["w"] for r in g]
for key, colour in (("accuracy", "C0"), ("recall", "C1"), ("within_class_spread", "C2"), ("precision", "C3")):
    ax[0].plot(ws, [r[key] for r in g], marker=".", color=colour, label=key)
ax[0].set_xlabel("guidance weight w")
ax[0].legend(fontsize=7)
display(fig)
display(Markdown("| w | " + " | ".join(f"{r['w']:g}" for r in g) + " |\n" + "|---" * (len(g) + 1) + "|\n"
                 + "\n".join(f"| {k} | " + " | ".join(f"{r[k]:.2f}" for r in g) + " |"
                             for k in ("accuracy", "recall", "within_class_spread", "fd"))))
by_w = {r["w"]: r for r in g}
assert by_w[2.0]["accuracy"] >= by_w[0.0]["accuracy"] and by_w[2.0]["recall"] < by_w[0.0]["recall"]

# %% [markdown]
# Guidance buys accuracy with diversity: the conditional model ($w = 0$) already gets the class right
# about 97% of the time; $w = 1$ to 2 makes it essentially perfect, while recall falls by more than half
# and the samples of a class huddle together. A little guidance even improves the overall FD (best at
# $w = 0.5$) and the precision (best at $w = 1$); beyond that both get worse, and past $w \approx 3$ the
# within-class spread grows again, because the extrapolated field overshoots the data into saturated,
# unnatural strokes, not into new handwriting. Large image generators run at moderate $w$
# for the same reason.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Two labs
#
# **The vector-field lab.** First the static version: the linear-path ring model with Euler and 8
# steps, at step 4 of 8 (t = 0.5). Left: the learned field (arrows point the way sampling moves) and
# the points $x_t$; right: 40 trajectories so far and the final samples.

# %% tags=["nbval-ignore-output"]
lab_state = vfw.field_lab_state(fields[("ring", "linear")], sampler="euler", num_steps=8)
fig, summary = vfw.render_field_lab(fields[("ring", "linear")], lab_state, 4)
display(fig)
print(summary)
assert summary["t"] == 0.5

# %% [markdown]
# Now live: choose the data, the path, the sampler and the number of steps, and drag the step slider
# from $t = 1$ (noise) to $t = 0$ (samples). Things to try: the VP path with 4 Euler steps against the
# linear one; Heun with 2 steps; the ancestral sampler's jittery trajectories.

# %%
lab = vfw.vector_field_lab(fields, sampler="euler", num_steps=8)
display(lab)

# %% [markdown]
# **The guidance explorer**: a digit, a weight and a number of Heun steps; sixteen samples and what
# the classifier calls them.

# %%
explorer = vfw.guidance_explorer(guided_model, clf, digit=3, w=2.0, num_steps=10)
display(explorer)

# %% [markdown]
# How fast do they answer? The kernel-side time of one update at the default settings (median of 10;
# the first calls compile, and are not counted):

# %% tags=["nbval-ignore-output"]
for i in range(12):
    lab.controls["time"].value = i % 9
    explorer.controls["w"].value = float(i % 8)
print(f"lab: {np.median(lab.timer.samples_ms[-10:]):.0f} ms, guidance explorer: "
      f"{np.median(explorer.timer.samples_ms[-10:]):.0f} ms per update (median)")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A **score** $\nabla \log p_t$, a **noise prediction** $\mathbb E[\varepsilon \mid x_t]$ and a
#   **velocity** $\mathbb E[\dot x_t \mid x_t]$ are three readings of one learned vector field for a
#   Gaussian path; each converts into the others.
# - **Denoising score matching** and **conditional flow matching** learn it by regressing on targets
#   that need only $(x_0, \varepsilon)$; their gradients equal those of the intractable marginal losses.
# - Sampling integrates an SDE (ancestral) or an ODE (Euler, Heun, DDIM); DDIM runs 07's DDPM in 20
#   steps instead of 1,000. Straighter paths (the linear, rectified-flow path) need fewer steps.
# - The ODE is invertible: the same model gives exact likelihoods through the divergence, here 0.07 nats
#   above the checkerboard's entropy and about 123 nats per digit image.
# - **Classifier-free guidance** trades diversity for class fidelity; past a moderate weight it costs
#   quality too.
#
# ## Exercises
#
# **Exercise 1.** Write the denoising score-matching loss per example with weight $\sigma_t^2$:
# $\sigma_t^2 \| \hat s + (x_t - \alpha_t x_0)/\sigma_t^2 \|^2$, summed over coordinates.

# %% tags=["solution"]
def dsm_loss(score_hat, x_t, x0, alpha_t, sigma_t):
    """score_hat, x_t, x0: (B, D); alpha_t, sigma_t: numbers. Returns (B,)."""
    return sigma_t**2 * np.sum((score_hat + (x_t - alpha_t * x0) / sigma_t**2) ** 2, axis=-1)


# %%
result = ch08.check_dsm_loss(dsm_loss)

# %% [markdown]
# **Exercise 2.** The conditional flow-matching target on the linear path $x_t = (1 - t)x_0 + t\varepsilon$
# (data at $t = 0$).

# %% tags=["solution"]
def cfm_target(x0, eps, t):
    """x0, eps: (B, D); t: a number. Returns u_t(x_t | x_0), (B, D)."""
    return eps - x0


# %%
result = ch08.check_cfm_target(cfm_target)

# %% [markdown]
# **Exercise 3.** One Euler step of $\dot x = v(x, t)$ from time `t` to `t_next` (when sampling,
# `t_next < t`).

# %% tags=["solution"]
def euler_step(velocity_fn, x, t, t_next):
    """velocity_fn(x, t) -> (B, D); x: (B, D). Returns x at t_next."""
    return x + (t_next - t) * velocity_fn(x, t)


# %%
result = ch08.check_euler_step(euler_step)

# %% [markdown]
# **Exercise 4.** The classifier-free guidance combination with weight $w$ ($w = 0$: the conditional model).

# %% tags=["solution"]
def cfg(v_cond, v_uncond, w):
    """v_cond, v_uncond: (B, D); w: a number. Returns the guided velocity."""
    return (1 + w) * v_cond - w * v_uncond


# %%
result = ch08.check_cfg(cfg)

# %% [markdown]
# **Try it:** in the lab, find the smallest number of Euler steps at which the VP path puts samples on
# all eight modes of the ring, and compare with the linear path. In the explorer, find the weight at
# which the threes stop looking like handwriting. To retrain everything:
# `python scripts/train_vector_field_checkpoints.py` (about 25 minutes on a shared 2-core CPU; `--stages` reruns a part); single
# experiments: `python -m course_lib reproduce fm-checkerboard --seeds 3 --json`,
# `reproduce fm-digits`, `reproduce fm-guidance`.
#
# **Next:** [09 - Language models](09_language_models.ipynb): the chain rule of 07's MADE applied to text, from
# bigram counts to a small transformer.
