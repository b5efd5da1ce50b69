"""Offline-RL losses as pure functions in the style of rlax: behaviour cloning and discrete CQL.

The per-transition functions are unbatched: ``q_tm1`` (or ``logits_tm1``) is the [A] vector of
network outputs at time t-1 and ``a_tm1`` the action the dataset took there. The ``batched_*``
functions take [B, A] and [B] arrays and average over the batch; the TD part of CQL is the DQN
learner's own ``batched_double_q_loss``, so CQL with ``alpha = 0`` is exactly Double DQN.
"""

from __future__ import annotations

from typing import NamedTuple, TypeAlias

import chex
import jax
import jax.numpy as jnp

from agentos.agents.dqn.losses import batched_double_q_loss

Array: TypeAlias = chex.Array
Numeric: TypeAlias = chex.Numeric


def behaviour_cloning(logits_tm1: Array, a_tm1: Numeric) -> Array:
    """The cross-entropy ``-log softmax(logits_tm1)[a_tm1]`` of one dataset action (unbatched).

    Behaviour cloning as maximum likelihood of the data's actions under a softmax policy
    ``pi(a|s) = exp(l_a) / sum_b exp(l_b)``: ``L = -log pi(a_tm1|s_tm1)
    = logsumexp_b l_b - l_{a_tm1}``. Pomerleau (1991), "Efficient Training of Artificial Neural
    Networks for Autonomous Navigation", https://doi.org/10.1162/neco.1991.3.1.88 ; the
    discrete-action BC baseline of Kumar et al. (2020), https://arxiv.org/abs/2006.04779 .
    """
    chex.assert_rank([logits_tm1, a_tm1], [1, 0])
    chex.assert_type([logits_tm1, a_tm1], [float, int])
    return jax.nn.logsumexp(logits_tm1) - logits_tm1[a_tm1]


def batched_behaviour_cloning_loss(logits_tm1: Array, a_tm1: Array) -> tuple[Array, Array]:
    """Mean BC cross-entropy over a batch; returns (loss, accuracy of argmax vs data action)."""
    chex.assert_rank([logits_tm1, a_tm1], [2, 1])
    chex.assert_equal_shape_prefix([logits_tm1, a_tm1], 1)
    losses = jax.vmap(behaviour_cloning)(logits_tm1, a_tm1)
    accuracy = jnp.mean((jnp.argmax(logits_tm1, axis=-1) == a_tm1).astype(jnp.float32))
    return jnp.mean(losses), accuracy


def cql_regulariser(q_tm1: Array, a_tm1: Numeric) -> Array:
    """The conservative term of CQL(H) for one state (unbatched).

    ``log sum_a exp Q(s, a) - Q(s, a_data)``: pushes down the soft maximum of Q over all actions
    and up the value of the action the dataset took. Kumar, Zhou, Tucker & Levine (2020),
    "Conservative Q-Learning for Offline Reinforcement Learning", eq. (4) (the CQL(H) variant,
    whose inner maximisation over mu with an entropy regulariser gives the logsumexp),
    https://arxiv.org/abs/2006.04779 . Its gradient w.r.t. ``q_tm1`` is
    ``softmax(q_tm1) - onehot(a_tm1)``.
    """
    chex.assert_rank([q_tm1, a_tm1], [1, 0])
    chex.assert_type([q_tm1, a_tm1], [float, int])
    return jax.nn.logsumexp(q_tm1) - q_tm1[a_tm1]


class CQLLossInfo(NamedTuple):
    """The parts of a CQL loss, for logging."""

    td_loss: Array
    """Mean Huber (or squared) Double DQN TD loss."""
    conservative: Array
    """Mean ``cql_regulariser`` over the batch (before the ``alpha`` weight)."""
    td_errors: Array
    """[B] TD errors."""


def batched_cql_loss(
    q_tm1: Array,
    a_tm1: Array,
    r_t: Array,
    discount_t: Array,
    q_t_value: Array,
    q_t_selector: Array,
    alpha: float,
    huber_delta: float = 1.0,
) -> tuple[Array, CQLLossInfo]:
    """Discrete CQL(H): the Double DQN loss plus ``alpha`` times the conservative term.

    ``L(theta) = mean_i l(Y_i - Q(s_i, a_i)) + alpha * mean_i [logsumexp_a Q(s_i, a)
    - Q(s_i, a_i)]``, eq. (4) of Kumar et al. (2020), https://arxiv.org/abs/2006.04779 , with
    the TD part of ``agentos.agents.dqn.losses.batched_double_q_loss`` on the Double DQN
    target (van Hasselt et al. 2016, https://arxiv.org/abs/1509.06461): ``l`` is eq. (4)'s
    ``0.5 * td**2`` for ``huber_delta <= 0`` (``CQLLearner``'s default), else DQN's Huber
    loss (d3rlpy's DiscreteCQL). ``discount_t`` is ``gamma * (1 - terminated)``.
    """
    chex.assert_rank([q_tm1, a_tm1], [2, 1])
    td_loss, td_errors = batched_double_q_loss(
        q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector, huber_delta
    )
    conservative = jnp.mean(jax.vmap(cql_regulariser)(q_tm1, a_tm1))
    return td_loss + alpha * conservative, CQLLossInfo(td_loss, conservative, td_errors)


def sequence_cql_regulariser(q_t: Array, a_t: Array, mask_t: Array) -> Array:
    """The conservative term of CQL(H) over one sequence's trace, averaged on its valid steps.

    ``sum_t mask_t [logsumexp_a Q(x_t, a) - Q(x_t, a_t)] / max(sum_t mask_t, 1)``: eq. (4) of
    Kumar et al. (2020), https://arxiv.org/abs/2006.04779 (``cql_regulariser`` at each step),
    over the steps of a recurrent learner's trace that hold a data action (``mask_t`` 1; the
    final observation and the padding have 0), normalised like R2D2's masked TD loss
    (``agentos.agents.r2d2.losses.td_error_loss``) so the two add up per sequence. ``q_t`` is
    [T, A] (the network's outputs: with value rescaling, in the rescaled space), ``a_t`` [T].
    """
    chex.assert_rank([q_t, a_t, mask_t], [2, 1, 1])
    chex.assert_equal_shape_prefix([q_t, a_t, mask_t], 1)
    mask = mask_t.astype(q_t.dtype)
    per_step = jax.vmap(cql_regulariser)(q_t, a_t)
    return jnp.sum(mask * per_step) / jnp.maximum(jnp.sum(mask), 1.0)
