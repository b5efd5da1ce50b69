"""Bad inputs of a fourth sweep (absurd network sizes, a `role:` the class does not play,
Agent57 on an environment with one action, negative sequence-replay parameters): each exits
2 with one message naming the file, key or option and a Fix line, no traceback, and records
no run (see test_bad_inputs.py for the first battery; unusual environments are in
tests/envs/test_unseen_envs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from bad_input_checks import DQN, Case, args, check_refused_with_nothing_changed, edit

from tests.local_env import use_local_environment

R2D2 = ("install", "r2d2", "cartpole")

ONE_ACTION = """
import gymnasium as gym
import numpy as np


class OneAction(gym.Env):
    def __init__(self):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.action_space = gym.spaces.Discrete(1)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(3, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(3, np.float32), 1.0, self.t >= 5, False, {}
"""


def one_action_env(agent: Path) -> list[str]:
    """The environment replaced by a class of one action; the agent57 bundle installed."""
    use_local_environment(agent, ONE_ACTION, "one_action.py", "OneAction")
    return ["run", "-e", "1", "--agent", str(agent)]


def set_role(slot: str, role: object):
    def change(d: dict) -> None:
        d["components"][slot]["role"] = role

    return change


CASES = [
    # "EmbeddingModel: num_actions must be an int >= 2, got 1 / Fix: pass the size of the
    # discrete action space": the inner class's wording, with no hint of what to do
    Case(
        "agent57-with-one-action",
        one_action_env,
        ("components.network", "Agent57 needs an environment with at least 2 actions", "dqn"),
        ("install", "agent57"),
    ),
    # a JAX traceback: "random bits array of size exceeding 2 ** 64"
    Case(
        "layer-width-of-int64-max",
        args("run", "-e", "1", "-p", "network.hidden_sizes=[9223372036854775807]"),
        (
            "components.network",
            "network.hidden_sizes=[9223372036854775807]",
            "of memory available",
            "-p network.hidden_sizes=[256,256]",
        ),
        DQN,
    ),
    # tried to allocate 10**9 x 10**9 LSTM weights
    Case(
        "lstm-of-a-billion-units",
        args("run", "-e", "1", "-p", "network.lstm_size=1000000000"),
        ("network.lstm_size=1000000000", "would need", "-p network.lstm_size=128"),
        R2D2,
    ),
    # layer widths of 10**5: JAX's RESOURCE_EXHAUSTED once 40 GB were asked for
    Case(
        "layers-beyond-memory",
        args("run", "-e", "1", "-p", "network.hidden_sizes=[100000,100000,100000]"),
        ("network.hidden_sizes=[100000,100000,100000]", "GB to train"),
        DQN,
    ),
    # `role:` was never read: any word (or the role of another slot) went through
    Case(
        "role-no-such-role",
        edit(set_role("environment", "enviroment"), "show"),
        ("components.environment.role", "unknown role 'enviroment'", "did you mean"),
        DQN,
    ),
    Case(
        "role-of-another-class",
        edit(set_role("learner", "actor"), "show"),
        ("components.learner.role", "says role 'actor'", "DQNLearner plays the role learner"),
        DQN,
    ),
    Case(
        "role-not-a-text",
        edit(set_role("replay", ["replay"]), "show"),
        ("components.replay.role", "must be a text"),
        DQN,
    ),
    # a ValueError traceback from the sequence replay's constructor, exit 1
    Case(
        "sequence-replay-negative-capacity",
        args("run", "-e", "1", "-p", "replay.capacity=-3"),
        ("components.replay.params", "capacity must be >= 1, got -3", "-p replay.capacity="),
        R2D2,
    ),
    Case(
        "sequence-replay-negative-priority-exponent",
        args("run", "-e", "1", "-p", "replay.priority_exponent=-1"),
        ("components.replay.params", "priority_exponent must be >= 0"),
        ("install", "agent57", "cartpole"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, agent_dir: Path, cli) -> None:
    check_refused_with_nothing_changed(case, agent_dir, cli)


def test_a_role_that_matches_its_class_is_fine(agent_dir: Path, cli) -> None:
    """`agentos install` writes each entry's role; a plain gymnasium.Env class is an
    environment."""
    assert cli(*DQN, "--agent", agent_dir)[0] == 0
    spec = yaml.safe_load((agent_dir / "agentos.yaml").read_text())
    assert spec["components"]["learner"]["role"] == "learner"
    two_actions = ONE_ACTION.replace("Discrete(1)", "Discrete(2)")
    use_local_environment(agent_dir, two_actions, "one_action.py", "OneAction", role="environment")
    code, out, err = cli("show", "--agent", agent_dir)
    assert code == 0, err


def test_every_builtin_entry_names_the_role_of_its_class() -> None:
    """The graph now refuses a `role:` its class does not play; the registry writes it."""
    import importlib

    from agentos.components.registry import _builtin_data

    data = _builtin_data()
    for name, entry in data["components"].items():
        cls = getattr(importlib.import_module(entry["module"]), entry["class"])
        assert cls.role == entry["role"], name


def test_the_network_check_uses_the_memory_it_is_given() -> None:
    """The bundle's DQN network fits a machine of 1 GB and not one of 1 MB; nothing is
    allocated either way (the shapes are traced)."""
    import gymnasium as gym
    import numpy as np

    from agentos.agents.dqn.network import QNetwork
    from agentos.errors import ParameterError
    from agentos.runtime.network_memory import check_network_fits, parameter_bytes
    from agentos.runtime.roles import BuildContext

    context = BuildContext(
        name="network",
        seed=0,
        agent_dir=Path("."),
        observation_space=gym.spaces.Box(-1, 1, (4,), np.float32),
        action_space=gym.spaces.Discrete(2),
    )
    network = QNetwork(QNetwork.Params(hidden_sizes=(256, 256)), context)
    nbytes = parameter_bytes(network)
    # (4 + 1) x 256 + 2 x 256 (LayerNorm) + 257 x 256 + 2 x 256 + 257 x 2, float32
    assert nbytes == 4 * (5 * 256 + 512 + 257 * 256 + 512 + 257 * 2)
    check_network_fits(network, "network", available=10**9, device=0)
    with pytest.raises(ParameterError, match="network.hidden_sizes=\\[256,256\\]"):
        check_network_fits(network, "network", available=10**6, device=0)
