"""Agent57 networks: both Q-networks in one vmapped call, the combined values, the mixtures."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentos.agents.agent57.network import (
    NUM_HEADS,
    combined_q,
    lstm_extra_inputs,
    split_step,
    split_unroll,
)
from agentos.agents.r2d2 import losses
from agentos.agents.r2d2.network import RecurrentQModule, step


@pytest.fixture(scope="module")
def module_and_params():
    module = RecurrentQModule(
        num_actions=3, conv_torso=False, hidden_sizes=(8,), lstm_size=4, head_hidden=0
    )
    obs = jnp.zeros((1, 5))
    # The module's inputs as Agent57 builds them: 4 arms, rewards [r_e, r_i] raw in `extra`.
    reward, extra = lstm_extra_inputs(jnp.zeros((1, 2)), jnp.zeros(1, jnp.int32), 4)
    zeros = jnp.zeros((1, 4))
    keys = jax.random.split(jax.random.PRNGKey(0), NUM_HEADS)
    params = jax.vmap(
        lambda k: module.init(k, obs, jnp.zeros(1, jnp.int32), reward, (zeros, zeros), extra)
    )(keys)
    return module, params


def _inputs(batch=3, seed=1):
    rng = np.random.default_rng(seed)
    obs = jnp.asarray(rng.normal(size=(batch, 5)), jnp.float32)
    prev_action = jnp.asarray(rng.integers(0, 3, batch), jnp.int32)
    prev_reward = jnp.asarray(rng.normal(size=(batch, 2)), jnp.float32)
    arm = jnp.asarray(rng.integers(0, 4, batch), jnp.int32)
    state = tuple(jnp.asarray(rng.normal(size=(2, batch, 4)), jnp.float32) for _ in range(2))
    return obs, prev_action, prev_reward, arm, state


def test_split_step_equals_each_network_alone(module_and_params):
    module, params = module_and_params
    obs, prev_action, prev_reward, arm, state = _inputs()
    q, (h, c) = split_step(module, params, obs, prev_action, prev_reward, arm, state, 4)
    assert q.shape == (2, 3, 3) and h.shape == (2, 3, 4)
    slot, extra = lstm_extra_inputs(prev_reward, arm, 4)
    np.testing.assert_array_equal(slot, np.zeros((3, 1)))
    np.testing.assert_array_equal(extra[:, :4], jax.nn.one_hot(arm, 4))
    np.testing.assert_array_equal(extra[:, 4:], prev_reward)  # raw, not tanh
    for head in range(NUM_HEADS):
        one = jax.tree_util.tree_map(lambda x, i=head: x[i], params)
        q_one, (h_one, _) = step(
            module, one, obs, prev_action, slot, (state[0][head], state[1][head]), extra
        )
        np.testing.assert_allclose(q[head], q_one, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(h[head], h_one, rtol=1e-5, atol=1e-6)
    # The heads have their own parameters: their values differ.
    assert not np.allclose(q[0], q[1])


def test_split_unroll_equals_repeated_steps(module_and_params):
    module, params = module_and_params
    steps = [_inputs(seed=s) for s in range(4)]
    state = steps[0][4]
    stacked = [jnp.stack([s[i] for s in steps]) for i in range(4)]
    q_unrolled, final = split_unroll(module, params, *stacked, state, 4)
    for t, (obs, prev_action, prev_reward, arm, _) in enumerate(steps):
        q_t, state = split_step(module, params, obs, prev_action, prev_reward, arm, state, 4)
        np.testing.assert_allclose(q_unrolled[:, t], q_t, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(final[0], state[0], rtol=1e-5, atol=1e-5)


def test_mixture_index_is_an_input(module_and_params):
    module, params = module_and_params
    obs, prev_action, prev_reward, arm, state = _inputs()
    q0, _ = split_step(module, params, obs, prev_action, prev_reward, arm * 0, state, 4)
    q1, _ = split_step(module, params, obs, prev_action, prev_reward, arm * 0 + 3, state, 4)
    assert not np.allclose(q0, q1)


def test_previous_intrinsic_reward_is_not_saturated(module_and_params):
    # NGU / Agent57 feed the previous rewards unsquashed; tanh(20) == tanh(40) in float32,
    # so through tanh an intrinsic reward of 20 and one of 40 would give the same values.
    assert float(jnp.tanh(jnp.float32(20.0))) == float(jnp.tanh(jnp.float32(40.0)))
    module, params = module_and_params
    obs, prev_action, _, arm, state = _inputs()
    q = [
        split_step(module, params, obs, prev_action, jnp.tile(r, (3, 1)), arm, state, 4)[0]
        for r in (jnp.asarray([[0.0, 20.0]]), jnp.asarray([[0.0, 40.0]]))
    ]
    assert not np.allclose(q[0], q[1])


@pytest.mark.parametrize("jit", [False, True])
def test_combined_q_numbers(jit):
    fn = jax.jit(combined_q, static_argnums=3) if jit else combined_q
    q_e = jnp.asarray([[1.0, 2.0]])
    q_i = jnp.asarray([[4.0, -2.0]])
    # Identity: 1 + 0.5 * 4 = 3, 2 + 0.5 * -2 = 1.
    np.testing.assert_allclose(fn(q_e, q_i, jnp.asarray([0.5]), False), [[3.0, 1.0]])
    # Rescaled: h(h^-1(1) + 0.5 h^-1(4)); beta 0 gives back q_e.
    h, h_inv = losses.SIGNED_HYPERBOLIC_PAIR
    expected = h(h_inv(1.0) + 0.5 * h_inv(4.0))
    np.testing.assert_allclose(fn(q_e, q_i, jnp.asarray([0.5]), True)[0, 0], expected, rtol=1e-5)
    np.testing.assert_allclose(fn(q_e, q_i, jnp.asarray([0.0]), True), q_e, rtol=1e-5)


def test_only_the_intrinsic_network_sees_the_intrinsic_reward(module_and_params):
    module, params = module_and_params
    obs, prev_action, _, arm, state = _inputs()

    def q(r_i, setting):
        rewards = jnp.tile(jnp.asarray([[1.0, r_i]]), (3, 1))
        return split_step(module, params, obs, prev_action, rewards, arm, state, 4, setting)[0]

    low, high = q(2.0, "intrinsic_head"), q(30.0, "intrinsic_head")
    np.testing.assert_array_equal(low[0], high[0])  # extrinsic: r_i is not an input
    assert not np.allclose(low[1], high[1])
    both_low, both_high = q(2.0, "both_heads"), q(30.0, "both_heads")
    assert not np.allclose(both_low[0], both_high[0])
    np.testing.assert_array_equal(both_low[1], low[1])  # the intrinsic network: unchanged
