"""The R2D2 recurrent Q-network: shapes, unroll == repeated steps, torsos, space checks."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import jax
import numpy as np
import pytest

from agentos.agents.r2d2.network import RecurrentQNetwork
from agentos.errors import IncompatibleSpaceError
from agentos.runtime.roles import BuildContext

BOX = gymnasium.spaces.Box(-1.0, 1.0, (3,), np.float32)
DISCRETE = gymnasium.spaces.Discrete(4)


def make_network(obs_space=BOX, act_space=DISCRETE, seed: int = 0, **params) -> RecurrentQNetwork:
    params = {"hidden_sizes": (16,), "lstm_size": 8, "head_hidden": 8, **params}
    context = BuildContext(
        name="network",
        seed=seed,
        agent_dir=Path("."),
        observation_space=obs_space,
        action_space=act_space,
        num_envs=2,
    )
    return RecurrentQNetwork(RecurrentQNetwork.Params(**params), context)


def test_step_shapes_and_state():
    net = make_network()
    params = net.initial_params()
    h, c = net.initial_state(5)
    assert h.shape == c.shape == (5, 8)
    obs = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    q, (h1, c1) = net.apply(params, obs, np.zeros(5, np.int32), np.zeros(5, np.float32), (h, c))
    assert q.shape == (5, 4)
    assert h1.shape == c1.shape == (5, 8)
    assert not np.allclose(h1, 0.0)


def test_unroll_equals_repeated_steps():
    net = make_network()
    params = net.initial_params()
    rng = np.random.default_rng(1)
    T, B = 6, 3
    obs = rng.normal(size=(T, B, 3)).astype(np.float32)
    prev_action = rng.integers(0, 4, size=(T, B)).astype(np.int32)
    prev_reward = rng.normal(size=(T, B)).astype(np.float32)
    start = (
        rng.normal(size=(B, 8)).astype(np.float32),
        rng.normal(size=(B, 8)).astype(np.float32),
    )
    q_unroll, (h_u, c_u) = net.unroll(params, obs, prev_action, prev_reward, start)
    assert q_unroll.shape == (T, B, 4)
    state = start
    for t in range(T):
        q_t, state = net.apply(params, obs[t], prev_action[t], prev_reward[t], state)
        np.testing.assert_allclose(q_unroll[t], q_t, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h_u, state[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(c_u, state[1], rtol=1e-5, atol=1e-5)


def test_previous_action_and_reward_are_inputs():
    net = make_network()
    params = net.initial_params()
    obs = np.zeros((1, 3), np.float32)
    state = net.initial_state(1)
    base, _ = net.apply(params, obs, np.array([0]), np.array([0.0], np.float32), state)
    other_action, _ = net.apply(params, obs, np.array([2]), np.array([0.0], np.float32), state)
    other_reward, _ = net.apply(params, obs, np.array([0]), np.array([1.0], np.float32), state)
    assert not np.allclose(base, other_action)
    assert not np.allclose(base, other_reward)


def test_initial_params_depend_on_seed_only():
    a = jax.tree_util.tree_leaves(make_network(seed=3).initial_params())
    b = jax.tree_util.tree_leaves(make_network(seed=3).initial_params())
    c = jax.tree_util.tree_leaves(make_network(seed=4).initial_params())
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_conv_torso_for_uint8_images():
    image = gymnasium.spaces.Box(0, 255, (36, 36, 2), np.uint8)
    net = make_network(obs_space=image, act_space=gymnasium.spaces.Discrete(3))
    assert net.module.conv_torso
    params = net.initial_params()
    assert params["params"]["torso_dense_0"]["kernel"].shape[-1] == 512
    obs = np.random.default_rng(0).integers(0, 256, size=(2, 36, 36, 2), dtype=np.uint8)
    q, _ = net.apply(
        params, obs, np.zeros(2, np.int32), np.zeros(2, np.float32), net.initial_state(2)
    )
    assert q.shape == (2, 3)


def test_check_spaces_rejects_continuous_actions_and_non_box_observations():
    with pytest.raises(IncompatibleSpaceError, match="discrete"):
        RecurrentQNetwork.check_spaces(
            RecurrentQNetwork.Params(), BOX, gymnasium.spaces.Box(-1, 1, (2,), np.float32)
        )
    with pytest.raises(IncompatibleSpaceError, match="Box observations"):
        RecurrentQNetwork.check_spaces(
            RecurrentQNetwork.Params(), gymnasium.spaces.Discrete(5), DISCRETE
        )
    with pytest.raises(IncompatibleSpaceError):
        make_network(act_space=gymnasium.spaces.Box(-1, 1, (2,), np.float32))
