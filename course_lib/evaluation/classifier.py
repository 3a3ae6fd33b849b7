"""A small MLP digit classifier whose hidden layer provides features for sample-quality metrics.

Taught in 05_gan.ipynb ("A GAN on digits: how good are the samples?"); trained by
``python scripts/train_digit_classifier.py`` into ``data/checkpoints/classifier_<dataset>``.
FID measures images in the feature space of an ImageNet classifier; on 8x8 digits a
two-layer MLP trained on the digits themselves plays that role:

    features(x) = act(MLP(x))        (B, D) -> (B, F)
    logits(x)   = W features(x) + b  (B, F) -> (B, 10)

Inputs are pixel intensities in [0, 1], the same convention as the GAN's samples.
"""
from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from course_lib import _validate, checkpoints, paths
from course_lib.models.mlp import ACTIVATIONS, MLP, check_sizes
from course_lib.models.registry import build_from_config, register
from course_lib.training.core import CompiledStep, History, check_finite, make_optimizer


CLASSIFIER_CONFIGS = {
    "digits": {"model": "DigitClassifier", "in_dim": 64, "hidden": [256, 128], "num_classes": 10,
               "activation": "relu"},
    "mnist5k": {"model": "DigitClassifier", "in_dim": 784, "hidden": [256, 128], "num_classes": 10,
                "activation": "relu"},
}
"""The architecture of the pretrained classifier of each dataset."""

TRAIN_COMMAND = "python scripts/train_digit_classifier.py --dataset {dataset}"


@register
class DigitClassifier(nnx.Module):
    """x (B, in_dim) in [0, 1] -> logits (B, num_classes); ``features`` gives the hidden layer."""

    def __init__(self, in_dim: int = 64, hidden: Sequence[int] = (256, 128), num_classes: int = 10, *,
                 activation: str = "relu", rngs: nnx.Rngs):
        self.in_dim = _validate.positive_int("in_dim", in_dim)
        self.hidden = check_sizes("hidden", hidden)
        if not self.hidden:
            raise ValueError("hidden must have at least one layer width (the feature layer)")
        self.num_classes = _validate.positive_int("num_classes", num_classes, minimum=2)
        self.activation = _validate.one_of("activation", activation, ACTIVATIONS)
        self.body = MLP((self.in_dim, *self.hidden), activation=activation, rngs=rngs)
        self.head = nnx.Linear(self.hidden[-1], self.num_classes, rngs=rngs)

    @property
    def config(self) -> dict:
        return {"model": "DigitClassifier", "in_dim": self.in_dim, "hidden": list(self.hidden),
                "num_classes": self.num_classes, "activation": self.activation}

    @classmethod
    def from_config(cls, config: dict, *, rngs: nnx.Rngs | None = None) -> DigitClassifier:
        """Rebuild the architecture from :attr:`config` (fresh weights; ``rngs`` defaults to seed 0)."""
        return build_from_config(cls, config, rngs)

    @property
    def num_features(self) -> int:
        return self.hidden[-1]

    def features(self, x):
        """(B, in_dim) -> (B, F): the last hidden layer, after its activation."""
        return ACTIVATIONS[self.activation](self.body(x))

    def __call__(self, x):
        return self.head(self.features(x))


def _check_images(name, x, model):
    _validate.array(name, x, ndim=2, shape=(None, model.in_dim), dtype_kind="number")
    return jnp.asarray(x, jnp.float32)


def classifier_features(model: DigitClassifier, x, *, batch_size: int = 1000) -> np.ndarray:
    """Features (N, F) of images x (N, in_dim) in [0, 1], computed in batches."""
    if not isinstance(model, DigitClassifier):
        raise TypeError(f"model must be a DigitClassifier, got {type(model).__name__}")
    x = _check_images("x", x, model)
    batch_size = _validate.positive_int("batch_size", batch_size)
    graphdef, params = nnx.split(model, nnx.Param)
    fn = _features_fn(graphdef)
    return np.concatenate([np.asarray(fn(params, x[i:i + batch_size])) for i in range(0, x.shape[0], batch_size)])


_FEATURE_FNS: dict = {}


def _features_fn(graphdef):
    fn = _FEATURE_FNS.get(graphdef)
    if fn is None:
        fn = jax.jit(lambda params, x: nnx.merge(graphdef, params).features(x))
        _FEATURE_FNS[graphdef] = fn
    return fn


def accuracy(model: DigitClassifier, x, y) -> float:
    """Fraction of images whose most likely class is the label y (N,)."""
    if not isinstance(model, DigitClassifier):
        raise TypeError(f"model must be a DigitClassifier, got {type(model).__name__}")
    x = _check_images("x", x, model)
    _validate.array("y", y, ndim=1, shape=(x.shape[0],), dtype_kind="int")
    return float(np.mean(np.argmax(np.asarray(model(x)), axis=1) == np.asarray(y)))


