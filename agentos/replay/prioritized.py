"""Prioritized replay of whole sequences, as used by R2D2 and Agent57.

A sequence adder cuts each actor's trajectory into fixed-length, overlapping sequences
(burn-in + trace, with the recurrent state at the start) and inserts them with
``add_items``. The learner samples sequences in proportion to ``priority ** alpha``
(Schaul et al. 2016, https://arxiv.org/abs/1511.05952), corrects the bias with importance
weights, and writes new priorities back with ``update_priorities``, computed by
``sequence_priority`` from the sequence's TD errors (Kapturowski et al. 2019, R2D2,
https://openreview.net/forum?id=r1lyTjAqYX).

Each stored sequence gets a key, an int64 that increases with every insert and is never
reused. Eviction is FIFO, so by the time a learner returns priorities for a sampled batch
some of its sequences may have been overwritten: their keys are stale and their updates are
ignored instead of landing on the newer sequence in the same slot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from agentos.errors import AgentOSError, CheckpointError, ParameterError
from agentos.replay.memory import check_fits, item_bytes
from agentos.replay.sum_tree import SumTree, last_write_wins
from agentos.runtime.roles import BuildContext, Replay, Transition

logger = logging.getLogger(__name__)


def sequence_priority(abs_td: np.ndarray, mask: np.ndarray, eta: float = 0.9) -> np.ndarray:
    """R2D2's priority of each sequence from its absolute TD errors.

    ``p = eta * max_t |delta_t| + (1 - eta) * mean_t |delta_t|`` over the valid steps
    (``mask > 0``) of each sequence: Kapturowski et al. 2019, "Recurrent Experience Replay in
    Distributed Reinforcement Learning", section 2.3 (https://openreview.net/forum?id=r1lyTjAqYX),
    with eta = 0.9; Agent57 keeps it (Badia et al. 2020, App. G, https://arxiv.org/abs/2003.13350).
    Mixing in the max keeps long sequences from averaging large errors away.

    Args:
        abs_td: [B, T] absolute TD errors (the absolute value is taken again, harmlessly).
        mask: [B, T] 1 for valid steps, 0 for padding past the episode's end.
        eta: weight of the max; ``1 - eta`` weights the mean. In [0, 1].

    Returns:
        [B] priorities, float32 for float32 input (float64 for float64). A sequence with no
        valid step gets priority 0 and is never sampled.
    """
    abs_td = np.abs(np.asarray(abs_td))
    mask = np.asarray(mask)
    if abs_td.ndim != 2 or mask.shape != abs_td.shape:
        raise ValueError(
            f"sequence_priority expects [B, T] TD errors and a mask of the same shape, got "
            f"{abs_td.shape} and {mask.shape}"
        )
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"sequence_priority: eta must lie in [0, 1], got {eta}")
    dtype = np.result_type(abs_td.dtype, np.float32)
    valid = mask > 0
    masked = np.where(valid, abs_td, 0).astype(dtype)
    count = valid.sum(axis=1)
    max_td = masked.max(axis=1)
    mean_td = masked.sum(axis=1) / np.maximum(count, 1)
    return (eta * max_td + (1.0 - eta) * mean_td).astype(dtype)


@dataclass(frozen=True)
class SampledBatch:
    """A batch of sequences drawn from prioritized replay."""

    keys: np.ndarray
    """[B] int64 keys of the sampled sequences; hand them back to ``update_priorities``."""
    items: dict[str, np.ndarray]
    """The sampled sequences: each stored array with a leading batch axis, [B, ...]."""
    weights: np.ndarray
    """[B] float32 importance weights ``(N * P(i)) ** -beta``, divided by their max over
    this batch so that the largest is 1 (Schaul et al. 2016, section 3.4)."""


class PrioritizedSequenceReplay(Replay):
    """FIFO replay of fixed-shape sequences sampled in proportion to ``priority ** alpha``."""

    provides = ("sequences",)

    @dataclass(frozen=True)
    class Params:
        """Parameters of prioritized sequence replay (R2D2 / Agent57 defaults)."""

        capacity: int = 100_000
        """How many sequences the buffer holds; the oldest are evicted first."""
        priority_exponent: float = 0.9
        """alpha: sampling probability is proportional to ``priority ** alpha`` (0: uniform)."""
        importance_sampling_exponent: float = 0.6
        """beta: importance weights are ``(N * P(i)) ** -beta`` (0: no correction)."""
        batch_size: int = 64
        """Sequences per batch when ``sample`` is called without a batch size."""
        checkpoint: Literal["all", "none"] = "all"
        """What checkpoints keep of the buffer: ``all`` (exact resume; the file grows with
        the buffer) or ``none`` (small files; a resumed run refills an empty buffer first)."""

        def __post_init__(self) -> None:
            if self.capacity < 1:
                raise ParameterError(f"capacity must be >= 1, got {self.capacity}")
            if self.batch_size < 1:
                raise ParameterError(f"batch_size must be >= 1, got {self.batch_size}")
            for name in ("priority_exponent", "importance_sampling_exponent"):
                if getattr(self, name) < 0:
                    raise ParameterError(f"{name} must be >= 0, got {getattr(self, name)}")

    def __init__(self, params: Params, context: BuildContext, **dependencies: Any):
        super().__init__(params, context, **dependencies)
        self.capacity = int(params.capacity)
        # keys, priorities and the sum tree's nodes (up to 4 per leaf), 8 bytes each
        check_fits(self.capacity, 6 * 8, "sequence replay's priority index")
        self._rng = context.numpy_rng("sample")
        self._tree = SumTree(self.capacity)
        self._storage: dict[str, np.ndarray] | None = None
        self._keys = np.full(self.capacity, -1, dtype=np.int64)
        self._priorities = np.zeros(self.capacity, dtype=np.float64)
        self._position = 0
        self._size = 0
        self._next_key = 0
        self._max_priority = 1.0

    def __len__(self) -> int:
        return self._size

    @property
    def max_priority(self) -> float:
        """The priority new sequences get: the largest ever set, and at least 1.0."""
        return self._max_priority

    def add(self, transition: Transition) -> None:
        """Not supported: this replay stores whole sequences, inserted with ``add_items``."""
        raise AgentOSError(
            "prioritized sequence replay stores whole sequences, not single transitions",
            where=self.context.name,
            fix="pair it with an actor that writes sequences through a sequence adder "
            "(add_items), such as the R2D2 or Agent57 actor, or use uniform_replay",
        )

    def _allocate(self, items: dict[str, np.ndarray]) -> None:
        """Create the storage with shapes and dtypes taken from the first batch."""
        check_fits(self.capacity, item_bytes(items), "sequence replay")
        self._storage = {
            key: np.zeros((self.capacity,) + value.shape[1:], dtype=value.dtype)
            for key, value in items.items()
        }
        nbytes = sum(array.nbytes for array in self._storage.values())
        logger.debug("replay allocated %d sequences (%.1f MB)", self.capacity, nbytes / 1e6)

    def _check_items(self, items: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], int]:
        """The items as arrays and their batch size; ValueError on any mismatch."""
        if not items:
            raise ValueError("replay.add_items: no arrays given")
        items = {key: np.asarray(value) for key, value in items.items()}
        first = next(iter(items))
        num = items[first].shape[0] if items[first].ndim else -1
        for key, value in items.items():
            if value.ndim == 0 or value.shape[0] != num:
                raise ValueError(
                    f"replay.add_items: '{key}' has shape {value.shape}; expected a leading "
                    f"batch axis of {num} like '{first}'"
                )
        if self._storage is not None:
            if set(items) != set(self._storage):
                raise ValueError(
                    f"replay.add_items: got arrays {sorted(items)}, but the buffer stores "
                    f"{sorted(self._storage)}"
                )
            for key, value in items.items():
                stored = self._storage[key]
                if value.shape[1:] != stored.shape[1:]:
                    raise ValueError(
                        f"replay.add_items: '{key}' items have shape {value.shape[1:]}, the "
                        f"buffer stores {stored.shape[1:]}"
                    )
                if not np.can_cast(value.dtype, stored.dtype, casting="same_kind"):
                    raise ValueError(
                        f"replay.add_items: '{key}' has dtype {value.dtype}, the buffer "
                        f"stores {stored.dtype}"
                    )
        return items, num

    @staticmethod
    def _check_priorities(priorities: Any, num: int, where: str) -> np.ndarray:
        priorities = np.asarray(priorities, dtype=np.float64)
        if priorities.shape != (num,):
            raise ValueError(f"{where}: expected {num} priorities, got shape {priorities.shape}")
        if num and (not np.all(np.isfinite(priorities)) or priorities.min() < 0):
            raise ValueError(f"{where}: priorities must be finite and non-negative")
        return priorities

    def add_items(
        self, items: dict[str, np.ndarray], priorities: np.ndarray | None = None
    ) -> np.ndarray:
        """Insert B sequences, evicting the oldest when full; returns their [B] int64 keys.

        Args:
            items: arrays with a leading batch axis B, the same names, per-item shapes and
                kinds of dtype at every call (storage is allocated at the first call).
            priorities: [B] non-negative priorities; None gives every new sequence the
                largest priority set so far (1.0 at first), so it is sampled soon.
        """
        items, num = self._check_items(items)
        if priorities is None:
            priorities = np.full(num, self._max_priority, dtype=np.float64)
        priorities = self._check_priorities(priorities, num, "replay.add_items")
        keys = self._next_key + np.arange(num, dtype=np.int64)
        if num == 0:
            return keys
        if self._storage is None:
            self._allocate(items)
        self._max_priority = max(self._max_priority, float(priorities.max()))
        self._next_key += num
        skip = max(0, num - self.capacity)  # only the newest ``capacity`` can survive
        slots = (self._position + np.arange(skip, num)) % self.capacity
        for key, value in items.items():
            self._storage[key][slots] = value[skip:]
        self._keys[slots] = keys[skip:]
        self._priorities[slots] = priorities[skip:]
        self._tree.update(slots, priorities[skip:] ** self.params.priority_exponent)
        self._position = (self._position + num) % self.capacity
        self._size = min(self._size + num, self.capacity)
        return keys

    def sample(self, batch_size: int | None = None) -> SampledBatch:
        """``batch_size`` sequences (default ``params.batch_size``) drawn with replacement.

        Stratified: the total priority is cut into ``batch_size`` equal segments and one
        target is drawn uniformly in each, so every draw still has probability
        ``p_i ** alpha / sum_j p_j ** alpha`` but the batch covers the distribution evenly.
        """
        batch_size = self.params.batch_size if batch_size is None else int(batch_size)
        if batch_size < 1:
            raise ValueError(f"replay.sample: batch_size must be positive, got {batch_size}")
        if self._storage is None or self._size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        total = self._tree.total()
        if total <= 0:
            raise ValueError("cannot sample: every sequence in the replay has priority 0")
        segment = total / batch_size
        targets = (np.arange(batch_size) + self._rng.random(batch_size)) * segment
        slots = self._tree.find(np.minimum(targets, total))
        probabilities = self._tree.get(slots) / total
        weights = (self._size * probabilities) ** -self.params.importance_sampling_exponent
        weights = (weights / weights.max()).astype(np.float32)
        items = {key: value[slots] for key, value in self._storage.items()}
        return SampledBatch(keys=self._keys[slots].copy(), items=items, weights=weights)

    def _live_slots(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(which keys are still stored, their slots); the slots only where live."""
        slots = np.mod(keys, self.capacity)
        live = (keys >= 0) & (keys < self._next_key) & (self._keys[slots] == keys)
        return live, slots

    def update_priorities(self, keys: np.ndarray, priorities: np.ndarray) -> int:
        """Set the priorities of the sequences with ``keys``; returns how many were updated.

        Keys of sequences that have been evicted since they were sampled (or that were never
        issued) are ignored. A key given twice gets its last priority.
        """
        keys = np.asarray(keys, dtype=np.int64).ravel()
        priorities = self._check_priorities(
            np.ravel(priorities), keys.size, "replay.update_priorities"
        )
        live, slots = self._live_slots(keys)
        if not np.all(live):
            logger.debug("replay ignored %d stale priority updates", int((~live).sum()))
        if not np.any(live):
            return 0
        slots, priorities = last_write_wins(slots[live], priorities[live])
        self._priorities[slots] = priorities
        self._tree.update(slots, priorities**self.params.priority_exponent)
        self._max_priority = max(self._max_priority, float(priorities.max()))
        return int(slots.size)

    def get_priorities(self, keys: np.ndarray) -> np.ndarray:
        """The priorities (before the exponent) stored for ``keys``; NaN for stale keys."""
        keys = np.asarray(keys, dtype=np.int64)
        live, slots = self._live_slots(keys)
        return np.where(live, self._priorities[slots], np.nan)

    def state_dict(self) -> dict[str, Any]:
        """Contents (the filled part), keys, priorities, counters and sampler state."""
        if self.params.checkpoint == "none":
            return {}
        contents = {}
        if self._storage is not None:
            contents = {key: value[: self._size].copy() for key, value in self._storage.items()}
        return {
            "contents": contents,
            "keys": self._keys[: self._size].copy(),
            "priorities": self._priorities[: self._size].copy(),
            "tree": self._tree.state_dict(),
            "position": int(self._position),
            "size": int(self._size),
            "next_key": int(self._next_key),
            "max_priority": float(self._max_priority),
            "rng": self._rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (with the same capacity)."""
        if not state:  # saved with checkpoint: none
            return
        size = int(state["size"])
        if size > self.capacity or len(state["tree"]["priorities"]) != self.capacity:
            raise CheckpointError(
                f"checkpointed replay was made with another capacity than this buffer's "
                f"{self.capacity}",
                fix="use the replay.capacity the checkpoint was made with (see `agentos runs "
                "show RUN_ID`), or learn without --resume",
            )
        self._storage = None
        contents = state["contents"]
        if contents:
            self._allocate({key: np.asarray(value) for key, value in contents.items()})
            for key, value in contents.items():
                self._storage[key][:size] = value
        self._keys[:] = -1
        self._keys[:size] = state["keys"]
        self._priorities[:] = 0.0
        self._priorities[:size] = state["priorities"]
        self._tree.load_state_dict(state["tree"])
        self._position = int(state["position"])
        self._size = size
        self._next_key = int(state["next_key"])
        self._max_priority = float(state["max_priority"])
        self._rng.bit_generator.state = state["rng"]
