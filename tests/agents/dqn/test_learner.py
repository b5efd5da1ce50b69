"""The DQN learner on synthetic data: it learns, refreshes its target on schedule, resumes."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import jax
import numpy as np
import pytest

from agentos.agents.dqn.learner import DQNLearner
from agentos.agents.dqn.network import QNetwork
from agentos.errors import ParameterError
from agentos.replay.uniform import UniformReplay
from agentos.runtime.roles import BuildContext, Transition

OBS = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
ACTIONS = gymnasium.spaces.Discrete(2)


def context(name: str, seed: int = 0) -> BuildContext:
    return BuildContext(
        name=name, seed=seed, agent_dir=Path("."), observation_space=OBS, action_space=ACTIONS
    )


def bandit_transitions(num: int = 64) -> Transition:
    """One-step episodes: reward +1 for the action matching the sign of obs[0], else -1."""
    rng = np.random.default_rng(0)
    obs = rng.uniform(-1, 1, (num, 2)).astype(np.float32)
    action = rng.integers(0, 2, num)
    reward = np.where(action == (obs[:, 0] > 0), 1.0, -1.0).astype(np.float32)
    done = np.ones(num, bool)
    return Transition(obs, action, reward, done, np.zeros(num, bool), obs)


def make_learner(seed: int = 0, fill: bool = True, **params) -> DQNLearner:
    network = QNetwork(QNetwork.Params(hidden_sizes=(16,)), context("network", seed))
    replay = UniformReplay(UniformReplay.Params(capacity=1000), context("replay", seed))
    if fill:
        replay.add(bandit_transitions())
    params = {"batch_size": 16, "learning_rate": 1e-2, **params}
    return DQNLearner(
        DQNLearner.Params(**params), context("learner", seed), network=network, replay=replay
    )


def assert_trees_equal(a, b):
    jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)


def trees_equal(a, b) -> bool:
    leaves = jax.tree_util.tree_leaves(jax.tree_util.tree_map(np.array_equal, a, b))
    return all(leaves)


def test_ready_needs_one_batch():
    learner = make_learner(fill=False, batch_size=4)
    assert not learner.ready()
    learner.replay.add(bandit_transitions(3))
    assert not learner.ready()
    learner.replay.add(bandit_transitions(1))
    assert learner.ready()
    assert learner.batch_size == 4


def test_loss_decreases_and_greedy_policy_is_learned():
    learner = make_learner()
    first = learner.step(10)
    for _ in range(10):
        last = learner.step(20)
    assert set(first) == {"loss", "q_mean"}
    assert last["loss"] < 0.2 * first["loss"]
    obs = np.array([[0.8, 0.0], [-0.8, 0.0]], np.float32)
    q_values = np.asarray(learner.network.apply(learner.get_variables(), obs))
    np.testing.assert_array_equal(q_values.argmax(axis=1), [1, 0])
    np.testing.assert_allclose(q_values, [[-1, 1], [1, -1]], atol=0.6)


def test_target_network_is_refreshed_exactly_every_period():
    learner = make_learner(target_update_period=3)
    initial = learner.get_variables()
    history = []
    for _ in range(7):
        learner.step(1)
        history.append(learner.get_variables())
        target = learner.state.target_params
        count = learner.num_updates
        expected = initial if count < 3 else history[(count // 3) * 3 - 1]
        assert_trees_equal(target, expected)
        assert trees_equal(target, history[-1]) == (count % 3 == 0)


def test_one_scan_equals_single_updates():
    scanned, single = make_learner(target_update_period=4), make_learner(target_update_period=4)
    scanned.step(7)
    for _ in range(7):
        single.step(1)
    assert scanned.num_updates == single.num_updates == 7
    for a, b in (
        (scanned.state.params, single.state.params),
        (scanned.state.target_params, single.state.target_params),
    ):
        jax.tree_util.tree_map(lambda x, y: np.testing.assert_allclose(x, y, atol=1e-6), a, b)


def test_state_round_trip_gives_identical_subsequent_updates():
    learner = make_learner(target_update_period=2)
    learner.step(5)
    learner_state, replay_state = learner.state_dict(), learner.replay.state_dict()
    assert all(
        isinstance(leaf, (np.ndarray, int)) for leaf in jax.tree_util.tree_leaves(learner_state)
    )

    restored = make_learner(seed=7, fill=False, target_update_period=2)
    restored.replay.load_state_dict(replay_state)
    restored.load_state_dict(learner_state)
    assert restored.num_updates == 5
    for num in (1, 3):
        assert learner.step(num) == restored.step(num)
    assert_trees_equal(learner.state.params, restored.state.params)
    assert_trees_equal(learner.state.target_params, restored.state.target_params)
    assert_trees_equal(learner.state.opt_state, restored.state.opt_state)


def test_learning_rate_decay_reaches_its_end_value():
    learner = make_learner(learning_rate_decay_updates=4, learning_rate_end=0.0)
    learner.step(4)
    before = learner.get_variables()
    learner.step(3)  # learning rate is 0 from here on
    assert_trees_equal(before, learner.get_variables())


def test_n_step_replay_must_discount_like_the_learner():
    network = QNetwork(QNetwork.Params(hidden_sizes=(4,)), context("network"))
    replay = UniformReplay(UniformReplay.Params(n_step=3, gamma=0.9), context("replay"))
    with pytest.raises(ParameterError, match="replay.gamma"):
        DQNLearner(
            DQNLearner.Params(gamma=0.99), context("learner"), network=network, replay=replay
        )
    DQNLearner(DQNLearner.Params(gamma=0.9), context("learner"), network=network, replay=replay)


def test_bad_params_are_rejected():
    with pytest.raises(ParameterError, match="gamma"):
        DQNLearner.Params(gamma=1.5)
    with pytest.raises(ParameterError, match="target_update_period"):
        DQNLearner.Params(target_update_period=0)
    for tau in (0.0, 3.0):
        with pytest.raises(ParameterError, match=r"target_update_tau must be in \(0, 1\]"):
            DQNLearner.Params(target_update_tau=tau)
    with pytest.raises(ParameterError, match="learning_rate_decay_updates"):
        DQNLearner.Params(learning_rate_decay_updates=-4)


@pytest.mark.parametrize("learner", ["dqn", "r2d2", "agent57", "bc"])
def test_every_learner_refuses_a_bad_adam_eps_or_clip(learner):
    """adam_eps=0 was accepted and diverged at update 2 with "lower learning_rate"."""
    from agentos.agents.agent57.learner import Agent57Learner
    from agentos.agents.offline.learner import BCLearner
    from agentos.agents.r2d2.learner import R2D2Learner

    params = {"dqn": DQNLearner, "r2d2": R2D2Learner, "agent57": Agent57Learner,
              "bc": BCLearner}[learner].Params  # fmt: skip
    with pytest.raises(ParameterError, match="adam_eps must be > 0, got 0.0"):
        params(adam_eps=0.0)
    with pytest.raises(ParameterError, match=r"max_grad_norm must be >= 0 \(0: no clipping\)"):
        params(max_grad_norm=-1.0)
    params(max_grad_norm=0.0)  # documented: no clipping
    if learner == "dqn":
        with pytest.raises(ParameterError, match="huber_delta must be >= 0"):
            params(huber_delta=-0.5)


def test_a_batch_larger_than_the_replay_is_refused():
    # replay.capacity=10 with batch_size=64 learned for the whole run with 0 updates
    with pytest.raises(ParameterError, match=r"batch_size=64 is more than replay.capacity=10"):
        network = QNetwork(QNetwork.Params(hidden_sizes=(4,)), context("network"))
        replay = UniformReplay(UniformReplay.Params(capacity=10), context("replay"))
        DQNLearner(
            DQNLearner.Params(batch_size=64), context("learner"), network=network, replay=replay
        )


def test_ready_waits_for_the_steps_an_n_step_return_needs():
    """A learner started with fewer stored steps than n_step crashed in sampling (traceback)."""
    network = QNetwork(QNetwork.Params(hidden_sizes=(16,)), context("network"))
    replay = UniformReplay(UniformReplay.Params(capacity=100, n_step=3), context("replay"))
    learner = DQNLearner(
        DQNLearner.Params(batch_size=1), context("learner"), network=network, replay=replay
    )
    one = bandit_transitions(1)
    for stored in range(1, 4):
        replay.add(one)
        assert len(replay) == stored and replay.startable() == max(stored - 2, 0)
        assert learner.ready() == (stored == 3)
    assert np.isfinite(learner.step()["loss"])
