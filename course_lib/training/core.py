"""Training machinery shared by every model: optimizers, compiled steps, history,
progress and the divergence guard.

Taught in 03_gradient_descent.ipynb (optimizers, jit) and used in 04-08.

Design: a model is split once into ``graphdef`` (static structure) and ``params``
(a pytree of arrays). Each step is a pure function of ``(params, opt_state, batch,
key)`` compiled once with ``jax.jit``; whole epochs are fused with ``jax.lax.scan``
so Python runs once per epoch, not once per step. :class:`CompiledStep` counts how
often its function was traced, so a test can prove it compiled exactly once.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax

from course_lib import _validate

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")


class DivergenceError(FloatingPointError):
    """Raised when a training run produced NaN or infinity; the message says what and what to try."""


def make_optimizer(name: str = "adam", lr: float | Callable | jax.Array = 1e-3, *, dynamic_lr: bool = False,
                   **kwargs) -> optax.GradientTransformation:
    """An optax optimizer by name.

    - ``sgd``: theta <- theta - lr * g
    - ``momentum``: v <- 0.9 v + g; theta <- theta - lr * v
    - ``nesterov``: momentum with the look-ahead gradient
    - ``rmsprop``, ``adam``, ``adamw``: adaptive per-parameter step sizes   (03_gradient_descent)

    ``lr`` is a positive number, an optax schedule (a function of the step count) or a JAX
    array (e.g. a traced scalar inside a compiled function, not checked). With
    ``dynamic_lr=True`` the optimizer is wrapped in ``optax.inject_hyperparams``: the learning
    rate is part of its state and :func:`set_learning_rate` changes it inside a compiled step
    without recompiling (the GAN lab's sliders). Extra keyword arguments go to the optax
    constructor (e.g. ``b1=0.5`` for GANs).
    """
    _validate.one_of("optimizer", name, OPTIMIZERS)
    lr = lr if callable(lr) or isinstance(lr, jax.Array) else _validate.positive_float("lr", lr)
    if dynamic_lr:  # the learning rate lives in the optimizer state, see set_learning_rate
        return optax.inject_hyperparams(lambda learning_rate: make_optimizer(name, learning_rate, **kwargs))(
            learning_rate=lr)
    if name == "sgd":
        return optax.sgd(lr, **kwargs)
    if name == "momentum":
        return optax.sgd(lr, momentum=kwargs.pop("momentum", 0.9), **kwargs)
    if name == "nesterov":
        return optax.sgd(lr, momentum=kwargs.pop("momentum", 0.9), nesterov=True, **kwargs)
    if name == "rmsprop":
        return optax.rmsprop(lr, **kwargs)
    if name == "adamw":
        return optax.adamw(lr, **kwargs)
    return optax.adam(lr, **kwargs)



def set_learning_rate(opt_state, lr):
    """The state of a ``make_optimizer(..., dynamic_lr=True)`` optimizer with its learning rate set to ``lr``."""
    return opt_state._replace(hyperparams={**opt_state.hyperparams, "learning_rate": lr})

CPU_COMPILER_OPTIONS = {"xla_cpu_copy_insertion_use_region_analysis": True}
"""XLA options for every :class:`CompiledStep` on CPU.

Region-based copy insertion lets a ``lax.scan`` over training steps update the parameters
in place: without it, XLA copies the five weight matrices that the backward pass still
reads (3.8 MB per step of the MNIST VAE). Measured: +3% VAE steps/s, identical results
(benchmarks/README.md, "What we learned"). Not used where this jaxlib lacks the option.
"""


@functools.cache
def compiler_options() -> dict | None:
    """:data:`CPU_COMPILER_OPTIONS` when JAX runs on CPU and knows them, else None."""
    try:
        if jax.default_backend() != "cpu":
            return None
        jax.jit(lambda v: v + 1, compiler_options=CPU_COMPILER_OPTIONS).lower(1.0).compile()
    except Exception:  # noqa: BLE001 - an older jaxlib without the option: compile as usual
        return None
    return dict(CPU_COMPILER_OPTIONS)


class CompiledStep:
    """A ``jax.jit``-compiled function that counts its traces.

    ``num_traces`` goes up each time JAX traces (and so compiles) the function:
    with fixed shapes and dtypes it must stay at 1 however many times it runs.
    On CPU it is compiled with :data:`CPU_COMPILER_OPTIONS`.
    """

    def __init__(self, fn: Callable, *, name: str, donate_argnums=(), static_argnums=()):
        _validate.callable_("fn", fn)
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__}")
        self.name = name
        self.num_traces = 0

        def traced(*args):
            self.num_traces += 1
            return fn(*args)

        self._jitted = jax.jit(traced, donate_argnums=donate_argnums, static_argnums=static_argnums,
                               compiler_options=compiler_options())

    def __call__(self, *args):
        return self._jitted(*args)

    def __repr__(self) -> str:
        return f"CompiledStep({self.name!r}, num_traces={self.num_traces})"


class History:
    """Metrics recorded during training: ``history["loss"]`` is a 1-D numpy array.

    ``append`` takes a dict of scalars or of equal-length arrays (e.g. the stacked
    metrics of a scan-fused epoch) and a ``step`` axis is kept alongside.
    """

    def __init__(self):
        self._data: dict[str, list[np.ndarray]] = {}
        self._steps: list[np.ndarray] = []
        self._count = 0

    def append(self, metrics: Mapping, *, step_increment: int = 1) -> None:
        _validate.instance("metrics", metrics, Mapping, "a dict of metric name -> number or array")
        step_increment = _validate.positive_int("step_increment", step_increment)
        try:
            arrays = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in metrics.items()}
        except (TypeError, ValueError):
            raise TypeError(f"metrics must map names to numbers or numeric arrays, got "
                            f"{ {k: type(v).__name__ for k, v in metrics.items()} }") from None
        if not arrays or any(a.ndim != 1 for a in arrays.values()):
            raise ValueError(f"metrics must be a non-empty dict of scalars or 1-D arrays, got "
                             f"{ {k: a.shape for k, a in arrays.items()} }")
        lengths = {a.shape[0] for a in arrays.values()}
        if len(lengths) != 1:
            raise ValueError(f"metrics must all have the same length, got { {k: a.shape for k, a in arrays.items()} }")
        n = lengths.pop()
        for key, value in arrays.items():
            self._data.setdefault(key, []).append(value)
        self._steps.append(self._count + step_increment * np.arange(1, n + 1))
        self._count += step_increment * n

    def __getitem__(self, key: str) -> np.ndarray:
        if key == "step":
            return np.concatenate(self._steps) if self._steps else np.zeros(0)
        if key not in self._data:
            raise KeyError(f"no metric {key!r} in history; recorded: {sorted(self._data)}")
        return np.concatenate(self._data[key])

    def __contains__(self, key) -> bool:
        return key in self._data or key == "step"

    def keys(self):
        return sorted(self._data)

    def __len__(self) -> int:
        return int(sum(len(s) for s in self._steps))

    def last(self) -> dict:
        """The most recent value of each metric."""
        return {k: float(self[k][-1]) for k in self.keys()}

    def __repr__(self) -> str:
        return f"History({len(self)} entries: {', '.join(self.keys())})"


def check_finite(metrics: Mapping, *, where: str, hint: str) -> None:
    """Raise :class:`DivergenceError` if any metric is NaN or infinite.

    Args:
      metrics: dict of arrays (e.g. the stacked metrics of an epoch).
      where: what was being trained, e.g. ``"VAE epoch 3"``.
      hint: what to try, e.g. ``"lower lr"``.
    """
    _validate.instance("metrics", metrics, Mapping, "a dict of metric name -> array")
    for name, text in (("where", where), ("hint", hint)):
        if not isinstance(text, str):
            raise TypeError(f"{name} must be a string, got {type(text).__name__}")
    bad = []
    for key, value in metrics.items():
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"metrics[{key!r}] must be a number or numeric array, got {type(value).__name__}") from None
        if not np.all(np.isfinite(arr)):
            first = int(np.flatnonzero(~np.isfinite(arr.ravel()))[0]) if arr.size else 0
            bad.append(f"{key} (first non-finite value at position {first})")
    if bad:
        raise DivergenceError(
            f"training diverged during {where}: {', '.join(bad)} became NaN or infinite. "
            f"Try: {hint}"
        )


def progress_bar(total: int, *, desc: str, enabled: bool):
    """A tqdm progress bar (a widget in notebooks), or a no-op when disabled."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def tree_is_finite(tree) -> jax.Array:
    """A scalar bool: True when every leaf of ``tree`` is finite (usable inside jit)."""
    leaves = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def should_show_progress(progress, expected_seconds: float) -> bool:
    """Resolve ``progress=None`` to "show it when the run is expected to last > 2 s"."""
    if progress is None:
        return expected_seconds > 2.0
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    return progress


def kl_warmup_weight(epoch: int, warmup_epochs: int) -> float:
    """Linear KL warm-up weight for epoch ``epoch`` (0-based): min(1, (epoch + 1) / warmup_epochs)."""
    if warmup_epochs <= 0:
        return 1.0
    return min(1.0, (epoch + 1) / warmup_epochs)


def mean_metrics(metrics: Mapping) -> dict:
    """Average each stacked metric over its leading (step) axis."""
    return {k: float(np.mean(np.asarray(v))) for k, v in metrics.items()}
