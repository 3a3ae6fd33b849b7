"""Flax NNX models: MLP, VAE (encoder/decoder), GAN generator and discriminator."""
from course_lib.models.gan import Discriminator, Generator
from course_lib.models.mlp import ACTIVATIONS, MLP, count_params
from course_lib.models.vae import LIKELIHOODS, VAE, Decoder, Encoder

__all__ = ["ACTIVATIONS", "MLP", "count_params", "VAE", "Encoder", "Decoder", "LIKELIHOODS",
           "Generator", "Discriminator"]
