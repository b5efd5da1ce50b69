"""The default handling of non-Box observations, against vectors worked out by hand."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from agentos.envs.observations import flat_observation_wrapper, needs_flattening
from agentos.errors import AgentOSError


class _Fixed(gym.Env):
    """Returns one fixed observation from a given space."""

    def __init__(self, space, observation):
        self.observation_space = space
        self.action_space = spaces.Discrete(2)
        self._observation = observation

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._observation, {}

    def step(self, action):
        return self._observation, 0.0, True, False, {}


def _encode(space, observation):
    env = flat_observation_wrapper(_Fixed(space, observation))
    obs, _ = env.reset(seed=0)
    assert env.observation_space.shape == obs.shape and obs.dtype == np.float32
    return obs.tolist()


def test_discrete_is_one_hot_from_its_start():
    assert _encode(spaces.Discrete(4), 2) == [0, 0, 1, 0]
    assert _encode(spaces.Discrete(3, start=-1), 0) == [0, 1, 0]


def test_multi_discrete_concatenates_one_hots():
    assert _encode(spaces.MultiDiscrete([2, 3]), np.array([1, 0])) == [0, 1, 1, 0, 0]


def test_dict_concatenates_parts_in_space_order_and_drops_text():
    space = spaces.Dict(
        {
            "image": spaces.Box(0, 255, (1, 2, 1), np.uint8),
            "direction": spaces.Discrete(4),
            "mission": spaces.Text(20),
        }
    )
    observation = {"image": np.array([[[7], [9]]], np.uint8), "direction": 3, "mission": "go"}
    # gymnasium sorts Dict keys: direction, image, mission
    assert list(space.spaces) == ["direction", "image", "mission"]
    assert _encode(space, observation) == [0, 0, 0, 1, 7, 9]


def test_tuple_and_multibinary():
    space = spaces.Tuple((spaces.Discrete(2), spaces.MultiBinary(3)))
    assert _encode(space, (1, np.array([1, 0, 1], np.int8))) == [0, 1, 1, 0, 1]


def test_box_needs_nothing_and_unknown_spaces_are_an_error():
    assert not needs_flattening(spaces.Box(0, 1, (3,)))
    assert needs_flattening(spaces.Discrete(3))
    graph = spaces.Graph(node_space=spaces.Discrete(2), edge_space=None)
    with pytest.raises(AgentOSError, match="Graph .* no default handling") as e:
        flat_observation_wrapper(_Fixed(graph, None))
    assert "wrappers" in str(e.value)


def test_only_text_leaves_nothing():
    with pytest.raises(AgentOSError, match="nothing is left"):
        flat_observation_wrapper(_Fixed(spaces.Text(5), "abc"))
