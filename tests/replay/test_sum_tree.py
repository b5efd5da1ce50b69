"""SumTree against brute-force prefix sums."""

from __future__ import annotations

import numpy as np
import pytest

from agentos.replay.sum_tree import SumTree, last_write_wins


def brute_force_find(priorities: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The i with sum(p[:i]) <= t < sum(p[:i+1]), from a cumulative sum."""
    return np.searchsorted(np.cumsum(priorities), targets, side="right")


@pytest.mark.parametrize("seed", range(40))
def test_total_and_find_match_brute_force_on_integer_priorities(seed):
    # Integer-valued priorities make every partial sum exact, so results must agree exactly.
    rng = np.random.default_rng(seed)
    capacity = int(rng.integers(1, 300))
    priorities = rng.integers(0, 10, size=capacity).astype(np.float64)
    priorities[rng.integers(capacity)] = 1.0  # at least one non-zero
    tree = SumTree(capacity)
    tree.update(np.arange(capacity), priorities)
    assert tree.total() == priorities.sum()
    np.testing.assert_array_equal(tree.get(np.arange(capacity)), priorities)
    targets = rng.uniform(0, priorities.sum(), size=500)
    found = tree.find(targets)
    np.testing.assert_array_equal(found, brute_force_find(priorities, targets))
    assert np.all(priorities[found] > 0)


@pytest.mark.parametrize("seed", range(40))
def test_find_on_float_priorities_lands_in_the_right_interval(seed):
    rng = np.random.default_rng(1000 + seed)
    capacity = int(rng.integers(1, 500))
    priorities = rng.exponential(size=capacity) ** 3 * (rng.random(capacity) < 0.7)
    priorities[-1] = 0.0 if capacity > 1 else 1.0  # trailing zero next to the padding
    priorities[0] = max(priorities[0], 1e-3)
    tree = SumTree(capacity)
    # Fill in random order with several partial updates, to exercise incremental recomputation.
    order = rng.permutation(capacity)
    for chunk in np.array_split(order, 5):
        tree.update(chunk, priorities[chunk])
    np.testing.assert_allclose(tree.total(), priorities.sum(), rtol=1e-12)
    targets = np.concatenate([rng.uniform(0, tree.total(), size=300), [0.0, tree.total()]])
    found = tree.find(targets)
    assert found.dtype == np.int64
    assert np.all(priorities[found] > 0)
    prefix = np.concatenate([[0.0], np.cumsum(priorities)])
    tolerance = 1e-9 * priorities.sum()
    assert np.all(prefix[found] <= targets + tolerance)
    assert np.all(targets < prefix[found + 1] + tolerance)


def test_target_equal_to_total_lands_on_last_non_zero_leaf():
    tree = SumTree(5)  # padded to 8 leaves
    tree.update(np.array([0, 1, 2, 3, 4]), np.array([0.1, 0.2, 0.7, 0.0, 0.0]))
    total = tree.total()
    assert tree.find(np.array([total, total * (1 + 1e-12), 1e9])).tolist() == [2, 2, 2]
    assert tree.find(np.array([0.0])).tolist() == [0]


def test_target_at_total_after_round_off_prone_updates():
    # 0.1 is not exact in binary: after many updates the tree's sums carry round-off, yet a
    # target equal to the total must still select a valid, non-zero leaf.
    tree = SumTree(1000)
    rng = np.random.default_rng(0)
    for _ in range(50):
        indices = rng.integers(0, 1000, size=64)
        tree.update(indices, rng.choice([0.0, 0.1, 0.3, 1e-8], size=64))
    leaves = tree.get(np.arange(1000))
    found = tree.find(np.full(4, tree.total()))
    assert np.all(leaves[found] > 0)
    assert found[0] == np.flatnonzero(leaves)[-1]


def test_zero_leaves_are_never_found():
    tree = SumTree(8)
    tree.update(np.arange(8), np.array([0, 0, 3, 0, 0, 0, 1, 0], dtype=float))
    found = tree.find(np.linspace(0, 4, 1001))
    assert set(found.tolist()) == {2, 6}


def test_duplicate_indices_last_write_wins():
    tree = SumTree(4)
    tree.update(np.array([2, 1, 2, 2]), np.array([1.0, 7.0, 5.0, 3.0]))
    assert tree.get(np.array([0, 1, 2, 3])).tolist() == [0.0, 7.0, 3.0, 0.0]
    assert tree.total() == 10.0
    indices, values = last_write_wins(np.array([4, 1, 4]), np.array([1.0, 2.0, 3.0]))
    assert indices.tolist() == [1, 4] and values.tolist() == [2.0, 3.0]


def test_max_tracks_largest_ever_set():
    tree = SumTree(3)
    assert tree.max() == 0.0
    tree.update(np.array([0, 1]), np.array([2.0, 5.0]))
    tree.update(np.array([1]), np.array([0.5]))
    assert tree.max() == 5.0
    assert tree.total() == 2.5


def test_get_keeps_shape_and_rejects_bad_input():
    tree = SumTree(4)
    tree.update(np.array([3]), np.array([2.0]))
    assert tree.get(np.array([[3, 0]])).shape == (1, 2)
    with pytest.raises(ValueError, match="indices"):
        tree.update(np.array([4]), np.array([1.0]))
    with pytest.raises(ValueError, match="non-negative"):
        tree.update(np.array([0]), np.array([-1.0]))
    with pytest.raises(ValueError, match="non-negative"):
        tree.update(np.array([0]), np.array([np.nan]))
    with pytest.raises(ValueError, match="values"):
        tree.update(np.array([0, 1]), np.array([1.0]))
    with pytest.raises(ValueError, match="all zero"):
        SumTree(4).find(np.array([0.0]))
    with pytest.raises(ValueError, match="capacity"):
        SumTree(0)


def test_capacity_one():
    tree = SumTree(1)
    tree.update(np.array([0]), np.array([0.25]))
    assert tree.find(np.array([0.0, 0.1, 0.25])).tolist() == [0, 0, 0]


def test_state_round_trip_is_bit_identical():
    rng = np.random.default_rng(3)
    tree = SumTree(100)
    for _ in range(20):
        tree.update(rng.integers(0, 100, size=16), rng.random(16) / 3)
    restored = SumTree(100)
    restored.load_state_dict(tree.state_dict())
    assert restored.total() == tree.total()
    assert restored.max() == tree.max()
    targets = rng.uniform(0, tree.total(), size=1000)
    np.testing.assert_array_equal(restored.find(targets), tree.find(targets))
    np.testing.assert_array_equal(restored._nodes, tree._nodes)
    with pytest.raises(ValueError, match="capacity"):
        SumTree(99).load_state_dict(tree.state_dict())


@pytest.mark.parametrize("seed", range(5))
def test_small_and_large_updates_keep_every_node_the_sum_of_its_children(seed):
    # Updates of a few leaves take a scalar path, larger ones the vectorised path; both must
    # leave the same tree as rebuilding it from its leaves.
    rng = np.random.default_rng(seed)
    tree = SumTree(int(rng.integers(2, 2000)))
    for _ in range(100):
        size = int(rng.choice([1, 2, 3, 4, 5, 8, 64]))
        tree.update(rng.integers(0, tree.capacity, size=size), rng.random(size) * 0.3)
    rebuilt = SumTree(tree.capacity)
    rebuilt.load_state_dict(tree.state_dict())
    np.testing.assert_array_equal(tree._nodes, rebuilt._nodes)
