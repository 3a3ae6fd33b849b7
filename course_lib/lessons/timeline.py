"""A dated timeline of deep generative models, with the paper behind each date.

Taught in 01_concepts.ipynb ("A short, corrected history"). The year is the year the
work first appeared publicly (preprint or conference); where a journal or conference
version came later, the note says so. Each family's earliest entries are precursors or
first papers as far as the surveys cited in 01 record them (Papamakarios et al. 2021, JMLR,
section 1 for flows); the well-known landmarks follow.
"""
from __future__ import annotations

from typing import NamedTuple

from matplotlib.figure import Figure

from course_lib import _validate


class Milestone(NamedTuple):
    year: int
    family: str  # one of FAMILY_COLORS
    name: str
    reference: str


FAMILY_COLORS = {
    "energy-based": "C0",
    "latent variable / VAE": "C1",
    "autoregressive": "C2",
    "GAN": "C3",
    "flow": "C4",
    "diffusion": "C5",
    "hybrid": "C7",  # undirected on top, directed below (the deep belief network)
}

TIMELINE: tuple[Milestone, ...] = (
    Milestone(1983, "energy-based", "Boltzmann machine, first presented",
              "Hinton & Sejnowski, Optimal perceptual inference, CVPR 1983"),
    Milestone(1985, "energy-based", "Boltzmann machine",
              "Ackley, Hinton & Sejnowski, A learning algorithm for Boltzmann machines, Cognitive Science 1985"),
    Milestone(1986, "energy-based", "Restricted Boltzmann machine ('harmonium')",
              "Smolensky, in Parallel Distributed Processing, vol. 1, 1986"),
    Milestone(1992, "autoregressive", "Fully visible sigmoid belief network",
              "Neal, Connectionist learning of belief networks, Artificial Intelligence 1992"),
    Milestone(1995, "latent variable / VAE", "Helmholtz machine (wake-sleep)",
              "Dayan, Hinton, Neal & Zemel, The Helmholtz machine, Neural Computation 1995"),
    Milestone(1999, "autoregressive", "Neural-network autoregressive model",
              "Bengio & Bengio, Modeling high-dimensional discrete data with multi-layer neural networks, "
              "NIPS 1999 (proceedings 2000)"),
    Milestone(2000, "flow", "Gaussianization",
              "Chen & Gopinath, Gaussianization, NIPS 2000"),
    Milestone(2005, "energy-based", "Score matching",
              "Hyvarinen, Estimation of non-normalized statistical models by score matching, JMLR 2005"),
    Milestone(2006, "hybrid", "Deep belief network",
              "Hinton, Osindero & Teh, A fast learning algorithm for deep belief nets, Neural Computation 2006 "
              "(an undirected RBM on top of a directed sigmoid belief net)"),
    Milestone(2010, "energy-based", "Noise-contrastive estimation",
              "Gutmann & Hyvarinen, Noise-contrastive estimation: a new estimation principle for unnormalized "
              "statistical models, AISTATS 2010"),
    Milestone(2010, "flow", "Density estimation by a flow of maps",
              "Tabak & Vanden-Eijnden, Density estimation by dual ascent of the log-likelihood, "
              "Communications in Mathematical Sciences 2010"),
    Milestone(2011, "autoregressive", "NADE",
              "Larochelle & Murray, The neural autoregressive distribution estimator, AISTATS 2011"),
    Milestone(2013, "flow", "Normalizing flows named; deep density models",
              "Tabak & Turner, A family of nonparametric density estimation algorithms, CPAM 2013; "
              "Rippel & Adams, High-dimensional probability estimation with deep density models, arXiv 2013"),
    Milestone(2013, "latent variable / VAE", "Variational autoencoder",
              "Kingma & Welling, Auto-encoding variational Bayes, arXiv Dec 2013 (ICLR 2014); "
              "independently Rezende, Mohamed & Wierstra, ICML 2014"),
    Milestone(2014, "GAN", "Generative adversarial network",
              "Goodfellow et al., Generative adversarial nets, NIPS 2014 (the conference was renamed NeurIPS in 2018)"),
    Milestone(2014, "flow", "NICE",
              "Dinh, Krueger & Bengio, NICE: non-linear independent components estimation, arXiv 2014 (ICLR 2015 workshop)"),
    Milestone(2015, "autoregressive", "MADE",
              "Germain, Gregor, Murray & Larochelle, MADE: masked autoencoder for distribution estimation, ICML 2015"),
    Milestone(2015, "flow", "Normalizing flows for variational inference",
              "Rezende & Mohamed, Variational inference with normalizing flows, ICML 2015"),
    Milestone(2015, "diffusion", "Diffusion probabilistic model",
              "Sohl-Dickstein, Weiss, Maheswaranathan & Ganguli, Deep unsupervised learning using "
              "nonequilibrium thermodynamics, ICML 2015"),
    Milestone(2016, "autoregressive", "PixelRNN / PixelCNN",
              "van den Oord, Kalchbrenner & Kavukcuoglu, Pixel recurrent neural networks, ICML 2016"),
    Milestone(2016, "flow", "RealNVP",
              "Dinh, Sohl-Dickstein & Bengio, Density estimation using Real NVP, arXiv 2016 (ICLR 2017)"),
    Milestone(2019, "diffusion", "Score-based generative model (NCSN)",
              "Song & Ermon, Generative modeling by estimating gradients of the data distribution, NeurIPS 2019"),
    Milestone(2020, "diffusion", "DDPM",
              "Ho, Jain & Abbeel, Denoising diffusion probabilistic models, NeurIPS 2020"),
)
"""Milestones in chronological order."""


def first_year(family: str) -> int:
    """The year of the earliest milestone of ``family`` in :data:`TIMELINE`."""
    _validate.one_of("family", family, FAMILY_COLORS)
    return min(m.year for m in TIMELINE if m.family == family)


def timeline_figure(milestones=TIMELINE) -> Figure:
    """A horizontal timeline: one labelled dot per milestone, coloured by family."""
    if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
        raise TypeError(f"milestones must be a list of Milestone, got {type(milestones).__name__}")
    milestones = list(milestones)
    for i, m in enumerate(milestones):
        _validate.instance(f"milestones[{i}]", m, Milestone)
        _validate.one_of(f"milestones[{i}].family", m.family, FAMILY_COLORS)
        _validate.int_in_range(f"milestones[{i}].year", m.year, 1900, 2100)
    fig = Figure(figsize=(9.0, 0.3 * len(milestones) + 1.0), layout="constrained")
    ax = fig.subplots()
    for i, m in enumerate(milestones):
        ax.scatter([m.year], [i], color=FAMILY_COLORS[m.family], s=40, zorder=3)
        ax.annotate(f"{m.year}  {m.name}", (m.year, i), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=8)
    for family, color in FAMILY_COLORS.items():
        ax.scatter([], [], color=color, label=family)
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.set_xlim(1982, 2032)
    ax.set_xlabel("year first published")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    ax.set_title("Deep generative models: milestones (GANs date from 2014, not the 1980s)", fontsize=10)
    return fig


__all__ = ["Milestone", "TIMELINE", "FAMILY_COLORS", "first_year", "timeline_figure"]
