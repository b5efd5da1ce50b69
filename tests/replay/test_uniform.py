"""The uniform replay ring buffer: insertion, eviction, sampling and exact resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agentos.errors import CheckpointError
from agentos.replay.uniform import FIELDS, UniformReplay
from agentos.runtime.roles import BuildContext, Transition


def make_replay(capacity: int, seed: int = 0) -> UniformReplay:
    context = BuildContext(name="replay", seed=seed, agent_dir=Path("."))
    return UniformReplay(UniformReplay.Params(capacity=capacity), context)


def batch(start: int, num: int, terminal_every: int = 0) -> Transition:
    """N transitions whose observation is the item's global index (so items are traceable)."""
    index = np.arange(start, start + num)
    terminated = (index % terminal_every == 0) if terminal_every else np.zeros(num, bool)
    return Transition(
        observation=np.stack([index, -index], axis=1).astype(np.float32),
        action=index % 3,
        reward=index.astype(np.float32) * 0.5,
        terminated=terminated,
        truncated=np.zeros(num, bool),
        next_observation=np.stack([index + 1, -index - 1], axis=1).astype(np.float32),
    )


def test_allocates_lazily_with_shapes_and_dtypes_of_the_data():
    replay = make_replay(10)
    assert len(replay) == 0 and replay._storage is None
    replay.add(batch(0, 3))
    assert len(replay) == 3
    sample = replay.sample(5)
    assert set(sample) == set(FIELDS)
    assert sample["observation"].shape == (5, 2) and sample["observation"].dtype == np.float32
    assert sample["action"].shape == (5,) and sample["action"].dtype == batch(0, 1).action.dtype
    assert sample["reward"].dtype == np.float32 and sample["discount"].dtype == np.float32


def test_items_stay_aligned_and_discount_is_one_minus_terminated():
    replay = make_replay(100)
    replay.add(batch(0, 50, terminal_every=7))
    sample = replay.sample(200)
    index = sample["observation"][:, 0].astype(int)
    np.testing.assert_array_equal(sample["observation"][:, 1], -index)
    np.testing.assert_array_equal(sample["action"], index % 3)
    np.testing.assert_array_equal(sample["reward"], index * 0.5)
    np.testing.assert_array_equal(sample["discount"], np.where(index % 7 == 0, 0.0, 1.0))
    np.testing.assert_array_equal(sample["next_observation"][:, 0], index + 1)


def test_wraparound_evicts_the_oldest_items():
    replay = make_replay(5)
    replay.add(batch(0, 3))  # 0 1 2
    replay.add(batch(3, 4))  # wraps: 5 6 2 3 4 -> items 2..6 remain
    assert len(replay) == 5 and replay._position == 2
    seen = set(replay.sample(500)["observation"][:, 0].astype(int))
    assert seen == {2, 3, 4, 5, 6}


def test_a_batch_larger_than_capacity_keeps_the_newest():
    replay = make_replay(4)
    replay.add(batch(0, 1))
    replay.add(batch(1, 10))  # items 7..10 survive
    assert len(replay) == 4
    assert set(replay.sample(300)["observation"][:, 0].astype(int)) == {7, 8, 9, 10}
    replay.add(batch(11, 1))  # evicts 7, the oldest
    assert set(replay.sample(300)["observation"][:, 0].astype(int)) == {8, 9, 10, 11}


def test_samples_only_filled_slots():
    replay = make_replay(1000)
    replay.add(batch(1, 3))
    values = replay.sample(1000)["observation"][:, 0]
    assert set(values.astype(int)) == {1, 2, 3}  # never the zero-filled empty slots


def test_sample_many_stacks_batches_on_a_leading_axis():
    replay = make_replay(10)
    replay.add(batch(0, 10))
    many = replay.sample_many(7, 4)
    assert many["observation"].shape == (7, 4, 2)
    assert many["action"].shape == (7, 4)
    np.testing.assert_array_equal(many["observation"][..., 0].astype(int) % 3, many["action"])


def test_empty_buffer_cannot_be_sampled():
    with pytest.raises(ValueError, match="empty"):
        make_replay(3).sample(1)


def test_sampling_is_seeded():
    first, second, other = make_replay(50, 0), make_replay(50, 0), make_replay(50, 1)
    for replay in (first, second, other):
        replay.add(batch(0, 50))
    a, b, c = (r.sample(16)["observation"] for r in (first, second, other))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("filled", [0, 3, 9])  # empty, partly filled, wrapped around
