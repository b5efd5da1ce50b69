"""A 1-D corridor, written as a plain gymnasium.Env: start at the left end, reach the right.

Any gymnasium.Env class works as an agentos environment. Its constructor's arguments
(``length``, ``max_steps``) become the component's parameters (``-p environment.length=8``),
and agentos vectorises the copies (``num_envs``, ``vectorization: async``), applies the
spec's ``wrappers:`` and checks the class with gymnasium's env checker when it loads.

Observation: [position / length]. Actions: 0 = left, 1 = right. Reward: -1 per step,
0 on reaching the goal. Episodes are cut after ``max_steps`` so a random policy always
finishes.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class Corridor(gym.Env):
    """Walk right to the goal at ``length``."""

    def __init__(self, length: int = 5, max_steps: int = 100):
        self.length = length
        self.max_steps = max_steps
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._pos = 0
        self._t = 0

    def _observation(self) -> np.ndarray:
        return np.array([self._pos / self.length], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._pos, self._t = 0, 0
        return self._observation(), {}

    def step(self, action):
        self._pos = min(max(self._pos + (1 if int(action) == 1 else -1), 0), self.length)
        self._t += 1
        terminated = self._pos == self.length
        truncated = not terminated and self._t >= self.max_steps
        reward = 0.0 if terminated else -1.0
        return self._observation(), reward, terminated, truncated, {}
