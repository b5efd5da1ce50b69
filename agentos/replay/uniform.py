"""Uniform experience replay: a numpy ring buffer of transitions, optionally n-step.

Each stored step is ``(observation, action, reward, discount, next_observation)`` with
``discount = 1 - terminated`` (a truncated episode still bootstraps from its true next
observation), plus whether the episode ended there. A sampled item starts at a uniformly drawn
step; with ``n_step > 1`` it sums the rewards of up to ``n_step`` consecutive steps of the same
environment (stopping where the episode ends), so that the learner's usual single-step target
``reward + gamma * discount * max Q(next_observation)`` becomes the n-step target
(Sutton & Barto 2018, sec. 7.1; Hessel et al. 2018, https://arxiv.org/abs/1710.02298):

    reward   = sum_{k<m} gamma^k r_{t+k+1}
    discount = gamma^(m-1) * (1 - terminated_{t+m})
    next_observation = x_{t+m}

where m <= n_step is the number of steps used. Items are drawn with replacement by a numpy
Generator private to this component, so a run is reproducible from its seed and a restored
buffer samples exactly what the original would have.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from agentos.errors import CheckpointError, ParameterError
from agentos.replay.memory import check_fits, item_bytes
from agentos.runtime.roles import BuildContext, Replay, Transition

logger = logging.getLogger(__name__)

FIELDS = ("observation", "action", "reward", "discount", "next_observation")
"""The arrays each sampled batch holds."""


class UniformReplay(Replay):
    """A fixed-capacity FIFO buffer sampled uniformly at random (Mnih et al. 2015)."""

    provides = ("transitions",)

    @dataclass(frozen=True)
    class Params:
        """Parameters of the uniform replay buffer."""

        capacity: int = 100_000
        """How many steps the buffer holds; the oldest are evicted first."""
        n_step: int = 1
        """Steps of the same environment summed into one sampled item (1: single-step)."""
        gamma: float = 0.99
        """Discount inside an n-step sum; must equal the learner's (e.g. ``${learner.gamma}``).
        Unused when ``n_step`` is 1."""
        checkpoint: Literal["all", "none"] = "all"
        """What checkpoints keep of the buffer: ``all`` (exact resume; the file grows with
        the buffer) or ``none`` (small files; a resumed run refills an empty buffer first)."""

        def __post_init__(self) -> None:
            if self.capacity < 1:
                raise ParameterError(f"capacity must be >= 1, got {self.capacity}")
            if self.n_step < 1:
                raise ParameterError(f"n_step must be >= 1, got {self.n_step}")
            if not 0.0 <= self.gamma <= 1.0:
                raise ParameterError(f"gamma must be in [0, 1], got {self.gamma}")

    def __init__(self, params: Params, context: BuildContext, **dependencies: Any):
        super().__init__(params, context, **dependencies)
        self.capacity = int(params.capacity)
        self.n_step = int(params.n_step)
        self.num_envs = int(context.num_envs)
        if (self.n_step - 1) * self.num_envs >= self.capacity:
            raise ParameterError(
                f"capacity {self.capacity} is too small for n_step {self.n_step} with "
                f"{self.num_envs} environments",
                fix=f"set replay.capacity above {(self.n_step - 1) * self.num_envs} "
                "(it must hold n_step - 1 transitions of every environment)",
            )
        self._rng = context.numpy_rng("sample")
        self._storage: dict[str, np.ndarray] | None = None
        self._position = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def startable(self) -> int:
        """How many stored steps can start an item: those whose next ``n_step - 1`` steps
        (same environment) are stored too."""
        return max(self._size - (self.n_step - 1) * self.num_envs, 0)

    def _allocate(self, items: dict[str, np.ndarray]) -> None:
        """Create the ring buffers with shapes and dtypes taken from the first batch."""
        check_fits(self.capacity, item_bytes(items), "replay")
        self._storage = {
            key: np.zeros((self.capacity,) + value.shape[1:], dtype=value.dtype)
            for key, value in items.items()
        }
        nbytes = sum(array.nbytes for array in self._storage.values())
        logger.debug("replay allocated %d items (%.1f MB)", self.capacity, nbytes / 1e6)

    def add(self, transition: Transition) -> None:
        """Insert a batch of N transitions (one per environment), evicting the oldest."""
        observation = np.asarray(transition.observation)
        terminated = np.asarray(transition.terminated, dtype=bool)
        items = {
            "observation": observation,
            "action": np.asarray(transition.action),
            "reward": np.asarray(transition.reward, dtype=np.float32),
            "discount": 1.0 - terminated.astype(np.float32),
            "ended": terminated | np.asarray(transition.truncated, dtype=bool),
            "next_observation": np.asarray(transition.next_observation, dtype=observation.dtype),
        }
        num = items["observation"].shape[0]
        for key, value in items.items():
            if value.ndim == 0 or value.shape[0] != num:
                raise ValueError(
                    f"replay.add: '{key}' has shape {value.shape}; expected a leading batch "
                    f"axis of {num} like 'observation'"
                )
        if self.n_step > 1 and num != self.num_envs:
            raise ValueError(
                f"replay.add: n-step replay needs one transition per environment each call "
                f"({self.num_envs}), got {num}"
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
        """Items starting at uniformly drawn steps, arranged in ``shape``."""
        # Only steps whose next n_step - 1 steps (same environment) are stored can start one.
        lookahead = (self.n_step - 1) * self.num_envs
        startable = self.startable()
        if self._storage is None or startable <= 0:
            raise ValueError(
                f"cannot sample from a replay buffer holding {self._size} steps (n_step "
                f"{self.n_step} needs more than {lookahead}); it is empty or too small"
            )
        oldest = 0 if self._size < self.capacity else self._position
        first = (oldest + self._rng.integers(0, startable, size=shape)) % self.capacity
        storage = self._storage
        if self.n_step == 1:
            return {key: storage[key][first] for key in FIELDS}
        # [..., n] slots of the following steps of the same environment.
        steps = (first[..., None] + np.arange(self.n_step) * self.num_envs) % self.capacity
        ended = storage["ended"][steps]
        # Step k counts if no episode ended at an earlier step of the window.
        not_ended_before = np.concatenate([np.ones_like(ended[..., :1]), ~ended[..., :-1]], -1)
        counts = np.cumprod(not_ended_before, axis=-1).astype(bool)
        powers = np.float32(self.params.gamma) ** np.arange(self.n_step, dtype=np.float32)
        reward = np.sum(np.where(counts, storage["reward"][steps] * powers, 0.0), axis=-1)
        last = counts.sum(axis=-1) - 1
        last_slot = np.take_along_axis(steps, last[..., None], axis=-1)[..., 0]
        discount = powers[last] * storage["discount"][last_slot]
        return {
            "observation": storage["observation"][first],
            "action": storage["action"][first],
            "reward": reward.astype(np.float32),
            "discount": discount.astype(np.float32),
            "next_observation": storage["next_observation"][last_slot],
        }

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """A batch of ``batch_size`` items drawn uniformly with replacement."""
        return self._sample((batch_size,))

    def sample_many(self, num_batches: int, batch_size: int) -> dict[str, np.ndarray]:
        """``num_batches`` independent batches stacked on a leading axis, for scanned updates."""
        return self._sample((num_batches, batch_size))

    def _chronological(self) -> np.ndarray:
        """Slots of the stored steps, oldest first."""
        oldest = 0 if self._size < self.capacity else self._position
        return (oldest + np.arange(self._size)) % self.capacity

    def state_dict(self) -> dict[str, Any]:
        """Stored steps (oldest first, so the insert position is ``size % capacity`` after a
        restore), size and sampler state."""
        if self.params.checkpoint == "none":
            return {}
        contents = {}
        if self._storage is not None:
            order = self._chronological()
            contents = {key: value[order] for key, value in self._storage.items()}
        return {"contents": contents, "size": int(self._size), "rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (into a buffer at least as large)."""
        if not state:  # saved with checkpoint: none
            return
        size = int(state["size"])
        if size > self.capacity:
            raise CheckpointError(
                f"checkpointed replay holds {size} items, more than this buffer's capacity "
                f"{self.capacity}",
                fix="use the replay.capacity the checkpoint was made with (see `agentos runs "
                "show RUN_ID`), or learn without --resume",
            )
        contents = state["contents"]
        self._storage = None
        if contents:
            self._allocate({key: np.asarray(value) for key, value in contents.items()})
            for key, value in contents.items():
                self._storage[key][:size] = value
        self._position = size % self.capacity
        self._size = size
        self._rng.bit_generator.state = state["rng"]
