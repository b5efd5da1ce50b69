"""NGU's episodic novelty: a k-nearest-neighbour pseudo-count over one episode's embeddings.

Puigdomenech Badia et al. (2020), "Never Give Up: Learning Directed Exploration Strategies",
section 2 and Alg. 1, https://arxiv.org/abs/2002.06038 ; used unchanged by Agent57 (Badia et al.
2020, https://arxiv.org/abs/2003.13350). With ``f`` the controllable-state embedding
(``agentos.agents.agent57.embedding``) and ``M`` the episodic memory, which when ``x_t`` is
scored holds ``f(x_0) .. f(x_{t-1})`` of the current episode (``x_0`` included: the actor adds
``f(x_0)`` when the episode starts, ``EpisodicMemory.add``), then ``f(x_t)`` is added::

    r_t^episodic = 1 / sqrt(n(f(x_t))) ~= 1 / (sqrt(sum_{f_i in N_k} K(f(x_t), f_i)) + c)

where ``N_k`` are the ``k`` nearest neighbours of ``f(x_t)`` in ``M`` and ``K`` is an inverse
kernel on squared Euclidean distances normalised by their running mean ``d_m^2``. NGU's values
(also Agent57's): ``k = 10``, ``eps = 1e-4``, ``xi = 0.008``, ``c = 0.001``, ``s_max = 8``.

Scale: the reward lies in ``(0, 1/c]``. With ``k = 10`` neighbours at about the mean distance
it is about 30; ``k`` near-duplicates give ``1 / (sqrt(k) + c)`` (about 0.32). Note that with
``k = 10`` the ``s > s_max = 8`` cut can never fire (``s <= sqrt(10) + c``); it matters only for
``k >= 64``.

Pure functions (``knn_squared_distances``, ``update_mean``, ``similarity_reward``,
``episodic_reward``) work on ONE memory and are jittable; ``EpisodicMemory`` (in
``episodic_memory``, importable from here) holds one memory per environment of a vectorised
batch and updates all of them with jitted calls.
"""

from __future__ import annotations

import logging
from typing import TypeAlias

import chex
import jax
import jax.numpy as jnp

Array: TypeAlias = chex.Array
Numeric: TypeAlias = chex.Numeric

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- pure functions


def knn_squared_distances(
    memory: Array,
    num_valid: Numeric,
    embedding: Array,
    k: int,
    memory_sq_norms: Array | None = None,
) -> tuple[Array, Array]:
    """Squared Euclidean distances to the ``k`` nearest valid memory slots, ascending.

    NGU Alg. 1, step 1 (https://arxiv.org/abs/2002.06038). Slots ``0 .. num_valid-1`` of
    ``memory`` are valid (a memory is always filled from slot 0; once full it is all valid).
    Returns ``(sq_dists [k'], valid [k'])`` with ``k' = min(k, M)``; when fewer than ``k'``
    slots are valid the missing neighbours have distance ``+inf`` and ``valid = False``.

    Two passes, for speed without losing exactness where it matters: the neighbours are
    chosen with ``|m|^2 - 2 m.e`` (one matrix-vector product; ``memory_sq_norms [M]``, the
    ``|m|^2``, can be passed in to skip recomputing them), then their distances are recomputed
    exactly as ``sum_j (m_ij - e_j)^2``. The expanded form alone loses a duplicate's distance
    of 0 to cancellation (it comes out as about ``1e-7 |e|^2``, possibly negative); in the
    choice it can only swap neighbours whose distances agree to that precision.
    """
    chex.assert_rank([memory, embedding], [2, 1])
    chex.assert_type([memory, embedding], float)
    chex.assert_equal_shape_suffix([memory, embedding], 1)
    capacity = memory.shape[0]
    k = min(int(k), capacity)
    if memory_sq_norms is None:
        memory_sq_norms = jnp.sum(jnp.square(memory), axis=-1)
    chex.assert_shape(memory_sq_norms, (capacity,))
    # |m - e|^2 - |e|^2: the same order of slots as the squared distance.
    score = memory_sq_norms - 2.0 * (memory @ embedding)
    slot_valid = jnp.arange(capacity) < num_valid
    score = jnp.where(slot_valid, score, jnp.inf)
    _, nearest = jax.lax.top_k(-score, k)
    sq_dists = jnp.sum(jnp.square(memory[nearest] - embedding[None, :]), axis=-1)
    valid = nearest < num_valid
    sq_dists = jnp.where(valid, sq_dists, jnp.inf)
    # Re-sort: the exact distances may reorder near-ties of the first pass.
    order = jnp.argsort(sq_dists)
    return sq_dists[order], valid[order]


def update_mean(
    mean: Numeric,
    count: Numeric,
    new_sq_dists: Array,
    mask: Array | None = None,
    max_count: float | None = None,
) -> tuple[Array, Array]:
    """Running mean ``d_m^2`` of the k-NN squared distances seen; returns ``(mean, count)``.

    NGU Alg. 1, step 2 (https://arxiv.org/abs/2002.06038): "update the moving average d_m^2
    with the list of k-th neighbour distances". This is the exact mean over every distance
    seen so far (by this actor, across episodes: the memory is reset per episode, the mean is
    not): ``mean' = mean + sum_i (d_i - mean) / (count + n)``, ``count' = count + n`` where
    ``n`` is the number of entries with ``mask`` set (all when ``mask`` is None). Masked-out
    entries may be ``+inf``. With ``n = 0`` nothing changes.

    ``count`` is float32 under jit: it stays exact up to 2^24 and then grows coarsely (it stops
    growing near 2^28 with k = 10), when each new distance already has weight below 1e-7, so
    the mean is the same to float32 precision.

    ``max_count`` (None: the all-time mean) caps ``count``: once it is reached each new
    distance has weight ``1 / max_count`` and the past decays geometrically, a moving average
    over about the last ``max_count`` distances, which follows the embedding as it trains.
    """
    chex.assert_rank(new_sq_dists, 1)
    chex.assert_type(new_sq_dists, float)
    dtype = new_sq_dists.dtype
    mean = jnp.asarray(mean, dtype)
    count = jnp.asarray(count, dtype)
    if mask is None:
        mask = jnp.ones(new_sq_dists.shape, dtype=bool)
    chex.assert_equal_shape([new_sq_dists, mask])
    mask = mask.astype(bool)
    num_new = jnp.sum(mask.astype(dtype))
    new_count = count + num_new
    if max_count is not None:
        new_count = jnp.minimum(new_count, max_count)
    excess = jnp.sum(jnp.where(mask, new_sq_dists - mean, 0.0))
    new_mean = mean + excess / jnp.maximum(new_count, 1.0)
    return new_mean, new_count


