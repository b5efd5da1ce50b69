"""Fixed-number checks of the DQN losses, with and without jit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentos.agents.dqn import losses

WITH_AND_WITHOUT_JIT = pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])


def maybe_jit(fn, jit: bool, **static):
    """``fn`` jitted (with ``static`` argnames) or as is."""
    return jax.jit(fn, static_argnames=tuple(static)) if jit else fn


@WITH_AND_WITHOUT_JIT
def test_huber_loss_quadratic_inside_linear_outside(jit):
    fn = maybe_jit(losses.huber_loss, jit, delta=None)
    x = jnp.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
    # delta 1: 0.5 x^2 for |x| <= 1, |x| - 0.5 beyond.
    np.testing.assert_allclose(fn(x, delta=1.0), [2.5, 0.5, 0.125, 0.0, 0.125, 0.5, 2.5])
    # delta 2: 0.5 x^2 for |x| <= 2, 2 |x| - 2 beyond.
    np.testing.assert_allclose(fn(x, delta=2.0), [4.0, 0.5, 0.125, 0.0, 0.125, 0.5, 4.0])


def test_huber_loss_gradient_is_clipped_to_delta():
    grad = jax.vmap(jax.grad(losses.huber_loss))(jnp.array([-5.0, -0.25, 0.25, 5.0]))
    np.testing.assert_allclose(grad, [-1.0, -0.25, 0.25, 1.0])


@WITH_AND_WITHOUT_JIT
def test_double_q_learning_target_selects_with_online_evaluates_with_target(jit):
    fn = maybe_jit(losses.double_q_learning_target, jit)
    q_t_value = jnp.array([10.0, 20.0, 30.0])
    q_t_selector = jnp.array([0.0, 5.0, 1.0])  # argmax 1 -> value 20 (max of q_t_value is 30)
    target = fn(jnp.float32(1.0), jnp.float32(0.5), q_t_value, q_t_selector)
    np.testing.assert_allclose(target, 1.0 + 0.5 * 20.0)
    # A terminal transition (discount 0) is just the reward.
    np.testing.assert_allclose(fn(jnp.float32(1.0), jnp.float32(0.0), q_t_value, q_t_selector), 1.0)


@WITH_AND_WITHOUT_JIT
def test_double_q_learning_td_error(jit):
    fn = maybe_jit(losses.double_q_learning, jit)
    q_tm1 = jnp.array([1.0, 2.0, 3.0])
    q_t_value = jnp.array([4.0, 8.0, 6.0])
    q_t_selector = jnp.array([3.0, 1.0, 2.0])  # selects action 0 -> value 4
    td = fn(q_tm1, jnp.int32(2), jnp.float32(-1.0), jnp.float32(0.9), q_t_value, q_t_selector)
    # target = -1 + 0.9 * 4 = 2.6; td = 2.6 - q_tm1[2] = 2.6 - 3 = -0.4
    np.testing.assert_allclose(td, -0.4, rtol=1e-6)


def test_double_q_learning_stops_target_gradients():
    q = jnp.array([1.0, 2.0])

    def td_sq(q_tm1, q_t):
        td = losses.double_q_learning(q_tm1, jnp.int32(0), 1.0, 1.0, q_t, q_t)
        return td**2

    grad_tm1, grad_t = jax.grad(td_sq, argnums=(0, 1))(q, q)
    # td = 1 + 2 - 1 = 2; d(td^2)/dq_tm1[0] = -2 td = -4; nothing flows into q_t.
    np.testing.assert_allclose(grad_tm1, [-4.0, 0.0])
    np.testing.assert_allclose(grad_t, [0.0, 0.0])


@WITH_AND_WITHOUT_JIT
def test_batched_double_q_loss(jit):
    fn = maybe_jit(losses.batched_double_q_loss, jit, huber_delta=None)
    q_tm1 = jnp.array([[1.0, 2.0], [0.0, 0.0]])
    a_tm1 = jnp.array([1, 0], dtype=jnp.int32)
    r_t = jnp.array([1.0, 0.0])
    discount_t = jnp.array([0.5, 0.0])
    q_t_value = jnp.array([[4.0, 10.0], [100.0, 100.0]])
    q_t_selector = jnp.array([[0.0, 1.0], [1.0, 0.0]])
    loss, td = fn(q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector, huber_delta=1.0)
    # row 0: target 1 + 0.5 * 10 = 6, td 6 - 2 = 4 -> huber 3.5; row 1: target 0, td 0.
    np.testing.assert_allclose(td, [4.0, 0.0])
    np.testing.assert_allclose(loss, (3.5 + 0.0) / 2)
    squared, _ = fn(q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector, huber_delta=0.0)
    np.testing.assert_allclose(squared, (0.5 * 16.0) / 2)


def test_shape_mismatch_is_rejected():
    with pytest.raises(AssertionError):
        losses.double_q_learning_target(
            jnp.float32(0.0), jnp.float32(1.0), jnp.zeros(3), jnp.zeros(2)
        )
