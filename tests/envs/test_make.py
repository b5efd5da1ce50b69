"""Making one copy of an environment (agentos.envs.make): the steps agentos adds."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from agentos.envs.gym_env import environment_for_class


class FromOne(gym.Env):
    """Actions 1, 2, 3 (``Discrete(3, start=1)``); the observation is the last action."""

    def __init__(self):
        self.observation_space = gym.spaces.Box(0.0, 3.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(3, start=1)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        assert self.action_space.contains(action), action
        return np.array([action], np.float32), 0.0, False, False, {}


def test_discrete_actions_from_one_are_numbered_from_zero():
    component = environment_for_class(FromOne)
    factory = component.factory(component.Params())
    env = factory(check=True)
    assert env.action_space == gym.spaces.Discrete(3)
    assert factory.applied == ["ZeroBasedActions(start=1)"]
    env.reset(seed=0)
    for action, stepped in ((0, 1), (2, 3)):
        observation, *_ = env.step(np.int64(action))
        assert observation[0] == stepped