def similarity_reward(
    sq_dists: Array,
    valid: Array,
    mean_sq_dist: Numeric,
    *,
    kernel_epsilon: float = 1e-4,
    cluster_distance: float = 0.008,
    pseudo_count: float = 0.001,
    max_similarity: float = 8.0,
) -> Array:
    """The episodic reward from the k-NN squared distances; a scalar.

    NGU Alg. 1, steps 3-7 (https://arxiv.org/abs/2002.06038)::

        d_n = d_k / d_m^2                       (normalise by the running mean)
        d_n = max(d_n - xi, 0)                  (cluster: nearby states count as the same)
        K_v = eps / (d_n + eps)                 (inverse kernel, 1 for a duplicate)
        s   = sqrt(sum_v K_v) + c
        r   = 0 if s > s_max else 1 / s

    Entries with ``valid = False`` (missing neighbours) add nothing to ``sum K``.

    Empty memory (no valid neighbour): the reward is 0, not the formula's ``1/c = 1000``. The
    Agent57 actor never scores against an empty memory (``f(x_0)`` is stored when an episode
    starts); a caller that does gets 0 rather than a value that pollutes reward statistics.

    A zero mean (all distances seen so far are 0) is replaced by the smallest normal float, so
    a duplicate still gives ``K = 1`` and nothing becomes NaN.
    """
    chex.assert_rank([sq_dists, valid], 1)
    chex.assert_type(sq_dists, float)
    chex.assert_equal_shape([sq_dists, valid])
    dtype = sq_dists.dtype
    valid = valid.astype(bool)
    mean_sq_dist = jnp.maximum(jnp.asarray(mean_sq_dist, dtype), jnp.finfo(dtype).tiny)
    # The inf of a missing neighbour is replaced before dividing so no inf/NaN reaches grads.
    normalised = jnp.where(valid, sq_dists, 0.0) / mean_sq_dist
    normalised = jnp.maximum(normalised - cluster_distance, 0.0)
    kernel = jnp.where(valid, kernel_epsilon / (normalised + kernel_epsilon), 0.0)
    similarity = jnp.sqrt(jnp.sum(kernel)) + pseudo_count
    reward = jnp.where(similarity > max_similarity, 0.0, 1.0 / similarity)
    return jnp.where(jnp.any(valid), reward, 0.0).astype(dtype)


def episodic_reward(
    memory: Array,
    num_valid: Numeric,
    embedding: Array,
    mean_sq_dist: Numeric,
    *,
    k: int = 10,
    kernel_epsilon: float = 1e-4,
    cluster_distance: float = 0.008,
    pseudo_count: float = 0.001,
    max_similarity: float = 8.0,
) -> tuple[Array, Array]:
    """NGU's episodic reward of ``embedding`` against one memory; returns ``(reward, sq_dists)``.

    NGU Alg. 1 (https://arxiv.org/abs/2002.06038), ``knn_squared_distances`` followed by
    ``similarity_reward`` (see both for the equations and the empty-memory case).

    ``mean_sq_dist`` is used as given. Alg. 1 normalises with the mean ALREADY UPDATED with this
    step's distances; ``EpisodicMemory`` does so (distances, then ``update_mean``, then the
    reward). Here the order is the caller's: the returned ``sq_dists [min(k, M)]`` (ascending,
    ``+inf`` for missing neighbours, so ``jnp.isfinite`` is their mask) feed ``update_mean``.

    Args:
      memory: ``[M, D]`` stored embeddings; slots ``>= num_valid`` are ignored.
      num_valid: number of valid slots (scalar, may be traced).
      embedding: ``[D]`` the embedding ``f(x_t)`` to score.
      mean_sq_dist: the running mean ``d_m^2`` of k-NN squared distances.
      k: number of neighbours (a Python int; capped at ``M``).
      kernel_epsilon: ``eps`` of the kernel.
      cluster_distance: ``xi``, normalised distances below it count as 0.
      pseudo_count: ``c``, added to ``sqrt(sum K)``.
      max_similarity: ``s_max``, above which the reward is 0.
    """
    sq_dists, valid = knn_squared_distances(memory, num_valid, embedding, k)
    reward = similarity_reward(
        sq_dists,
        valid,
        mean_sq_dist,
        kernel_epsilon=kernel_epsilon,
        cluster_distance=cluster_distance,
        pseudo_count=pseudo_count,
        max_similarity=max_similarity,
    )
    return reward, sq_dists


def __getattr__(name: str) -> object:
    # EpisodicMemory lives in episodic_memory, which imports this module (PEP 562 re-export).
    if name == "EpisodicMemory":
        from agentos.agents.agent57.episodic_memory import EpisodicMemory

        return EpisodicMemory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
