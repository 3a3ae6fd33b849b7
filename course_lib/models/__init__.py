"""Flax NNX models: MLP, VAE (encoder/decoder), GAN players; flows, MADE and the DDPM noise model live in
models.flow, models.autoregressive and models.diffusion. models.registry maps config["model"] to a class."""
from course_lib.models.gan import Discriminator, Generator, ToyGenerator
from course_lib.models.mlp import ACTIVATIONS, MLP, count_params
from course_lib.models.vae import LIKELIHOODS, VAE, Decoder, Encoder

__all__ = ["ACTIVATIONS", "MLP", "count_params", "VAE", "Encoder", "Decoder", "LIKELIHOODS",
           "Generator", "ToyGenerator", "Discriminator"]
