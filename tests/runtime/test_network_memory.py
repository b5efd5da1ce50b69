"""What the memory refusal blames: the widths, or the number of actions."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from agentos.agents.dqn.network import QNetwork
from agentos.errors import ParameterError
from agentos.runtime.network_memory import check_network_fits
from agentos.runtime.roles import BuildContext


def _network(actions: int, hidden: tuple[int, ...] = (256, 256)) -> QNetwork:
    context = BuildContext(
        name="network",
        seed=0,
        agent_dir=Path("."),
        observation_space=gym.spaces.Box(-1, 1, (24,), np.float32),
        action_space=gym.spaces.Discrete(actions),
    )
    return QNetwork(QNetwork.Params(hidden_sizes=hidden), context)


def test_too_many_actions_are_named_not_the_widths_that_are_usual() -> None:
    """DiscretizeAction with 200 bins on BipedalWalker's 4 dimensions: 1.6e9 outputs."""
    with pytest.raises(ParameterError) as info:
        check_network_fits(_network(200**4), "network", available=2 * 10**10, device=0)
    assert "1,600,000,000 discrete actions" in str(info.value)
    assert "hidden_sizes" not in str(info.value)
    assert "lower its bins" in info.value.fix


def test_huge_widths_with_a_usual_action_count_are_still_blamed() -> None:
    with pytest.raises(ParameterError, match=r"network.hidden_sizes=\[4000000\]"):
        check_network_fits(_network(4, (4_000_000,)), "network", available=10**9, device=0)


def test_many_actions_that_fit_pass() -> None:
    check_network_fits(_network(200_000, (16,)), "network", available=10**9, device=0)
