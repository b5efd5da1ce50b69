"""Fixed-number tests of the R2D2 / Agent57 sequence losses, with and without jit, and vmapped.

Alignment everywhere: ``r[t]`` and ``d[t]`` belong to ``(x_{t-1}, a_{t-1}) -> x_t``; the target
for ``Q(x_t, a_t)`` starts with ``r[t+1]``. ``r[0]`` and ``d[0]`` are therefore given odd values
(100, 0) in the hand-computed cases: a target that used them would be visibly wrong.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentos.agents.r2d2 import losses
from agentos.agents.r2d2.losses import IDENTITY_PAIR, SIGNED_HYPERBOLIC_PAIR

JIT = pytest.mark.parametrize("jit", [False, True], ids=["nojit", "jit"])


def _variant(fn, jit: bool, **static_kwargs):
    """``fn`` with ``static_kwargs`` bound, jitted if ``jit``."""
    bound = functools.partial(fn, **static_kwargs)
    return jax.jit(bound) if jit else bound


def _f32(x) -> jnp.ndarray:
    return jnp.asarray(x, dtype=jnp.float32)


def _i32(x) -> jnp.ndarray:
    return jnp.asarray(x, dtype=jnp.int32)


# h(x) = sign(x)(sqrt(|x|+1) - 1) + 1e-3 x at perfect squares minus one:
# h(3) = 1 + 0.003, h(8) = 2 + 0.008, h(15) = 3 + 0.015, h(24) = 4 + 0.024.
H3, H8, H15, H24 = 1.003, 2.008, 3.015, 4.024


# --------------------------------------------------------------------------- value rescaling


@JIT
def test_signed_hyperbolic_fixed_values(jit):
    h = _variant(losses.signed_hyperbolic, jit)
    np.testing.assert_allclose(h(_f32([3.0, -3.0, 0.0, 8.0, 24.0])), [H3, -H3, 0.0, H8, H24], 1e-6)
    # eps = 0: sqrt(4) - 1 = 1 exactly.
    h0 = _variant(losses.signed_hyperbolic, jit, eps=0.0)
    np.testing.assert_allclose(h0(_f32([3.0, -8.0])), [1.0, -2.0], rtol=1e-6)


@JIT
def test_signed_parabolic_fixed_values(jit):
    h_inv = _variant(losses.signed_parabolic, jit)
    np.testing.assert_allclose(h_inv(_f32([H3, -H3, 0.0, H8, H24])), [3, -3, 0, 8, 24], 1e-5)
    h0_inv = _variant(losses.signed_parabolic, jit, eps=0.0)
    np.testing.assert_allclose(h0_inv(_f32([1.0, -2.0])), [3.0, -8.0], rtol=1e-6)


@JIT
@pytest.mark.parametrize("eps", [1e-3, 1e-2, 0.0])
def test_signed_parabolic_inverts_signed_hyperbolic(jit, eps):
    h = _variant(losses.signed_hyperbolic, jit, eps=eps)
    h_inv = _variant(losses.signed_parabolic, jit, eps=eps)
    magnitudes = np.logspace(-6, 4, 401)
    x = _f32(np.concatenate([-magnitudes[::-1], [0.0], magnitudes]))
    np.testing.assert_allclose(h_inv(h(x)), x, rtol=1e-5, atol=0)
    y = _f32(np.linspace(-120.0, 120.0, 241))
    np.testing.assert_allclose(h(h_inv(y)), y, rtol=1e-5, atol=1e-6)


def test_rescaling_gradients_at_zero():
    # h'(0) = 1/2 + eps and (h^-1)'(0) = 1 / (1/2 + eps).
    assert jax.grad(losses.signed_hyperbolic)(0.0) == pytest.approx(0.501, rel=1e-6)
    assert jax.grad(losses.signed_parabolic)(0.0) == pytest.approx(1 / 0.501, rel=1e-6)


# --------------------------------------------------------------------------- n-step double Q

# T = 4, A = 2, n = 2. The double-Q argmax comes from q_online; q_target's own argmax differs
# at t = 2, so a max-over-target bootstrap would give a different number.
R = [100.0, 1.0, 2.0, 3.0]
D = [0.0, 0.9, 0.8, 0.7]
Q_TARGET = [[10.0, 20.0], [1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
Q_ONLINE = [[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]  # argmax: 1, 1, 0, 1


@JIT
def test_n_step_double_q_identity_by_hand(jit):
    fn = _variant(losses.n_step_double_q_targets, jit, n=2)
    targets = fn(_f32(R), _f32(D), _f32(Q_TARGET), _f32(Q_ONLINE))
    # y_0 = r1 + d1 r2 + d1 d2 q_target[2][argmax q_online[2] = 0] = 1 + 0.9*2 + 0.72*3 = 4.96
    # y_1 = r2 + d2 r3 + d2 d3 q_target[3][argmax q_online[3] = 1] = 2 + 0.8*3 + 0.56*6 = 7.76
    assert targets.shape == (2,)
    np.testing.assert_allclose(targets, [4.96, 7.76], rtol=1e-6)


@JIT
def test_n_step_double_q_terminal_cuts_return(jit):
    fn = _variant(losses.n_step_double_q_targets, jit, n=2)
    d = [0.0, 0.9, 0.0, 0.7]  # x_2 is terminal
    targets = fn(_f32(R), _f32(d), _f32(Q_TARGET), _f32(Q_ONLINE))
    # y_0 = 1 + 0.9*2 + 0.9*0*(...) = 2.8 ; y_1 = r2 + d2*(...) = 2 (r3 is the next episode's).
    np.testing.assert_allclose(targets, [2.8, 2.0], rtol=1e-6)


@JIT
def test_n_step_double_q_one_step_is_double_dqn(jit):
    fn = _variant(losses.n_step_double_q_targets, jit, n=1)
    targets = fn(_f32(R), _f32(D), _f32(Q_TARGET), _f32(Q_ONLINE))
    # y_t = r_{t+1} + d_{t+1} q_target[t+1][argmax q_online[t+1]]
    # = [1 + 0.9*2, 2 + 0.8*3, 3 + 0.7*6] = [2.8, 4.4, 7.2]
    np.testing.assert_allclose(targets, [2.8, 4.4, 7.2], rtol=1e-6)


@JIT
def test_n_step_double_q_signed_hyperbolic_by_hand(jit):
    fn = _variant(losses.n_step_double_q_targets, jit, n=2, tx_pair=SIGNED_HYPERBOLIC_PAIR)
    r = [100.0, 2.0, 4.0, 8.0]
    d = [0.0, 0.5, 1.0, 0.5]
    q_target = [[0.0, 0.0], [0.0, 0.0], [H8, 0.0], [0.0, H24]]
    q_online = [[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    targets = fn(_f32(r), _f32(d), _f32(q_target), _f32(q_online))
    # y_0 = h(2 + 0.5*4 + 0.5*1*h^-1(h(8))) = h(8) = 2.008
    # y_1 = h(4 + 1*8 + 1*0.5*h^-1(h(24))) = h(24) = 4.024
    np.testing.assert_allclose(targets, [H8, H24], rtol=1e-5)


def test_n_step_double_q_rejects_bad_n():
    args = (_f32(R), _f32(D), _f32(Q_TARGET), _f32(Q_ONLINE))
    for n in (0, 4, 5):
        with pytest.raises(ValueError, match="n must be"):
            losses.n_step_double_q_targets(*args, n=n)


def test_n_step_double_q_vmap():
    rng = np.random.default_rng(0)
    b, t, a, n = 3, 7, 4, 3
    r = _f32(rng.normal(size=(b, t)))
    d = _f32(rng.uniform(0.0, 1.0, size=(b, t)))
    q_target = _f32(rng.normal(size=(b, t, a)))
    q_online = _f32(rng.normal(size=(b, t, a)))
    fn = functools.partial(losses.n_step_double_q_targets, n=n, tx_pair=SIGNED_HYPERBOLIC_PAIR)
    batched = jax.jit(jax.vmap(fn))(r, d, q_target, q_online)
    assert batched.shape == (b, t - n)
    for i in range(b):
        np.testing.assert_allclose(batched[i], fn(r[i], d[i], q_target[i], q_online[i]), 1e-5)


# --------------------------------------------------------------------------- Retrace

# T = 4, A = 2. Target policy: greedy on Q_POLICY -> [1, 0, 1, 0]. Actions [1, 0, 0, 0], so
# pi(a_t|x_t) = [1, 1, 0, 1]; mu = 0.5 gives ratios [2, 2, 0, 2] -> min(1, .) = [1, 1, 0, 1].
RT_Q_TARGET = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]
RT_Q_POLICY = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]
RT_ACTIONS = [1, 0, 0, 0]
RT_R = [100.0, 1.0, 2.0, 3.0]
RT_D = [0.0, 0.5, 0.5, 0.5]
RT_MU = [0.5, 0.5, 0.5, 0.5]
# V_s = q_target[s][greedy_s] = [2, 3, 6, 7];  Q_s = q_target[s][a_s] = [2, 3, 5, 7]


def _retrace_args(**overrides):
    args = dict(
        q_target_t=_f32(RT_Q_TARGET),
        q_policy_t=_f32(RT_Q_POLICY),
        a_t=_i32(RT_ACTIONS),
        r_t=_f32(RT_R),
        discount_t=_f32(RT_D),
        mu_t=_f32(RT_MU),
    )
    args.update(overrides)
    return args


@JIT
def test_retrace_identity_by_hand(jit):
    fn = _variant(losses.transformed_retrace_targets, jit, lambda_=0.5)
    targets = fn(**_retrace_args())
    # c = 0.5 * [1, 1, 0, 1]
    # G_2 = r3 + d3 V3 = 3 + 0.5*7 = 6.5
    # G_1 = r2 + d2 (V2 + c2 (G2 - Q2)) = 2 + 0.5*(6 + 0) = 5
    # G_0 = r1 + d1 (V1 + c1 (G1 - Q1)) = 1 + 0.5*(3 + 0.5*(5 - 3)) = 3
    assert targets.shape == (3,)
    np.testing.assert_allclose(targets, [3.0, 5.0, 6.5], rtol=1e-6)


@JIT
def test_retrace_lambda_zero_is_one_step_q_learning(jit):
    fn = _variant(losses.transformed_retrace_targets, jit, lambda_=0.0)
    targets = fn(**_retrace_args())
    # y_t = r_{t+1} + d_{t+1} V_{t+1} = [1 + 0.5*3, 2 + 0.5*6, 3 + 0.5*7]
    np.testing.assert_allclose(targets, [2.5, 5.0, 6.5], rtol=1e-6)


@JIT
def test_retrace_lambda_zero_random_matches_greedy_q_learning(jit):
    rng = np.random.default_rng(1)
    t, a = 6, 3
    q_target = _f32(rng.normal(size=(t, a)))
    q_policy = _f32(rng.normal(size=(t, a)))
    args = _retrace_args(
        q_target_t=q_target,
        q_policy_t=q_policy,
        a_t=_i32(rng.integers(0, a, size=t)),
        r_t=_f32(rng.normal(size=t)),
        discount_t=_f32(rng.uniform(size=t)),
        mu_t=_f32(rng.uniform(0.1, 1.0, size=t)),
    )
    fn = _variant(losses.transformed_retrace_targets, jit, lambda_=0.0)
    greedy = np.argmax(np.asarray(q_policy), axis=-1)
    v = np.asarray(q_target)[np.arange(t), greedy]
    expected = np.asarray(args["r_t"])[1:] + np.asarray(args["discount_t"])[1:] * v[1:]
    np.testing.assert_allclose(fn(**args), expected, rtol=1e-5)


@JIT
def test_retrace_on_policy_lambda_one_is_return_to_end(jit):
    greedy_actions = _i32([1, 0, 1, 0])
    fn = _variant(losses.transformed_retrace_targets, jit, lambda_=1.0)
    # mu = pi = 1 on the greedy actions, and epsilon-greedy mu (ratio > 1, clipped to 1).
    mu_eps = losses.epsilon_greedy_probabilities(_f32(RT_Q_POLICY), greedy_actions, 0.1)
    np.testing.assert_allclose(mu_eps, [0.95] * 4, rtol=1e-6)
    for mu in (_f32([1.0] * 4), mu_eps):
        targets = fn(**_retrace_args(a_t=greedy_actions, mu_t=mu))
        # c = 1 and V = Q, so G_t = r_{t+1} + d_{t+1} G_{t+1}, bootstrapped with V_3 = 7:
        # G_2 = 3 + 0.5*7 = 6.5 ; G_1 = 2 + 0.5*6.5 = 5.25 ; G_0 = 1 + 0.5*5.25 = 3.625
        # (G_0 = 1 + 0.5*2 + 0.25*3 + 0.125*7 = 3.625)
        np.testing.assert_allclose(targets, [3.625, 5.25, 6.5], rtol=1e-6)


@JIT
def test_retrace_signed_hyperbolic_by_hand(jit):
    # T = 3, greedy on-policy (c = lambda = 0.5). Values bootstrapped from h-space numbers.
    fn = _variant(
        losses.transformed_retrace_targets, jit, lambda_=0.5, tx_pair=SIGNED_HYPERBOLIC_PAIR
    )
    q_target = _f32([[0.0, 0.0], [H24, 0.0], [H3, 0.0]])
    targets = fn(
        q_target_t=q_target,
        q_policy_t=q_target,
        a_t=_i32([0, 0, 0]),
        r_t=_f32([100.0, 8.0, 5.0]),
        discount_t=_f32([0.0, 1.0, 1.0]),
        mu_t=_f32([1.0, 1.0, 1.0]),
    )
    # G_1 = r2 + d2 h^-1(h(3)) = 5 + 3 = 8                      -> y_1 = h(8) = 2.008
    # G_0 = r1 + d1 (V1 + c1 (G1 - Q1)) = 8 + (24 + 0.5 (8 - 24)) = 24 -> y_0 = h(24) = 4.024
    # (mixing in h-space instead would give h(8 + h^-1(0.5 h(24) + 0.5 h(8))), not 4.024.)
    np.testing.assert_allclose(targets, [H24, H8], rtol=1e-5)


def _retrace_reference(q_target, q_policy, a, r, d, mu, lambda_, h, h_inv):
    """The nested form y_t = h(r + d (E_pi h^-1 q + c (h^-1(y_{t+1}) - h^-1 q[a]))), in numpy."""
    q_target, q_policy, r, d, mu = map(np.asarray, (q_target, q_policy, r, d, mu))
    t_len = len(r)
    greedy = np.argmax(q_policy, axis=-1)
    c = lambda_ * np.minimum(1.0, (np.asarray(a) == greedy) / mu)
    y = [0.0] * (t_len - 1)
    for t in range(t_len - 2, -1, -1):
        s = t + 1
        v = float(h_inv(q_target[s, greedy[s]]))
        if s == t_len - 1:
            y[t] = float(h(r[s] + d[s] * v))
        else:
            q_a = float(h_inv(q_target[s, a[s]]))
            y[t] = float(h(r[s] + d[s] * (v + c[s] * (float(h_inv(y[s])) - q_a))))
    return np.array(y)


@pytest.mark.parametrize("tx", [IDENTITY_PAIR, SIGNED_HYPERBOLIC_PAIR], ids=["identity", "h"])
def test_retrace_matches_nested_reference_and_vmap(tx):
    rng = np.random.default_rng(2)
    b, t, a = 3, 8, 4
    q_target = _f32(rng.normal(scale=3.0, size=(b, t, a)))
    q_policy = _f32(rng.normal(size=(b, t, a)))
    actions = _i32(rng.integers(0, a, size=(b, t)))
    # Make about half the actions greedy so traces do not all vanish.
    greedy = jnp.argmax(q_policy, axis=-1)
    actions = jnp.where(_f32(rng.uniform(size=(b, t))) < 0.5, greedy, actions).astype(jnp.int32)
    r = _f32(rng.normal(size=(b, t)))
    d = _f32(rng.choice([0.0, 0.97], p=[0.1, 0.9], size=(b, t)))
    mu = losses.epsilon_greedy_probabilities(q_policy, actions, 0.3)
    fn = functools.partial(losses.transformed_retrace_targets, lambda_=0.95, tx_pair=tx)
    batched = jax.jit(jax.vmap(fn))(q_target, q_policy, actions, r, d, mu)
    assert batched.shape == (b, t - 1)
    for i in range(b):
        expected = _retrace_reference(
            q_target[i], q_policy[i], actions[i], r[i], d[i], mu[i], 0.95, *tx
        )
        np.testing.assert_allclose(batched[i], expected, rtol=1e-4, atol=1e-5)


@JIT
def test_peng_by_hand_traces_not_cut(jit):
    fn = _variant(losses.transformed_retrace_targets, jit, lambda_=0.5, traces="peng")
    # Peng's Q(lambda): c = 0.5 at every step (a_2 = 0 is not greedy but does not cut), Q -> V.
    # G_2 = 3 + 0.5*7 = 6.5
    # G_1 = r2 + d2 ((1 - 0.5) V2 + 0.5 G2) = 2 + 0.5*(3 + 3.25) = 5.125  (Retrace: 5, cut)
    # G_0 = 1 + 0.5*(0.5*3 + 0.5*5.125) = 3.03125
    np.testing.assert_allclose(fn(**_retrace_args()), [3.03125, 5.125, 6.5], rtol=1e-6)


@JIT
def test_peng_mask_cuts_and_lambda_one_is_behaviour_return(jit):
    cut = _variant(losses.transformed_retrace_targets, jit, lambda_=0.5, traces="peng")
    # m_2 = 0: G_1 = 2 + 0.5*6 = 5, G_0 = 1 + 0.5*(0.5*3 + 0.5*5) = 3
    targets = cut(**_retrace_args(), trace_mask_t=_f32([1.0, 1.0, 0.0, 0.0]))
    np.testing.assert_allclose(targets, [3.0, 5.0, 6.5], rtol=1e-6)
    full = _variant(losses.transformed_retrace_targets, jit, lambda_=1.0, traces="peng")
    # lambda = 1: the behaviour's own discounted return, bootstrapped at x_3 whatever the
    # actions were: G_0 = 1 + 0.5*2 + 0.25*3 + 0.125*7 = 3.625
    np.testing.assert_allclose(full(**_retrace_args()), [3.625, 5.25, 6.5], rtol=1e-6)


def test_traces_kind_is_checked():
    with pytest.raises(ValueError, match="retrace' or 'peng"):
        losses.transformed_retrace_targets(**_retrace_args(), traces="tree")


def test_retrace_rejects_length_one():
    args = {k: v[:1] for k, v in _retrace_args().items()}
    with pytest.raises(ValueError, match="T >= 2"):
        losses.transformed_retrace_targets(**args)


@JIT
def test_epsilon_greedy_probabilities(jit):
    fn = _variant(losses.epsilon_greedy_probabilities, jit)
    q = _f32([[1.0, 2.0], [3.0, 1.0], [0.0, 0.0]])  # greedy: 1, 0, 0 (ties -> first)
    # A = 2, eps = 0.1: greedy (1 - 0.1) + 0.05 = 0.95, other 0.05.
    np.testing.assert_allclose(fn(q, _i32([1, 1, 1]), 0.1), [0.95, 0.05, 0.05], rtol=1e-6)
    assert float(fn(q[0], _i32(0), 0.1)) == pytest.approx(0.05)


# --------------------------------------------------------------------------- reward alignment


@JIT
def test_reward_alignment_single_reward(jit):
    """Only r[2] (received on x_1 -> x_2) is non-zero: the target for t = 1 must see it,
    the target for t = 2 must not. Shifting rewards by one in either direction fails this."""
    t, a = 5, 2
    r = _f32([0.0, 0.0, 1.0, 0.0, 0.0])
    d = _f32([0.9] * t)
    zeros = _f32(np.zeros((t, a)))
    n_step = _variant(losses.n_step_double_q_targets, jit, n=1)
    np.testing.assert_allclose(n_step(r, d, zeros, zeros), [0.0, 1.0, 0.0, 0.0])
    n_step2 = _variant(losses.n_step_double_q_targets, jit, n=2)
    # t = 0: r1 + d1 r2 = 0.9 ; t = 1: r2 = 1 ; t = 2: r3 + d3 r4 = 0
    np.testing.assert_allclose(n_step2(r, d, zeros, zeros), [0.9, 1.0, 0.0], rtol=1e-6)

    retrace = _variant(losses.transformed_retrace_targets, jit, lambda_=1.0)
    args = dict(
        q_target_t=zeros,
        q_policy_t=zeros,
        a_t=_i32([0] * t),  # greedy (ties -> action 0), so c = 1
        r_t=r,
        discount_t=d,
        mu_t=_f32([1.0] * t),
    )
    # G_0 = r1 + d1 r2 = 0.9 ; G_1 = r2 = 1 ; G_2 = G_3 = 0
    np.testing.assert_allclose(retrace(**args), [0.9, 1.0, 0.0, 0.0], rtol=1e-6)
    retrace0 = _variant(losses.transformed_retrace_targets, jit, lambda_=0.0)
    np.testing.assert_allclose(retrace0(**args), [0.0, 1.0, 0.0, 0.0])


def test_first_reward_and_discount_are_unused():
    """r[0], d[0] belong to the previous sequence's last step: they change no target."""
    base = losses.n_step_double_q_targets(_f32(R), _f32(D), _f32(Q_TARGET), _f32(Q_ONLINE), 2)
    r, d = list(R), list(D)
    r[0], d[0] = -7.0, 0.3
    moved = losses.n_step_double_q_targets(_f32(r), _f32(d), _f32(Q_TARGET), _f32(Q_ONLINE), 2)
    np.testing.assert_array_equal(base, moved)
    r, d = list(RT_R), list(RT_D)
    r[0], d[0] = -7.0, 0.3
    base = losses.transformed_retrace_targets(**_retrace_args())
    moved = losses.transformed_retrace_targets(**_retrace_args(r_t=_f32(r), discount_t=_f32(d)))
    np.testing.assert_array_equal(base, moved)


