"""agentos: build reinforcement-learning agents from components; run, train, track, share
and benchmark them. Heavy libraries (jax, mlflow, gymnasium) load only when used."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
DISTRIBUTION = "agentos-rl"
"""The name pip knows this package by (``pip install agentos-rl``); the import name and the
CLI are ``agentos``. The PyPI name ``agentos`` belongs to an older, unrelated project."""

if TYPE_CHECKING:
    from agentos.api import Agent, load_agent


def __getattr__(name: str) -> Any:
    if name in ("load_agent", "Agent", "RunResult"):
        from agentos import api

        return getattr(api, name)
    raise AttributeError(f"module 'agentos' has no attribute {name!r}")


__all__ = ["Agent", "load_agent", "__version__"]
