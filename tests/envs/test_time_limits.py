"""Whose time limit is it? An environment that truncates by itself (MiniGrid's ``max_steps``)
has a limit that is part of its task; a TimeLimit wrapper only cuts an endless one. Agent57's
``extrinsic_time_limits: auto`` ends the extrinsic return only in the first case."""

from __future__ import annotations

import gymnasium
import pytest

import agentos
from agentos.cli.init_cmd import init
from agentos.components.install import install
from agentos.envs.make import make_gym, register_plugins, time_limit_ends_task


class OwnLimit(gymnasium.Env):
    """Truncates itself after ``max_steps`` steps, with no TimeLimit wrapper."""

    observation_space = gymnasium.spaces.Box(0.0, 1.0, (1,))
    action_space = gymnasium.spaces.Discrete(2)
    max_steps = 5


@pytest.mark.parametrize(
    ("env_id", "kwargs", "ends_task"),
    [
        ("MiniGrid-MultiRoom-N2-S4-v0", {}, True),
        ("MiniGrid-MultiRoom-N2-S4-v0", {"max_episode_steps": 30}, False),  # the user's cut
        ("CartPole-v1", {}, False),
        ("MountainCar-v0", {}, False),
    ],
)
def test_who_set_the_time_limit(env_id, kwargs, ends_task):
    env = make_gym(register_plugins(env_id), **kwargs)
    try:
        assert time_limit_ends_task(env) is ends_task
    finally:
        env.close()


def test_a_babyai_level_sets_its_limit_at_reset_and_gets_no_second_one(caplog):
    """BabyAI levels read ``max_steps`` 0 until reset: still their own limit, with no
    "no time limit" warning and no agentos TimeLimit stacked on top."""
    env = make_gym(register_plugins("BabyAI-GoToRedBall-v0"))
    try:
        assert env.unwrapped.max_steps == 0  # what misled the check before reset
        assert time_limit_ends_task(env)
        layer = env
        while layer is not None:
            assert not isinstance(layer, gymnasium.wrappers.TimeLimit)
            layer = getattr(layer, "env", None)
        assert "no time limit" not in caplog.text
        env.reset(seed=0)
        assert env.unwrapped.max_steps == 64
    finally:
        env.close()


def test_an_env_that_truncates_itself_inside_other_wrappers():
    wrapped = gymnasium.wrappers.ClipReward(OwnLimit(), -1.0, 1.0)
    assert time_limit_ends_task(wrapped)
    assert not time_limit_ends_task(gymnasium.wrappers.TimeLimit(wrapped, 3))


@pytest.mark.parametrize(
    ("env", "resolved"),
    [("gym:MiniGrid-MultiRoom-N2-S4-v0", "end"), ("cartpole", "bootstrap")],
)
def test_agent57_resolves_auto_for_the_installed_environment(tmp_path, env, resolved):
    folder = tmp_path / "agent"
    init(folder, None, False)
    install(folder, ["agent57", env], [])
    agent = agentos.load_agent(folder, ["environment.num_envs=2", "learner.batch_size=4"])
    assert agent.graph.full_params()["learner"]["extrinsic_time_limits"] == "auto"
    built = agent.graph.build(seed=0)
    try:
        assert built.one("learner").config.extrinsic_time_limits == resolved
    finally:
        built.close()


def test_loading_an_agent_makes_one_copy_for_its_spaces_and_its_time_limit(tmp_path, monkeypatch):
    from agentos.envs.make import EnvFactory

    folder = tmp_path / "agent"
    init(folder, None, False)
    install(folder, ["agent57", "gym:MiniGrid-MultiRoom-N2-S4-v0"], [])
    made = []
    original = EnvFactory.__call__

    def counting(self, *args, **kwargs):
        made.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(EnvFactory, "__call__", counting)
    agent = agentos.load_agent(folder, ["environment.num_envs=2", "learner.batch_size=4"])
    assert agent.graph.time_limit_ends_task
    assert len(made) == 1
