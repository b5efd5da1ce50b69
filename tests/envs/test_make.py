"""Making one copy of an environment (agentos.envs.make): the steps agentos adds."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from agentos.envs.gym_env import environment_for_class
from agentos.envs.make import check_environment
from agentos.errors import AgentOSError


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


class Plain(gym.Env):
    """Three float32 values in [-1, 1]; subclasses get one thing wrong."""

    def __init__(self):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def observation(self):
        return np.zeros(3, np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation(), {}

    def step(self, action):
        return self.observation(), self.reward(), False, False, {}

    def reward(self):
        return 0.0


class Float64(Plain):
    def observation(self):
        return np.zeros(3, np.float64)


class WrongShape(Plain):
    def observation(self):
        return np.zeros(4, np.float32)


class NoReward(Plain):
    def reward(self):
        return None


class NanReward(Plain):
    def reward(self):
        return float("nan")


class ListObservation(Plain):
    def observation(self):
        return [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "env, fragments",
    [
        (Float64, ["not within the observation space", "dtype float64, the space has float32"]),
        (WrongShape, ["not within the observation space", "shape (4,)", "the space has (3,)"]),
        (NoReward, ["reward returned by `step()` must be", "NoneType"]),
        (NanReward, ["The reward is a NaN value"]),
    ],
)
def test_a_failed_check_says_what_differs(env, fragments):
    with pytest.raises(AgentOSError) as e:
        check_environment(env(), env.__name__)
    message = str(e.value)
    assert f"environment {env.__name__} fails gymnasium's env checker" in message
    assert "\x1b[" not in message and "check_env: false" in message
    for fragment in fragments:
        assert fragment in message, message


def test_checker_warnings_are_logged_once_without_colours(caplog):
    with caplog.at_level("WARNING", logger="agentos.envs.env_checks"):
        check_environment(ListObservation(), "ListObservation")
    notes = [r.getMessage() for r in caplog.records]
    assert notes and len(notes) == len(set(notes))
    assert all("\x1b[" not in n and "WARN:" not in n for n in notes), notes


def test_a_render_mode_the_environment_lacks_is_refused():
    from agentos.envs.gym_env import GymEnvironment, GymParams

    with pytest.raises(AgentOSError, match="render_mode 'nope' is not one of CartPole-v1's") as e:
        GymEnvironment.spaces(GymParams(render_mode="nope"))
    assert "human, rgb_array" in str(e.value)
    for mode in ("rgb_array", "rgb_array_list", "human"):  # what gymnasium.make accepts
        GymEnvironment.spaces(GymParams(render_mode=mode))


def test_an_error_in_an_environment_constructor_is_one_message():
    from agentos.envs.make import make_gym

    with pytest.raises(AgentOSError, match=r"FrozenLake-v1.*KeyError: '5x5'") as info:
        make_gym("FrozenLake-v1", None, {"map_name": "5x5"})
    assert "kwargs" in info.value.fix


def test_a_package_imported_late_by_the_constructor_is_named_with_its_pip_command():
    """shimmy's compatibility ids import shimmy only when built: the fix is its pip command."""
    import importlib.util

    from agentos.envs.make import make_gym

    if importlib.util.find_spec("shimmy") is not None:
        pytest.skip("shimmy is installed here")
    with pytest.raises(AgentOSError, match="needs a package that is not installed") as info:
        make_gym("GymV26Environment-v0", None, {"env_id": "CartPole-v1"})
    assert 'pip install "shimmy[gym-v26]"' in info.value.fix


def test_an_environment_without_a_time_limit_gets_one():
    from agentos.envs.make import DEFAULT_TIME_LIMIT, make_gym

    assert gym.spec("CliffWalking-v1").max_episode_steps is None
    env = make_gym("CliffWalking-v1")
    assert env.spec.max_episode_steps == DEFAULT_TIME_LIMIT
    env.reset(seed=0)
    steps, truncated = 0, False
    while not truncated:
        _, _, terminated, truncated, _ = env.step(0)  # up: never reaches the goal
        assert not terminated
        steps += 1
    assert steps == DEFAULT_TIME_LIMIT
    assert make_gym("CliffWalking-v1", 7).spec.max_episode_steps == 7
    assert make_gym("CartPole-v1").spec.max_episode_steps == 500  # its own limit stays


def test_the_default_limit_warns_only_when_it_cuts_an_episode(caplog, monkeypatch):
    from agentos.envs import make

    monkeypatch.setattr(make, "_warned_unlimited", set())
    with caplog.at_level("WARNING", logger="agentos.envs.make"):
        env = make.make_gym("Blackjack-v1")  # declares no limit, but every hand ends
        assert env.spec.max_episode_steps == make.DEFAULT_TIME_LIMIT
        env.reset(seed=0)
        for _ in range(200):
            _, _, terminated, truncated, _ = env.step(0)  # stick: the hand ends
            assert terminated and not truncated
            env.reset()
        assert "no time limit" not in caplog.text
        cliff = make.make_gym("CliffWalking-v1")
        cliff.reset(seed=0)
        assert "no time limit" not in caplog.text
        for _ in range(make.DEFAULT_TIME_LIMIT):
            cliff.step(0)
    assert caplog.text.count("CliffWalking-v1 has no time limit") == 1


def test_classic_atari_ids_register_ale():
    pytest.importorskip("ale_py")
    from agentos.envs.make import is_atari, register_plugins

    assert register_plugins("BreakoutNoFrameskip-v4") == "BreakoutNoFrameskip-v4"
    assert "BreakoutNoFrameskip-v4" in gym.registry
    assert is_atari("PongNoFrameskip-v4")
    assert not is_atari("CartPole-v1")


class _BuggyReset(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return (0.0).astype(np.float32), {}  # a bug in the user's code

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, False, False, {}


class _NanObservations(_BuggyReset):
    observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        gym.Env.reset(self, seed=seed)
        return np.full(2, np.nan, np.float32), {}

    def step(self, action):
        return np.full(2, np.nan, np.float32), 0.0, False, False, {}


def test_a_bug_in_the_environment_is_named_with_its_line():
    with pytest.raises(AgentOSError, match=r"AttributeError: .*astype.* at .*test_make.py:\d+"):
        check_environment(_BuggyReset(), "BuggyReset")


def test_nan_observations_are_named():
    with pytest.raises(AgentOSError, match="NaN"):
        check_environment(_NanObservations(), "NanObservations")