# --------------------------------------------------------------------------- loss, priorities


@JIT
def test_td_error_loss_by_hand(jit):
    fn = _variant(losses.td_error_loss, jit)
    q = _f32([1.0, 2.0, 3.0])
    y = _f32([2.0, 2.0, 5.0])
    mask = _f32([1.0, 1.0, 0.0])
    loss, td = fn(q, y, mask)
    # td = mask * (y - q) = [1, 0, 0] ; loss = 0.5 * (1 + 0) / 2 = 0.25
    np.testing.assert_allclose(td, [1.0, 0.0, 0.0])
    assert float(loss) == pytest.approx(0.25)
    # Bool mask; all-masked sequence gives 0, not NaN.
    loss, _ = fn(q, y, jnp.array([True, True, False]))
    assert float(loss) == pytest.approx(0.25)
    loss, td = fn(q, y, _f32([0.0, 0.0, 0.0]))
    assert float(loss) == 0.0
    np.testing.assert_array_equal(td, [0.0, 0.0, 0.0])


def test_td_error_loss_stops_target_gradient():
    q = _f32([1.0, 2.0, 3.0])
    y = _f32([2.0, 2.0, 5.0])
    mask = _f32([1.0, 1.0, 0.0])
    grad_q, grad_y = jax.grad(lambda q, y: losses.td_error_loss(q, y, mask)[0], (0, 1))(q, y)
    # dL/dq = -mask (y - q) / sum(mask) = [-0.5, 0, 0]
    np.testing.assert_allclose(grad_q, [-0.5, 0.0, 0.0])
    np.testing.assert_array_equal(grad_y, [0.0, 0.0, 0.0])


