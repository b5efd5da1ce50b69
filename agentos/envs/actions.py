"""``JointDiscreteActions``: several discrete choices per step as one ``Discrete`` action.

The Q-learning agents (DQN, R2D2, Agent57, CQL, BC) output one value per action of a
``Discrete(n)`` space. An environment whose actions are ``MultiDiscrete``, ``MultiBinary``,
a ``Tuple`` of ``Discrete`` spaces or a bounded integer ``Box`` has a finite number of joint
actions, so it fits them once each joint action is numbered: action ``a`` in ``0..n-1``
(``n`` the product of the parts' sizes) is unravelled, in C order, into one value per part.
Name it in the spec::

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
    if integer_box(space):
        low, high = space.low.ravel(), space.high.ravel()
        return tuple(int(h) - int(lo) + 1 for lo, h in zip(low, high, strict=True))
    return None


def integer_box(space: Any) -> bool:
    """Whether ``space`` is a Box of integers bounded on both sides (a finite set of values,
    as gymnasium's functional ``tabular/`` environments use for actions)."""
    return (
        isinstance(space, spaces.Box)
        and np.issubdtype(space.dtype, np.integer)
        and bool(np.all(space.bounded_below) and np.all(space.bounded_above))
    )


class JointDiscreteActions(gymnasium.ActionWrapper):
    """``Discrete(prod(sizes))`` actions for a MultiDiscrete, MultiBinary, Tuple-of-Discrete or
    bounded integer Box environment (see the module docstring)."""

    def __init__(self, env: gymnasium.Env):
        super().__init__(env)
        inner = env.action_space
        sizes = joint_sizes(inner)
        if sizes is None:
            raise ValueError(
                f"JointDiscreteActions joins MultiDiscrete, MultiBinary, Tuple-of-Discrete or "
                f"bounded integer Box actions; the environment has {inner}"
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
        if isinstance(space, spaces.Box):
            values = np.asarray(parts).reshape(space.shape) + space.low
            return values.astype(space.dtype)
        parts_of: list[Any] = list(space.spaces)
        return tuple(
            part.dtype.type(int(p) + int(part.start))
            for part, p in zip(parts_of, parts, strict=True)
        )
