"""The maze of issue 11, rebuilt from its description for `agent57_exploration.py`.

Four rooms joined by one-cell doors, the start in one corner, reward 1 only on reaching the
far corner (which ends the episode), a time limit, and the normalised (x, y) position as the
observation. It was written after the Agent57 bundle's defaults were set and chose none of
them. Import it with the folder on ``PYTHONPATH``:

    PYTHONPATH=benchmarks/unseen_tasks python benchmarks/agent57_exploration.py \
        --env gym:four_rooms_xy:FourRoomsXY-v0 --variants agent57 r2d2_bundle
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

MOVES = ((0, -1), (1, 0), (0, 1), (-1, 0))
"""Up, right, down, left as (dx, dy)."""


class FourRoomsXY(gym.Env):
    """A ``size`` x ``size`` grid cut into four rooms by a wall row and column with four doors."""

    def __init__(self, size: int = 11) -> None:
        if size < 5 or size % 2 == 0:
            raise ValueError(f"size must be odd and >= 5, got {size}")
        self.size = size
        mid = size // 2
        self.wall = np.zeros((size, size), bool)
        self.wall[mid, :] = True
        self.wall[:, mid] = True
        for door in (mid // 2, mid + 1 + mid // 2):
            self.wall[mid, door] = False
            self.wall[door, mid] = False
        self.goal = (size - 1, size - 1)
        self.position = (0, 0)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(len(MOVES))

    def _observation(self) -> np.ndarray:
        return np.asarray(self.position, np.float32) / (self.size - 1)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start in the corner (0, 0)."""
        super().reset(seed=seed)
        self.position = (0, 0)
        return self._observation(), {}

    def step(self, action):
        """Move one cell unless a wall or the border is in the way; the goal pays 1 and ends."""
        dx, dy = MOVES[int(action)]
        x, y = self.position[0] + dx, self.position[1] + dy
        if 0 <= x < self.size and 0 <= y < self.size and not self.wall[x, y]:
            self.position = (x, y)
        at_goal = self.position == self.goal
        return self._observation(), float(at_goal), at_goal, False, {}


gym.register("FourRoomsXY-v0", entry_point=FourRoomsXY, max_episode_steps=250)
gym.register(
    "FourRoomsXY21-v0", entry_point=FourRoomsXY, max_episode_steps=500, kwargs={"size": 21}
)
