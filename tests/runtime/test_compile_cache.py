"""The persistent compilation cache lives in the agent folder, and yields to the user's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
from agentos.runtime.compile_cache import use_compile_cache
import jax, jax.numpy as jnp
print(use_compile_cache(sys.argv[1]))
print(jax.config.jax_compilation_cache_dir)
"""


def _probe(agent: Path, **env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(agent)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_cache_goes_in_the_agent_folder(tmp_path: Path) -> None:
    used, configured = _probe(tmp_path)
    assert used == configured == str(tmp_path / ".agentos" / "jax_cache")
    assert (tmp_path / ".agentos" / "jax_cache").is_dir()


def test_the_users_cache_and_the_switch_win(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    assert _probe(tmp_path, JAX_COMPILATION_CACHE_DIR=str(mine)) == ["None", str(mine)]
    assert _probe(tmp_path, AGENTOS_COMPILE_CACHE="0") == ["None", "None"]
    assert not (tmp_path / ".agentos").exists()


def test_an_unwritable_folder_means_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert _probe(blocker) == ["None", "None"]
    missing = tmp_path / "not" / "here"
    assert _probe(missing) == ["None", "None"]
    assert not missing.parent.exists()  # no agent folder is made where there was none


def test_learn_fills_the_cache_and_a_second_learn_reads_it(tmp_path: Path) -> None:
    agent = tmp_path / "agent"
    clean = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    clean["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"  # however fast the machine

    def agentos(*args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "agentos", *args, "--agent", str(agent)],
            env=clean,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    subprocess.run([sys.executable, "-m", "agentos", "init", str(agent)], check=True, env=clean)
    agentos("install", "dqn", "cartpole")
    learn = ("learn", "--steps", "1500", "-p", "loop.min_replay_size=500")
    agentos(*learn)
    cache = agent / ".agentos" / "jax_cache"
    first = {p.name: p.stat().st_mtime_ns for p in cache.glob("*-cache")}
    read = {p.name: p.stat().st_mtime_ns for p in cache.glob("*-atime")}
    assert any(n.startswith("jit_scan_updates") for n in first), sorted(first)
    agentos(*learn)
    for name, written in first.items():  # found, not compiled and written again
        assert (cache / name).stat().st_mtime_ns == written, name
        used = name.removesuffix("-cache") + "-atime"
        assert (cache / used).stat().st_mtime_ns > read[used], f"{name} was not read"
