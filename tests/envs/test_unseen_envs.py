"""Environments of a fourth sweep (unusual observation spaces, randomness outside the
environment's ``np_random``): each works with the bundles, or is refused up front with one
message (see tests/envs/test_unusual_envs.py for the third sweep)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.local_env import use_local_environment

SOURCE = """
import gymnasium as gym
import numpy as np


class Sampled(gym.Env):
    # observations drawn from the space's own generator, not from self.np_random
    def __init__(self):
        self.observation_space = gym.spaces.Dict(
            {"cell": gym.spaces.Discrete(4), "flags": gym.spaces.MultiBinary(2)}
        )
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:  # repeatable for gymnasium's checker, not from np_random's state
            self.observation_space.seed(seed)
        self.t = 0
        return self.observation_space.sample(), {}

    def step(self, action):
        self.t += 1
        with open(__file__ + ".steps", "a") as f:  # every step of every copy, counted
            f.write("x")
        return self.observation_space.sample(), 1.0, self.t >= 40, False, {}
"""

TINY_DQN = [
    "network.hidden_sizes=[8]",
    "loop.min_replay_size=50",
    "loop.eval_every=0",
    "loop.eval_episodes=1",
    "environment.num_envs=1",
]


def use_sampled(agent: Path) -> None:
    use_local_environment(agent, SOURCE, "sampled.py", "Sampled", params={"max_episode_steps": 40})


def test_run_and_record_do_not_replay_the_training_episodes(
    agent_dir: Path, cli, caplog: pytest.LogCaptureFixture
) -> None:
    """`run` and `record` play episodes of their own from a reset, yet loaded the training
    environment's episodes in progress: each copy's episode was replayed step by step (up to
    max_episode_steps a copy) and, for an environment with randomness outside its
    np_random, `run` warned that "episodes restart" and "could not restore"."""
    use_sampled(agent_dir)
    assert cli("install", "dqn", "--agent", agent_dir)[0] == 0
    overrides = [a for o in TINY_DQN for a in ("-p", o)]
    code, _, err = cli("learn", "--steps", "70", *overrides, "--agent", agent_dir)
    assert code == 0, err
    steps = agent_dir / "sampled.py.steps"
    steps.unlink()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        code, out, err = cli("run", "-e", "1", *overrides, "--agent", agent_dir)
        assert code == 0, err
        # one evaluation episode of 40 steps (and gymnasium's checker's few) on the
        # evaluation copy; the training copy's 30 steps in progress were replayed as well
        assert 40 <= len(steps.read_text()) < 70
        code, out, err = cli(
            "record", "-e", "1", "-d", "sampled/tiny-v0", *overrides, "--agent", agent_dir
        )
        assert code == 0, err
    assert "did not reproduce" not in caplog.text, caplog.text
    assert "could not restore" not in caplog.text, caplog.text
    assert "Traceback" not in out + err
