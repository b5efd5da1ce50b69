"""``JointDiscreteActions``: several discrete choices per step as one ``Discrete`` action.

The Q-learning agents (DQN, R2D2, Agent57, CQL, BC) output one value per action of a
``Discrete(n)`` space. An environment whose actions are ``MultiDiscrete``, ``MultiBinary``
or a ``Tuple`` of ``Discrete`` spaces has a finite number of joint actions, so it fits them
once each joint action is numbered: action ``a`` in ``0..n-1`` (``n`` the product of the
parts' sizes) is unravelled, in C order, into one value per part. Name it in the spec::

    environment:
      params:
        wrappers: [agentos.envs.actions.JointDiscreteActions]
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

MAX_JOINT_ACTIONS = 1_000_000
"""More joint actions than this is refused: a Q-network head that wide does not learn."""


def joint_sizes(space: Any) -> tuple[int, ...] | None:
    """The size of each part of ``space``'s joint action, or None when it has no finite
    joint numbering (a Box, or a Tuple with a part that is not Discrete)."""
    if isinstance(space, spaces.MultiDiscrete):
        return tuple(int(n) for n in np.asarray(space.nvec).ravel())
    if isinstance(space, spaces.MultiBinary):
        return (2,) * int(np.prod(space.shape))
    if isinstance(space, spaces.Tuple) and all(isinstance(s, spaces.Discrete) for s in space):
        return tuple(int(s.n) for s in space)
    return None


class JointDiscreteActions(gymnasium.ActionWrapper):
    """``Discrete(prod(sizes))`` actions for a MultiDiscrete, MultiBinary or Tuple-of-Discrete
    environment (see the module docstring)."""

    def __init__(self, env: gymnasium.Env):
        super().__init__(env)
        inner = env.action_space
        sizes = joint_sizes(inner)
        if sizes is None:
            raise ValueError(
                f"JointDiscreteActions joins MultiDiscrete, MultiBinary or Tuple-of-Discrete "
                f"actions; the environment has {inner}"
            )
        count = int(np.prod(sizes, dtype=np.float64))
        if count > MAX_JOINT_ACTIONS:
            raise ValueError(
                f"{inner} has {count:,} joint actions, more than {MAX_JOINT_ACTIONS:,}: too "
                "many for one Q-value each"
            )
        self._inner_space: Any = inner
        self._sizes = sizes
        self.action_space = spaces.Discrete(count)

    def action(self, action: Any) -> Any:
        """The inner environment's action for joint action ``action``."""
        parts = np.unravel_index(int(action), self._sizes)
        space = self._inner_space
        if isinstance(space, spaces.MultiDiscrete):
            values = np.asarray(parts).reshape(np.shape(space.nvec)) + np.asarray(space.start)
            return values.astype(space.dtype)
        if isinstance(space, spaces.MultiBinary):
            return np.asarray(parts).reshape(space.shape).astype(space.dtype)
        parts_of: list[Any] = list(space.spaces)
        return tuple(
            part.dtype.type(int(p) + int(part.start))
            for part, p in zip(parts_of, parts, strict=True)
        )
