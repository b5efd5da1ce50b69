"""The R2D2 learner on a tiny replay: loss goes down, priorities go back, the target network
follows its period, episode ends bootstrap correctly, and a state round trip is exact."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentos.agents.r2d2 import losses
from agentos.agents.r2d2.learner import (
    R2D2Learner,
    n_step_sequence_targets,
    retrace_sequence_targets,
    update_step,
)
from agentos.agents.r2d2.network import RecurrentQNetwork
from agentos.errors import ParameterError
from agentos.replay.prioritized import PrioritizedSequenceReplay
from agentos.runtime.checkpoint import load_checkpoint, save_checkpoint
from agentos.runtime.roles import BuildContext

OBS = gymnasium.spaces.Box(-1.0, 1.0, (3,), np.float32)
ACT = gymnasium.spaces.Discrete(2)
BURN_IN, TRACE, LSTM = 2, 4, 4
T = BURN_IN + TRACE


def context(name, seed=0):
    return BuildContext(
        name=name,
        seed=seed,
        agent_dir=Path("."),
        observation_space=OBS,
        action_space=ACT,
        num_envs=2,
    )


def make_items(num, seed=0):
    """``num`` sequences of T steps, the last two ending their episode."""
    rng = np.random.default_rng(seed)
    mask = np.ones((num, T), np.float32)
    discount = np.ones((num, T), np.float32)
    mask[-1, 4:] = 0.0  # x_4 terminal, x_5 padding
    discount[-1, 4:] = 0.0
    mask[-2, 5:] = 0.0  # x_5 truncated: discount stays 1
    action = rng.integers(0, 2, size=(num, T)).astype(np.int32) * mask.astype(np.int32)
    reward = rng.normal(size=(num, T)).astype(np.float32)
    prev_action = np.concatenate([np.zeros((num, 1), np.int32), action[:, :-1]], axis=1)
    return {
        "observation": rng.normal(size=(num, T, 3)).astype(np.float32),
        "action": action,
        "reward": reward,
        "discount": discount,
        "prev_action": prev_action,
        "prev_reward": reward.copy(),
        "mask": mask,
        "mu": np.full((num, T), 0.75, np.float32) * mask,
        "lstm_h": rng.normal(size=(num, LSTM)).astype(np.float32),
        "lstm_c": rng.normal(size=(num, LSTM)).astype(np.float32),
    }


def make(seed=0, num_items=8, **params):
    net = RecurrentQNetwork(
        RecurrentQNetwork.Params(hidden_sizes=(8,), lstm_size=LSTM, head_hidden=8),
        context("network", seed),
    )
    replay = PrioritizedSequenceReplay(
        PrioritizedSequenceReplay.Params(capacity=32), context("replay", seed)
    )
    replay.add_items(make_items(num_items))
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
    learner = R2D2Learner(
        R2D2Learner.Params(**params), context("learner", seed), network=net, replay=replay
    )
    return learner, replay


def leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def trees_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(leaves(a), leaves(b), strict=True))


@pytest.mark.parametrize("loss", ["n_step", "retrace"])
def test_loss_decreases_on_a_fixed_batch(loss):
    learner, _ = make(loss=loss)
    batch = learner._batch(make_items(4, seed=1))
    weights = np.ones(4, np.float32)
    state, history = learner.state, []
    for _ in range(30):
        state, metrics, priorities = update_step(
            state, batch, weights, module=learner.network.module, config=learner.config
        )
        history.append(float(metrics["loss"]))
    assert np.all(np.isfinite(history))
    assert history[-1] < 0.5 * history[0]
    assert priorities.shape == (4,) and np.all(np.asarray(priorities) >= 0)


def test_step_writes_new_priorities_for_the_sampled_keys():
    learner, replay = make()
    calls = []
    original = replay.update_priorities

    def record(keys, priorities):
        calls.append((np.array(keys), np.array(priorities)))
        return original(keys, priorities)

    replay.update_priorities = record
    assert learner.ready()
    metrics = learner.step(2)
    assert set(metrics) == {"loss", "q_mean", "priority_mean"}
    assert len(calls) == 2
    keys, priorities = calls[-1]
    assert keys.shape == priorities.shape == (4,)
    assert np.all(np.isfinite(priorities)) and np.any(priorities != 1.0)
    last = {int(k): p for k, p in zip(keys, priorities, strict=True)}
    np.testing.assert_allclose(replay.get_priorities(np.array(list(last))), list(last.values()))


def test_target_network_copied_every_period():
    learner, _ = make()
    initial = learner.state.params
    learner.step(2)
    assert trees_equal(learner.state.target_params, initial)
    assert not trees_equal(learner.state.params, initial)
    learner.step(1)
    assert learner.num_updates == 3
    assert trees_equal(learner.state.target_params, learner.state.params)
    learner.step(1)
    assert not trees_equal(learner.state.target_params, learner.state.params)


def test_state_round_trip_gives_an_identical_next_update(tmp_path: Path):
    a, replay_a = make()
    a.step(3)
    path = save_checkpoint(
        tmp_path / "ckpt.msgpack", {"learner": a.state_dict(), "replay": replay_a.state_dict()}
    )
    b, replay_b = make(seed=7, num_items=2)
    state = load_checkpoint(path)
    b.load_state_dict(state["learner"])
    replay_b.load_state_dict(state["replay"])
    assert b.num_updates == 3
    metrics_a = a.step(2)  # the 5th update: the target is not refreshed, so it must match too
    metrics_b = b.step(2)
    assert metrics_a == metrics_b
    assert trees_equal(a.state.params, b.state.params)
    assert trees_equal(a.state.target_params, b.state.target_params)
    assert trees_equal(a.state.opt_state, b.state.opt_state)


def test_ready_waits_for_min_replay_sequences():
    learner, replay = make(min_replay_sequences=10)
    assert len(replay) == 8 and not learner.ready()
    replay.add_items(make_items(2))
    assert learner.ready()


def test_sequence_length_mismatch_is_an_error():
    learner, _ = make()
    with pytest.raises(Exception, match="burn_in"):
        learner._batch({k: v[:, :5] for k, v in make_items(2).items()})


def _q(values):
    return jnp.asarray(values, jnp.float32)


def test_n_step_targets_bootstrap_from_the_final_observation():
    # Trace: real actions at 0, 1, 2; x_3 final; 4, 5 padding. Q(x, .) = [v, v - 1]; the
    # padding holds nonsense values that must not be used.
    r = _q([9.0, 1.0, 2.0, 3.0, 0.0, 0.0])
    mask = _q([1, 1, 1, 0, 0, 0])
    q = _q([[10, 9], [20, 19], [30, 29], [40, 39], [-99, -98], [77, 78]])
    gamma, identity = 0.5, losses.IDENTITY_PAIR
    truncated = n_step_sequence_targets(
        r, _q([1, 1, 1, 1, 0, 0]), mask, q, q, gamma=gamma, n=2, tx_pair=identity
    )
    # t=0: r1 + g r2 + g^2 Q(x2); t=1: r2 + g r3 + g^2 Q(x3); t=2: r3 + g Q(x3) (not g^2).
    np.testing.assert_allclose(
        truncated[:3], [1 + 0.5 * 2 + 0.25 * 30, 2 + 0.5 * 3 + 0.25 * 40, 3 + 0.5 * 40], 1e-6
    )
    terminated = n_step_sequence_targets(
        r, _q([1, 1, 1, 0, 0, 0]), mask, q, q, gamma=gamma, n=2, tx_pair=identity
    )
    np.testing.assert_allclose(terminated[:3], [1 + 1 + 0.25 * 30, 2 + 1.5, 3.0], 1e-6)
    # A trace inside an episode is the plain n-step target.
    full = n_step_sequence_targets(
        r, jnp.ones(6), jnp.ones(6), q, q, gamma=gamma, n=2, tx_pair=identity
    )
    plain = losses.n_step_double_q_targets(r, 0.5 * jnp.ones(6), q, q, 2)
    np.testing.assert_allclose(full, plain, 1e-6)


def test_retrace_targets_cut_the_trace_at_the_final_observation():
    r = _q([9.0, 1.0, 2.0, 3.0, 0.0])
    mask = _q([1, 1, 1, 0, 0])
    q = _q([[10, 9], [20, 19], [30, 29], [40, 39], [50, 51]])
    a = jnp.asarray([0, 0, 0, 0, 0], jnp.int32)  # greedy everywhere, x_3's action 0 too
    mu = _q([1, 1, 1, 0, 0])
    targets = retrace_sequence_targets(
        a,
        r,
        _q([1, 1, 1, 1, 0]),
        mask,
        mu,
        q,
        q,
        gamma=0.5,
        lambda_=1.0,
        tx_pair=losses.IDENTITY_PAIR,
    )
    # Greedy behaviour and lambda 1: discounted returns bootstrapped at x_3 (truncated).
    np.testing.assert_allclose(
        targets[:3],
        [1 + 0.5 * 2 + 0.25 * 3 + 0.125 * 40, 2 + 0.5 * 3 + 0.25 * 40, 3 + 0.5 * 40],
        1e-6,
    )


def test_invalid_parameters_are_errors():
    with pytest.raises(ParameterError, match="n_step"):
        R2D2Learner.Params(trace_length=4, n_step=4)
    with pytest.raises(ParameterError, match="discount"):
        R2D2Learner.Params(discount=1.5)


def test_a_batch_larger_than_the_replay_is_refused():
    import pytest

    from agentos.errors import ParameterError

    with pytest.raises(ParameterError, match=r"batch_size=64 is more than replay.capacity=32"):
        make(batch_size=64)
    with pytest.raises(ParameterError, match=r"min_replay_sequences: 40 items"):
        make(min_replay_sequences=40)


def test_the_state_after_burn_in_is_the_stored_one_where_the_burn_in_is_padding():
    from agentos.agents.r2d2.learner import state_after_burn_in

    # only the first sequence's burn-in (2 steps) is all padding
    mask = jnp.array([[0, 0, 1, 1], [1, 1, 1, 0], [0, 1, 1, 1]], jnp.float32)
    burned = (jnp.full((3, 2), 5.0), jnp.full((3, 2), 6.0))
    start = (jnp.full((3, 2), 1.0), jnp.full((3, 2), 2.0))
    h, c = state_after_burn_in(burned, start, mask, 2)
    np.testing.assert_array_equal(h, [[1, 1], [5, 5], [5, 5]])
    np.testing.assert_array_equal(c, [[2, 2], [6, 6], [6, 6]])
    # Agent57's states are [heads, B, H]: the batch is axis 1
    split = state_after_burn_in(jnp.full((2, 3, 1), 5.0), jnp.zeros((2, 3, 1)), mask, 2, 1)
    np.testing.assert_array_equal(split[:, :, 0], [[0, 5, 5], [0, 5, 5]])


def test_an_episodes_first_sequence_gets_the_q_values_of_its_stored_state():
    """A sequence whose burn-in is padding: its trace's Q-values are those of unrolling the
    trace alone from the stored state, whatever the padding holds."""
    from agentos.agents.r2d2.learner import burned_in_q_values

    learner, _ = make()
    items = make_items(2)
    items["mask"][0, :BURN_IN] = 0.0  # sequence 0 starts an episode
    items["observation"][0, :BURN_IN] = 7.0  # padding that would change the state
    batch = {k: jnp.asarray(v) for k, v in items.items()}
    module, params = learner.network.module, learner.state.params
    q, _, _ = burned_in_q_values(params, params, batch, module, burn_in=BURN_IN)
    trace = {k: v[:, BURN_IN:] if v.ndim > 1 and k not in ("lstm_h", "lstm_c") else v
             for k, v in batch.items()}  # fmt: skip
    q_alone, _, _ = burned_in_q_values(params, params, trace, module, burn_in=0)
    np.testing.assert_allclose(q[0], q_alone[0], rtol=1e-6)
    assert not np.allclose(q[1], q_alone[1])  # an ordinary sequence is burned in