def test_td_error_loss_vmap():
    q = _f32([[1.0, 2.0], [0.0, 0.0]])
    y = _f32([[2.0, 4.0], [3.0, 1.0]])
    mask = _f32([[1.0, 1.0], [1.0, 0.0]])
    loss, td = jax.jit(jax.vmap(losses.td_error_loss))(q, y, mask)
    # row 0: td [1, 2], loss 0.5 * 5 / 2 = 1.25 ; row 1: td [3, 0], loss 0.5 * 9 / 1 = 4.5
    np.testing.assert_allclose(loss, [1.25, 4.5])
    np.testing.assert_allclose(td, [[1.0, 2.0], [3.0, 0.0]])


@JIT
def test_sequence_priority_by_hand(jit):
    fn = _variant(losses.sequence_priority, jit)
    abs_td = _f32([1.0, 2.0, 3.0, 10.0])
    # Valid steps [1, 2, 3]: 0.9 * 3 + 0.1 * 2 = 2.9 (the masked 10 is ignored).
    assert float(fn(abs_td, _f32([1, 1, 1, 0]))) == pytest.approx(2.9)
    assert float(fn(abs_td, jnp.array([True, True, True, False]))) == pytest.approx(2.9)
    # All valid, eta = 0.5: 0.5 * 10 + 0.5 * 4 = 7
    fn_half = _variant(losses.sequence_priority, jit, eta=0.5)
    assert float(fn_half(abs_td, _f32([1, 1, 1, 1]))) == pytest.approx(7.0)
    assert float(fn(abs_td, _f32([0, 0, 0, 0]))) == 0.0
    batched = jax.vmap(fn)(jnp.stack([abs_td, abs_td]), _f32([[1, 1, 1, 0], [1, 1, 1, 1]]))
    np.testing.assert_allclose(batched, [2.9, 0.9 * 10 + 0.1 * 4], rtol=1e-6)


