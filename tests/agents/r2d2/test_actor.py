"""The R2D2 actor: Ape-X epsilons per environment, greedy evaluation, extras, state."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import jax
import numpy as np
import pytest

from agentos.agents.r2d2 import losses
from agentos.agents.r2d2.actor import R2D2Actor, epsilon_greedy
from agentos.agents.r2d2.learner import R2D2Learner
from agentos.agents.r2d2.network import RecurrentQNetwork
from agentos.errors import IncompatibleSpaceError
from agentos.runtime.loop import _reset_extras
from agentos.runtime.roles import BuildContext, EnvStep, Transition

OBS = gymnasium.spaces.Box(-1.0, 1.0, (3,), np.float32)
ACT = gymnasium.spaces.Discrete(3)


class NullReplay:
    def __init__(self):
        self.items = 0

    def add_items(self, items, priorities=None):
        self.items += len(items["action"])

    def __len__(self):
        return self.items


def make(num_envs=4, seed=0, **params):
    def ctx(name):
        return BuildContext(
            name=name,
            seed=seed,
            agent_dir=Path("."),
            observation_space=OBS,
            action_space=ACT,
            num_envs=num_envs,
        )

    net = RecurrentQNetwork(
        RecurrentQNetwork.Params(hidden_sizes=(8,), lstm_size=4, head_hidden=0), ctx("network")
    )
    params = {"burn_in": 1, "trace_length": 3, "period": 2, **params}
    actor = R2D2Actor(R2D2Actor.Params(**params), ctx("actor"), network=net, replay=NullReplay())
    return net, actor


def test_apex_epsilons_per_environment_and_evaluation_epsilon():
    _, actor = make(num_envs=4)
    expected = [0.4 ** (1 + 8 * i / 3) for i in range(4)]
    np.testing.assert_allclose(actor.epsilons(4, explore=True), expected, rtol=1e-5)
    np.testing.assert_array_equal(actor.epsilons(4, explore=False), 0.01)  # the default
    _, greedy = make(num_envs=4, evaluation_epsilon=0.0)
    np.testing.assert_array_equal(greedy.epsilons(4, explore=False), 0.0)
    _, fixed = make(num_envs=4, epsilon=0.1)
    np.testing.assert_array_equal(fixed.epsilons(4, explore=True), 0.1)
    _, single = make(num_envs=1)
    np.testing.assert_allclose(single.epsilons(1, explore=True), [0.4])


def test_epsilon_greedy_rates_and_mu_match_losses():
    rng = np.random.default_rng(0)
    q = np.tile(np.array([[0.0, 2.0, 1.0]]), (3, 1))
    eps = np.array([1.0, 0.3, 0.0])
    picks = np.array([epsilon_greedy(q, eps, rng)[0] for _ in range(4000)])
    # Non-greedy rate: eps * (A - 1) / A.
    np.testing.assert_allclose((picks != 1).mean(axis=0), eps * 2 / 3, atol=0.03)
    actions, mu = epsilon_greedy(q, eps, rng)
    expected = losses.epsilon_greedy_probabilities(
        jax.numpy.asarray(q, jax.numpy.float32),
        jax.numpy.asarray(actions, jax.numpy.int32),
        jax.numpy.asarray(eps, jax.numpy.float32),
    )
    np.testing.assert_allclose(mu, expected, rtol=1e-6)


def test_greedy_evaluation_and_extras_carry_the_network_state():
    net, actor = make(num_envs=4, evaluation_epsilon=0.0)
    obs = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    extras = actor.initial_extras(4)
    actions, new = actor.select_action(obs, extras, explore=False, env_steps=0)
    q, (h, c) = net.apply(
        net.initial_params(),
        obs,
        extras["prev_action"],
        extras["prev_reward"],
        net.initial_state(4),
    )
    np.testing.assert_array_equal(actions, np.argmax(np.asarray(q), axis=-1))
    np.testing.assert_allclose(new["lstm_h"], h, rtol=1e-6)
    np.testing.assert_allclose(new["lstm_c"], c, rtol=1e-6)
    np.testing.assert_array_equal(new["prev_action"], actions)


def test_after_step_sets_prev_reward_and_the_loop_resets_finished_envs():
    _, actor = make(num_envs=3)
    obs = np.ones((3, 3), np.float32)
    extras = actor.initial_extras(3)
    actions, new = actor.select_action(obs, extras, explore=True, env_steps=0)
    step = EnvStep(
        obs,
        np.array([1.0, 2.0, 3.0], np.float32),
        np.array([False, True, False]),
        np.zeros(3, bool),
        obs,
    )
    after = actor.after_step(new, step)
    np.testing.assert_array_equal(after["prev_reward"], [1.0, 2.0, 3.0])
    reset = _reset_extras(actor, after, step.terminated)
    fresh = actor.initial_extras(3)
    for key in fresh:
        np.testing.assert_array_equal(reset[key][1], fresh[key][1])
        np.testing.assert_array_equal(reset[key][[0, 2]], after[key][[0, 2]])
    assert np.abs(reset["lstm_h"][0]).sum() > 0


def test_actor_and_learner_start_from_the_same_parameters():
    net, actor = make()
    context = BuildContext(
        name="learner",
        seed=0,
        agent_dir=Path("."),
        observation_space=OBS,
        action_space=ACT,
        num_envs=4,
    )
    learner = R2D2Learner(
        R2D2Learner.Params(burn_in=1, trace_length=3, n_step=1),
        context,
        network=net,
        replay=NullReplay(),
    )
    for a, b in zip(
        jax.tree_util.tree_leaves(actor._variables),
        jax.tree_util.tree_leaves(learner.get_variables()),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_observe_needs_the_latest_explored_actions():
    _, actor = make(num_envs=2)
    obs = np.zeros((2, 3), np.float32)
    extras = actor.initial_extras(2)
    actions, _ = actor.select_action(obs, extras, explore=True, env_steps=0)
    tr = Transition(
        obs, actions, np.zeros(2, np.float32), np.zeros(2, bool), np.zeros(2, bool), obs, extras
    )
    assert actor.observe(tr) == 2
    with pytest.raises(RuntimeError):
        actor.observe(tr)


def test_state_round_trip_gives_the_same_actions():
    _, a = make(num_envs=4)
    _, b = make(num_envs=4, seed=5)
    obs = np.random.default_rng(2).normal(size=(4, 3)).astype(np.float32)
    extras = a.initial_extras(4)
    a.select_action(obs, extras, explore=True, env_steps=0)
    b.load_state_dict(a.state_dict())
    for _ in range(5):
        xa, _ = a.select_action(obs, extras, explore=True, env_steps=0)
        xb, _ = b.select_action(obs, extras, explore=True, env_steps=0)
        np.testing.assert_array_equal(xa, xb)


def test_check_spaces_rejects_continuous_actions():
    with pytest.raises(IncompatibleSpaceError):
        R2D2Actor.check_spaces(R2D2Actor.Params(), OBS, gymnasium.spaces.Box(-1, 1, (2,)))


def test_state_from_another_number_of_envs_keeps_params_and_drops_open_sequences():
    _, a = make(num_envs=4)
    _, b = make(num_envs=1, seed=5)
    b.load_state_dict(a.state_dict())
    for x, y in zip(
        jax.tree_util.tree_leaves(a._variables),
        jax.tree_util.tree_leaves(b._variables),
        strict=True,
    ):
        np.testing.assert_array_equal(x, y)
