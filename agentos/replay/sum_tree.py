"""A sum tree: sample indices in proportion to non-negative priorities in O(log n).

The tree is one float64 array: node 1 is the root, node ``i`` has children ``2i`` and
``2i + 1``, and the leaves (one per index, ``capacity`` of them, padded with zeros up to a
power of two) hold the priorities. Every internal node holds the sum of its two children,
recomputed from them (never updated by adding deltas), so the tree always equals a bottom-up
summation of its leaves, bit for bit: no round-off drifts in over millions of updates, a node
whose leaves are all zero is exactly zero, and a restored tree is identical to the original.

Updates and searches are vectorised over the batch: one numpy operation per tree level, no
Python loop over indices or targets. Used by prioritized replay (Schaul et al. 2016,
https://arxiv.org/abs/1511.05952).
"""

from __future__ import annotations

from typing import Any

import numpy as np

_SCALAR_UPDATE_MAX = 4
"""Updates of at most this many leaves walk up the tree one leaf at a time (cheaper than
the per-level numpy calls of the vectorised path, with the same result bit for bit)."""


def last_write_wins(indices: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop repeated indices, keeping the value of each index's last occurrence.

    Returns the unique indices in increasing order and their values. Numpy does not promise
    which value a repeated index receives in ``array[indices] = values``; this makes it "the
    last one", as if the writes had been applied one by one.
    """
    indices = np.asarray(indices)
    values = np.asarray(values)
    unique, first_in_reversed = np.unique(indices[::-1], return_index=True)
    return unique, values[::-1][first_in_reversed]


class SumTree:
    """A fixed-capacity array-backed sum tree over float64 priorities (all zero at first)."""

    def __init__(self, capacity: int):
        capacity = int(capacity)
        if capacity < 1:
            raise ValueError(f"sum tree capacity must be positive, got {capacity}")
        self.capacity = capacity
        self._depth = max(1, (capacity - 1).bit_length())  # levels below the root
        self._first_leaf = 1 << self._depth
        self._nodes = np.zeros(2 * self._first_leaf, dtype=np.float64)  # node 0 is unused
        self._max = 0.0

    def __len__(self) -> int:
        return self.capacity

    def total(self) -> float:
        """The sum of all priorities."""
        return float(self._nodes[1])

    def max(self) -> float:
        """The largest priority ever set (0.0 before any), even if since lowered."""
        return self._max

    def _check_indices(self, indices: Any) -> np.ndarray:
        indices = np.asarray(indices)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise ValueError(f"sum tree indices must be integers, got dtype {indices.dtype}")
        indices = indices.astype(np.int64).ravel()
        if indices.size and (indices.min() < 0 or indices.max() >= self.capacity):
            raise ValueError(
                f"sum tree indices must lie in [0, {self.capacity}), got "
                f"[{indices.min()}, {indices.max()}]"
            )
        return indices

    def get(self, indices: np.ndarray) -> np.ndarray:
        """The priorities at ``indices`` (any shape), as float64 of the same shape."""
        shape = np.shape(indices)
        return self._nodes[self._check_indices(indices) + self._first_leaf].reshape(shape)

    def update(self, indices: np.ndarray, values: np.ndarray) -> None:
        """Set the priorities at ``indices`` to ``values``; a repeated index gets its last value.

        Values must be finite and non-negative. The ancestors of the changed leaves are
        recomputed level by level (one vectorised step per level).
        """
        indices = self._check_indices(indices)
        values = np.asarray(values, dtype=np.float64).ravel()
        if values.shape != indices.shape:
            raise ValueError(f"sum tree update: {indices.size} indices but {values.size} values")
        if indices.size == 0:
            return
        if not np.all(np.isfinite(values)) or values.min() < 0:
            raise ValueError("sum tree priorities must be finite and non-negative")
        indices, values = last_write_wins(indices, values)
        nodes = indices + self._first_leaf
        self._nodes[nodes] = values
        self._max = max(self._max, float(values.max()))
        if nodes.size <= _SCALAR_UPDATE_MAX:  # a few leaves: scalar steps beat numpy calls
            tree = self._nodes
            for node in nodes.tolist():
                node >>= 1
                while node:
                    tree[node] = tree[2 * node] + tree[2 * node + 1]
                    node >>= 1
            return
        pairs = self._nodes.reshape(-1, 2)  # row p holds the children of node p
        for _ in range(self._depth):
            # Siblings share a parent: a repeated parent is written twice with the same sum.
            nodes = nodes >> 1
            children = pairs[nodes]
            self._nodes[nodes] = children[:, 0] + children[:, 1]

    def find(self, targets: np.ndarray) -> np.ndarray:
        """For each target t, the index i whose priority interval contains t.

        That is the i with ``sum(p[:i]) <= t < sum(p[:i + 1])``, so a uniform t in
        ``[0, total)`` selects i with probability ``p[i] / total``. Targets must be finite and
        non-negative; a target at or beyond ``total()`` (round-off) selects the last index
        with a non-zero priority. The result never points at a zero priority. Returns int64
        indices of the targets' shape.
        """
        targets = np.array(targets, dtype=np.float64)  # a copy: it is consumed below
        shape = targets.shape
        targets = targets.ravel()
        if self._nodes[1] <= 0:
            raise ValueError("cannot search a sum tree whose priorities are all zero")
        if targets.size and (not np.all(np.isfinite(targets)) or targets.min() < 0):
            raise ValueError("sum tree targets must be finite and non-negative")
        nodes = np.ones(targets.size, dtype=np.int64)
        for _ in range(self._depth):
            # Invariant: the current node's sum is > 0. Go right when the target is past the
            # left subtree and the right subtree can be selected; otherwise go left (the only
            # way to go left with t >= left sum is right sum == 0, so left sum == node sum > 0).
            left = 2 * nodes
            left_sum = self._nodes[left]
            go_right = (targets >= left_sum) & (self._nodes[left + 1] > 0)
            targets = np.where(go_right, targets - left_sum, targets)
            nodes = left + go_right
        return (nodes - self._first_leaf).reshape(shape)

    def state_dict(self) -> dict[str, Any]:
        """The leaves and the running max; internal nodes are recomputed on load."""
        leaves = self._nodes[self._first_leaf : self._first_leaf + self.capacity]
        return {"priorities": leaves.copy(), "max": self._max}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned; the tree is rebuilt bit for bit."""
        priorities = np.asarray(state["priorities"], dtype=np.float64)
        if priorities.shape != (self.capacity,):
            raise ValueError(
                f"checkpointed sum tree has shape {priorities.shape}, expected "
                f"({self.capacity},); restore with the same capacity"
            )
        self._nodes[:] = 0.0
        self._nodes[self._first_leaf : self._first_leaf + self.capacity] = priorities
        for level in range(self._depth - 1, -1, -1):
            start = 1 << level
            children = self._nodes[2 * start : 4 * start]
            self._nodes[start : 2 * start] = children[0::2] + children[1::2]
        self._max = float(state["max"])