# --------------------------------------------------------------------------- Ape-X epsilons


def test_apex_epsilons_eight_actors():
    eps = losses.apex_epsilons(8)
    # eps_i = 0.4 ** (1 + 8 i / 7): eps_0 = 0.4, eps_7 = 0.4 ** 9 = 0.000262144
    expected = [0.4 ** (1 + 8 * i / 7) for i in range(8)]
    assert eps.shape == (8,)
    np.testing.assert_allclose(eps, expected, rtol=1e-5)
    assert float(eps[0]) == pytest.approx(0.4)
    assert float(eps[7]) == pytest.approx(0.000262144, rel=1e-5)
    assert np.all(np.diff(np.asarray(eps)) < 0)


def test_apex_epsilons_edge_cases():
    np.testing.assert_allclose(losses.apex_epsilons(1), [0.4])
    # Ape-X's own ladder, alpha = 7, N = 2: [0.4, 0.4 ** 8]
    np.testing.assert_allclose(losses.apex_epsilons(2, alpha=7), [0.4, 0.4**8], rtol=1e-5)
    np.testing.assert_allclose(
        jax.jit(losses.apex_epsilons, static_argnums=0)(3), [0.4, 0.4**5, 0.4**9], rtol=1e-5
    )
    for bad in (0, -1, 2.0):
        with pytest.raises(ValueError, match="num_actors"):
            losses.apex_epsilons(bad)
