"""Value-learning losses for DQN, as pure functions in the style of rlax.

The per-transition functions are unbatched: ``q_tm1`` is the [A] vector of action values at
time t-1, ``a_tm1`` the action taken, ``r_t`` and ``discount_t`` the reward and discount
(``gamma * (1 - terminated)``) received on the transition to time t, and ``q_t_*`` the [A]
action values at time t. ``jax.vmap`` them for batches, as ``batched_double_q_loss`` does.
"""

from __future__ import annotations

from typing import TypeAlias

import chex
import jax
import jax.numpy as jnp

Array: TypeAlias = chex.Array
Numeric: TypeAlias = chex.Numeric


def huber_loss(x: Array, delta: float = 1.0) -> Array:
    """Elementwise Huber loss: quadratic for ``|x| <= delta``, linear beyond.

    ``0.5 * x**2`` if ``|x| <= delta`` else ``delta * (|x| - 0.5 * delta)``.
    Huber (1964), "Robust Estimation of a Location Parameter",
    https://projecteuclid.org/euclid.aoms/1177703732 ; used as the TD-error loss (gradient
    clipping to [-delta, delta]) by Mnih et al. (2015), https://www.nature.com/articles/nature14236
    """
    chex.assert_type(x, float)
    abs_x = jnp.abs(x)
    quadratic = jnp.minimum(abs_x, delta)
    linear = abs_x - quadratic
    return 0.5 * quadratic**2 + delta * linear


def double_q_learning_target(
    r_t: Numeric, discount_t: Numeric, q_t_value: Array, q_t_selector: Array
) -> Array:
    """The Double DQN bootstrap target for one transition (unbatched).

    ``Y_t = r_t + discount_t * Q(x_t, argmax_a Q(x_t, a; θ_t); θ⁻_t)``: the online network
    (``q_t_selector``) selects the next action, the target network (``q_t_value``) evaluates it.
    van Hasselt, Guez & Silver (2016), "Deep Reinforcement Learning with Double Q-learning",
    eq. (4), https://arxiv.org/abs/1509.06461
    """
    chex.assert_rank([r_t, discount_t, q_t_value, q_t_selector], [0, 0, 1, 1])
    chex.assert_equal_shape([q_t_value, q_t_selector])
    chex.assert_type([r_t, discount_t, q_t_value, q_t_selector], float)
    best_action = jnp.argmax(q_t_selector)
    return r_t + discount_t * q_t_value[best_action]


def double_q_learning(
    q_tm1: Array,
    a_tm1: Numeric,
    r_t: Numeric,
    discount_t: Numeric,
    q_t_value: Array,
    q_t_selector: Array,
    stop_target_gradients: bool = True,
) -> Array:
    """The Double Q-learning TD error ``Y_t - Q(x_{t-1}, a_{t-1})`` for one transition.

    The target ``Y_t`` is ``double_q_learning_target`` (eq. (4) of van Hasselt, Guez & Silver
    2016, https://arxiv.org/abs/1509.06461); with ``stop_target_gradients`` no gradient flows
    through it, as in DQN where the target network is held fixed.
    """
    chex.assert_rank([q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector], [1, 0, 0, 0, 1, 1])
    chex.assert_type([q_tm1, a_tm1], [float, int])
    chex.assert_equal_shape([q_tm1, q_t_value])
    target_tm1 = double_q_learning_target(r_t, discount_t, q_t_value, q_t_selector)
    if stop_target_gradients:
        target_tm1 = jax.lax.stop_gradient(target_tm1)
    return target_tm1 - q_tm1[a_tm1]


def batched_double_q_loss(
    q_tm1: Array,
    a_tm1: Array,
    r_t: Array,
    discount_t: Array,
    q_t_value: Array,
    q_t_selector: Array,
    huber_delta: float = 1.0,
) -> tuple[Array, Array]:
    """Mean Huber loss of the Double DQN TD errors over a batch; returns (loss, td_errors [B]).

    ``L(θ) = mean_i huber(Y_i - Q(x_i, a_i; θ))``, the DQN objective (Mnih et al. 2015,
    https://www.nature.com/articles/nature14236) with the Double DQN target (van Hasselt et al.
    2016, eq. (4), https://arxiv.org/abs/1509.06461). A ``huber_delta`` of 0 or less gives the
    squared loss ``0.5 * δ²`` instead.
    """
    chex.assert_rank([q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector], [2, 1, 1, 1, 2, 2])
    chex.assert_equal_shape([q_tm1, q_t_value, q_t_selector])
    chex.assert_equal_shape([a_tm1, r_t, discount_t])
    chex.assert_equal_shape_prefix([q_tm1, a_tm1], 1)
    td_errors = jax.vmap(double_q_learning)(q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector)
    if huber_delta > 0:
        losses = huber_loss(td_errors, huber_delta)
    else:
        losses = 0.5 * jnp.square(td_errors)
    return jnp.mean(losses), td_errors
