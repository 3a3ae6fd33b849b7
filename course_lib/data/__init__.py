"""Data for the course: 2-D toy distributions and offline image datasets.

Nothing here downloads; the optional full-MNIST downloader lives in
:mod:`course_lib.data.download` and is never called by tests or default runs.
"""
from course_lib.data.images import (
    DATASETS,
    ImageSplit,
    binarize,
    load_digits,
    load_images,
    load_mnist5k,
    load_vae_data,
    to_unit_interval,
)
from course_lib.data.toy import (
    DEFAULTS as TOY_DEFAULTS,
    TOY_NAMES,
    GaussianMixture,
    has_density,
    sample_toy,
    toy_log_density,
    toy_mixture,
)
from course_lib.data.batching import iterate_minibatches, num_batches

__all__ = [
    "DATASETS", "ImageSplit", "binarize", "load_digits", "load_images", "load_mnist5k", "load_vae_data",
    "to_unit_interval", "TOY_DEFAULTS", "TOY_NAMES", "GaussianMixture", "has_density",
    "sample_toy", "toy_log_density", "toy_mixture", "iterate_minibatches", "num_batches",
]
