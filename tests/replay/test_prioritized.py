"""Prioritized sequence replay: sampling law, eviction, stale keys, weights, state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agentos.errors import AgentOSError, CheckpointError, ParameterError
from agentos.replay.prioritized import PrioritizedSequenceReplay, sequence_priority
from agentos.runtime.checkpoint import load_checkpoint, save_checkpoint
from agentos.runtime.roles import BuildContext

T = 6
"""Sequence length of the test items."""


def make_replay(seed: int = 0, **params) -> PrioritizedSequenceReplay:
    context = BuildContext(name="replay", seed=seed, agent_dir=Path("."))
    return PrioritizedSequenceReplay(PrioritizedSequenceReplay.Params(**params), context)


def make_items(first: int, num: int) -> dict[str, np.ndarray]:
    """``num`` sequences whose observation is filled with their insertion number."""
    ids = np.arange(first, first + num)
    return {
        "observation": np.broadcast_to(ids[:, None, None], (num, T, 3)).astype(np.float32),
        "action": np.broadcast_to(ids[:, None], (num, T)).astype(np.int32),
        "reward": np.ones((num, T), np.float32),
        "mask": np.ones((num, T), np.float32),
        "core_state": np.zeros((num, 4), np.float32),
    }


def test_sampling_frequencies_match_priorities_to_the_alpha():
    alpha = 0.9
    priorities = np.array([0.01, 0.5, 1.0, 4.0, 20.0])
    replay = make_replay(capacity=10, priority_exponent=alpha)
    keys = replay.add_items(make_items(0, 5), priorities)
    counts = np.zeros(5)
    for _ in range(200):
        batch = replay.sample(1000)
        counts += np.bincount(batch.keys - keys[0], minlength=5)
        # The sampled sequence is the one the key names.
        np.testing.assert_array_equal(batch.items["action"][:, 0], batch.keys)
    expected = priorities**alpha / np.sum(priorities**alpha)
    assert np.max(np.abs(counts / counts.sum() - expected)) < 0.01


def test_fifo_eviction_drops_oldest_keys():
    replay = make_replay(capacity=4)
    first = replay.add_items(make_items(0, 3))
    second = replay.add_items(make_items(3, 3))
    assert first.tolist() == [0, 1, 2] and second.tolist() == [3, 4, 5]
    assert len(replay) == 4
    live = set()
    for _ in range(20):
        live.update(replay.sample(8).keys.tolist())
    assert live == {2, 3, 4, 5}
    assert np.isnan(replay.get_priorities(np.array([0, 1]))).all()
    # A batch larger than the capacity keeps only its newest items.
    keys = replay.add_items(make_items(6, 6))
    assert keys.tolist() == [6, 7, 8, 9, 10, 11]
    assert len(replay) == 4
    batch = replay.sample(16)
    assert set(batch.keys.tolist()) <= {8, 9, 10, 11}
    np.testing.assert_array_equal(batch.items["observation"][:, 0, 0], batch.keys)


def test_update_of_evicted_key_is_ignored_and_live_key_changes():
    replay = make_replay(capacity=2, priority_exponent=1.0)
    replay.add_items(make_items(0, 2))  # keys 0, 1
    replay.add_items(make_items(2, 1))  # key 2 evicts key 0, in key 0's slot
    updated = replay.update_priorities(np.array([0, 2, 7, -1]), np.array([50.0, 3.0, 9.0, 9.0]))
    assert updated == 1
    assert replay.get_priorities(np.array([1, 2])).tolist() == [1.0, 3.0]
    assert np.isnan(replay.get_priorities(np.array([0]))[0])
    assert replay._tree.total() == 4.0  # 1 + 3: the stale 50 did not land in slot 0
    assert replay.max_priority == 3.0  # stale priorities do not raise the max either
    assert replay.update_priorities(np.array([0]), np.array([1.0])) == 0


def test_new_items_get_max_priority_so_far():
    replay = make_replay(capacity=10)
    (first,) = replay.add_items(make_items(0, 1))
    assert replay.get_priorities(np.array([first])).tolist() == [1.0]
    replay.update_priorities(np.array([first]), np.array([5.0]))
    (second,) = replay.add_items(make_items(1, 1))
    assert replay.get_priorities(np.array([second])).tolist() == [5.0]
    # Lowering the priority does not lower the max ever set.
    replay.update_priorities(np.array([first, second]), np.array([0.5, 0.5]))
    (third,) = replay.add_items(make_items(2, 1))
    assert replay.get_priorities(np.array([third])).tolist() == [5.0]
    # Explicit priorities are used as given and raise the max.
    (fourth,) = replay.add_items(make_items(3, 1), priorities=np.array([8.0]))
    assert replay.get_priorities(np.array([fourth])).tolist() == [8.0]
    assert replay.max_priority == 8.0


def test_importance_weights_by_hand():
    # priorities [1, 4, 16] with alpha = 0.5 -> p^alpha = [1, 2, 4], total 7,
    # P = [1/7, 2/7, 4/7], N = 3, beta = 0.5:
    #   w_0 = (3 * 1/7)^-0.5 = (7/3)^0.5  = 1.527525
    #   w_1 = (3 * 2/7)^-0.5 = (7/6)^0.5  = 1.080123
    #   w_2 = (3 * 4/7)^-0.5 = (7/12)^0.5 = 0.763763
    # divided by the batch max w_0: [1, 0.707107, 0.5] = [1, 1/sqrt(2), 1/2].
    # With a batch of 7 the stratified segments have width 7/7 = 1: segment [0, 1) falls on
    # item 0, [1, 3) on item 1 and [3, 7) on item 2, so the batch is exactly keys
    # [0, 1, 1, 2, 2, 2, 2].
    replay = make_replay(capacity=3, priority_exponent=0.5, importance_sampling_exponent=0.5)
    replay.add_items(make_items(0, 3), np.array([1.0, 4.0, 16.0]))
    batch = replay.sample(7)
    assert batch.keys.tolist() == [0, 1, 1, 2, 2, 2, 2]
    assert batch.keys.dtype == np.int64 and batch.weights.dtype == np.float32
    expected = [1.0, 1 / np.sqrt(2), 1 / np.sqrt(2), 0.5, 0.5, 0.5, 0.5]
    np.testing.assert_allclose(batch.weights, expected, rtol=1e-6)


def test_state_round_trip_samples_identically(tmp_path):
    rng = np.random.default_rng(0)
    replay = make_replay(seed=1, capacity=50, batch_size=16)
    for start in range(0, 70, 7):  # wraps around: 70 inserts into 50 slots
        replay.add_items(make_items(start, 7), rng.random(7) * 3)
    replay.update_priorities(replay.sample().keys, rng.random(16))
    path = save_checkpoint(tmp_path / "replay.ckpt", {"replay": replay.state_dict()})
    restored = make_replay(seed=99, capacity=50, batch_size=16)
    restored.load_state_dict(load_checkpoint(path)["replay"])
    assert len(restored) == len(replay) == 50
    for _ in range(5):
        a, b = replay.sample(), restored.sample()
        np.testing.assert_array_equal(a.keys, b.keys)
        np.testing.assert_array_equal(a.weights, b.weights)
        for key in a.items:
            np.testing.assert_array_equal(a.items[key], b.items[key])
        new = rng.random(16)
        replay.update_priorities(a.keys, new)
        restored.update_priorities(b.keys, new)
        np.testing.assert_array_equal(
            replay.add_items(make_items(0, 3)), restored.add_items(make_items(0, 3))
        )
    with pytest.raises(CheckpointError, match="capacity"):
        make_replay(capacity=40).load_state_dict(replay.state_dict())


def test_sequence_priority_by_hand():
    abs_td = np.array(
        [
            [1.0, 3.0, 2.0, 0.0],  # last step masked
            [5.0, 1.0, 1.0, 100.0],  # masked 100 must not count
            [4.0, 4.0, 4.0, 4.0],  # no valid step
        ],
        dtype=np.float32,
    )
    mask = np.array([[1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]], dtype=np.float32)
    # row 0: 0.9 * 3 + 0.1 * (1 + 3 + 2) / 3 = 2.7 + 0.2 = 2.9
    # row 1: 0.9 * 5 + 0.1 * (5 + 1 + 1) / 3 = 4.5 + 0.7 / 3 = 4.7333...
    priority = sequence_priority(abs_td, mask)
    assert priority.dtype == np.float32
    np.testing.assert_allclose(priority, [2.9, 4.5 + 0.7 / 3, 0.0], rtol=1e-6)
    # Signed errors: the absolute value is taken; eta = 1 is the pure max.
    np.testing.assert_allclose(sequence_priority(-abs_td[:1], mask[:1], eta=1.0), [3.0])
    with pytest.raises(ValueError, match="shape"):
        sequence_priority(abs_td, mask[:, :3])


def test_add_of_single_transitions_is_refused():
    with pytest.raises(AgentOSError, match="add_items"):
        make_replay().add(None)


def test_input_checks():
    replay = make_replay(capacity=4)
    with pytest.raises(ValueError, match="empty"):
        replay.sample(2)
    with pytest.raises(ValueError, match="leading batch axis"):
        replay.add_items({"a": np.zeros((2, 3)), "b": np.zeros((3, 3))})
    replay.add_items(make_items(0, 2))
    with pytest.raises(ValueError, match="stores"):
        replay.add_items({"observation": np.zeros((1, T, 3), np.float32)})
    bad = make_items(0, 1)
    bad["observation"] = np.zeros((1, T, 4), np.float32)
    with pytest.raises(ValueError, match="shape"):
        replay.add_items(bad)
    with pytest.raises(ValueError, match="priorities"):
        replay.add_items(make_items(0, 2), np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="priorities"):
        replay.update_priorities(np.array([0, 1]), np.array([1.0]))
    replay.update_priorities(np.array([0, 1]), np.array([0.0, 0.0]))
    with pytest.raises(ValueError, match="priority 0"):
        replay.sample(2)
    with pytest.raises(ParameterError, match="capacity must be >= 1, got 0"):
        make_replay(capacity=0)
