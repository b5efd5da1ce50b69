"""Uniform experience replay: a numpy ring buffer of single-step transitions.

Each item is ``(observation, action, reward, discount, next_observation)`` where
``discount = 1 - terminated`` (a truncated episode still bootstraps from its true next
observation). Items are sampled uniformly with replacement by a numpy Generator private to
this component, so a run is reproducible from its seed and a restored buffer samples exactly
what the original would have.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from agentos.runtime.roles import BuildContext, Replay, Transition

logger = logging.getLogger(__name__)

FIELDS = ("observation", "action", "reward", "discount", "next_observation")
"""The arrays each sampled batch holds, in this order."""


class UniformReplay(Replay):
    """A fixed-capacity FIFO buffer sampled uniformly at random (Mnih et al. 2015)."""

    @dataclass(frozen=True)
    class Params:
        """Parameters of the uniform replay buffer."""

        capacity: int = 100_000
        """How many transitions the buffer holds; the oldest are evicted first."""

    def __init__(self, params: Params, context: BuildContext, **dependencies: Any):
        super().__init__(params, context, **dependencies)
        if params.capacity < 1:
            raise ValueError(f"replay capacity must be positive, got {params.capacity}")
        self.capacity = int(params.capacity)
        self._rng = context.numpy_rng("sample")
        self._storage: dict[str, np.ndarray] | None = None
        self._position = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def _allocate(self, items: dict[str, np.ndarray]) -> None:
        """Create the ring buffers with shapes and dtypes taken from the first batch."""
        self._storage = {
            key: np.zeros((self.capacity,) + value.shape[1:], dtype=value.dtype)
            for key, value in items.items()
        }
        nbytes = sum(array.nbytes for array in self._storage.values())
        logger.debug("replay allocated %d items (%.1f MB)", self.capacity, nbytes / 1e6)

    def add(self, transition: Transition) -> None:
        """Insert a batch of N transitions, evicting the oldest when full."""
        observation = np.asarray(transition.observation)
        items = {
            "observation": observation,
            "action": np.asarray(transition.action),
            "reward": np.asarray(transition.reward, dtype=np.float32),
            "discount": 1.0 - np.asarray(transition.terminated, dtype=np.float32),
            "next_observation": np.asarray(transition.next_observation, dtype=observation.dtype),
        }
        num = items["observation"].shape[0]
        for key, value in items.items():
            if value.ndim == 0 or value.shape[0] != num:
                raise ValueError(
                    f"replay.add: '{key}' has shape {value.shape}; expected a leading batch "
                    f"axis of {num} like 'observation'"
                )
        if self._storage is None:
            self._allocate(items)
        if num > self.capacity:  # only the newest ``capacity`` items can survive
            items = {key: value[-self.capacity :] for key, value in items.items()}
            self._position = (self._position + num - self.capacity) % self.capacity
            num = self.capacity
        indices = (self._position + np.arange(num)) % self.capacity
        for key, value in items.items():
            self._storage[key][indices] = value
        self._position = (self._position + num) % self.capacity
        self._size = min(self._size + num, self.capacity)

    def _sample(self, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        """Items drawn uniformly with replacement, arranged in ``shape``."""
        if self._storage is None or self._size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        indices = self._rng.integers(0, self._size, size=shape)
        return {key: self._storage[key][indices] for key in FIELDS}

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """A batch of ``batch_size`` items drawn uniformly with replacement."""
        return self._sample((batch_size,))

    def sample_many(self, num_batches: int, batch_size: int) -> dict[str, np.ndarray]:
        """``num_batches`` independent batches stacked on a leading axis, for scanned updates."""
        return self._sample((num_batches, batch_size))

    def state_dict(self) -> dict[str, Any]:
        """Contents (only the filled part), insert position, size and sampler state."""
        contents = {}
        if self._storage is not None:
            contents = {key: value[: self._size].copy() for key, value in self._storage.items()}
        return {
            "contents": contents,
            "position": int(self._position),
            "size": int(self._size),
            "rng": self._rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        size = int(state["size"])
        if size > self.capacity:
            raise ValueError(
                f"checkpointed replay holds {size} items, more than this buffer's capacity "
                f"{self.capacity}; restore with the same replay.capacity"
            )
        contents = state["contents"]
        self._storage = None
        if contents:
            self._allocate({key: np.asarray(value) for key, value in contents.items()})
            for key, value in contents.items():
                self._storage[key][:size] = value
        self._position = int(state["position"])
        self._size = size
        self._rng.bit_generator.state = state["rng"]
