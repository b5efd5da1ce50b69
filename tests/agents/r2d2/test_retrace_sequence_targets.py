"""Hand-worked Retrace targets of one trace as the R2D2 / Agent57 learners build them
(``retrace_sequence_targets``): lambda > 0, value rescaling, masks, and both episode ends.

Alignment: ``r[t]`` and ``d[t]`` belong to ``(x_{t-1}, a_{t-1}) -> x_t``. A trace whose episode
ends holds the final observation ``x_T`` at the first mask-0 step (stored discount 0 if the
episode terminated, 1 if a time limit truncated it), then zero padding. The trace coefficient
``c`` must be 0 at ``x_T`` because no action was taken there; the mask itself cuts it (issue 11:
the old cut swapped in action ``(greedy + 1) % A``, which is the greedy action when A = 1).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentos.agents.r2d2 import losses
from agentos.agents.r2d2.learner import retrace_sequence_targets

JIT = pytest.mark.parametrize("jit", [False, True], ids=["nojit", "jit"])


def _f32(x) -> jnp.ndarray:
    return jnp.asarray(x, dtype=jnp.float32)


def _targets(jit: bool, a, r, d, mask, mu, q, *, gamma, lambda_, rescaled):
    tx = losses.SIGNED_HYPERBOLIC_PAIR if rescaled else losses.IDENTITY_PAIR
    fn = functools.partial(retrace_sequence_targets, gamma=gamma, lambda_=lambda_, tx_pair=tx)
    if jit:
        fn = jax.jit(fn)
    q = _f32(q)
    out = fn(jnp.asarray(a, jnp.int32), _f32(r), _f32(d), _f32(mask), _f32(mu), q, q)
    return np.asarray(out)


# --------------------------------------------------------------------------- one action


def _one_action_case(jit: bool, discount):
    # Issue 11's minimal case: A = 1, gamma 0.9, lambda 0.95, Q = 5 everywhere; actions at
    # x_0, x_1; x_2 is the final observation; x_3, x_4 are padding.
    return _targets(
        jit,
        a=[0, 0, 0, 0, 0],
        r=[0.0, 1.0, 1.0, 0.0, 0.0],
        d=discount,
        mask=[1, 1, 0, 0, 0],
        mu=[1.0, 1.0, 0.0, 0.0, 0.0],
        q=[[5.0]] * 5,
        gamma=0.9,
        lambda_=0.95,
        rescaled=False,
    )


@JIT
def test_one_action_time_limit_cuts_the_trace_with_the_mask(jit):
    # Truncated at x_2 (stored discount 1): G_1 = r_2 + 0.9 * 5 = 5.5 (c_2 = 0);
    # G_0 = r_1 + 0.9 * (5 + 0.95 * (5.5 - 5)) = 1 + 0.9 * 5.475 = 5.9275.
    # The old action-swap cut ran the trace into the padding: [2.272375, 1.225].
    targets = _one_action_case(jit, [1.0, 1.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(targets[:2], [5.9275, 5.5], rtol=1e-6)


@JIT
def test_one_action_termination_bootstraps_nothing_at_the_end(jit):
    # Terminated at x_2 (stored discount 0): G_1 = r_2 = 1;
    # G_0 = 1 + 0.9 * (5 + 0.95 * (1 - 5)) = 1 + 0.9 * 1.2 = 2.08.
    targets = _one_action_case(jit, [1.0, 1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(targets[:2], [2.08, 1.0], rtol=1e-6)


# --------------------------------------------------------------------------- rescaled, A = 2

# Linear-space values Q(x_t, .) = [greedy, other]; x_4 is padding with nonsense values that
# must not reach targets 0..2. Value rescaling h(x) = sign(x)(sqrt(|x| + 1) - 1) + 1e-3 x.
LINEAR_Q = [[1.0, 0.0], [16.0, 3.0], [8.0, 0.0], [48.0, 0.0], [-99.0, 99.0]]
H8, H9, H15, H24 = 2.008, 2.171277660, 3.015, 4.024  # h(8), h(9) = sqrt(10) - 1 + 0.009, ...


def _rescaled_case(jit: bool, discount):
    # gamma 0.5, lambda 0.5. a_1 = 1 is not greedy (c_1 = 0); a_2 = 0 is greedy with
    # mu 0.5 (c_2 = 0.5 min(1, 1 / 0.5) = 0.5); x_3 is the final observation (mask 0, c_3 = 0).
    q = losses.signed_hyperbolic(_f32(LINEAR_Q))
    return _targets(
        jit,
        a=[0, 1, 0, 0, 0],
        r=[100.0, 0.0, 7.0, 0.0, 0.0],
        d=discount,
        mask=[1, 1, 1, 0, 0],
        mu=[0.5, 0.5, 0.5, 0.0, 0.0],
        q=q,
        gamma=0.5,
        lambda_=0.5,
        rescaled=True,
    )


@JIT
def test_rescaled_lambda_half_truncated(jit):
    # Linear space: G_2 = r_3 + 0.5 * V_3 = 0 + 24 = 24;
    # G_1 = r_2 + 0.5 * (V_2 + c_2 (G_2 - Q_2[a_2])) = 7 + 0.5 * (8 + 0.5 * 16) = 15;
    # G_0 = r_1 + 0.5 * (V_1 + c_1 * ...) = 0 + 0.5 * 16 = 8 (c_1 = 0: a_1 is not greedy).
    # Targets are h(G): [h(8), h(15), h(24)].
    targets = _rescaled_case(jit, [0.0, 1.0, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(targets[:3], [H8, H15, H24], rtol=1e-5)


@JIT
def test_rescaled_lambda_half_terminated(jit):
    # x_3 terminal: G_2 = r_3 = 0; G_1 = 7 + 0.5 * (8 + 0.5 * (0 - 8)) = 9; G_0 = 8.
    targets = _rescaled_case(jit, [0.0, 1.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(targets[:3], [H8, H9, 0.0], rtol=1e-5, atol=1e-6)


@JIT
def test_full_mask_is_the_plain_retrace_of_the_loss_module(jit):
    # Inside an episode (mask all 1) the learner adds nothing to losses.transformed_retrace.
    rng = np.random.default_rng(0)
    q = _f32(rng.normal(size=(6, 3)) * 3)
    a = rng.integers(0, 3, size=6)
    r, mu = _f32(rng.normal(size=6)), _f32(rng.uniform(0.2, 1.0, size=6))
    d = _f32([1.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    targets = _targets(jit, a, r, d, np.ones(6), mu, q, gamma=0.9, lambda_=0.95, rescaled=True)
    plain = losses.transformed_retrace_targets(
        q, q, jnp.asarray(a, jnp.int32), r, 0.9 * d, mu, 0.95, losses.SIGNED_HYPERBOLIC_PAIR
    )
    np.testing.assert_allclose(targets, np.asarray(plain), rtol=1e-6)


@JIT
def test_trace_mask_argument_of_the_loss_sets_c_to_zero(jit):
    # losses.transformed_retrace_targets with trace_mask_t: lambda 1, greedy on-policy,
    # identity, gamma 1, Q = 0, r = [_, 1, 2, 4]: no mask gives the returns to the end
    # [7, 6, 4]; a 0 at x_2 cuts the trace there: G_0 = r_1 + (V_1 + (G_1 - Q_1)) = 1 + 2.
    fn = functools.partial(losses.transformed_retrace_targets, lambda_=1.0)
    if jit:
        fn = jax.jit(fn)
    q = jnp.zeros((4, 2))
    args = (q, q, jnp.zeros(4, jnp.int32), _f32([0, 1, 2, 4]), jnp.ones(4), jnp.ones(4))
    np.testing.assert_allclose(fn(*args), [7.0, 6.0, 4.0])
    cut = fn(*args, trace_mask_t=_f32([1, 1, 0, 1]))
    np.testing.assert_allclose(cut, [3.0, 2.0, 4.0])
