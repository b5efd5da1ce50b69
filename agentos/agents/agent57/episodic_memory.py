"""NGU's episodic memories of a vectorised batch: one per environment, updated by jitted calls.

The pure functions (NGU Alg. 1) are in ``agentos.agents.agent57.episodic``; this module holds
the batched state (``EpisodicMemory``) and its jitted score / insert steps.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from agentos.agents.agent57.episodic import (
    Array,
    knn_squared_distances,
    similarity_reward,
    update_mean,
)
from agentos.errors import ParameterError

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- batched memory


def _score_one(
    memory: Array,
    sq_norms: Array,
    size: Array,
    mean: Array,
    count: Array,
    embedding: Array,
    *,
    k: int,
    kernel_epsilon: float,
    cluster_distance: float,
    pseudo_count: float,
    max_similarity: float,
    mean_horizon: float | None,
) -> tuple[Array, Array, Array]:
    """One environment's Alg. 1: k-NN distances, then the mean update, then the reward."""
    sq_dists, valid = knn_squared_distances(memory, size, embedding, k, sq_norms)
    mean, count = update_mean(mean, count, sq_dists, valid, max_count=mean_horizon)
    reward = similarity_reward(
        sq_dists,
        valid,
        mean,
        kernel_epsilon=kernel_epsilon,
        cluster_distance=cluster_distance,
        pseudo_count=pseudo_count,
        max_similarity=max_similarity,
    )
    return mean, count, reward


def _insert(
    memory: Array,
    sq_norms: Array,
    size: Array,
    position: Array,
    embeddings: Array,
    where: Array,
) -> tuple[Array, Array, Array, Array]:
    """Store ``embeddings [N, D]`` in the environments' ring buffers where ``where [N]`` (the
    oldest goes when full). Environments without ``where`` write to slot ``capacity``, which
    the scatter drops: nothing is read from the buffers, so the donated update stays in place
    (reading a slot would make XLA copy the whole memory)."""
    num_envs, capacity = memory.shape[:2]
    rows = jnp.arange(num_envs)
    slot = jnp.where(where, position, capacity)
    memory = memory.at[rows, slot].set(embeddings, mode="drop")
    norms = jnp.sum(jnp.square(embeddings), axis=-1)
    sq_norms = sq_norms.at[rows, slot].set(norms, mode="drop")
    size = jnp.where(where, jnp.minimum(size + 1, capacity), size)
    return memory, sq_norms, size, jnp.where(where, (position + 1) % capacity, position)


def _score_batch(
    memory: Array,
    sq_norms: Array,
    size: Array,
    mean: Array,
    count: Array,
    embeddings: Array,
    *,
    score: functools.partial,
    bucket: int,
) -> tuple[Array, Array, Array]:
    """``_score_one`` for every environment over the first ``bucket`` slots only: valid
    slots are ``0 .. size-1``, so a bucket >= every size gives the same result as the whole
    memory, at the cost of the filled part (episodes much shorter than the capacity)."""
    return jax.vmap(score)(memory[:, :bucket], sq_norms[:, :bucket], size, mean, count, embeddings)


MAX_BUCKET = 4096
"""Largest prefix the k-NN slices; past it the whole memory is read. Measured on 2 CPU cores,
32 environments, D = 32, capacity 30,000: a prefix of 512 / 2,048 / 4,096 slots costs 0.2 /
1.0 / 2.4 ms per vector step, the whole memory 5.5 ms, but a prefix of 8,192 costs 19 ms
(the sliced copy stops fitting in cache)."""


def _bucket(max_size: int, capacity: int, k: int) -> int:
    """The smallest power of two (>= 64, >= k) holding ``max_size`` slots, or the whole
    capacity past ``MAX_BUCKET``: a few compiled shapes, and a k-NN whose cost follows the
    filled memory while episodes are short."""
    bucket = max(64, k, 1 << max(int(max_size) - 1, 0).bit_length())
    return capacity if bucket > MAX_BUCKET else min(bucket, capacity)


def _reset(size: Array, position: Array, done: Array) -> tuple[Array, Array]:
    return jnp.where(done, 0, size), jnp.where(done, 0, position)


_STATE_KEYS = ("memory", "size", "position", "mean", "count")


