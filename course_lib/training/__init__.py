"""Training: optimizers, compiled (trace-counted) steps, scan-fused loops, history,
progress bars and the divergence guard; VAE and GAN trainers."""
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

__all__ = ["OPTIMIZERS", "CompiledStep", "DivergenceError", "History", "check_finite",
           "make_optimizer", "GANState", "GANSteps", "init_gan_state", "make_gan_steps",
           "train_gan", "VAESteps", "evaluate_vae", "make_vae_steps", "train_vae"]

