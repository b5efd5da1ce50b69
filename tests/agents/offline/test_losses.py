"""Hand-worked numbers for the offline losses (behaviour cloning, discrete CQL), with and
without jit.

Worked values used below: logsumexp([1, 2, 3]) = 3 + log(1 + e^-1 + e^-2) = 3.4076059644;
logsumexp([0, 0, 0]) = log 3 = 1.0986122887.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentos.agents.offline import losses

WITH_AND_WITHOUT_JIT = pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
LSE_123 = 3.4076059644
LOG3 = 1.0986122887


def maybe_jit(fn, jit: bool, **static):
    """``fn`` jitted (with ``static`` argnames) or as is."""
    return jax.jit(fn, static_argnames=tuple(static)) if jit else fn


@WITH_AND_WITHOUT_JIT
def test_behaviour_cloning_is_the_cross_entropy_of_the_data_action(jit):
    fn = maybe_jit(losses.behaviour_cloning, jit)
    logits = jnp.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(fn(logits, jnp.int32(0)), LSE_123 - 1.0, rtol=1e-6)
    np.testing.assert_allclose(fn(logits, jnp.int32(2)), LSE_123 - 3.0, rtol=1e-6)
    # Uniform logits: -log(1/3) whatever the action.
    np.testing.assert_allclose(fn(jnp.zeros(3), jnp.int32(1)), LOG3, rtol=1e-6)


@WITH_AND_WITHOUT_JIT
def test_batched_behaviour_cloning_mean_and_accuracy(jit):
    fn = maybe_jit(losses.batched_behaviour_cloning_loss, jit)
    logits = jnp.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    actions = jnp.array([2, 1], dtype=jnp.int32)
    loss, accuracy = fn(logits, actions)
    # (0.4076059644 + 1.0986122887) / 2
    np.testing.assert_allclose(loss, 0.7531091266, rtol=1e-6)
    # Row 0: argmax 2 == 2; row 1: argmax 0 (first of ties) != 1.
    np.testing.assert_allclose(accuracy, 0.5)


def test_behaviour_cloning_gradient_is_softmax_minus_onehot():
    grad = jax.grad(losses.behaviour_cloning)(jnp.zeros(2), jnp.int32(0))
    np.testing.assert_allclose(grad, [-0.5, 0.5], rtol=1e-6)


@WITH_AND_WITHOUT_JIT
def test_cql_regulariser_logsumexp_minus_data_q(jit):
    fn = maybe_jit(losses.cql_regulariser, jit)
    q = jnp.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(fn(q, jnp.int32(0)), 2.4076059644, rtol=1e-6)
    np.testing.assert_allclose(fn(q, jnp.int32(2)), 0.4076059644, rtol=1e-6)
    # Always >= 0: the soft maximum is at least every value.
    np.testing.assert_allclose(fn(jnp.zeros(3), jnp.int32(1)), LOG3, rtol=1e-6)


def test_cql_regulariser_pushes_unseen_actions_down_and_the_data_action_up():
    grad = jax.grad(losses.cql_regulariser)(jnp.array([0.0, 0.0, 0.0, 0.0]), jnp.int32(3))
    np.testing.assert_allclose(grad, [0.25, 0.25, 0.25, -0.75], rtol=1e-6)


def _batch():
    """Two transitions worked by hand in ``test_batched_cql_loss``."""
    return dict(
        q_tm1=jnp.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]),
        a_tm1=jnp.array([0, 1], dtype=jnp.int32),
        r_t=jnp.array([1.0, 0.5]),
        discount_t=jnp.array([0.5, 0.0]),
        q_t_value=jnp.array([[4.0, 8.0, 6.0], [9.0, 9.0, 9.0]]),
        q_t_selector=jnp.array([[3.0, 1.0, 2.0], [0.0, 0.0, 0.0]]),
    )


@WITH_AND_WITHOUT_JIT
def test_batched_cql_loss(jit):
    fn = maybe_jit(losses.batched_cql_loss, jit, alpha=None, huber_delta=None)
    # Transition 0: Double DQN selects a=0 -> target 1 + 0.5 * 4 = 3, td = 3 - 1 = 2,
    #   huber(2) = 2 - 0.5 = 1.5; conservative = 3.4076059644 - 1 = 2.4076059644.
    # Transition 1: terminal (discount 0): target 0.5, td = 0.5, huber = 0.125;
    #   conservative = log 3 - 0 = 1.0986122887.
    # TD loss (1.5 + 0.125) / 2 = 0.8125; conservative mean 1.7531091266.
    loss, info = fn(**_batch(), alpha=0.5, huber_delta=1.0)
    np.testing.assert_allclose(info.td_loss, 0.8125, rtol=1e-6)
    np.testing.assert_allclose(info.conservative, 1.7531091266, rtol=1e-6)
    np.testing.assert_allclose(info.td_errors, [2.0, 0.5], rtol=1e-6)
    np.testing.assert_allclose(loss, 0.8125 + 0.5 * 1.7531091266, rtol=1e-6)


def test_cql_with_alpha_zero_is_double_dqn():
    from agentos.agents.dqn.losses import batched_double_q_loss

    loss, _ = losses.batched_cql_loss(**_batch(), alpha=0.0)
    dqn_loss, _ = batched_double_q_loss(*_batch().values())
    np.testing.assert_allclose(loss, dqn_loss, rtol=1e-7)


@WITH_AND_WITHOUT_JIT
def test_batched_cql_loss_squared_td_is_eq_4(jit):
    fn = maybe_jit(losses.batched_cql_loss, jit, alpha=None, huber_delta=None)
    # Same transitions as above, TD loss 0.5 * td^2 (huber_delta 0, CQLLearner's default):
    #   0.5 * 2^2 = 2, 0.5 * 0.5^2 = 0.125; mean (2 + 0.125) / 2 = 1.0625.
    # Loss 1.0625 + 0.5 * 1.7531091266 = 1.9390545633.
    loss, info = fn(**_batch(), alpha=0.5, huber_delta=0.0)
    np.testing.assert_allclose(info.td_loss, 1.0625, rtol=1e-6)
    np.testing.assert_allclose(info.conservative, 1.7531091266, rtol=1e-6)
    np.testing.assert_allclose(loss, 1.9390545633, rtol=1e-6)


def test_squared_td_outweighs_the_conservative_pull_where_huber_does_not():
    # One transition, Q(s, .) = [0, 0], data action 0, terminal with reward 10: target 10,
    # td = 10. With alpha 1 the gradient w.r.t. Q(s, .) is
    #   squared:   -td = -10 on action 0, plus softmax - onehot = [0.5 - 1, 0.5]
    #              -> [-10.5, 0.5]: the TD error dominates;
    #   Huber (1): -clip(td, -1, 1) = -1 on action 0, plus [-0.5, 0.5] -> [-1.5, 0.5]:
    #              the conservative term is a third of the pull on Q(s, a_data).
    def loss(q_tm1, huber_delta):
        batch = dict(
            a_tm1=jnp.array([0], dtype=jnp.int32),
            r_t=jnp.array([10.0]),
            discount_t=jnp.array([0.0]),
            q_t_value=jnp.zeros((1, 2)),
            q_t_selector=jnp.zeros((1, 2)),
        )
        return losses.batched_cql_loss(q_tm1, **batch, alpha=1.0, huber_delta=huber_delta)[0]

    q = jnp.zeros((1, 2))
    np.testing.assert_allclose(jax.grad(loss)(q, 0.0), [[-10.5, 0.5]], rtol=1e-6)
    np.testing.assert_allclose(jax.grad(loss)(q, 1.0), [[-1.5, 0.5]], rtol=1e-6)