class EpisodicMemory:
    """One NGU episodic memory per environment of a vectorised batch.

    Use::

        memory.reset(is_first)                 # episodes that start at x_0: empty memory
        memory.add(f(x_0), where=is_first)     # ... that holds f(x_0)
        r_episodic = memory.reward_and_add(f(x_{t+1}))   # after each step

    so the memory scored against holds ``f(x_0) .. f(x_t)`` of the current episode (NGU
    section 2). The running mean ``d_m^2`` is per environment (each plays the role of an NGU
    actor) and is kept across resets.

    The state lives on the JAX device; a step is two jitted calls for the whole batch (score,
    then an in-place insert into the donated buffers). The k-NN reads only the first
    ``bucket`` slots, the smallest power of two >= 64 that holds every environment's filled
    part (up to ``MAX_BUCKET``, then all of it), so while episodes are short its cost follows
    their length, not the capacity (NGU's 30,000). Measured (2 shared CPU cores, 32
    environments, D = 32, capacity 30,000; score + insert per vector step): 0.8 ms with 100
    slots filled, 1.2 ms with 1,000, 2.1 ms with 3,000, 7.7 ms full (reading the whole memory
    every step cost 7.7 ms whatever the fill).
    ``state_dict`` / ``load_state_dict`` give and take numpy arrays.
    """

    def __init__(
        self,
        num_envs: int,
        capacity: int,
        embedding_dim: int,
        k: int = 10,
        kernel_epsilon: float = 1e-4,
        cluster_distance: float = 0.008,
        pseudo_count: float = 0.001,
        max_similarity: float = 8.0,
        mean_horizon: float | None = None,
    ):
        """``mean_horizon``: ``update_mean``'s ``max_count`` (None: all-time ``d_m^2``)."""
        if mean_horizon is not None and not float(mean_horizon) >= 1.0:
            raise ParameterError(
                f"EpisodicMemory: mean_horizon must be >= 1 or None, got {mean_horizon!r}"
            )
        for name, value in (
            ("num_envs", num_envs),
            ("capacity", capacity),
            ("embedding_dim", embedding_dim),
            ("k", k),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(
                    f"EpisodicMemory: {name} must be a positive int, got {value!r}",
                    fix=f"pass an int >= 1 for {name}",
                )
        for name, value in (  # type: ignore[assignment]
            ("kernel_epsilon", kernel_epsilon),
            ("pseudo_count", pseudo_count),
            ("max_similarity", max_similarity),
        ):
            if not float(value) > 0.0:
                raise ParameterError(
                    f"EpisodicMemory: {name} must be > 0, got {value!r}",
                    fix=f"pass a positive float for {name} (NGU: eps=1e-4, c=0.001, s_max=8)",
                )
        if not float(cluster_distance) >= 0.0:
            raise ParameterError(
                f"EpisodicMemory: cluster_distance must be >= 0, got {cluster_distance!r}",
                fix="pass a non-negative float (NGU: 0.008)",
            )
        if k > capacity:
            logger.warning("EpisodicMemory: k=%d > capacity=%d; using k=%d", k, capacity, capacity)
        self.num_envs = int(num_envs)
        self.capacity = int(capacity)
        self.embedding_dim = int(embedding_dim)
        self.k = min(int(k), self.capacity)
        score = functools.partial(
            _score_one,
            k=self.k,
            kernel_epsilon=float(kernel_epsilon),
            cluster_distance=float(cluster_distance),
            pseudo_count=float(pseudo_count),
            max_similarity=float(max_similarity),
            mean_horizon=None if mean_horizon is None else float(mean_horizon),
        )
        self._score = jax.jit(
            functools.partial(_score_batch, score=score),
            static_argnames=("bucket",),
            donate_argnums=(3, 4),
        )
        # A separate call for the write: in one call with the reads, XLA copies the whole
        # donated memory (twice) before updating it; alone, the update is in place.
        self._insert = jax.jit(_insert, donate_argnums=(0, 1, 2, 3))
        self._reset = jax.jit(_reset, donate_argnums=(0, 1))
        n, m, d = self.num_envs, self.capacity, self.embedding_dim
        self._memory = jnp.zeros((n, m, d), jnp.float32)
        self._sq_norms = jnp.zeros((n, m), jnp.float32)  # |m|^2 per slot, derived from memory
        self._size = jnp.zeros((n,), jnp.int32)
        self._host_size = np.zeros((n,), np.int64)  # a copy of _size that needs no sync
        self._position = jnp.zeros((n,), jnp.int32)
        self._mean = jnp.zeros((n,), jnp.float32)
        self._count = jnp.zeros((n,), jnp.float32)
        self._all = jnp.ones((n,), bool)

    def reset(self, done: np.ndarray) -> None:
        """Empty the memories of the environments where ``done [N]`` is set (mean is kept)."""
        done = np.asarray(done, dtype=bool)
        if done.shape != (self.num_envs,):
            raise ParameterError(
                f"EpisodicMemory.reset: done must have shape ({self.num_envs},), got {done.shape}",
                fix="pass one bool per environment",
            )
        if done.any():
            self._size, self._position = self._reset(self._size, self._position, done)
            self._host_size[done] = 0

    def reward_and_add(self, embeddings: np.ndarray | jax.Array) -> np.ndarray:
        """Each environment's episodic reward of ``embeddings [N, D]``, then store them; ``[N]``."""
        if tuple(embeddings.shape) != (self.num_envs, self.embedding_dim):
            raise ParameterError(
                f"EpisodicMemory.reward_and_add: embeddings must have shape "
                f"({self.num_envs}, {self.embedding_dim}), got {tuple(embeddings.shape)}",
                fix="pass one embedding per environment",
            )
        embeddings = jnp.asarray(embeddings, jnp.float32)
        bucket = _bucket(int(self._host_size.max()), self.capacity, self.k)
        self._mean, self._count, reward = self._score(
            self._memory,
            self._sq_norms,
            self._size,
            self._mean,
            self._count,
            embeddings,
            bucket=bucket,
        )
        self._host_size = np.minimum(self._host_size + 1, self.capacity)
        self._memory, self._sq_norms, self._size, self._position = self._insert(
            self._memory, self._sq_norms, self._size, self._position, embeddings, self._all
        )
        return np.asarray(reward, dtype=np.float32)

    def add(self, embeddings: np.ndarray | jax.Array, where: np.ndarray) -> None:
        """Store ``embeddings [N, D]`` without scoring them, for the environments where
        ``where [N]`` is set (``f(x_0)`` of the episodes that start: NGU's memory holds it)."""
        where = np.asarray(where, dtype=bool)
        if tuple(embeddings.shape) != (self.num_envs, self.embedding_dim) or where.shape != (
            self.num_envs,
        ):
            raise ParameterError(
                f"EpisodicMemory.add: embeddings must have shape ({self.num_envs}, "
                f"{self.embedding_dim}) and where ({self.num_envs},), got "
                f"{tuple(embeddings.shape)} and {where.shape}",
                fix="pass one embedding and one flag per environment",
            )
        if where.any():
            self._memory, self._sq_norms, self._size, self._position = self._insert(
                self._memory,
                self._sq_norms,
                self._size,
                self._position,
                jnp.asarray(embeddings, jnp.float32),
                jnp.asarray(where),
            )
            self._host_size = np.where(
                where, np.minimum(self._host_size + 1, self.capacity), self._host_size
            )

    @property
    def sizes(self) -> np.ndarray:
        """Number of embeddings stored per environment, ``[N]``."""
        return np.asarray(self._size)

    @property
    def mean_sq_dist(self) -> np.ndarray:
        """Running mean ``d_m^2`` of k-NN squared distances per environment, ``[N]``."""
        return np.asarray(self._mean)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The state as numpy arrays (copies), for an exact resume. ``memory`` keeps only the
        slots some episode uses (``[num_envs, max size, dim]``; unused ones zeroed): a full
        30,000-slot memory of 32 copies is 123 MB, mostly never written."""
        used = int(self._host_size.max(initial=0))
        memory = np.array(self._memory[:, :used])
        memory[np.arange(used)[None, :] >= self._host_size[:, None]] = 0.0  # never read
        return {
            "memory": memory,
            "size": np.array(self._size),
            "position": np.array(self._position),
            "mean": np.array(self._mean),
            "count": np.array(self._count),
        }

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore a state given by ``state_dict`` (same ``num_envs``, capacity, dim)."""
        n, m, d = self.num_envs, self.capacity, self.embedding_dim
        saved = np.shape(state["memory"]) if "memory" in state else ()
        used = saved[1] if len(saved) == 3 and saved[1] <= m else m
        shapes = {
            "memory": (n, used, d),
            "size": (n,),
            "position": (n,),
            "mean": (n,),
            "count": (n,),
        }
        missing = [key for key in _STATE_KEYS if key not in state]
        if missing:
            raise ParameterError(
                f"EpisodicMemory.load_state_dict: missing keys {missing}",
                fix="pass a dict made by EpisodicMemory.state_dict()",
            )
        for key, shape in shapes.items():
            if tuple(np.shape(state[key])) != shape:
                raise ParameterError(
                    f"EpisodicMemory.load_state_dict: {key!r} has shape "
                    f"{tuple(np.shape(state[key]))}, expected {shape}",
                    fix="build the EpisodicMemory with the num_envs, capacity and "
                    "embedding_dim of the saved one",
                )
        if int(np.max(state["size"], initial=0)) > used:
            raise ParameterError(
                f"EpisodicMemory.load_state_dict: a size of {int(np.max(state['size']))} "
                f"needs that many memory slots, the state has {used}",
                fix="pass a dict made by EpisodicMemory.state_dict()",
            )
        memory = np.zeros((n, m, d), np.float32)
        memory[:, :used] = state["memory"]
        self._memory = jnp.array(memory)
        self._sq_norms = jnp.sum(jnp.square(self._memory), axis=-1)
        self._size = jnp.array(state["size"], jnp.int32)
        self._host_size = np.asarray(state["size"], np.int64).copy()
        self._position = jnp.array(state["position"], jnp.int32)
        self._mean = jnp.array(state["mean"], jnp.float32)
        self._count = jnp.array(state["count"], jnp.float32)
