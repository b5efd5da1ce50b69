"""A persistent XLA compilation cache inside the agent folder.

The first `learn` of an agent compiles its jitted update and acting steps (seconds to tens of
seconds on a small CPU); later `learn`, `run` and `record` calls of the same agent load them
from ``<agent>/.agentos/jax_cache/`` instead. Only steps that took at least a second to
compile are stored, and the folder is capped in size. A user's own ``JAX_COMPILATION_CACHE_DIR``
wins; ``AGENTOS_COMPILE_CACHE=0`` turns the cache off.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_DIR = Path(".agentos") / "jax_cache"
MAX_CACHE_BYTES = 512 * 1024**2
"""Above this size JAX evicts the least recently used entries."""


def use_compile_cache(agent_dir: Path | str) -> Path | None:
    """Point JAX's persistent compilation cache at the agent folder; returns the folder used
    (None when the user set another or turned it off, or the folder cannot be written)."""
    if os.environ.get("AGENTOS_COMPILE_CACHE", "1").strip() == "0":
        return None
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return None
    import jax

    current = getattr(jax.config, "jax_compilation_cache_dir", None)
    if current:  # a process keeps the first cache it opened: JAX reads the setting once
        return Path(current)
    if not Path(agent_dir).is_dir():  # e.g. a Ray worker on a node without the agent folder
        return None
    path = Path(agent_dir) / CACHE_DIR
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        log.debug("no compilation cache (%s cannot be written: %s)", path, e)
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_compilation_cache_max_size", MAX_CACHE_BYTES)
    return path