def test_state_round_trip_gives_identical_samples_and_inserts(filled):
    replay = make_replay(6)
    if filled:
        replay.add(batch(0, filled))
        replay.sample(4)  # advance the rng
    state = replay.state_dict()

    restored = make_replay(6, seed=123)  # a different seed: everything must come from state
    restored.load_state_dict(state)
    assert len(restored) == len(replay)
    for r in (replay, restored):
        r.add(batch(100, 2))
    for _ in range(3):
        expected, got = replay.sample_many(2, 5), restored.sample_many(2, 5)
        for key in FIELDS:
            np.testing.assert_array_equal(expected[key], got[key])


def test_state_is_plain_numpy_and_python():
    replay = make_replay(4)
    replay.add(batch(0, 6))
    state = replay.state_dict()
    assert isinstance(state["size"], int)
    assert all(isinstance(v, np.ndarray) for v in state["contents"].values())
    # Oldest first: items 2..5 survive, stored in order.
    np.testing.assert_array_equal(state["contents"]["observation"][:, 0], [2, 3, 4, 5])


def test_restore_into_a_smaller_buffer_is_refused():
    replay = make_replay(8)
    replay.add(batch(0, 8))
    with pytest.raises(CheckpointError, match="capacity") as e:
        make_replay(4).load_state_dict(replay.state_dict())
    assert "without --resume" in e.value.fix


def make_nstep_replay(capacity: int = 20, seed: int = 0) -> UniformReplay:
    context = BuildContext(name="replay", seed=seed, agent_dir=Path("."), num_envs=2)
    params = UniformReplay.Params(capacity=capacity, n_step=3, gamma=0.5)
    return UniformReplay(params, context)


def add_two_env_steps(replay: UniformReplay, t: int, rewards, terminated, truncated) -> None:
    obs = np.array([[10 * t], [10 * t + 1]], np.float32)  # tens: time, units: environment
    replay.add(
        Transition(
            obs,
            np.array([0, 1]),
            np.array(rewards, np.float32),
            np.array(terminated),
            np.array(truncated),
            obs + 100,
        )
    )


def fill_two_envs(replay: UniformReplay) -> None:
    """env 0: rewards 1 2 4 8, terminated at t=2; env 1: rewards 10 20 30 40, truncated at t=1."""
    for t, (r0, r1) in enumerate([(1, 10), (2, 20), (4, 30), (8, 40)]):
        add_two_env_steps(replay, t, [r0, r1], [t == 2, False], [False, t == 1])


def test_n_step_items_sum_rewards_within_an_episode():
    replay = make_nstep_replay()
    fill_two_envs(replay)
    sample = replay.sample(400)
    starts = sample["observation"][:, 0].astype(int)
    assert set(starts) == {0, 1, 10, 11}  # the last (n - 1) steps of each env cannot start one
    expected = {  # start: (reward, discount before the learner's gamma, next observation)
        0: (1 + 0.5 * 2 + 0.25 * 4, 0.0, 120),  # 3 steps, ends terminated: no bootstrap
        10: (2 + 0.5 * 4, 0.0, 120),  # stops at the termination at t=2
        1: (10 + 0.5 * 20, 0.5, 111),  # stops at the truncation: bootstraps after 2 steps
        11: (20, 1.0, 111),  # truncated at its first step: a single step
    }
    for start, (reward, discount, next_obs) in expected.items():
        rows = starts == start
        np.testing.assert_allclose(sample["reward"][rows], reward)
        np.testing.assert_allclose(sample["discount"][rows], discount)
        np.testing.assert_array_equal(sample["next_observation"][rows, 0], next_obs)


def test_n_step_windows_follow_wraparound():
    replay = make_nstep_replay(capacity=6)
    fill_two_envs(replay)  # 8 steps in 6 slots: t=1..3 remain, only t=1 can start an item
    starts = set(replay.sample(200)["observation"][:, 0].astype(int))
    assert starts == {10, 11}
    state = replay.state_dict()
    bigger = make_nstep_replay(capacity=50, seed=3)
    bigger.load_state_dict(state)
    for key in FIELDS:
        np.testing.assert_array_equal(replay.sample(32)[key], bigger.sample(32)[key])


def test_n_step_needs_one_transition_per_environment():
    replay = make_nstep_replay()
    with pytest.raises(ValueError, match="one transition per environment"):
        replay.add(batch(0, 3))
