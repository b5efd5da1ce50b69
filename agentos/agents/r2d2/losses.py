"""Sequence losses for R2D2 and Agent57, as pure functions in the style of rlax.

Every function works on ONE sequence (unbatched, time-major) and is jittable; ``jax.vmap`` it
over a batch of sequences.

Alignment convention (DESIGN.md, "Agent57: facts to get right"): ``r_t[t]`` and
``discount_t[t]`` belong to the transition ``(x_{t-1}, a_{t-1}) -> x_t``. In a sequence with
observations ``x_0 .. x_{T-1}`` and actions ``a_0 .. a_{T-1}`` (all arrays of length ``T``):

- ``r_t[t]`` is the reward received after taking ``a_{t-1}`` in ``x_{t-1}``;
- ``discount_t[t]`` is the discount applied to what follows ``x_t`` (``gamma``, or 0 if ``x_t``
  is terminal);
- ``r_t[0]`` and ``discount_t[0]`` belong to the previous sequence's last step and no target
  here uses them;
- the target for ``Q(x_t, a_t)`` starts with ``r_t[t + 1]``.

The target functions return plain (differentiable) arrays; ``td_error_loss`` stops their
gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, TypeAlias

import chex
import jax
import jax.numpy as jnp

Array: TypeAlias = chex.Array
Numeric: TypeAlias = chex.Numeric


# --------------------------------------------------------------------------- value rescaling


def signed_hyperbolic(x: Array, eps: float = 1e-3) -> Array:
    """The value rescaling ``h(x) = sign(x) (sqrt(|x| + 1) - 1) + eps x``.

    Pohlen et al. (2018), "Observe and Look Further: Achieving Consistent Performance on Atari",
    section 3.2 and Prop. A.2, https://arxiv.org/abs/1805.11593 ; used by R2D2 (Kapturowski et
    al. 2019, section 2.3, https://openreview.net/forum?id=r1lyTjAqYX) with ``eps = 1e-3``.

    Computed as ``x / (sqrt(|x| + 1) + 1) + eps x``, which is the same function without the
    cancellation of ``sqrt(|x| + 1) - 1`` near 0 (and with the right gradient, ``1/2 + eps``, at 0).
    """
    chex.assert_type(x, float)
    return x / (jnp.sqrt(jnp.abs(x) + 1.0) + 1.0) + eps * x


def signed_parabolic(x: Array, eps: float = 1e-3) -> Array:
    """The exact inverse of ``signed_hyperbolic``: ``h^{-1}(x)``.

    Pohlen et al. (2018), Prop. A.2, https://arxiv.org/abs/1805.11593 :
    ``h^{-1}(x) = sign(x) (((sqrt(1 + 4 eps (|x| + 1 + eps)) - 1) / (2 eps))^2 - 1)``.

    Here ``|w| = sqrt(|y| + 1) - 1`` (``y = h^{-1}(x)``, ``w`` with the sign of ``x``) solves
    ``eps w^2 + (1 + 2 eps) |w| - |x| = 0``, taken in the form
    ``w = 2x / ((1 + 2 eps) + sqrt((1 + 2 eps)^2 + 4 eps |x|))`` (no cancellation, valid for
    ``eps = 0``, and with the right gradient at 0); then ``y = w (|w| + 2)``.
    """
    chex.assert_type(x, float)
    b = 1.0 + 2.0 * eps
    w = 2.0 * x / (b + jnp.sqrt(b * b + 4.0 * eps * jnp.abs(x)))
    return w * (jnp.abs(w) + 2.0)


def _identity(x: Array) -> Array:
    return x


class TxPair(NamedTuple):
    """A value transform ``apply`` (h) and its inverse ``apply_inv`` (h^{-1})."""

    apply: Callable[[Array], Array]
    apply_inv: Callable[[Array], Array]


IDENTITY_PAIR = TxPair(_identity, _identity)
SIGNED_HYPERBOLIC_PAIR = TxPair(signed_hyperbolic, signed_parabolic)


# --------------------------------------------------------------------------- targets


def n_step_double_q_targets(
    r_t: Array,
    discount_t: Array,
    q_target_t: Array,
    q_online_t: Array,
    n: int,
    tx_pair: TxPair = IDENTITY_PAIR,
) -> Array:
    """Transformed n-step double-Q targets for one sequence; returns ``[T - n]``.

    R2D2 (Kapturowski et al. 2019, section 2.3, https://openreview.net/forum?id=r1lyTjAqYX),
    with the double-Q bootstrap of van Hasselt et al. (2016, https://arxiv.org/abs/1509.06461)
    and the value rescaling ``h`` of Pohlen et al. (2018, https://arxiv.org/abs/1805.11593)::

        y_t = h( sum_{k=0}^{n-1} (prod_{j=1}^{k} gamma_{t+j}) r_{t+k+1}
                 + (prod_{j=1}^{n} gamma_{t+j}) h^{-1}(q_target_{t+n}[a*_{t+n}]) ),
        a*_{t+n} = argmax_a q_online_{t+n}[a]

    with ``r = r_t``, ``gamma = discount_t`` aligned as in the module docstring: the target for
    ``Q(x_t, a_t)`` uses ``r_t[t+1] .. r_t[t+n]`` and bootstraps at ``x_{t+n}`` with discount
    ``discount_t[t+1] * ... * discount_t[t+n]`` (0 once a terminal step is crossed). Targets are
    given only for ``t = 0 .. T-n-1`` (full n-step returns; no truncated bootstrap at the end).

    Args:
      r_t: rewards ``[T]``; ``r_t[t]`` is received on ``(x_{t-1}, a_{t-1}) -> x_t``.
      discount_t: discounts ``[T]``, aligned like ``r_t``; 0 where ``x_t`` is terminal.
      q_target_t: target-network action values ``[T, A]``, in h-space.
      q_online_t: online-network action values ``[T, A]``, used only for the argmax.
      n: number of steps (a Python int, ``1 <= n < T``).
      tx_pair: ``(h, h^{-1})``; ``IDENTITY_PAIR`` gives the textbook n-step double-Q target,
        ``SIGNED_HYPERBOLIC_PAIR`` the R2D2 one. A plain ``(h, h_inv)`` tuple works too.

    Returns:
      ``[T - n]`` targets for ``Q(x_t, a_t)``, ``t = 0 .. T-n-1``, in h-space.
    """
    chex.assert_rank([r_t, discount_t, q_target_t, q_online_t], [1, 1, 2, 2])
    chex.assert_type([r_t, discount_t, q_target_t, q_online_t], float)
    chex.assert_equal_shape([r_t, discount_t])
    chex.assert_equal_shape([q_target_t, q_online_t])
    chex.assert_equal_shape_prefix([r_t, q_target_t], 1)
    h, h_inv = tx_pair
    seq_len = r_t.shape[0]
    if not isinstance(n, int) or not 1 <= n < seq_len:
        raise ValueError(f"n must be an int with 1 <= n < T = {seq_len}, got {n!r}")
    num_targets = seq_len - n

    returns = jnp.zeros((num_targets,), dtype=r_t.dtype)
    discount = jnp.ones((num_targets,), dtype=r_t.dtype)
    for k in range(n):  # step k of the target for t adds r_{t+k+1}, then gamma_{t+k+1}.
        returns = returns + discount * r_t[k + 1 : k + 1 + num_targets]
        discount = discount * discount_t[k + 1 : k + 1 + num_targets]

    best_action = jnp.argmax(q_online_t[n:], axis=-1)  # a*_{t+n}, t = 0 .. T-n-1
    bootstrap = jnp.take_along_axis(q_target_t[n:], best_action[:, None], axis=-1)[:, 0]
    return h(returns + discount * h_inv(bootstrap))


def epsilon_greedy_probabilities(q_t: Array, a_t: Array, epsilon: Numeric) -> Array:
    """Probability ``mu(a_t | x_t)`` of the taken action under an epsilon-greedy policy on ``q_t``.

    ``mu(a|x) = (1 - eps) + eps / A`` if ``a = argmax_b q(x, b)`` else ``eps / A``. Ties go to
    the first maximal action (``jnp.argmax``), which must match how the actor breaks them.
    Works on one step (``q_t [A]``, ``a_t []``), a sequence
    (``q_t [T, A]``, ``a_t [T]``) or a batch (``[B, T, A]``, ``[B, T]``). For Retrace, ``q_t``
    must be the values the actor acted with (store ``mu`` as an extra).
    """
    chex.assert_rank(q_t, {1, 2, 3})
    chex.assert_equal_shape([q_t[..., 0], a_t])
    chex.assert_type([q_t, a_t], [float, int])
    num_actions = q_t.shape[-1]
    is_greedy = (a_t == jnp.argmax(q_t, axis=-1)).astype(q_t.dtype)
    return is_greedy * (1.0 - epsilon) + epsilon / num_actions


def transformed_retrace_targets(
    q_target_t: Array,
    q_policy_t: Array,
    a_t: Array,
    r_t: Array,
    discount_t: Array,
    mu_t: Array,
    lambda_: Numeric = 0.95,
    tx_pair: TxPair = IDENTITY_PAIR,
    trace_mask_t: Array | None = None,
    traces: str = "retrace",
) -> Array:
    """Transformed Retrace targets, greedy target policy, for one sequence; returns ``[T - 1]``.

    Retrace (Munos et al. 2016, "Safe and efficient off-policy reinforcement learning", eq. (4),
    https://arxiv.org/abs/1606.02647) with the value rescaling ``h`` of Pohlen et al. (2018,
    https://arxiv.org/abs/1805.11593), as used by NGU and Agent57 (Badia et al. 2020,
    https://arxiv.org/abs/2003.13350, App. B: both heads bootstrap with one greedy policy on the
    combined ``Q_e + beta Q_i``, passed here as ``q_policy_t``). Same recursion as rlax's
    ``transformed_retrace``: all bootstrap values are mapped through ``h^{-1}``, the ordinary
    (linear) Retrace return ``G`` is computed backwards in that space, and ``h`` is applied last::

        pi(.|x_s) = one-hot(argmax_a q_policy_s[a])             (greedy target policy)
        c_s       = lambda * min(1, pi(a_s|x_s) / mu_s) * m_s  (truncated traces)
        V_s       = sum_a pi(a|x_s) h^{-1}(q_target_s[a])       (= h^{-1}(q_target_s[greedy]))
        Q_s       = h^{-1}(q_target_s[a_s])
        G_{T-2}   = r_{T-1} + gamma_{T-1} V_{T-1}
        G_t       = r_{t+1} + gamma_{t+1} (V_{t+1} + c_{t+1} (G_{t+1} - Q_{t+1})),  t < T-2
        y_t       = h(G_t)

    Since ``h^{-1}(y_{t+1}) = G_{t+1}``, this is exactly
    ``y_t = h(r_{t+1} + gamma_{t+1} (E_pi h^{-1}(q_target_{t+1}) + c_{t+1} (h^{-1}(y_{t+1}) -
    h^{-1}(q_target_{t+1}[a_{t+1}]))))``. At the end of the sequence the trace is cut
    (``c_{T-1}`` is not used): the last target is the one-step expected-SARSA target.
    Alignment as in the module docstring: the target for ``Q(x_t, a_t)`` uses ``r_t[t+1]``,
    ``discount_t[t+1]`` and the values, action and ``mu`` at ``t+1``; targets are given for
    ``t = 0 .. T-2``. ``lambda_ = 0`` gives the one-step Q-learning target on ``q_policy``'s
    greedy action; ``lambda_ = 1`` with greedy behaviour gives the discounted return to the end
    of the sequence, bootstrapped at ``x_{T-1}``.

    Args:
      q_target_t: action values to bootstrap from ``[T, A]`` (target network), in h-space.
      q_policy_t: action values whose argmax is the target policy ``[T, A]``.
      a_t: actions taken ``[T]`` (``a_t[t]`` taken in ``x_t``).
      r_t: rewards ``[T]``; ``r_t[t]`` is received on ``(x_{t-1}, a_{t-1}) -> x_t``.
      discount_t: discounts ``[T]``, aligned like ``r_t``; 0 where ``x_t`` is terminal.
      mu_t: behaviour probabilities ``mu(a_t | x_t)`` ``[T]`` (see
        ``epsilon_greedy_probabilities``).
      lambda_: trace coefficient.
      tx_pair: ``(h, h^{-1})``; ``IDENTITY_PAIR`` for plain Retrace,
        ``SIGNED_HYPERBOLIC_PAIR`` for Agent57's.
      trace_mask_t: ``m_s [T]``, 1 where ``a_s`` is a real action and 0 where there is none
        (an episode's final observation, padding): ``c_s = 0`` there, so the trace is cut by
        the mask itself. None: all ones. Cutting by swapping in a non-greedy action instead
        fails with one action (the swap is the greedy action again).
      traces: ``"retrace"`` (above) or ``"peng"``: Peng's Q(lambda) (Peng & Williams 1996;
        Kozuno et al. 2021, "Revisiting Peng's Q(lambda) for Modern Reinforcement Learning",
        eq. (3), https://arxiv.org/abs/2103.00107 ), whose traces are never cut by the
        behaviour: ``G_t = r_{t+1} + gamma_{t+1} ((1 - lambda m_{t+1}) V_{t+1} + lambda
        m_{t+1} G_{t+1})``, i.e. ``c_s = lambda m_s`` with ``Q_s`` replaced by ``V_s``. It
        mixes the behaviour's returns with greedy bootstraps instead of cutting at each
        exploratory action, so reward travels back along epsilon-greedy data as fast as an
        n-step return, with the bias of a conservative (behaviour-aware) target.

    Returns:
      ``[T - 1]`` targets for ``Q(x_t, a_t)``, ``t = 0 .. T-2``, in h-space.
    """
    chex.assert_rank([q_target_t, q_policy_t, a_t, r_t, discount_t, mu_t], [2, 2, 1, 1, 1, 1])
    chex.assert_type(
        [q_target_t, q_policy_t, a_t, r_t, discount_t, mu_t],
        [float, float, int, float, float, float],
    )
    chex.assert_equal_shape([q_target_t, q_policy_t])
    chex.assert_equal_shape([a_t, r_t, discount_t, mu_t])
    chex.assert_equal_shape_prefix([q_target_t, a_t], 1)
    if a_t.shape[0] < 2:
        raise ValueError(f"Retrace needs a sequence of length T >= 2, got T = {a_t.shape[0]}")
    h, h_inv = tx_pair

    inv_q_t = h_inv(q_target_t)
    greedy_t = jnp.argmax(q_policy_t, axis=-1)
    v_t = jnp.take_along_axis(inv_q_t, greedy_t[:, None], axis=-1)[:, 0]
    q_a_t = jnp.take_along_axis(inv_q_t, a_t[:, None], axis=-1)[:, 0]
    if traces == "peng":
        q_a_t = v_t
        c_t = jnp.full_like(v_t, lambda_)
    elif traces == "retrace":
        pi_a_t = (a_t == greedy_t).astype(q_target_t.dtype)
        # pi is 0 or 1; for pi = 0 the ratio is 0 whatever mu is (no 0/0 when mu = 0).
        safe_mu = jnp.maximum(mu_t, jnp.finfo(mu_t.dtype).tiny)
        ratio_t = jnp.where(pi_a_t > 0, pi_a_t / safe_mu, 0.0)
        c_t = lambda_ * jnp.minimum(1.0, ratio_t)
    else:
        raise ValueError(f"traces must be 'retrace' or 'peng', got {traces!r}")
    if trace_mask_t is not None:
        chex.assert_equal_shape([a_t, trace_mask_t])
        c_t = c_t * trace_mask_t.astype(c_t.dtype)

    def step(g_next: Array, xs: tuple[Array, ...]) -> tuple[Array, Array]:
        r, discount, v, q_a, c = xs  # all at time t+1
        g = r + discount * (v + c * (g_next - q_a))
        return g, g

    # Starting the carry at Q_{T-1} makes the correction vanish for the last target.
    xs = (r_t[1:], discount_t[1:], v_t[1:], q_a_t[1:], c_t[1:])
    _, returns = jax.lax.scan(step, q_a_t[-1], xs, reverse=True)
    return h(returns)


# --------------------------------------------------------------------------- loss, priorities


def td_error_loss(q_tm1_selected: Array, targets: Array, mask: Array) -> tuple[Array, Array]:
    """Masked squared TD loss over one sequence; returns ``(loss, td_errors)``.

    ``loss = 0.5 * sum_t mask_t (y_t - Q(x_t, a_t))^2 / max(sum_t mask_t, 1)`` with no gradient
    through the targets ``y_t`` (R2D2, Kapturowski et al. 2019,
    https://openreview.net/forum?id=r1lyTjAqYX). ``td_errors = mask * (y - Q)``, ``[T']``:
    zero where the mask is 0, ready for ``sequence_priority(jnp.abs(td_errors), mask)``.
    ``mask`` (bool or float) marks steps that count (e.g. 0 after the end of an episode).
    """
    chex.assert_rank([q_tm1_selected, targets, mask], 1)
    chex.assert_type([q_tm1_selected, targets], float)
    chex.assert_equal_shape([q_tm1_selected, targets, mask])
    mask = mask.astype(q_tm1_selected.dtype)
    td_errors = mask * (jax.lax.stop_gradient(targets) - q_tm1_selected)
    loss = 0.5 * jnp.sum(jnp.square(td_errors)) / jnp.maximum(jnp.sum(mask), 1.0)
    return loss, td_errors


def sequence_priority(abs_td: Array, mask: Array, eta: Numeric = 0.9) -> Array:
    """Sequence priority ``p = eta max_t |delta_t| + (1 - eta) mean_t |delta_t|`` over valid steps.

    R2D2 (Kapturowski et al. 2019, section 2.3, https://openreview.net/forum?id=r1lyTjAqYX);
    Agent57 (Badia et al. 2020, App. G, https://arxiv.org/abs/2003.13350) uses ``eta = 0.9``.
    Only steps with ``mask`` set count (the mean divides by their number); a sequence with no
    valid step gets priority 0.
    """
    chex.assert_rank([abs_td, mask], 1)
    chex.assert_type(abs_td, float)
    chex.assert_equal_shape([abs_td, mask])
    valid = mask.astype(bool)
    abs_td = jnp.where(valid, jnp.abs(abs_td), 0.0)
    max_td = jnp.max(abs_td)
    mean_td = jnp.sum(abs_td) / jnp.maximum(jnp.sum(valid.astype(abs_td.dtype)), 1.0)
    return eta * max_td + (1.0 - eta) * mean_td


def apex_epsilons(num_actors: int, base: float = 0.4, alpha: float = 8.0) -> Array:
    """Per-actor exploration rates ``eps_i = base^(1 + alpha i / (N - 1))``, ``i = 0 .. N-1``.

    Ape-X (Horgan et al. 2018, "Distributed Prioritized Experience Replay", section 4,
    https://arxiv.org/abs/1803.00933), with ``base = 0.4``, ``alpha = 7`` there; the default
    ``alpha = 8`` is the Agent57 ladder (https://arxiv.org/abs/2003.13350, App. G). Actor 0 is
    the most exploratory (``eps_0 = base``). ``N = 1`` gives ``[base]``. ``num_actors`` must be
    a Python int (static under jit).
    """
    if not isinstance(num_actors, int) or num_actors < 1:
        raise ValueError(f"num_actors must be a positive int, got {num_actors!r}")
    i = jnp.arange(num_actors, dtype=jnp.float32)
    exponent = 1.0 + alpha * i / max(num_actors - 1, 1)
    return jnp.power(jnp.asarray(base, dtype=jnp.float32), exponent)
