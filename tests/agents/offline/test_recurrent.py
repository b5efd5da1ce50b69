"""Recurrent CQL: the conservative term over a trace by hand, alpha 0 is the R2D2 update
exactly, and a positive alpha keeps the action the data never took below the data's."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentos.agents.offline.losses import sequence_cql_regulariser
from agentos.agents.offline.recurrent import R2D2CQLLearner
from agentos.agents.r2d2.learner import R2D2Learner
from agentos.agents.r2d2.network import RecurrentQNetwork
from agentos.errors import ParameterError
from agentos.replay.prioritized import PrioritizedSequenceReplay
from tests.agents.r2d2.test_learner import BURN_IN, LSTM, TRACE, context, make_items, trees_equal

Q = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, 1.0]], np.float32)
A = np.array([1, 0, 0], np.int32)
MASK = np.array([1.0, 1.0, 0.0], np.float32)


@pytest.mark.parametrize("jit", [False, True])
def test_sequence_cql_regulariser_by_hand(jit):
    # step 0: log(e^1 + e^2) - 2 = log(1 + e^-1) = 0.3132617; step 1: log 2 - 0 = 0.6931472;
    # step 2 is masked out. Mean over the 2 valid steps: 0.5032044.
    fn = jax.jit(sequence_cql_regulariser) if jit else sequence_cql_regulariser
    np.testing.assert_allclose(fn(Q, A, MASK), 0.5032044, rtol=1e-6)
    # no valid step: 0, not NaN
    assert float(fn(Q, A, np.zeros(3, np.float32))) == 0.0


def test_sequence_cql_regulariser_gradient_is_masked_softmax_minus_onehot():
    grad = jax.grad(sequence_cql_regulariser)(jnp.asarray(Q), A, MASK)
    # (softmax(q_t) - onehot(a_t)) * mask_t / 2 valid steps: step 0 softmax(1, 2) =
    # (0.2689414, 0.7310586), minus onehot(1), halved; step 1 ((0.5, 0.5) - (1, 0)) / 2.
    expected = np.array([[0.1344707, -0.1344707], [-0.25, 0.25], [0.0, 0.0]], np.float32)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7)


def _make(cls, seed=0, data_action=None, **params):
    net = RecurrentQNetwork(
        RecurrentQNetwork.Params(hidden_sizes=(8,), lstm_size=LSTM, head_hidden=8),
        context("network", seed),
    )
    replay = PrioritizedSequenceReplay(
        PrioritizedSequenceReplay.Params(capacity=32), context("replay", seed)
    )
    items = make_items(8)
    if data_action is not None:
        items["action"][:] = data_action * items["mask"].astype(np.int32)
    replay.add_items(items)
    params = {
        "burn_in": BURN_IN,
        "trace_length": TRACE,
        "n_step": 2,
        "batch_size": 4,
        "learning_rate": 1e-2,
        "discount": 0.9,
        "target_update_period": 3,
        **params,
    }
    return cls(cls.Params(**params), context("learner", seed), network=net, replay=replay)


def test_alpha_zero_is_the_r2d2_update():
    r2d2 = _make(R2D2Learner)
    cql = _make(R2D2CQLLearner, alpha=0.0)
    for _ in range(3):
        m_r2d2, m_cql = r2d2.step(1), cql.step(1)
        np.testing.assert_allclose(m_cql["loss"], m_r2d2["loss"], rtol=1e-6)
    assert trees_equal(r2d2.state.params, cql.state.params)
    assert trees_equal(r2d2.state.target_params, cql.state.target_params)
    keys = np.arange(8)
    np.testing.assert_array_equal(r2d2.replay.get_priorities(keys), cql.replay.get_priorities(keys))
    assert m_cql["conservative"] > 0


def _gap(learner) -> float:
    """Mean Q(x, 0) - Q(x, 1) on the trace of the stored sequences (action 0 is the data's)."""
    from agentos.agents.r2d2.network import unroll

    items = learner.replay.sample(8).items
    obs = jnp.swapaxes(items["observation"], 0, 1)
    prev_a = jnp.swapaxes(items["prev_action"], 0, 1).astype(jnp.int32)
    prev_r = jnp.swapaxes(items["prev_reward"], 0, 1)
    state = (jnp.asarray(items["lstm_h"]), jnp.asarray(items["lstm_c"]))
    q, _ = unroll(learner.network.module, learner.state.params, obs, prev_a, prev_r, state)
    return float(jnp.mean(q[..., 0] - q[..., 1]))


def test_the_conservative_term_keeps_the_unseen_action_below_the_data_action():
    gaps = {}
    for alpha in (0.0, 2.0):
        learner = _make(R2D2CQLLearner, data_action=0, alpha=alpha)
        learner.step(40)
        gaps[alpha] = _gap(learner)
    assert gaps[2.0] > 0.5 and gaps[2.0] > gaps[0.0] + 0.3, gaps


def test_bad_params_name_the_field():
    with pytest.raises(ParameterError, match="alpha"):
        R2D2CQLLearner.Params(alpha=-1.0)
    with pytest.raises(ParameterError, match="n-step targets only"):
        R2D2CQLLearner.Params(loss="retrace")
