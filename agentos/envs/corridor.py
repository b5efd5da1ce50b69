"""A 1-D corridor: start at the left end, reach the right end. Small enough to read in a
minute and edit; `agentos init` copies this file into a new agent folder.

Observation: [position / length]. Actions: 0 = left, 1 = right. Reward: -1 per step,
0 on reaching the goal. Episodes are cut after ``max_steps`` so a random policy always
finishes (the old AgentOS corridor could run forever).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agentos.runtime.roles import BuildContext, Environment, EnvStep


@dataclass(frozen=True)
class CorridorParams:
    """Parameters of the corridor."""

    length: int = 5
    """Cells from start to goal."""
    max_steps: int = 100
    """Steps before an episode is truncated."""
    num_envs: int = 1
    """Copies stepped together."""


class Corridor(Environment):
    """N copies of a 1-D corridor with automatic reset."""

    Params = CorridorParams

    def __init__(self, params: CorridorParams, context: BuildContext, **dependencies: Any):
        super().__init__(params, context)
        self.num_envs = params.num_envs
        self.observation_space, self.action_space = self.spaces(params)
        self._pos = np.zeros(params.num_envs, np.int64)
        self._t = np.zeros(params.num_envs, np.int64)

    @classmethod
    def spaces(cls, params: CorridorParams) -> tuple[Any, Any]:
        """A Box position in [0, 1] and two discrete actions."""
        from gymnasium import spaces

        return spaces.Box(0.0, 1.0, (1,), np.float32), spaces.Discrete(2)

    def _observe(self) -> np.ndarray:
        return (self._pos / self.params.length).astype(np.float32)[:, None]

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Every copy back to the start (the corridor has no randomness)."""
        self._pos[:] = 0
        self._t[:] = 0
        return self._observe()

    def step(self, action: np.ndarray) -> EnvStep:
        """Move every copy one cell left or right."""
        move = np.where(np.asarray(action) == 1, 1, -1)
        self._pos = np.clip(self._pos + move, 0, self.params.length)
        self._t += 1
        terminated = self._pos == self.params.length
        truncated = ~terminated & (self._t >= self.params.max_steps)
        reward = np.where(terminated, 0.0, -1.0).astype(np.float32)
        final = self._observe()
        done = terminated | truncated
        self._pos[done] = 0
        self._t[done] = 0
        return EnvStep(self._observe(), reward, terminated, truncated, final)
