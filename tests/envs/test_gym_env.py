"""The gymnasium environment component's parameters (agentos.envs.gym_env)."""

from __future__ import annotations

import pytest

from agentos.envs.gym_env import GymParams
from agentos.errors import AgentOSError


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"max_episode_steps": 0}, "max_episode_steps must be >= 1, got 0"),
        ({"max_episode_steps": -3}, "max_episode_steps must be >= 1, got -3"),
        ({"async_workers": -1}, "async_workers must be >= 0, got -1"),
    ],
)
def test_out_of_range_values_are_refused(bad, message):
    # max_episode_steps=0 reached gymnasium's TimeLimit as a ValueError traceback
    with pytest.raises(AgentOSError, match=message) as e:
        GymParams(**bad)
    assert e.value.fix


def test_in_range_values_are_kept():
    params = GymParams(max_episode_steps=1, async_workers=0)
    assert params.max_episode_steps == 1 and params.async_workers == 0
