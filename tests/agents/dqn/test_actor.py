"""The DQN actor: epsilon schedule, greedy actions, replay inserts, spaces, state."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import jax
import numpy as np
import pytest

from agentos.agents.dqn.actor import DQNActor, linear_epsilon
from agentos.agents.dqn.network import QNetwork
from agentos.errors import IncompatibleSpaceError
from agentos.replay.uniform import UniformReplay
from agentos.runtime.roles import BuildContext, Transition

OBS = gymnasium.spaces.Box(-1.0, 1.0, (3,), np.float32)
ACTIONS = gymnasium.spaces.Discrete(4)


def context(name: str, seed: int = 0, action_space=ACTIONS) -> BuildContext:
    return BuildContext(
        name=name, seed=seed, agent_dir=Path("."), observation_space=OBS, action_space=action_space
    )


def make_actor(seed: int = 0, **params) -> DQNActor:
    network = QNetwork(QNetwork.Params(hidden_sizes=(8,)), context("network", seed))
    replay = UniformReplay(UniformReplay.Params(capacity=100), context("replay", seed))
    return DQNActor(
        DQNActor.Params(**params), context("actor", seed), network=network, replay=replay
    )


def test_linear_epsilon_schedule_values():
    assert linear_epsilon(0, 1.0, 0.04, 8000) == pytest.approx(1.0)
    assert linear_epsilon(2000, 1.0, 0.04, 8000) == pytest.approx(0.76)
    assert linear_epsilon(4000, 1.0, 0.04, 8000) == pytest.approx(0.52)
    assert linear_epsilon(8000, 1.0, 0.04, 8000) == pytest.approx(0.04)
    assert linear_epsilon(10**9, 1.0, 0.04, 8000) == pytest.approx(0.04)
    assert linear_epsilon(5, 1.0, 0.1, 0) == pytest.approx(0.1)  # no decay: the final value


def test_actor_epsilon_follows_its_params():
    actor = make_actor(epsilon_start=0.5, epsilon_end=0.1, epsilon_decay_steps=100)
    assert [actor.epsilon(t) for t in (0, 50, 100, 200)] == pytest.approx([0.5, 0.3, 0.1, 0.1])


def test_greedy_picks_the_argmax_of_the_q_network():
    actor = make_actor()
    obs = np.random.default_rng(0).uniform(-1, 1, (16, 3)).astype(np.float32)
    actions, extras = actor.select_action(obs, {"k": 1}, explore=False, env_steps=0)
    q_values = np.asarray(actor.network.apply(actor._variables, obs))
    np.testing.assert_array_equal(actions, q_values.argmax(axis=1))
    assert actions.shape == (16,) and extras == {"k": 1}


def test_greedy_follows_updated_variables():
    actor = make_actor()
    params = jax.tree_util.tree_map(np.zeros_like, actor._variables)
    params["params"]["Dense_1"]["bias"] = np.array([0.0, 0.0, 1.0, 0.0], np.float32)
    actor.update(params)
    obs = np.zeros((5, 3), np.float32)
    np.testing.assert_array_equal(actor.select_action(obs, {}, explore=False, env_steps=0)[0], 2)


def test_exploration_rate_is_respected():
    actor = make_actor(epsilon_start=1.0, epsilon_end=0.0, epsilon_decay_steps=1000)
    obs = np.zeros((4000, 3), np.float32)
    greedy = actor.select_action(obs, {}, explore=False, env_steps=0)[0]
    fully_random = actor.select_action(obs, {}, explore=True, env_steps=0)[0]
    assert set(np.unique(fully_random)) == {0, 1, 2, 3}
    half = actor.select_action(obs, {}, explore=True, env_steps=500)[0]
    # epsilon 0.5: half random, of which a quarter happen to match the greedy action.
    assert np.mean(half != greedy) == pytest.approx(0.5 * 0.75, abs=0.04)
    np.testing.assert_array_equal(
        actor.select_action(obs, {}, explore=True, env_steps=1000)[0], greedy
    )


def test_initial_params_match_the_learner_convention():
    actor = make_actor(seed=3)
    expected = actor.network.initial_params()
    jax.tree_util.tree_map(np.testing.assert_array_equal, actor._variables, expected)


def test_observe_adds_to_replay():
    actor = make_actor()
    obs = np.zeros((2, 3), np.float32)
    transition = Transition(
        obs, np.array([1, 2]), np.ones(2, np.float32), np.zeros(2, bool), np.zeros(2, bool), obs
    )
    assert actor.observe(transition) == 2
    assert len(actor.replay) == 2


def test_continuous_action_space_is_rejected_with_a_hint():
    box = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
    with pytest.raises(IncompatibleSpaceError, match="Discrete action spaces only") as info:
        DQNActor.check_spaces(DQNActor.Params(), OBS, box)
    assert "(continuous)" in str(info.value)
    assert "DiscretizeAction" in info.value.fix and "lunar_lander" in info.value.fix


def test_state_round_trip_reproduces_exploration():
    actor = make_actor()
    obs = np.zeros((64, 3), np.float32)
    actor.select_action(obs, {}, explore=True, env_steps=10)
    state = actor.state_dict()
    other = make_actor(seed=9)
    other.load_state_dict(state)
    for t in (0, 100, 5000):
        np.testing.assert_array_equal(
            actor.select_action(obs, {}, explore=True, env_steps=t)[0],
            other.select_action(obs, {}, explore=True, env_steps=t)[0],
        )
    assert all(isinstance(leaf, np.ndarray) for leaf in jax.tree_util.tree_leaves(state["params"]))