def train_classifier(model: DigitClassifier, x, y, *, key, num_epochs: int = 60, batch_size: int = 100,
                     lr: float = 1e-3, noise_std: float = 0.1, weight_decay: float = 1e-4) -> History:
    """Fit ``model`` in place with cross-entropy; each epoch is one compiled ``lax.scan``.

    ``noise_std`` adds Gaussian pixel noise to each batch (clipped to [0, 1]), so that the
    features also behave sensibly on imperfect, generated images.

    Returns:
      History with the mean ``loss`` and ``accuracy`` of each epoch.
    """
    if not isinstance(model, DigitClassifier):
        raise TypeError(f"model must be a DigitClassifier, got {type(model).__name__}")
    _validate.prng_key("key", key)
    x = _check_images("x", x, model)
    _validate.array("y", y, ndim=1, shape=(x.shape[0],), dtype_kind="int")
    num_epochs = _validate.positive_int("num_epochs", num_epochs)
    batch_size = _validate.positive_int("batch_size", batch_size)
    noise_std = _validate.positive_float("noise_std", noise_std, allow_zero=True)
    weight_decay = _validate.positive_float("weight_decay", weight_decay, allow_zero=True)
    if batch_size > x.shape[0]:
        raise ValueError(f"batch_size ({batch_size}) is larger than the dataset ({x.shape[0]} examples)")
    y = jnp.asarray(y, jnp.int32)
    tx = make_optimizer("adamw", lr, weight_decay=weight_decay)
    graphdef, params = nnx.split(model, nnx.Param)
    opt_state = tx.init(params)
    n = x.shape[0] // batch_size

    def loss_fn(p, xb, yb):
        logits = nnx.merge(graphdef, p)(xb)
        loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, yb))
        return loss, jnp.mean(jnp.argmax(logits, 1) == yb)

    def epoch(params, opt_state, key):
        k_perm, k_noise = jax.random.split(key)
        perm = jax.random.permutation(k_perm, x.shape[0])[: n * batch_size].reshape(n, batch_size)

        def body(carry, inputs):
            p, o = carry
            idx, k = inputs
            xb = jnp.clip(x[idx] + noise_std * jax.random.normal(k, (batch_size, x.shape[1])), 0.0, 1.0)
            (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, xb, y[idx])
            updates, o = tx.update(grads, o, p)
            return (optax.apply_updates(p, updates), o), {"loss": loss, "accuracy": acc}

        (params, opt_state), metrics = jax.lax.scan(body, (params, opt_state),
                                                    (perm, jax.random.split(k_noise, n)))
        return params, opt_state, {k: jnp.mean(v) for k, v in metrics.items()}

    step = CompiledStep(epoch, name="classifier_epoch")
    history = History()
    try:
        for i in range(num_epochs):
            new_params, new_opt, metrics = step(params, opt_state, jax.random.fold_in(key, i))
            check_finite(metrics, where=f"classifier training, epoch {i + 1}", hint=f"a smaller lr (lr={lr})")
            params, opt_state = new_params, new_opt
            history.append(metrics)
    finally:
        nnx.update(model, params)
    return history


def classifier_path(dataset: str = "digits"):
    """Where the pretrained classifier of ``dataset`` lives: ``pretrained.path("classifier_<dataset>")``."""
    _validate.one_of("dataset", dataset, CLASSIFIER_CONFIGS)
    return paths.checkpoint_dir() / f"classifier_{dataset}{checkpoints.SUFFIX}"


def build_classifier(dataset: str = "digits", seed: int = 0) -> DigitClassifier:
    """A fresh (untrained) classifier with the architecture of :data:`CLASSIFIER_CONFIGS`."""
    _validate.one_of("dataset", dataset, CLASSIFIER_CONFIGS)
    seed = _validate.positive_int("seed", seed, minimum=0)
    cfg = CLASSIFIER_CONFIGS[dataset]
    return DigitClassifier(cfg["in_dim"], tuple(cfg["hidden"]), cfg["num_classes"], activation=cfg["activation"],
                           rngs=nnx.Rngs(params=seed))


def load_classifier(dataset: str = "digits") -> tuple[DigitClassifier, dict]:
    """The pretrained classifier of ``dataset`` and its checkpoint manifest.

    Raises FileNotFoundError (with the command that creates it) if the checkpoint is missing,
    and CheckpointError if it holds another architecture than :data:`CLASSIFIER_CONFIGS`.
    """
    path = classifier_path(dataset)
    if not path.is_file():
        raise FileNotFoundError(f"no pretrained classifier at {path.name!r} in the checkpoint folder; "
                                f"create it with: {TRAIN_COMMAND.format(dataset=dataset)}")
    return checkpoints.load_model(path, expected_config=CLASSIFIER_CONFIGS[dataset])
