"""The offline learners on synthetic data: CQL with alpha 0 is DQN, CQL keeps unseen actions
low, BC clones a deterministic behaviour policy; checkpoints restore exactly."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import jax
import numpy as np
import pytest

from agentos.agents.dqn.learner import DQNLearner
from agentos.agents.dqn.network import QNetwork
from agentos.agents.offline.learner import BCLearner, CQLLearner
from agentos.errors import ParameterError
from agentos.replay.uniform import UniformReplay
from agentos.runtime.roles import BuildContext, Transition

OBS = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
ACTIONS = gymnasium.spaces.Discrete(3)


def context(name: str, seed: int = 0) -> BuildContext:
    return BuildContext(
        name=name, seed=seed, agent_dir=Path("."), observation_space=OBS, action_space=ACTIONS
    )


def behaviour_data(num: int = 128) -> Transition:
    """One-step episodes of a deterministic behaviour: action 0 if obs[0] < 0 else 1 (action
    2 never taken), reward +1."""
    rng = np.random.default_rng(0)
    obs = rng.uniform(-1, 1, (num, 2)).astype(np.float32)
    action = (obs[:, 0] >= 0).astype(np.int64)
    done = np.ones(num, bool)
    return Transition(obs, action, np.ones(num, np.float32), done, np.zeros(num, bool), obs)


def make(cls, seed: int = 0, **params):
    network = QNetwork(QNetwork.Params(hidden_sizes=(16,)), context("network", seed))
    replay = UniformReplay(UniformReplay.Params(capacity=1000), context("replay", seed))
    replay.add(behaviour_data())
    params = {"batch_size": 32, "learning_rate": 1e-2, **params}
    return cls(cls.Params(**params), context("learner", seed), network=network, replay=replay)


def test_cql_with_alpha_zero_updates_exactly_like_dqn():
    # DQN's Huber loss (CQL's default TD loss is eq. (4)'s squared error).
    cql, dqn = make(CQLLearner, alpha=0.0, huber_delta=1.0), make(DQNLearner)
    cql_metrics, dqn_metrics = cql.step(20), dqn.step(20)
    np.testing.assert_allclose(cql_metrics["loss"], dqn_metrics["loss"], rtol=1e-5)
    np.testing.assert_allclose(cql_metrics["td_loss"], cql_metrics["loss"], rtol=1e-6)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6),
        cql.state.params,
        dqn.state.params,
    )


def test_cql_keeps_the_unseen_action_below_the_data_actions():
    learner = make(CQLLearner, alpha=1.0, gamma=0.0)
    first = learner.step(1)
    for _ in range(10):
        metrics = learner.step(20)
    assert metrics["conservative"] < first["conservative"]
    data = behaviour_data(32)
    q = np.asarray(learner.network.module.apply(learner.state.params, data.observation))
    taken = q[np.arange(32), data.action]
    assert np.all(q[:, 2] < taken), "the action the data never took must be valued lower"
    np.testing.assert_allclose(taken.mean(), 1.0, atol=0.3)  # r = 1, gamma 0


def test_bc_clones_a_deterministic_behaviour():
    learner = make(BCLearner)
    first = learner.step(1)
    for _ in range(10):
        metrics = learner.step(20)
    assert metrics["loss"] < 0.2 * first["loss"]
    assert metrics["accuracy"] > 0.95
    assert learner.num_updates == 201


@pytest.mark.parametrize("cls", [BCLearner, CQLLearner])
def test_state_dict_round_trip_continues_exactly(cls):
    learner = make(cls)
    learner.step(5)
    state = learner.state_dict()
    other = make(cls, seed=1)
    other.load_state_dict(state)
    jax.tree_util.tree_map(np.testing.assert_array_equal, other.state.params, learner.state.params)
    assert other.num_updates == 5


def test_cql_defaults_to_the_squared_td_loss_of_eq_4():
    assert CQLLearner.Params().huber_delta == 0.0
    assert DQNLearner.Params().huber_delta == 1.0  # DQN keeps its Huber loss


def test_bad_params_name_the_field():
    with pytest.raises(ParameterError, match="alpha"):
        CQLLearner.Params(alpha=-1.0)
    with pytest.raises(ParameterError, match="batch_size"):
        BCLearner.Params(batch_size=0)
