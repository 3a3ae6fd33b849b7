"""One learned vector field: scores, diffusion and flow matching (08_vector_fields.ipynb).

- :mod:`~course_lib.fields.paths`: Gaussian probability paths x_t = alpha_t x_0 + sigma_t eps
  (variance-preserving diffusion, linear / rectified flow) and the conversions between a
  velocity, a score, a noise prediction and a data prediction.
- :mod:`~course_lib.fields.gmm`: the exact score and marginal velocity of a Gaussian mixture
  pushed along a path (the references every trained network is checked against).
- :mod:`~course_lib.fields.losses`: denoising score matching and conditional flow matching.
- :mod:`~course_lib.fields.samplers`: Euler, Heun, DDIM, ancestral, Langevin, annealed Langevin.
- :mod:`~course_lib.fields.likelihood`: log-likelihood through the probability-flow ODE with the
  exact divergence.
- :mod:`~course_lib.fields.guidance`: classifier-free guidance.

Time convention everywhere: t = 0 is the data, t = 1 is the noise; sampling runs t from 1 to 0.
"""
from course_lib.fields.paths import PATHS, GaussianPath, get_path  # noqa: F401
