"""Fixed-number tests of NGU's episodic reward (Alg. 1), with and without jit, and the memory.

The worked example used throughout: a memory of three 2-d embeddings
``m0 = (0, 0)``, ``m1 = (1, 0)``, ``m2 = (3, 4)`` and the query ``e = (0, 1)``:
``|e - m0|^2 = 0 + 1 = 1``, ``|e - m1|^2 = 1 + 1 = 2``, ``|e - m2|^2 = 9 + 9 = 18``, so the
``k = 2`` nearest squared distances are ``[1, 2]``.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentos.agents.agent57 import episodic
from agentos.agents.agent57.episodic import EpisodicMemory
from agentos.errors import ParameterError

JIT = pytest.mark.parametrize("jit", [False, True], ids=["nojit", "jit"])

MEMORY = [[0.0, 0.0], [1.0, 0.0], [3.0, 4.0]]
QUERY = [0.0, 1.0]


def _variant(fn, jit: bool, **static_kwargs):
    """``fn`` with ``static_kwargs`` bound, jitted if ``jit``."""
    bound = functools.partial(fn, **static_kwargs)
    return jax.jit(bound) if jit else bound


def _f32(x) -> jnp.ndarray:
    return jnp.asarray(x, dtype=jnp.float32)


# --------------------------------------------------------------------------- pure functions


@JIT
def test_knn_squared_distances_worked_example(jit):
    knn = _variant(episodic.knn_squared_distances, jit, k=2)
    sq_dists, valid = knn(_f32(MEMORY), 3, _f32(QUERY))
    np.testing.assert_allclose(sq_dists, [1.0, 2.0], rtol=1e-6)
    np.testing.assert_array_equal(valid, [True, True])


@JIT
def test_knn_squared_distances_ignores_slots_past_num_valid(jit):
    # Slots 3 and 4 hold copies of the query (distance 0) but are not valid: with k = 4 the
    # answer is the three stored distances, ascending, then one missing neighbour (+inf).
    memory = _f32(MEMORY + [QUERY, QUERY])
    knn = _variant(episodic.knn_squared_distances, jit, k=4)
    sq_dists, valid = knn(memory, 3, _f32(QUERY))
    np.testing.assert_allclose(sq_dists, [1.0, 2.0, 18.0, np.inf], rtol=1e-6)
    np.testing.assert_array_equal(valid, [True, True, True, False])


def test_knn_k_larger_than_memory_is_capped():
    sq_dists, valid = episodic.knn_squared_distances(_f32(MEMORY), 3, _f32(QUERY), k=10)
    assert sq_dists.shape == (3,)
    np.testing.assert_allclose(sq_dists, [1.0, 2.0, 18.0], rtol=1e-6)
    assert bool(jnp.all(valid))


def test_knn_duplicate_distance_is_exactly_zero():
    # Far from the origin |m|^2 - 2 m.e + |e|^2 cancels badly in float32; the exact second
    # pass must still give 0 for a stored copy.
    far = [1000.0 + 0.1 * i for i in range(8)]
    memory = _f32([far, [x + 1.0 for x in far]])
    sq_dists, _ = episodic.knn_squared_distances(memory, 2, _f32(far), k=2)
    np.testing.assert_array_equal(sq_dists, [0.0, 8.0])


@JIT
def test_episodic_reward_worked_example_defaults(jit):
    # d_k^2 = [1, 2], d_m^2 = 1.5 (given):
    #   d_n = [1/1.5, 2/1.5]                = [0.666667, 1.333333]
    #   d_n - xi (0.008), floored at 0      = [0.658667, 1.325333]
    #   K = 1e-4 / (d_n + 1e-4)             = [1.517988e-4, 7.544702e-5]
    #   sum K = 2.272458e-4, sqrt = 0.01507468, s = sqrt + 0.001 = 0.01607468 (< s_max = 8)
    #   r = 1 / s = 62.20965
    reward_fn = _variant(episodic.episodic_reward, jit, k=2)
    reward, sq_dists = reward_fn(_f32(MEMORY), 3, _f32(QUERY), 1.5)
    np.testing.assert_allclose(reward, 62.20965, rtol=1e-5)
    np.testing.assert_allclose(sq_dists, [1.0, 2.0], rtol=1e-6)


@JIT
def test_episodic_reward_worked_example_cluster_distance_matters(jit):
    # Same distances, d_m^2 = 100:
    #   d_n = [0.01, 0.02];  d_n - 0.008 = [0.002, 0.012]
    #   K = [1e-4 / 0.0021, 1e-4 / 0.0121] = [0.04761905, 0.008264463]
    #   sum K = 0.05588351, sqrt = 0.2363969, s = 0.2373969, r = 1 / s = 4.212354
    reward_fn = _variant(episodic.episodic_reward, jit, k=2)
    reward, _ = reward_fn(_f32(MEMORY), 3, _f32(QUERY), 100.0)
    np.testing.assert_allclose(reward, 4.212354, rtol=1e-5)


@JIT
def test_episodic_reward_custom_parameters(jit):
    # eps = 1, xi = 0, c = 0, d_m^2 = 1: K = [1/(1+1), 1/(2+1)] = [1/2, 1/3], sum = 5/6,
    # r = 1 / sqrt(5/6) = sqrt(1.2) = 1.0954451.
    reward_fn = _variant(
        episodic.episodic_reward,
        jit,
        k=2,
        kernel_epsilon=1.0,
        cluster_distance=0.0,
        pseudo_count=0.0,
    )
    reward, _ = reward_fn(_f32(MEMORY), 3, _f32(QUERY), 1.0)
    np.testing.assert_allclose(reward, math.sqrt(1.2), rtol=1e-6)


@JIT
def test_novel_embedding_gets_larger_reward_than_a_stored_one(jit):
    reward_fn = _variant(episodic.episodic_reward, jit, k=2)
    # The query (1, 0) equals m1: d^2 = [0 (m1), 1 (m0)], d_m^2 = 1.5 -> d_n = [0, 0.658667]
    # after the cluster step, K = [1, 1.517988e-4], s = sqrt(1.000152) + 0.001 = 1.001076,
    # r = 0.9989253, far below the 62.21 of the novel query (0, 1).
    stored, _ = reward_fn(_f32(MEMORY), 3, _f32([1.0, 0.0]), 1.5)
    novel, _ = reward_fn(_f32(MEMORY), 3, _f32(QUERY), 1.5)
    np.testing.assert_allclose(stored, 0.9989253, rtol=1e-5)
    assert float(novel) > 50.0 * float(stored)


@JIT
def test_similarity_above_max_gives_zero(jit):
    # Ten stored copies of the query: K = 1 each, s = sqrt(10) + 0.001 = 3.1632777.
    # With s_max = 8 (NGU's; it never fires for k = 10) r = 1 / s = 0.3161278;
    # with s_max = 2 < s the reward is 0.
    memory = _f32([QUERY] * 10)
    default_fn = _variant(episodic.episodic_reward, jit, k=10)
    reward, _ = default_fn(memory, 10, _f32(QUERY), 1.0)
    np.testing.assert_allclose(reward, 1.0 / (math.sqrt(10.0) + 0.001), rtol=1e-6)
    capped_fn = _variant(episodic.episodic_reward, jit, k=10, max_similarity=2.0)
    reward, _ = capped_fn(memory, 10, _f32(QUERY), 1.0)
    assert float(reward) == 0.0


@JIT
def test_masked_slots_are_ignored(jit):
    # Slots 3.. hold copies of the query; were they counted the reward would drop to ~0.3.
    memory = _f32(MEMORY + [QUERY] * 7)
    reward_fn = _variant(episodic.episodic_reward, jit, k=2)
    masked, _ = reward_fn(memory, 3, _f32(QUERY), 1.5)
    truncated, _ = reward_fn(_f32(MEMORY), 3, _f32(QUERY), 1.5)
    np.testing.assert_allclose(masked, truncated, rtol=1e-6)
    np.testing.assert_allclose(masked, 62.20965, rtol=1e-5)
    # Fewer valid neighbours than k: only the valid one counts.
    # k = 10, one valid slot m0 at d^2 = 1, d_m^2 = 1: d_n = 0.992, K = 1e-4/0.9921 =
    # 1.0079629e-4, s = 0.01003974 + 0.001 = 0.01103974, r = 90.58187.
    reward_fn10 = _variant(episodic.episodic_reward, jit, k=10)
    reward, sq_dists = reward_fn10(memory, 1, _f32(QUERY), 1.0)
    np.testing.assert_allclose(reward, 90.58187, rtol=1e-5)
    assert np.isfinite(np.asarray(sq_dists)).sum() == 1


@JIT
def test_empty_memory_gives_zero_reward(jit):
    # By the formula sum K = 0, s = c and r = 1/c = 1000; we return 0 (see similarity_reward).
    reward_fn = _variant(episodic.episodic_reward, jit, k=2)
    reward, sq_dists = reward_fn(_f32(MEMORY), 0, _f32(QUERY), 1.5)
    assert float(reward) == 0.0
    assert np.all(np.isinf(np.asarray(sq_dists)))


def test_zero_mean_does_not_give_nan():
    # d_m^2 = 0 with a duplicate (d^2 = 0): d_n = 0, K = 1, r = 1 / (1 + 0.001) = 0.999001.
    memory = _f32([QUERY])
    reward, _ = episodic.episodic_reward(memory, 1, _f32(QUERY), 0.0, k=1)
    np.testing.assert_allclose(reward, 1.0 / 1.001, rtol=1e-6)
    # d_m^2 = 0 with a distant neighbour: d_n is huge, K ~ 0, r ~ 1/c, but finite.
    reward, _ = episodic.episodic_reward(_f32(MEMORY), 1, _f32(QUERY), 0.0, k=1)
    assert np.isfinite(float(reward))


@JIT
def test_update_mean(jit):
    update = _variant(episodic.update_mean, jit)
    # mean 2 over 2 values (sum 4); add 4 and 6: sum 14 over 4 values -> mean 3.5.
    mean, count = update(2.0, 2.0, _f32([4.0, 6.0]))
    np.testing.assert_allclose([mean, count], [3.5, 4.0], rtol=1e-6)
    # A masked entry (here +inf, a missing neighbour) does not count.
    mean, count = update(2.0, 2.0, _f32([4.0, 6.0, np.inf]), jnp.array([True, True, False]))
    np.testing.assert_allclose([mean, count], [3.5, 4.0], rtol=1e-6)
    # From nothing: the plain mean, (1 + 2 + 6) / 3 = 3.
    mean, count = update(0.0, 0.0, _f32([1.0, 2.0, 6.0]))
    np.testing.assert_allclose([mean, count], [3.0, 3.0], rtol=1e-6)
    # Nothing valid: unchanged.
    mean, count = update(2.5, 7.0, _f32([np.inf, np.inf]), jnp.array([False, False]))
    np.testing.assert_allclose([mean, count], [2.5, 7.0], rtol=1e-6)


# --------------------------------------------------------------------------- EpisodicMemory


class _ReferenceMemory:
    """A plain float64 re-statement of NGU Alg. 1 with list memories, to check the batched one."""

    def __init__(self, num_envs, capacity, k, eps=1e-4, xi=0.008, c=0.001, s_max=8.0):
        self.memories = [[] for _ in range(num_envs)]
        self.means = [0.0] * num_envs
        self.counts = [0] * num_envs
        self.capacity, self.k, self.eps, self.xi, self.c, self.s_max = (
            capacity,
            k,
            eps,
            xi,
            c,
            s_max,
        )

    def reset(self, done):
        for i, d in enumerate(done):
            if d:
                self.memories[i] = []

    def reward_and_add(self, embeddings):
        rewards = []
        for i, e in enumerate(np.asarray(embeddings, np.float64)):
            memory = self.memories[i]
            dists = sorted(float(np.sum((m - e) ** 2)) for m in memory)[: self.k]
            total = self.means[i] * self.counts[i] + sum(dists)
            self.counts[i] += len(dists)
            self.means[i] = total / max(self.counts[i], 1)
            if not dists:
                reward = 0.0
            else:
                kernel = [
                    self.eps / (max(d / self.means[i] - self.xi, 0.0) + self.eps) for d in dists
                ]
                s = math.sqrt(sum(kernel)) + self.c
                reward = 0.0 if s > self.s_max else 1.0 / s
            rewards.append(reward)
            memory.append(e)
            if len(memory) > self.capacity:
                memory.pop(0)  # the ring buffer drops the oldest
        return np.array(rewards)


def test_memory_matches_reference_with_resets_and_wraparound():
    num_envs, capacity, dim, k = 3, 5, 2, 3
    rng = np.random.default_rng(0)
    memory = EpisodicMemory(num_envs, capacity, dim, k=k)
    reference = _ReferenceMemory(num_envs, capacity, k)
    for step in range(40):
        # Env 0 never resets (its ring wraps many times); envs 1, 2 reset now and then.
        done = np.array([False, step % 7 == 0, rng.random() < 0.2])
        memory.reset(done)
        reference.reset(done)
        # A coarse grid, so duplicates (K = 1) and ties occur.
        embeddings = rng.integers(0, 3, size=(num_envs, dim)).astype(np.float32)
        got = memory.reward_and_add(embeddings)
        want = reference.reward_and_add(embeddings)
        assert got.dtype == np.float32 and got.shape == (num_envs,)
        np.testing.assert_allclose(got, want, rtol=1e-4, err_msg=f"step {step}")
    np.testing.assert_allclose(memory.mean_sq_dist, reference.means, rtol=1e-5)
    assert memory.sizes[0] == capacity


def test_memory_first_step_after_reset_is_zero_and_mean_is_kept():
    memory = EpisodicMemory(2, 8, 2, k=2)
    assert np.all(memory.reward_and_add(np.zeros((2, 2), np.float32)) == 0.0)
    memory.reward_and_add(np.array([[0.0, 1.0], [0.0, 1.0]], np.float32))
    # Both memories hold (0,0), (0,1); one distance 1 each so far -> mean 1.
    np.testing.assert_allclose(memory.mean_sq_dist, [1.0, 1.0])
    memory.reset(np.array([True, False]))
    np.testing.assert_array_equal(memory.sizes, [0, 2])
    np.testing.assert_allclose(memory.mean_sq_dist, [1.0, 1.0])
    rewards = memory.reward_and_add(np.array([[1.0, 0.0], [1.0, 0.0]], np.float32))
    assert rewards[0] == 0.0
    # Env 1: d^2 to (0,0) = 1, to (0,1) = 2; mean (1 + 1 + 2) / 3 = 4/3; d_n = [0.75, 1.5];
    # minus 0.008: [0.742, 1.492]; K = [1.347527e-4, 6.701964e-5]; sum = 2.017724e-4,
    # sqrt = 0.01420466, s = 0.01520466, r = 65.76931.
    np.testing.assert_allclose(rewards[1], 65.76931, rtol=1e-5)
    np.testing.assert_array_equal(memory.sizes, [1, 3])


def test_memory_state_dict_resume_is_exact():
    rng = np.random.default_rng(1)
    steps = [rng.normal(size=(4, 3)).astype(np.float32) for _ in range(20)]
    dones = [rng.random(4) < 0.15 for _ in range(20)]
    original = EpisodicMemory(4, 6, 3, k=3)
    for embeddings, done in zip(steps[:12], dones[:12], strict=True):
        original.reset(done)
        original.reward_and_add(embeddings)
    saved = original.state_dict()
    assert all(isinstance(v, np.ndarray) for v in saved.values())
    resumed = EpisodicMemory(4, 6, 3, k=3)
    resumed.load_state_dict(saved)
    for embeddings, done in zip(steps[12:], dones[12:], strict=True):
        original.reset(done)
        resumed.reset(done)
        np.testing.assert_array_equal(
            original.reward_and_add(embeddings), resumed.reward_and_add(embeddings)
        )
    for key, value in original.state_dict().items():
        np.testing.assert_array_equal(value, resumed.state_dict()[key], err_msg=key)
    # The saved dict is a copy: stepping on did not change it.
    assert not np.array_equal(saved["memory"], original.state_dict()["memory"])


def test_memory_rejects_bad_arguments():
    with pytest.raises(ParameterError):
        EpisodicMemory(0, 10, 4)
    with pytest.raises(ParameterError):
        EpisodicMemory(2, 10, 4, kernel_epsilon=0.0)
    with pytest.raises(ParameterError):
        EpisodicMemory(2, 10, 4, cluster_distance=-1.0)
    memory = EpisodicMemory(2, 10, 4)
    with pytest.raises(ParameterError):
        memory.reward_and_add(np.zeros((3, 4), np.float32))
    with pytest.raises(ParameterError):
        memory.reset(np.zeros(3, bool))
    with pytest.raises(ParameterError):
        memory.load_state_dict({**memory.state_dict(), "memory": np.zeros((2, 11, 4))})
    with pytest.raises(ParameterError):
        memory.load_state_dict({"memory": np.zeros((2, 10, 4))})
