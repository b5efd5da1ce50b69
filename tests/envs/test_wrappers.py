"""Wrappers from the spec: names, kwargs, local files, order, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agentos.envs.gym_env import GymEnvironment, GymParams
from agentos.envs.wrappers import parse_wrappers
from agentos.errors import AgentOSError
from agentos.runtime.roles import BuildContext


def _env(tmp_path: Path, **params) -> GymEnvironment:
    ctx = BuildContext(name="environment", seed=0, agent_dir=tmp_path)
    return GymEnvironment(GymParams(**params), ctx)


def test_gymnasium_wrappers_by_name_with_kwargs_in_order(tmp_path):
    env = _env(
        tmp_path,
        env_id="CartPole-v1",
        num_envs=2,
        wrappers=(
            "TimeAwareObservation",
            {"wrapper": "gymnasium.wrappers.TimeLimit", "kwargs": {"max_episode_steps": 3}},
        ),
    )
    assert env.observation_space.shape == (5,)  # the time was appended
    assert env.wrapper_chain() == ["TimeAwareObservation", "gymnasium.wrappers.TimeLimit"]
    env.reset(seed=0)
    steps = [env.step(np.zeros(2, np.int64)) for _ in range(3)]
    assert steps[-1].truncated.all() and not steps[1].truncated.any()
    env.close()


def test_a_wrapper_of_a_local_file(tmp_path):
    (tmp_path / "my_wrappers.py").write_text(
        "import gymnasium as gym\n"
        "class Double(gym.RewardWrapper):\n"
        "    def __init__(self, env, factor=2.0):\n"
        "        super().__init__(env)\n"
        "        self.factor = factor\n"
        "    def reward(self, r):\n"
        "        return self.factor * r\n"
    )
    spec = {"wrapper": "my_wrappers.py:Double", "kwargs": {"factor": 3.0}}
    env = _env(tmp_path, env_id="CartPole-v1", wrappers=(spec,))
    env.reset(seed=0)
    assert env.step(np.zeros(1, np.int64)).reward.tolist() == [3.0]
    env.close()


@pytest.mark.parametrize(
    "wrappers, message",
    [
        (("FlattenObservatio",), "(?s)unknown wrapper .FlattenObservatio.*did you mean"),
        (("no_such_package.Wrapper",), "cannot import no_such_package"),
        (("missing.py:W",), "wrapper file 'missing.py' not found"),
        (({"wrapper": "TimeLimit", "kwargs": {"max_steps": 3}},), r"wrappers\[0\].*bad kwargs"),
        (
            ({"wrapper": "TimeLimit", "kwargs": {"max_episode_steps": -3}},),
            r"wrappers\[0\].*failed",
        ),
    ],
)
def test_bad_wrappers_are_clear_errors(tmp_path, wrappers, message):
    with pytest.raises(AgentOSError, match=message) as e:
        GymEnvironment.spaces(GymParams(env_id="CartPole-v1", wrappers=wrappers), tmp_path)
    assert "Fix:" in str(e.value)


@pytest.mark.parametrize("entry", [3, {"kwargs": {}}, {"wrapper": "X", "other": 1}, ""])
def test_malformed_entries_are_refused(entry):
    with pytest.raises(AgentOSError, match=r"wrappers\[0\]"):
        parse_wrappers([entry])


def test_spec_wrappers_are_checked_at_show(agent_dir, cli):
    assert cli("install", "gym:CartPole-v1", "--agent", agent_dir)[0] == 0
    code, out, err = cli("show", "-p", "environment.wrappers=[NoSuchWrapper]", "--agent", agent_dir)
    assert code == 2 and "Traceback" not in err
    assert "unknown wrapper 'NoSuchWrapper'" in err and "Fix:" in err
    code, out, err = cli(
        "show", "-p", "environment.wrappers=[TimeAwareObservation]", "--agent", agent_dir
    )
    assert code == 0, err
    assert "TimeAwareObservation" in out and "(5,)" in out


def test_the_continuous_action_fix_makes_a_q_network_fit(tmp_path):
    """The Q-networks' fix for Box actions names a wrapper; following it gives Discrete
    actions the network accepts (Pendulum-v1: Box(1) -> Discrete(5))."""
    from agentos.agents.dqn.network import QNetwork
    from agentos.errors import IncompatibleSpaceError

    obs, actions = GymEnvironment.spaces(GymParams(env_id="Pendulum-v1"), tmp_path)
    with pytest.raises(IncompatibleSpaceError) as e:
        QNetwork.check_spaces(QNetwork.Params(), obs, actions)
    assert "DiscretizeAction" in e.value.fix and "bins: 5" in e.value.fix
    wrapped = ({"wrapper": "DiscretizeAction", "kwargs": {"bins": 5}},)
    obs, actions = GymEnvironment.spaces(
        GymParams(env_id="Pendulum-v1", wrappers=wrapped), tmp_path
    )
    assert actions.n == 5
    QNetwork.check_spaces(QNetwork.Params(), obs, actions)
