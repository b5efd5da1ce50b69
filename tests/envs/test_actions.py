"""JointDiscreteActions: MultiDiscrete, MultiBinary and Tuple-of-Discrete actions numbered as
one Discrete space, so the Q-learning agents can act in them."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

from agentos.envs.actions import JointDiscreteActions


class Recorder(gymnasium.Env):
    """Remembers the last action it was stepped with."""

    def __init__(self, action_space: spaces.Space):
        self.observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = action_space
        self.last = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.last = action
        return np.zeros(1, np.float32), 0.0, False, False, {}


def _actions(space: spaces.Space) -> list:
    env = JointDiscreteActions(Recorder(space))
    env.reset(seed=0)
    seen = []
    for a in range(env.action_space.n):
        env.step(a)
        seen.append(env.unwrapped.last)
    return seen


def test_multi_discrete_with_start_numbers_every_joint_action_once() -> None:
    space = spaces.MultiDiscrete([2, 3], start=[1, -1])
    env = JointDiscreteActions(Recorder(space))
    assert env.action_space == spaces.Discrete(6)
    seen = _actions(space)
    assert all(space.contains(a) for a in seen)
    assert len({tuple(a) for a in seen}) == 6
    assert [int(x) for x in seen[0]] == [1, -1] and [int(x) for x in seen[-1]] == [2, 1]


def test_multi_binary_and_tuple() -> None:
    binary = spaces.MultiBinary(3)
    seen = _actions(binary)
    assert len(seen) == 8 and all(binary.contains(a) for a in seen)
    assert len({tuple(a) for a in seen}) == 8
    pair = spaces.Tuple((spaces.Discrete(2), spaces.Discrete(3, start=5)))
    seen = _actions(pair)
    assert len(set(seen)) == 6 and all(pair.contains(a) for a in seen)


def test_a_bounded_integer_box_numbers_each_value_once() -> None:
    """gymnasium's tabular/CliffWalking-v0 acts in Box(0, 3, (1,), int32)."""
    cliff = spaces.Box(0, 3, (1,), np.int32)
    assert JointDiscreteActions(Recorder(cliff)).action_space == spaces.Discrete(4)
    seen = _actions(cliff)
    assert [a.tolist() for a in seen] == [[0], [1], [2], [3]]
    assert all(cliff.contains(a) for a in seen)
    grid = spaces.Box(np.array([[-1, 0]]), np.array([[1, 1]]), dtype=np.int64)
    seen = _actions(grid)
    assert len({tuple(a.ravel()) for a in seen}) == 6 and all(grid.contains(a) for a in seen)


def test_an_integer_box_is_not_called_continuous_and_the_fix_numbers_it() -> None:
    from agentos.agents.dqn.network import QNetwork
    from agentos.errors import IncompatibleSpaceError

    observation = spaces.Box(0, 47, (1,), np.int32)
    with pytest.raises(IncompatibleSpaceError) as info:
        QNetwork.check_spaces(None, observation, spaces.Box(0, 3, (1,), np.int32))
    assert "(integer-valued)" in str(info.value) and "continuous" not in str(info.value)
    assert "4 joint actions as one Discrete(4)" in info.value.fix
    assert "bins" not in info.value.fix
    with pytest.raises(IncompatibleSpaceError, match=r"\(continuous\)") as info:
        QNetwork.check_spaces(None, observation, spaces.Box(-1.0, 1.0, (2,), np.float32))
    assert "DiscretizeAction" in info.value.fix


def test_agent57_refusals_name_its_own_network() -> None:
    from agentos.agents.agent57.network import Agent57Network
    from agentos.errors import IncompatibleSpaceError

    with pytest.raises(IncompatibleSpaceError, match="Agent57Network outputs one value"):
        Agent57Network.check_spaces(
            None, spaces.Box(0, 1, (3,)), spaces.Box(-1.0, 1.0, (2,), np.float32)
        )


@pytest.mark.parametrize(
    "space, fragment",
    [
        (spaces.Box(-1.0, 1.0, (1,), np.float32), "joins MultiDiscrete"),
        (spaces.Box(0, np.iinfo(np.int32).max, (1,), np.int32), "joint actions, more than"),
        (spaces.Tuple((spaces.Discrete(2), spaces.Box(0.0, 1.0, (1,)))), "joins MultiDiscrete"),
        (spaces.MultiBinary(40), "joint actions, more than"),
    ],
)
def test_refuses_what_it_cannot_number(space: spaces.Space, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        JointDiscreteActions(Recorder(space))
