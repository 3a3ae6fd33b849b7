"""Course content: what exists because a notebook teaches it, apart from the library's infrastructure.

- ``lessons.glossary``: the bilingual glossary (10)
- ``lessons.timeline``: milestones of generative modelling (01)
- ``lessons.quiz``: the self-check quiz's questions (10; the checker is ``exercises.ch10_quiz``)
- ``lessons.walkthrough``: the article's program, re-created and repaired (06)
- ``lessons.families``: miniature models of the five families (01)
- ``lessons.games``: gradient play on the bilinear game and the Dirac GAN (03, 05)
- ``lessons.surfaces``: 2-D loss surfaces for the optimizer explorer (03)
- ``lessons.distributions``: 1-D distributions, divergences and EM (02)
- ``lessons.gradient_estimators``: score-function and reparameterisation gradients (03)

Import a lesson module by name (``from course_lib.lessons import glossary``); this package
itself holds only :data:`NOTEBOOKS`.
"""

NOTEBOOKS = {
    "00_start_here": "00 Start here",
    "01_concepts": "01 Concepts",
    "02_probability": "02 Probability",
    "03_gradient_descent": "03 Gradient descent",
    "04_vae": "04 The VAE",
    "05_gan": "05 The GAN",
    "06_code_walkthrough": "06 Code walkthrough",
    "07_beyond": "07 Beyond VAEs and GANs",
    "08_vector_fields": "08 Score matching, diffusion and flow matching",
    "09_language_models": "09 Language models",
    "10_faq_glossary": "10 FAQ and glossary",
}
"""The course's notebooks: file stem (without .ipynb) -> short title."""

__all__ = ["NOTEBOOKS"]
