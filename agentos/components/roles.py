"""The roles a component can play and what the graph hands each component when it builds it.

The component system checks each class's ``role`` against ``ROLES`` and passes a
``BuildContext`` to every constructor; the interfaces of the roles themselves (Environment,
Actor, Replay, Learner, Network) belong to the learning runtime (``agentos.runtime.roles``,
which re-exports these names).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROLES = ("environment", "network", "replay", "actor", "learner")


@dataclass(frozen=True)
class BuildContext:
    """What the graph hands each component at construction, besides params and dependencies."""

    name: str
    """The component's name in the spec (e.g. ``learner``)."""
    seed: int
    """The run's seed; each component derives its own streams from it and its name."""
    agent_dir: Path
    """The agent folder (where agentos.yaml lives)."""
    observation_space: Any = None
    """The environment's single (unbatched) observation space; None for the environment."""
    action_space: Any = None
    """The environment's single (unbatched) action space; None for the environment."""
    num_envs: int = 1
    """How many environments the actor steps at once."""
    time_limit_ends_task: bool = False
    """Whether the environment's time limit is part of its task (see
    ``Environment.time_limit_ends_task``)."""

    def component_seed(self, salt: str = "") -> int:
        """A 31-bit seed that depends on the run seed, the component name and ``salt``."""
        return (self.seed * 1_000_003 + zlib.crc32(f"{self.name}/{salt}".encode())) % (2**31 - 1)

    def numpy_rng(self, salt: str = "") -> np.random.Generator:
        """A numpy Generator private to this component."""
        return np.random.default_rng(self.component_seed(salt))
