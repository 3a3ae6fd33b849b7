"""The course's bilingual glossary: key terms in English and Chinese, as data.

Rendered as a table in 10_faq_glossary.ipynb ("Glossary"). Each :class:`Term` gives
the English term, the Chinese term used in Chinese textbooks, lecture notes and
papers (with common variants), a one-line definition in our own words, and the
notebook that teaches it. The course grew from a Chinese article, so readers can
use this table to move between the two literatures.

Usage::

    from course_lib.lessons import glossary
    glossary.lookup("ELBO").chinese          # '证据下界'
    glossary.lookup("模式坍塌").english       # 'mode collapse' (a variant also matches)
    glossary.to_markdown()                    # the whole table, for IPython.display.Markdown
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import NamedTuple

from course_lib.lessons import NOTEBOOKS


class Term(NamedTuple):
    """One glossary entry.

    english: the English term (with its usual abbreviation in parentheses, if any).
    chinese: the standard Chinese term.
    definition: one sentence, in English.
    notebook: stem of the notebook that teaches it (a key of :data:`course_lib.lessons.NOTEBOOKS`).
    variants: other Chinese renderings in common use (may be empty).
    """

    english: str
    chinese: str
    definition: str
    notebook: str
    variants: tuple[str, ...] = ()


TERMS: tuple[Term, ...] = (
    # --- what a generative model is (01) ---------------------------------------------------
    Term("generative model", "生成模型",
         "A model of the data distribution p(x) (or p(x, y)) from which new examples can be sampled.",
         "01_concepts", ("生成式模型",)),
    Term("discriminative model", "判别模型",
         "A model of p(y | x) or a decision rule y = f(x); it classifies or predicts but cannot "
         "produce new x. Random forests and SVMs are of this kind.", "01_concepts", ("判别式模型",)),
    Term("deep generative model", "深度生成模型",
         "A generative model whose distribution is parameterised by deep neural networks.",
         "01_concepts"),
    Term("explicit density model", "显式密度模型",
         "A model that gives a formula for p(x) (exactly or as a bound): autoregressive models, "
         "flows, VAEs.", "01_concepts"),
    Term("implicit model", "隐式模型",
         "A model that can sample x but gives no formula for p(x), such as a GAN generator.",
         "01_concepts"),
    Term("sampling", "采样",
         "Drawing random examples from a distribution.", "01_concepts", ("抽样",)),
    Term("random forest", "随机森林",
         "An ensemble of decision trees used for classification and regression (a discriminative "
         "method, Breiman 2001).", "06_code_walkthrough"),
    Term("support vector machine (SVM)", "支持向量机",
         "A maximum-margin classifier (Cortes and Vapnik 1995); discriminative, not generative.",
         "06_code_walkthrough"),
    # --- probability (02) ------------------------------------------------------------------
    Term("probability distribution", "概率分布",
         "An assignment of probabilities (or a density) to the possible values of a random "
         "variable.", "02_probability"),
    Term("probability density function", "概率密度函数",
         "A function p(x) >= 0 whose integral over a region is the probability of that region.",
         "02_probability"),
    Term("Gaussian (normal) distribution", "高斯分布",
         "The bell-shaped distribution N(mu, sigma^2); the usual prior and noise model.",
         "02_probability", ("正态分布",)),
    Term("Bernoulli distribution", "伯努利分布",
         "The distribution of a single binary outcome with P(1) = p; the VAE's likelihood for "
         "binary pixels.", "02_probability"),
    Term("likelihood", "似然",
         "The probability (density) of the observed data as a function of the model's parameters.",
         "02_probability"),
    Term("log-likelihood", "对数似然",
         "The logarithm of the likelihood; sums over independent examples.", "02_probability"),
    Term("maximum likelihood estimation (MLE)", "最大似然估计",
         "Choosing parameters that maximise the likelihood of the training data.",
         "02_probability", ("极大似然估计",)),
    Term("entropy", "熵",
         "H(p) = -E_p[log p(x)], the average surprise of a distribution.", "02_probability"),
    Term("cross-entropy", "交叉熵",
         "H(p, q) = -E_p[log q(x)]; equals H(p) + KL(p || q).", "02_probability"),
    Term("binary cross-entropy", "二元交叉熵",
         "-[y log p + (1 - y) log(1 - p)], the loss of a yes/no prediction p for a label y.",
         "06_code_walkthrough", ("二值交叉熵",)),
    Term("Kullback-Leibler (KL) divergence", "KL散度",
         "KL(q || p) = E_q[log q(x) - log p(x)] >= 0, zero only when q = p; not symmetric.",
         "02_probability", ("相对熵",)),
    Term("Jensen-Shannon (JS) divergence", "JS散度",
         "The symmetrised KL to the mixture m = (p + q) / 2; what a GAN minimises when its "
         "discriminator is optimal.", "02_probability"),
    Term("Monte Carlo estimate", "蒙特卡洛估计",
         "An average over random samples used to approximate an expectation.", "02_probability",
         ("蒙特卡罗估计",)),
    # --- optimisation (03) -----------------------------------------------------------------
    Term("gradient descent", "梯度下降",
         "Repeatedly moving the parameters a small step against the gradient of the loss.",
         "03_gradient_descent"),
    Term("stochastic gradient descent (SGD)", "随机梯度下降",
         "Gradient descent with gradients estimated on random minibatches.",
         "03_gradient_descent"),
    Term("learning rate", "学习率", "The step size of a gradient-based optimiser.",
         "03_gradient_descent"),
    Term("minibatch", "小批量", "A small random subset of the training data used for one step.",
         "03_gradient_descent"),
    Term("backpropagation", "反向传播",
         "Computing all gradients of a loss by the chain rule, from the output back to the inputs.",
         "03_gradient_descent"),
    Term("loss function", "损失函数", "The number that training makes small.",
         "03_gradient_descent"),
    Term("optimizer", "优化器",
         "The rule that turns gradients into parameter updates (SGD, momentum, Adam).",
         "03_gradient_descent"),
    Term("just-in-time (JIT) compilation", "即时编译",
         "Compiling a function the first time it runs with given shapes (jax.jit).",
         "03_gradient_descent"),
    # --- the VAE (04) ----------------------------------------------------------------------
    Term("latent variable", "隐变量",
         "An unobserved variable z from which the model generates x.", "04_vae", ("潜变量",)),
    Term("latent space", "隐空间",
         "The space in which latent variables live; nearby points decode to similar examples.",
         "04_vae", ("潜在空间", "潜空间")),
    Term("prior distribution", "先验分布",
         "The distribution p(z) of the latent variables before seeing data; N(0, I) in the VAE.",
         "04_vae"),
    Term("posterior distribution", "后验分布",
         "p(z | x), what the latent variables are likely to be given an observation.", "04_vae"),
    Term("autoencoder", "自编码器",
         "A network trained to reconstruct its input through a narrow code.", "04_vae",
         ("自动编码器",)),
    Term("encoder", "编码器",
         "The network that maps x to a code; in a VAE, to the parameters of q(z | x).", "04_vae"),
    Term("decoder", "解码器",
         "The network that maps a code z to (the parameters of) p(x | z).", "04_vae"),
    Term("variational autoencoder (VAE)", "变分自编码器",
         "A latent-variable model trained with an encoder q(z | x) by maximising the ELBO "
         "(Kingma and Welling 2013; Rezende et al. 2014).", "04_vae"),
    Term("variational inference", "变分推断",
         "Approximating an intractable posterior with the closest member of a tractable family.",
         "04_vae"),
    Term("evidence lower bound (ELBO)", "证据下界",
         "E_q[log p(x | z)] - KL(q(z | x) || p(z)) <= log p(x); the VAE maximises it.", "04_vae",
         ("变分下界",)),
    Term("reparameterization trick", "重参数化技巧",
         "Writing z = mu + sigma * eps with eps ~ N(0, I) so that gradients flow through sampling.",
         "04_vae", ("重参数化", "重参数技巧")),
    Term("posterior collapse", "后验坍塌",
         "A VAE failure where q(z | x) equals the prior and the decoder ignores z.", "04_vae",
         ("后验崩溃",)),
    # --- the GAN (05) ----------------------------------------------------------------------
    Term("generative adversarial network (GAN)", "生成对抗网络",
         "A generator and a discriminator trained against each other (Goodfellow et al. 2014).",
         "05_gan", ("对抗生成网络",)),
    Term("generator", "生成器", "The network G that maps noise z to a sample G(z).", "05_gan"),
    Term("discriminator", "判别器",
         "The network D that outputs the probability that its input came from the data.",
         "05_gan"),
    Term("minimax game", "极小极大博弈",
         "min_G max_D V(D, G): one player minimises what the other maximises.", "05_gan",
         ("极小极大游戏", "最小最大博弈")),
    Term("Nash equilibrium", "纳什均衡",
         "A pair of strategies where neither player gains by changing alone; for a GAN, "
         "p_g = p_data and D = 1/2.", "05_gan"),
    Term("non-saturating loss", "非饱和损失",
         "The generator loss -log D(G(z)), which keeps gradients alive when D rejects the samples.",
         "05_gan"),
    Term("mode collapse", "模式崩溃",
         "A GAN failure where the generator produces only a few kinds of sample.", "05_gan",
         ("模式坍塌", "模式坍缩")),
    Term("mode (of a distribution)", "模态",
         "A peak of a density; a mixture of 25 Gaussians has 25 modes, which a generator should all "
         "cover.", "05_gan", ("峰",)),
    Term("gradient penalty", "梯度惩罚",
         "A term added to the discriminator's loss that penalises the size of its input gradient: "
         "R1 on real data, or (|grad f| - 1)^2 between real and fake samples in WGAN-GP.", "05_gan"),
    Term("Wasserstein distance", "Wasserstein距离",
         "The least average distance that mass must move to turn one distribution into another; "
         "it keeps a useful gradient when supports do not overlap (WGAN).", "05_gan",
         ("推土机距离", "瓦瑟斯坦距离")),
    Term("Fréchet distance", "弗雷歇距离",
         "A distance between two Gaussians fitted to features of real and generated samples: "
         "|mu_r - mu_g|^2 + tr(S_r + S_g - 2 (S_r S_g)^(1/2)).", "05_gan"),
    Term("Fréchet Inception distance (FID)", "弗雷歇初始距离",
         "The Fréchet distance computed on Inception-v3 features of images (Heusel et al. 2017).",
         "05_gan", ("Fréchet Inception距离",)),
    Term("precision (of a generative model)", "精确率",
         "The fraction of generated samples that fall in the region of the real data (are samples "
         "realistic?).", "05_gan", ("查准率",)),
    Term("recall (of a generative model)", "召回率",
         "The fraction of real samples that fall in the region of the generated ones (is the data "
         "covered?).", "05_gan", ("查全率",)),
    # --- beyond (07) -----------------------------------------------------------------------
    Term("autoregressive model", "自回归模型",
         "A model that factorises p(x) = prod_i p(x_i | x_<i) and samples one part at a time.",
         "07_beyond"),
    Term("normalizing flow", "标准化流",
         "An invertible network that turns a simple density into a complex one with an exact "
         "change-of-variables likelihood.", "07_beyond", ("归一化流",)),
    Term("diffusion model", "扩散模型",
         "A model that learns to reverse a gradual noising process, generating by iterative "
         "denoising.", "07_beyond"),
    Term("change of variables formula", "变量替换公式",
         "log p_x(x) = log p_z(f(x)) + log |det df/dx| for an invertible map f: the likelihood of a "
         "flow.", "07_beyond", ("变量变换公式", "换元公式")),
    Term("Jacobian determinant", "雅可比行列式",
         "The determinant of the matrix of partial derivatives of a map; its log measures how the "
         "map changes volume.", "07_beyond"),
    Term("coupling layer", "耦合层",
         "An invertible layer that keeps half of the inputs and transforms the other half with "
         "scales and shifts computed from the kept half (RealNVP); its log-determinant is a sum.",
         "07_beyond"),
    Term("dequantization", "去量化",
         "Adding noise inside each discrete level so that a continuous density can model discrete "
         "data; it gives an upper bound on the discrete negative log-likelihood.", "07_beyond",
         ("反量化",)),
    Term("forward process", "前向过程",
         "The fixed noising chain q(x_t | x_(t-1)) of a diffusion model that turns data into noise.",
         "07_beyond", ("加噪过程", "扩散过程")),
    Term("reverse process", "反向过程",
         "The learned denoising chain p(x_(t-1) | x_t) of a diffusion model that turns noise into data.",
         "07_beyond", ("逆向过程", "去噪过程")),
    Term("noise schedule", "噪声调度",
         "The variances beta_1, ..., beta_T of the forward process, which fix how fast the data are "
         "noised.", "07_beyond", ("噪声表",)),
    Term("bits per dimension", "每维比特数",
         "A negative log-likelihood divided by the number of dimensions and by log 2.", "07_beyond",
         ("比特每维",)),
    Term("importance sampling", "重要性采样",
         "Estimating an expectation under p with samples from another distribution q, weighted by "
         "p / q; it turns a VAE's encoder into a likelihood estimate.", "04_vae"),
    # --- vector fields and language models (new sections) ----------------------------------
    Term("score function", "分数函数",
         "The gradient of the log-density, grad_x log p(x); a diffusion model's noise prediction is a "
         "scaled score.", "08_vector_fields", ("得分函数", "评分函数")),
    Term("score matching", "分数匹配",
         "Fitting a network to the score of the data without knowing the density, for instance by "
         "denoising noisy samples.", "08_vector_fields", ("得分匹配",)),
    Term("flow matching", "流匹配",
         "Training a velocity field by regression on the derivative of a chosen path from noise to "
         "data; sampling integrates the field.", "08_vector_fields"),
    Term("guidance", "引导",
         "Steering a conditional diffusion or flow model towards its condition at sampling time, "
         "trading diversity for fidelity.", "08_vector_fields"),
    Term("classifier-free guidance", "无分类器引导",
         "Guidance that extrapolates from the unconditional towards the conditional prediction of one "
         "network trained both ways (Ho and Salimans 2022).", "08_vector_fields"),
    Term("latent diffusion model", "潜在扩散模型",
         "A diffusion model that works in the latent space of a pretrained autoencoder (Rombach et al. "
         "2022).", "08_vector_fields", ("隐扩散模型",)),
    Term("attention mechanism", "注意力机制",
         "A layer in which each position forms a weighted average of all positions, with weights "
         "computed from their similarity (queries and keys).", "09_language_models", ("自注意力",)),
    Term("Transformer", "Transformer模型",
         "A network built from attention and feed-forward layers (Vaswani et al. 2017); the model "
         "behind today's language models.", "09_language_models", ("变换器",)),
    # --- practice (10) ---------------------------------------------------------------------
    Term("overfitting", "过拟合",
         "Fitting the training data so closely that new data are modelled worse; for a generative "
         "model, memorising training examples.", "10_faq_glossary"),
    Term("generalization", "泛化",
         "How well a model does on data it was not trained on.", "10_faq_glossary"),
)
"""All glossary entries, grouped by the notebook that teaches them."""


def _normalise(text: str) -> str:
    return " ".join(text.replace("-", " ").split()).casefold()


def _keys(term: Term) -> list[str]:
    """Every string that finds ``term``: English (with and without the abbreviation),
    the abbreviation alone, the Chinese term and its variants."""
    keys = [term.english, term.chinese, *term.variants]
    if "(" in term.english:  # "evidence lower bound (ELBO)" -> also "evidence lower bound", "ELBO"
        before, _, rest = term.english.partition("(")
        inside, _, after = rest.partition(")")
        keys += [before + after, inside + after]
    return [_normalise(k) for k in keys]


def _check_query(name: str, value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string (an English or Chinese term), got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def lookup(term: str) -> Term:
    """The entry whose English or Chinese name (or a variant, or the abbreviation) is ``term``.

    Matching ignores case, hyphens and extra spaces: ``lookup("elbo")``, ``lookup("证据下界")``
    and ``lookup("模式坍塌")`` all work. Raises ``KeyError`` naming close matches when
    nothing matches.
    """
    _check_query("term", term)
    wanted = _normalise(term)
    for entry in TERMS:
        if wanted in _keys(entry):
            return entry
    every_key = [k for entry in TERMS for k in _keys(entry)]
    close = difflib.get_close_matches(wanted, every_key, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise KeyError(f"no glossary entry for {term!r}{hint} (search() finds partial matches)")


def search(text: str) -> list[Term]:
    """Entries whose English, Chinese, variants or definition contain ``text`` (case-insensitive)."""
    _check_query("text", text)
    wanted = _normalise(text)
    found = []
    for entry in TERMS:
        haystack = _normalise(" ".join([entry.english, entry.chinese, *entry.variants, entry.definition]))
        if wanted in haystack:
            found.append(entry)
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a pipe would end a markdown table cell


def to_markdown(terms: Iterable[Term] | None = None, *, link: bool = True) -> str:
    """A markdown table: English | 中文 | meaning | where it is taught.

    Args:
      terms: entries to show (default: all of :data:`TERMS`, in course order).
      link: link the notebook column to ``NN_name.ipynb``.
    """
    terms = TERMS if terms is None else tuple(terms)
    if not isinstance(link, bool):
        raise TypeError(f"link must be True or False, got {link!r}")
    for i, entry in enumerate(terms):
        if not isinstance(entry, Term):
            raise TypeError(f"terms[{i}] must be a glossary Term, got {type(entry).__name__}")
    lines = ["| English | 中文 | Meaning | Taught in |", "|---|---|---|---|"]
    for entry in terms:
        chinese = entry.chinese + (f" ({', '.join(entry.variants)})" if entry.variants else "")
        where = NOTEBOOKS[entry.notebook]
        if link:
            where = f"[{where}]({entry.notebook}.ipynb)"
        lines.append(f"| {_cell(entry.english)} | {_cell(chinese)} | {_cell(entry.definition)} | {where} |")
    return "\n".join(lines)


__all__ = ["TERMS", "Term", "lookup", "search", "to_markdown"]
