"""Split Retrace targets: both heads bootstrap with one greedy policy on the combined values,
and the target of Q(x_t, a_t) uses the reward of arriving at x_{t+1} (DRLearner paired them
off by one)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentos.agents.agent57.targets import (
    exploit_arms,
    extrinsic_lambdas,
    split_abs_td,
    split_retrace_targets,
)
from agentos.agents.r2d2 import losses

# Extrinsic values prefer action 0, intrinsic ones action 1.
Q_ONLINE = jnp.asarray([[[1.0, 0.0]] * 3, [[0.0, 10.0]] * 3])  # [2, L=3, A=2]
Q_TARGET = jnp.asarray([[[2.0, 3.0]] * 3, [[4.0, 6.0]] * 3])
ACTIONS = jnp.asarray([0, 0, 0], jnp.int32)
REWARDS = jnp.asarray([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])  # [L, (r_e, r_i)]
DISCOUNTS = jnp.ones(3)
MASK = jnp.ones(3)
MU = jnp.full(3, 0.5)


def targets(beta, gamma=0.9, jit=False):
    fn = functools.partial(split_retrace_targets, lambda_=0.0, tx_pair=losses.IDENTITY_PAIR)
    if jit:
        fn = jax.jit(fn)
    return np.asarray(
        fn(
            Q_ONLINE,
            Q_TARGET,
            ACTIONS,
            REWARDS,
            DISCOUNTS,
            MASK,
            MU,
            jnp.float32(beta),
            jnp.float32(gamma),
        )
    )


@pytest.mark.parametrize("jit", [False, True])
def test_combined_greedy_policy_is_shared_by_both_heads(jit):
    # beta 0.5: combined = [1 + 0, 0 + 5] -> greedy action 1 for BOTH heads, although the
    # extrinsic values alone prefer 0. lambda 0: y_t = r_{t+1} + gamma * q_target[t+1, 1].
    # extrinsic: 1 + 0.9 * 3 = 3.7, 3 + 0.9 * 3 = 5.7; intrinsic: 2 + 0.9 * 6 = 7.4, 4 + 5.4.
    np.testing.assert_allclose(targets(0.5, jit=jit), [[3.7, 5.7], [7.4, 9.4]], rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_exploitative_arm_bootstraps_on_extrinsic_greedy(jit):
    # beta 0: greedy on Q_e -> action 0: extrinsic 1 + 0.9 * 2 = 2.8, 3 + 1.8 = 4.8;
    # intrinsic 2 + 0.9 * 4 = 5.6, 4 + 3.6 = 7.6.
    np.testing.assert_allclose(targets(0.0, jit=jit), [[2.8, 4.8], [5.6, 7.6]], rtol=1e-6)


def test_reward_alignment_target_uses_next_reward():
    # Only the reward of arriving at x_2 is non-zero: it must enter the target of
    # Q(x_1, a_1), not of Q(x_0, a_0) (the DRLearner off-by-one paired Q(o[1:-1]) with r[2:]).
    rewards = jnp.asarray([[0.0, 0.0], [0.0, 0.0], [5.0, 0.0]])
    zeros = jnp.zeros_like(Q_TARGET)
    out = split_retrace_targets(
        zeros,
        zeros,
        ACTIONS,
        rewards,
        DISCOUNTS,
        MASK,
        MU,
        jnp.float32(0.0),
        jnp.float32(0.9),
        lambda_=0.0,
        tx_pair=losses.IDENTITY_PAIR,
    )
    np.testing.assert_allclose(np.asarray(out)[0], [0.0, 5.0])


def test_arm_discount_multiplies_stored_discount():
    # gamma_j = 0.5 and a terminal x_2 (stored discount 0): extrinsic with beta 0 ->
    # t0: 1 + 0.5 * 2 = 2.0; t1: 3 + 0 = 3.
    discounts = jnp.asarray([1.0, 1.0, 0.0])
    out = split_retrace_targets(
        Q_ONLINE,
        Q_TARGET,
        ACTIONS,
        REWARDS,
        discounts,
        MASK,
        MU,
        jnp.float32(0.0),
        jnp.float32(0.5),
        lambda_=0.0,
        tx_pair=losses.IDENTITY_PAIR,
    )
    np.testing.assert_allclose(np.asarray(out)[0], [2.0, 3.0])


@pytest.mark.parametrize(
    ("time_limits", "expected_extrinsic"), [("bootstrap", [2.0, 4.0]), ("end", [2.0, 3.0])]
)
def test_a_time_limit_ends_the_extrinsic_return_only_when_asked(time_limits, expected_extrinsic):
    # x_2 is the final observation of a truncated episode: stored discount 1, mask 0.
    # gamma_j 0.5, beta 0, greedy action 0 everywhere (extrinsic online [1, 0]):
    #   t0: 1 + 0.5 * Q_target_e(x_1, 0) = 1 + 0.5 * 2 = 2.0 in both cases;
    #   t1: bootstrap: 3 + 0.5 * 2 = 4.0; end: 3 + 0 = 3.0.
    # The intrinsic head bootstraps either way: t1: 4 + 0.5 * Q_target_i(x_2, 0) = 4 + 2 = 6.
    out = split_retrace_targets(
        Q_ONLINE,
        Q_TARGET,
        ACTIONS,
        REWARDS,
        jnp.asarray([1.0, 1.0, 1.0]),
        jnp.asarray([1.0, 1.0, 0.0]),
        MU,
        jnp.float32(0.0),
        jnp.float32(0.5),
        lambda_=0.0,
        tx_pair=losses.IDENTITY_PAIR,
        extrinsic_time_limits=time_limits,
    )
    np.testing.assert_allclose(np.asarray(out)[0], expected_extrinsic)
    np.testing.assert_allclose(np.asarray(out)[1], [2.0 + 0.5 * 4.0, 6.0])


def _rescaled_split(discounts, jit, non_episodic_intrinsic=False, intrinsic_discount=None):
    # Value rescaling, lambda 0.95, gamma_j 0.5, beta_j 0.5; A = 2, L = 3, x_2 is the final
    # observation (mask 0). Linear-space online values: extrinsic [3, 0], intrinsic [0, 7]:
    # mixed in value space (App. B) a0 = 3, a1 = 0 + 0.5 * 7 = 3.5 -> greedy 1 for both
    # heads; mixing in h-space would give h(3) = 1.003 > 0.5 h(7) = 0.918 -> greedy 0.
    h = losses.signed_hyperbolic
    q_online = h(jnp.asarray([[[3.0, 0.0]] * 3, [[0.0, 7.0]] * 3]))
    q_target = h(jnp.asarray([[[3.0, 8.0]] * 3, [[0.0, 24.0]] * 3]))
    fn = functools.partial(
        split_retrace_targets,
        lambda_=0.95,
        tx_pair=losses.SIGNED_HYPERBOLIC_PAIR,
        non_episodic_intrinsic=non_episodic_intrinsic,
        intrinsic_discount=intrinsic_discount,
    )
    if jit:
        fn = jax.jit(fn)
    out = fn(
        q_online,
        q_target,
        jnp.asarray([1, 1, 0], jnp.int32),
        jnp.asarray([[100.0, 100.0], [1.0, 2.0], [0.0, 4.0]]),
        jnp.asarray(discounts),
        jnp.asarray([1.0, 1.0, 0.0]),
        jnp.asarray([0.5, 0.5, 0.0]),
        jnp.float32(0.5),
        jnp.float32(0.5),
    )
    return np.asarray(out)


@pytest.mark.parametrize("jit", [False, True])
def test_rescaled_lambda_traces_time_limit(jit):
    # c_1 = 0.95 min(1, 1 / 0.5) = 0.95 (a_1 = 1 greedy); c_2 = 0 (mask). Linear space:
    # G_1 = r_2 + 0.5 V_2: ext 0 + 0.5 * 8 = 4, int 4 + 0.5 * 24 = 16;
    # G_0 = r_1 + 0.5 (V_1 + 0.95 (G_1 - Q_1[1])): ext 1 + 0.5 (8 - 0.95 * 4) = 3.1,
    # int 2 + 0.5 (24 - 0.95 * 8) = 10.2. Targets h(G).
    out = _rescaled_split([100.0, 1.0, 1.0], jit)
    np.testing.assert_allclose(out, [[1.0279457, 1.2400680], [2.3568401, 3.1391056]], rtol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
def test_rescaled_lambda_traces_termination(jit):
    # x_2 terminal: G_1 = r_2: ext 0, int 4; G_0: ext 1 + 0.5 (8 + 0.95 (0 - 8)) = 1.2,
    # int 2 + 0.5 (24 + 0.95 (4 - 24)) = 4.5.
    out = _rescaled_split([100.0, 1.0, 0.0], jit)
    np.testing.assert_allclose(out, [[0.4844397, 0.0], [1.3497079, 1.2400680]], rtol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
def test_non_episodic_intrinsic_head_bootstraps_through_termination(jit):
    # x_2 terminal, but only for the extrinsic head: its targets are the termination case's
    # (G_1 = 0, G_0 = 1.2), the intrinsic ones the time-limit case's (G_1 = 4 + 0.5 * 24 =
    # 16, G_0 = 10.2): the end of an episode costs no future novelty.
    out = _rescaled_split([100.0, 1.0, 0.0], jit, non_episodic_intrinsic=True)
    np.testing.assert_allclose(out, [[0.4844397, 0.0], [2.3568401, 3.1391056]], rtol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
def test_intrinsic_discount_caps_the_intrinsic_heads_gamma(jit):
    # intrinsic_discount 0.25 < gamma_j 0.5: the intrinsic head discounts with 0.25, the
    # extrinsic head keeps 0.5 (the termination case's G_1 = 0, G_0 = 1.2). Intrinsic,
    # non-episodic: G_1 = 4 + 0.25 * 24 = 10; G_0 = 2 + 0.25 (24 + 0.95 (10 - 24)) = 4.675.
    out = _rescaled_split(
        [100.0, 1.0, 0.0], jit, non_episodic_intrinsic=True, intrinsic_discount=0.25
    )
    np.testing.assert_allclose(out, [[0.4844397, 0.0], [1.3869008, 2.3266248]], rtol=1e-5)
    # A cap above gamma_j changes nothing: min(0.5, 0.9) = 0.5.
    same = _rescaled_split(
        [100.0, 1.0, 0.0], jit, non_episodic_intrinsic=True, intrinsic_discount=0.9
    )
    np.testing.assert_allclose(same, [[0.4844397, 0.0], [2.3568401, 3.1391056]], rtol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
def test_priorities_follow_the_combined_error_of_the_arm(jit):
    fn = jax.jit(split_abs_td) if jit else split_abs_td
    td_e = jnp.asarray([[1.0, -2.0], [1.0, -2.0]])
    td_i = jnp.asarray([[-2.0, 1.0], [-2.0, 1.0]])
    abs_td = fn(td_e, td_i, jnp.asarray([0.5, 0.0]))
    # beta 0.5: [|1 - 1|, |-2 + 0.5|] = [0, 1.5]; beta 0 (the exploitative arm): the
    # extrinsic errors only.
    np.testing.assert_allclose(abs_td, [[0.0, 1.5], [1.0, 2.0]])
    priorities = jax.vmap(losses.sequence_priority)(abs_td, jnp.ones((2, 2)))
    # eta 0.9: 0.9 max + 0.1 mean -> 0.9 * 1.5 + 0.1 * 0.75, 0.9 * 2 + 0.1 * 1.5.
    np.testing.assert_allclose(priorities, [1.425, 1.95], rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_exploit_arms_relabels_every_kth_sequence_as_arm_0(jit):
    fn = jax.jit(exploit_arms, static_argnums=1) if jit else exploit_arms
    arms = jnp.asarray([3, 5, 7, 2, 6, 1, 4], jnp.int32)
    # every 3rd from index 0: positions 0, 3, 6 become arm 0, the others keep theirs.
    np.testing.assert_array_equal(fn(arms, 3), [0, 5, 7, 0, 6, 1, 0])
    np.testing.assert_array_equal(fn(arms, 1), np.zeros(7))
    np.testing.assert_array_equal(fn(arms, 0), arms)  # off: the paper's own-arm training


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize(
    "traces, expected",
    [
        # beta 0.5: greedy action 1 everywhere, the taken action 0 never; lambda 1, gamma 0.9.
        # Retrace cuts at a_1: y_0 = r_1 + 0.9 V_1 (ext 1 + 2.7, int 2 + 5.4).
        ("retrace", [[3.7, 5.7], [7.4, 9.4]]),
        # Peng runs on: y_0 = r_1 + 0.9 y_1 (ext 1 + 0.9 * 5.7, int 2 + 0.9 * 9.4).
        ("peng", [[6.13, 5.7], [10.46, 9.4]]),
        ("peng_extrinsic", [[6.13, 5.7], [7.4, 9.4]]),
    ],
)
def test_trace_kinds_per_head(jit, traces, expected):
    fn = functools.partial(
        split_retrace_targets, lambda_=1.0, tx_pair=losses.IDENTITY_PAIR, traces=traces
    )
    fn = jax.jit(fn) if jit else fn
    args = (Q_ONLINE, Q_TARGET, ACTIONS, REWARDS, DISCOUNTS, MASK, MU)
    out = fn(*args, jnp.float32(0.5), jnp.float32(0.9))
    np.testing.assert_allclose(out, expected, rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_extrinsic_lambda_applies_to_the_extrinsic_head_only(jit):
    # peng, lambda 1 for the intrinsic head, extrinsic_lambda 0.5 for the extrinsic one:
    # ext y_1 = 3 + 0.9 * 3 = 5.7, y_0 = 1 + 0.9 (0.5 V_1 + 0.5 y_1) = 1 + 0.9 * 4.35 = 4.915;
    # the intrinsic head keeps lambda 1 (the "peng" row of the test above: 10.46, 9.4).
    fn = functools.partial(
        split_retrace_targets, lambda_=1.0, tx_pair=losses.IDENTITY_PAIR, traces="peng"
    )
    fn = jax.jit(fn) if jit else fn
    args = (Q_ONLINE, Q_TARGET, ACTIONS, REWARDS, DISCOUNTS, MASK, MU)
    out = fn(*args, jnp.float32(0.5), jnp.float32(0.9), jnp.float32(0.5))
    np.testing.assert_allclose(out, [[4.915, 5.7], [10.46, 9.4]], rtol=1e-6)


def test_extrinsic_lambdas_shorten_only_relabelled_sequences():
    own = jnp.asarray([0, 3, 3, 5], jnp.int32)
    trained = exploit_arms(own, 2)  # [0, 3, 0, 5]: only sequence 2 is an explorer's as arm 0
    np.testing.assert_allclose(extrinsic_lambdas(own, trained, 0.95, 0.5), [0.95, 0.95, 0.5, 0.95])
    np.testing.assert_allclose(extrinsic_lambdas(own, trained, 0.95, None), [0.95] * 4)
