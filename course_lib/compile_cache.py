"""JAX's persistent compilation cache, kept in a per-user cache directory.

Compiling a training step takes about a second on a laptop CPU, and every re-run of
a notebook compiles the same functions again. JAX can write each compiled program
to disk and load it the next time the same program (same shapes, same JAX version,
same flags) is compiled: the *persistent compilation cache*. This module turns it
on in a directory of the user's cache, never in the repository:

    $XDG_CACHE_HOME/course_lib/jax/<machine>     (XDG_CACHE_HOME defaults to ~/.cache)

``<machine>`` is a short fingerprint of the CPU (model name and instruction-set
flags): a cache entry is native code for the CPU that compiled it, so two machines
sharing a home directory must not share entries.

It is on by default: importing :mod:`course_lib.training` calls
:func:`enable_by_default`. Setting ``COURSE_LIB_COMPILATION_CACHE=0`` in the environment
turns it off. A directory chosen by the user for JAX (``JAX_COMPILATION_CACHE_DIR``) is
respected. The saving is measured by ``python -m benchmarks`` (benchmarks/README.md,
"Course execution"). To empty the cache, delete the directory.

Safe with several processes at once (two notebooks, or a notebook and the tests): JAX
writes each entry once, under a name that is a hash of the program, and a reader that
meets a half-written entry (or any unreadable one) compiles the program instead. JAX
reports such a failed read or write as a warning; it only means a recompilation, so
those warnings are silenced here and never land on a notebook's stderr. The cache is not
size-bounded: JAX's bounded mode needs every entry to carry a last-access file and fails
on entries written without one (for example by another JAX version sharing the
directory); the course's programs take tens of megabytes. Enabling the cache can never
make an import fail.

The cache is trusted code: anyone who can write to it can make this user's JAX
process run arbitrary code, so the directory is created readable by its owner only.
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import platform
import warnings

import jax

from course_lib import _validate

ENV_SWITCH = "COURSE_LIB_COMPILATION_CACHE"
"""Environment variable: ``0``, ``off``, ``false`` or ``no`` disables the cache."""

DEFAULT_MIN_COMPILE_TIME_SECS = 0.3
"""Only programs that took at least this long to compile are written to disk.

JAX's own default is 1 s, which on a fast machine skips most of the course's training
steps and samplers (0.3-1.5 s each); reading an entry back takes milliseconds, while
programs that compile in a few milliseconds are not worth a file.
"""

def machine_fingerprint() -> str:
    """A short hex tag of this CPU (architecture, model name, instruction-set flags)."""
    parts = [platform.machine(), platform.system()]
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("model name", "flags", "Features", "CPU part")):
                    parts.append(line.strip())
                if len(parts) >= 6:
                    break
    except OSError:  # not Linux: the processor string is the best we have
        parts.append(platform.processor())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def default_cache_dir() -> pathlib.Path:
    """``$XDG_CACHE_HOME/course_lib/jax/<machine>`` (XDG_CACHE_HOME defaults to ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(pathlib.Path.home() / ".cache")
    return pathlib.Path(base).expanduser() / "course_lib" / "jax" / machine_fingerprint()


def compilation_cache_dir() -> str | None:
    """The persistent cache directory JAX uses now, or None when the cache is off."""
    return jax.config.jax_compilation_cache_dir or None


CACHE_WARNINGS = r"Error (reading|writing) persistent compilation cache entry"
"""JAX's warnings for a cache entry that could not be read or written (the program is
simply compiled again): silenced once the course enables the cache."""


def _disabled_by_env() -> bool:
    return os.environ.get(ENV_SWITCH, "").strip().lower() in ("0", "off", "false", "no")


def enable_compilation_cache(cache_dir=None, *,
                             min_compile_time_secs: float = DEFAULT_MIN_COMPILE_TIME_SECS) -> pathlib.Path | None:
    """Turn on JAX's persistent compilation cache; returns its directory (None if off).

    Safe to call more than once and after JAX has already compiled something (the
    new directory takes effect for the next compilation).

    Args:
      cache_dir: where to keep compiled programs. None: the directory the user set for
        JAX (``JAX_COMPILATION_CACHE_DIR``) if any, else :func:`default_cache_dir`.
      min_compile_time_secs: programs that compiled faster than this are not written.

    Returns:
      The cache directory, or None when ``COURSE_LIB_COMPILATION_CACHE=0`` or the
      directory cannot be created (read-only home): the cache is an optimisation,
      and everything works without it.
    """
    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a path (str or os.PathLike) or None, got "
                        f"{type(cache_dir).__name__}")
    min_compile_time_secs = _validate.positive_float("min_compile_time_secs", min_compile_time_secs,
                                                     allow_zero=True)
    if _disabled_by_env():
        return None
    if cache_dir is None:
        cache_dir = compilation_cache_dir() or default_cache_dir()
    path = pathlib.Path(cache_dir).expanduser()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    warnings.filterwarnings("ignore", message=CACHE_WARNINGS, category=UserWarning)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_time_secs)
    # Older JAX versions decide once, at the first compilation, whether a cache exists;
    # resetting makes a directory set after that point take effect.
    from jax.experimental.compilation_cache import compilation_cache as _cc

    reset = getattr(_cc, "reset_cache", None)
    if reset is not None:
        reset()
    return path


def enable_by_default() -> pathlib.Path | None:
    """Enable the cache as :func:`enable_compilation_cache` does, but never raise.

    Called when :mod:`course_lib.training` is imported. Returns the directory, or None when
    the cache is off (``COURSE_LIB_COMPILATION_CACHE=0``) or could not be set up.
    """
    try:
        return enable_compilation_cache()
    except Exception:  # an optimisation only: a JAX without these options, a strange home directory
        return None
