"""The persistent compilation cache: a per-user directory, an off switch, clear errors."""
import pathlib

import jax
import jax.numpy as jnp
import pytest

from course_lib import compile_cache

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture
def restore_jax_cache_config():
    """Put JAX's cache settings back as they were after each test."""
    names = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
             "jax_compilation_cache_max_size")
    saved = {n: getattr(jax.config, n) for n in names}
    yield
    for name, value in saved.items():
        jax.config.update(name, value)
    from jax.experimental.compilation_cache import compilation_cache

    compilation_cache.reset_cache()


def test_default_dir_follows_xdg_and_is_outside_the_repo(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = compile_cache.default_cache_dir()
    assert path.parent == tmp_path / "course_lib" / "jax"
    assert path.name == compile_cache.machine_fingerprint()
    assert len(path.name) == 12 and int(path.name, 16) >= 0
    monkeypatch.delenv("XDG_CACHE_HOME")
    home_path = compile_cache.default_cache_dir()
    assert home_path.parent == pathlib.Path.home() / ".cache" / "course_lib" / "jax"
    assert REPO not in home_path.parents


def test_enable_writes_compiled_programs_to_the_directory(tmp_path, restore_jax_cache_config, monkeypatch):
    monkeypatch.delenv(compile_cache.ENV_SWITCH, raising=False)
    cache = tmp_path / "jax-cache"
    assert compile_cache.enable_compilation_cache(cache, min_compile_time_secs=0) == cache
    assert compile_cache.compilation_cache_dir() == str(cache)
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 0
    jax.jit(lambda x: jnp.sin(x) * 3.0 + 1.25)(jnp.arange(7.0)).block_until_ready()
    assert any(p.name.endswith("-cache") for p in cache.iterdir())
    assert (cache.stat().st_mode & 0o077) == 0  # only the owner may read or write the cache


def test_enable_keeps_a_directory_the_user_chose(tmp_path, restore_jax_cache_config, monkeypatch):
    monkeypatch.delenv(compile_cache.ENV_SWITCH, raising=False)
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "mine"))
    assert compile_cache.enable_compilation_cache() == tmp_path / "mine"
    assert compile_cache.compilation_cache_dir() == str(tmp_path / "mine")


@pytest.mark.parametrize("value", ["0", "off", "False", "no"])
def test_environment_switch_turns_it_off(tmp_path, restore_jax_cache_config, monkeypatch, value):
    monkeypatch.setenv(compile_cache.ENV_SWITCH, value)
    before = compile_cache.compilation_cache_dir()
    assert compile_cache.enable_compilation_cache(tmp_path / "c") is None
    assert compile_cache.compilation_cache_dir() == before
    assert not (tmp_path / "c").exists()


def test_unwritable_location_is_skipped_quietly(tmp_path, restore_jax_cache_config, monkeypatch):
    monkeypatch.delenv(compile_cache.ENV_SWITCH, raising=False)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    before = compile_cache.compilation_cache_dir()
    assert compile_cache.enable_compilation_cache(blocker / "cache") is None
    assert compile_cache.compilation_cache_dir() == before


def test_bad_arguments_name_the_argument(restore_jax_cache_config):
    with pytest.raises(TypeError, match="cache_dir"):
        compile_cache.enable_compilation_cache(3)
    with pytest.raises(ValueError, match="min_compile_time_secs"):
        compile_cache.enable_compilation_cache(min_compile_time_secs=-1.0)
    with pytest.raises(TypeError, match="min_compile_time_secs"):
        compile_cache.enable_compilation_cache(min_compile_time_secs="fast")


def _child(code: str, env_extra: dict, tmp_path) -> str:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR", compile_cache.ENV_SWITCH)}
    env.update({"XDG_CACHE_HOME": str(tmp_path), **env_extra})
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


ON_IMPORT = """
import warnings, jax, jax.numpy as jnp
import course_lib.training
from course_lib import compile_cache
print(compile_cache.compilation_cache_dir())
warnings.warn("Error writing persistent compilation cache entry for 'jit_f': TimeoutError: lock")
"""


def test_importing_training_turns_the_cache_on_in_the_user_cache_dir(tmp_path):
    proc = _child(ON_IMPORT, {}, tmp_path)
    where = proc.stdout.strip().splitlines()[-1]
    assert pathlib.Path(where).parent == tmp_path / "course_lib" / "jax"
    assert proc.stderr == ""  # JAX's warning about a failed cache write is silenced


def test_importing_training_respects_the_off_switch(tmp_path):
    proc = _child(ON_IMPORT, {compile_cache.ENV_SWITCH: "0"}, tmp_path)
    assert proc.stdout.strip().splitlines()[-1] == "None"
    assert "Error writing persistent compilation cache entry" in proc.stderr  # no filter when off
    assert not (tmp_path / "course_lib").exists()


def test_other_warnings_still_show(tmp_path, restore_jax_cache_config, monkeypatch):
    import warnings

    monkeypatch.delenv(compile_cache.ENV_SWITCH, raising=False)
    assert compile_cache.enable_compilation_cache(tmp_path / "c") is not None
    with pytest.warns(UserWarning, match="something else"):
        warnings.warn("something else", UserWarning)


def test_enable_by_default_never_raises(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no cache options in this JAX")

    monkeypatch.setattr(compile_cache, "enable_compilation_cache", broken)
    assert compile_cache.enable_by_default() is None


def test_entries_from_other_writers_do_not_stop_new_writes(tmp_path, restore_jax_cache_config, monkeypatch):
    # An entry without JAX's last-access file (as another JAX version or a bounded cache leaves
    # behind) must not break writing: the course's cache is unbounded, so nothing is evicted.
    import warnings

    monkeypatch.delenv(compile_cache.ENV_SWITCH, raising=False)
    cache = tmp_path / "shared"
    cache.mkdir()
    (cache / "jit_other-0123456789abcdef-cache").write_bytes(b"not an executable")
    assert compile_cache.enable_compilation_cache(cache, min_compile_time_secs=0) == cache
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a failed write would warn (if the filter did not hide it)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        jax.jit(lambda x: jnp.cos(x) * 2.5 - 0.75)(jnp.arange(5.0)).block_until_ready()
    assert len(list(cache.glob("*-cache"))) >= 2
