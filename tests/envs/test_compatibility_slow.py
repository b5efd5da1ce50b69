"""The compatibility matrix: every agent on every kind of environment, through the CLI.

Each cell runs `agentos install AGENT ENV` then `agentos learn --steps 500` with small
networks and an early start of learning, so the learner takes real updates; the cell
passes when learn exits 0 with learner updates and a finite evaluation. The README's
matrix is this test's output (`python -m pytest -m slow tests/envs/test_compatibility_slow.py`).
"""

from __future__ import annotations

import math

import pytest

from tests.local_env import use_local_environment

ENVS = {
    "CartPole-v1": "cartpole",
    "LunarLander-v3": "lunar_lander",
    "Acrobot-v1": "gym:Acrobot-v1",
    "MountainCar-v0": "gym:MountainCar-v0",
    "FrozenLake-v1": "gym:FrozenLake-v1",
    "MiniGrid-DoorKey-5x5-v0": "gym:MiniGrid-DoorKey-5x5-v0",
    "MiniGrid-KeyCorridorS3R1-v0": "gym:MiniGrid-KeyCorridorS3R1-v0",
    "ALE/Pong-v5": "gym:ALE/Pong-v5",
    "ALE/Breakout-v5": "atari",
    "local gymnasium.Env": None,
}
SMALL = {
    # one update per batch of new steps, not the bundle's 32 samples per step: a cell checks
    # that updates happen, and on Atari frames the bundle's ratio cost over two minutes
    "dqn": ["network.hidden_sizes=[32]", "replay.capacity=1000", "loop.samples_per_insert=1"],
    "r2d2": [
        "network.hidden_sizes=[32]", "network.lstm_size=32", "network.head_hidden=0",
        "replay.capacity=100", "learner.batch_size=8", "actor.burn_in=2",
        "actor.trace_length=8", "actor.period=4", "environment.num_envs=2",
    ],
    "agent57": [
        "network.hidden_sizes=[32]", "network.lstm_size=32", "network.head_hidden=0",
        "network.num_arms=4", "replay.capacity=100", "learner.batch_size=8",
        "actor.burn_in=2", "actor.trace_length=8", "actor.period=4",
        "actor.episodic_capacity=200", "environment.num_envs=2",
    ],
}  # fmt: skip
LOOP = ["loop.min_replay_size=200", "loop.eval_every=0", "loop.eval_episodes=1"]
LOCAL_ENV = '''
import gymnasium as gym
import numpy as np


class Track(gym.Env):
    """A point on a line: reach +5, observation (position, time)."""

    def __init__(self, size: int = 5):
        self.size = size
        self.observation_space = gym.spaces.Box(-size, size, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = 0, 0
        return self._obs(), {}

    def _obs(self):
        return np.array([self.x, self.t / 50], np.float32)

    def step(self, action):
        self.x = int(np.clip(self.x + int(action) - 1, -self.size, self.size))
        self.t += 1
        done = self.x == self.size
        return self._obs(), float(done), done, self.t >= 50, {}
'''


@pytest.mark.slow
@pytest.mark.parametrize("agent", ["dqn", "r2d2", "agent57"])
@pytest.mark.parametrize("env", list(ENVS))
def test_learn_500_steps(agent_dir, cli, agent, env):
    from agentos.tracking.store import list_runs, metric_history

    name = ENVS[env]
    if name is None:
        use_local_environment(agent_dir, LOCAL_ENV, "track.py", "Track")
        code, out, err = cli("install", agent, "--agent", agent_dir)
    else:
        code, out, err = cli("install", agent, name, "--agent", agent_dir)
    assert code == 0, err
    overrides = [x for o in [*SMALL[agent], *LOOP] for x in ("-p", o)]
    code, out, err = cli("learn", "--steps", "500", "--seed", "0", *overrides, "--agent", agent_dir)
    assert code == 0, err
    run = list_runs(agent_dir)[0]
    assert run.status == "FINISHED" and run.steps == 500
    updates = metric_history(agent_dir, run.run_id, "train/learner_updates")
    assert updates and updates[-1][1] > 0, "the learner took no update"
    returns = metric_history(agent_dir, run.run_id, "eval/return_mean")
    assert returns and math.isfinite(returns[-1][1])
