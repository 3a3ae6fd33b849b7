"""Training: optimizers, compiled (trace-counted) steps, scan-fused loops, history,
progress bars and the divergence guard; VAE and GAN trainers.

Importing this package turns on JAX's persistent compilation cache in the user's cache
directory (course_lib/compile_cache.py; ``COURSE_LIB_COMPILATION_CACHE=0`` turns it off),
so that a notebook run a second time does not compile its training steps again."""
from course_lib.compile_cache import enable_by_default as _enable_compilation_cache
from course_lib.training.core import (
    OPTIMIZERS,
    CompiledStep,
    DivergenceError,
    History,
    check_finite,
    make_optimizer,
)
from course_lib.training.gan import GANState, GANSteps, init_gan_state, make_gan_steps, train_gan
from course_lib.training.vae import VAESteps, evaluate_vae, make_vae_steps, train_vae

_enable_compilation_cache()

__all__ = ["OPTIMIZERS", "CompiledStep", "DivergenceError", "History", "check_finite",
           "make_optimizer", "GANState", "GANSteps", "init_gan_state", "make_gan_steps",
           "train_gan", "VAESteps", "evaluate_vae", "make_vae_steps", "train_vae"]

