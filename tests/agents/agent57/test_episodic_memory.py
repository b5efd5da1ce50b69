"""The batched episodic memory: f(x_0) stored without a score (NGU's memory holds
f(x_0 .. x_t)), the k-NN over the filled prefix giving the same rewards as over the whole
memory, and NGU's moving (not all-time) average d_m^2."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentos.agents.agent57 import episodic_memory
from agentos.agents.agent57.episodic import update_mean
from agentos.agents.agent57.episodic_memory import EpisodicMemory, _bucket


def test_add_stores_where_flagged_without_scoring():
    memory = EpisodicMemory(2, 8, 2)
    x0 = np.asarray([[1.0, 2.0], [5.0, 5.0]], np.float32)
    memory.add(x0, np.asarray([True, False]))
    assert memory.sizes.tolist() == [1, 0]
    np.testing.assert_array_equal(memory.mean_sq_dist, [0.0, 0.0])  # nothing scored
    # Returning to x_0: env 0 has f(x_0) at distance 0 -> K = 1, r = 1 / (1 + c) = 0.999001;
    # env 1 stored nothing: empty memory, reward 0.
    rewards = memory.reward_and_add(np.asarray([[1.0, 2.0], [1.0, 2.0]], np.float32))
    np.testing.assert_allclose(rewards, [1.0 / 1.001, 0.0], rtol=1e-6)
    assert memory.sizes.tolist() == [2, 1]
    memory.reset(np.asarray([True, False]))
    assert memory.sizes.tolist() == [0, 1]
    with pytest.raises(Exception, match="shape"):
        memory.add(x0, np.asarray([True]))


def test_add_wraps_around_a_full_memory():
    memory = EpisodicMemory(1, 2, 1)
    for value in (1.0, 2.0, 3.0):
        memory.add(np.asarray([[value]], np.float32), np.asarray([True]))
    state = memory.state_dict()
    assert state["size"].tolist() == [2] and state["position"].tolist() == [1]
    np.testing.assert_array_equal(state["memory"][0, :, 0], [3.0, 2.0])


def test_bucket_sizes():
    assert _bucket(0, 30_000, 10) == 64
    assert _bucket(64, 30_000, 10) == 64
    assert _bucket(65, 30_000, 10) == 128
    assert _bucket(4096, 30_000, 10) == 4096
    assert _bucket(4097, 30_000, 10) == 30_000  # past MAX_BUCKET: the whole memory
    assert _bucket(10, 40, 10) == 40
    assert _bucket(3, 20, 30) == 20


@pytest.mark.parametrize("filled", [30, 3000, 5000])
def test_prefix_knn_equals_whole_memory(filled, monkeypatch):
    rng = np.random.default_rng(filled)
    embeddings = rng.normal(size=(3, 4)).astype(np.float32)

    def rewards():
        memory = EpisodicMemory(2, 5000, 4)
        state = memory.state_dict()
        state["memory"] = rng_memory
        state["size"][:] = [filled, filled // 2]
        state["position"][:] = [filled % 5000, filled // 2]
        state["mean"][:] = [1.5, 2.5]
        state["count"][:] = [100.0, 50.0]
        memory.load_state_dict(state)
        return np.stack([memory.reward_and_add(e[None].repeat(2, 0)) for e in embeddings])

    rng_memory = rng.normal(size=(2, 5000, 4)).astype(np.float32)
    prefix = rewards()
    monkeypatch.setattr(episodic_memory, "MAX_BUCKET", 0)  # every step reads all 5000 slots
    whole = rewards()
    np.testing.assert_allclose(prefix, whole, rtol=1e-6)
    assert np.all(prefix > 0)


@pytest.mark.parametrize("jit", [False, True])
def test_update_mean_with_max_count_by_hand(jit):
    fn = jax.jit(update_mean, static_argnames="max_count") if jit else update_mean
    mean, count = fn(0.0, 0.0, jnp.asarray([2.0, 4.0]), max_count=4.0)
    assert (float(mean), float(count)) == (3.0, 2.0)
    mean, count = fn(mean, count, jnp.asarray([9.0]), max_count=4.0)
    assert (float(mean), float(count)) == (5.0, 3.0)  # below the cap: (2 + 4 + 9) / 3
    mean, count = fn(mean, count, jnp.asarray([1.0, 1.0, jnp.inf]), jnp.asarray([1, 1, 0]), 4.0)
    # Capped at 4: 5 + ((1 - 5) + (1 - 5)) / 4 = 3 (the all-time mean would be 17 / 5).
    assert (float(mean), float(count)) == (3.0, 4.0)


def test_memory_mean_horizon_caps_the_count():
    memory = EpisodicMemory(1, 16, 1, k=2, mean_horizon=3.0)
    for value in (0.0, 1.0, 3.0):
        memory.reward_and_add(np.asarray([[value]], np.float32))
    # Distances: x=1 -> [1]; x=3 -> [4, 9]: count 1 then capped at 3, mean 1 then
    # 1 + (3 + 8) / 3 = 14/3 (all-time: 14/3 too, count 3 = the cap).
    np.testing.assert_allclose(memory.mean_sq_dist, [14 / 3], rtol=1e-6)
    memory.reward_and_add(np.asarray([[10.0]], np.float32))
    # x=10 -> [49, 81] against 3, 1 (k = 2): 14/3 + (49 - 14/3 + 81 - 14/3) / 3.
    expected = 14 / 3 + (130 - 28 / 3) / 3
    np.testing.assert_allclose(memory.mean_sq_dist, [expected], rtol=1e-6)
    assert int(memory.state_dict()["count"][0]) == 3
    with pytest.raises(Exception, match="mean_horizon"):
        EpisodicMemory(1, 16, 1, mean_horizon=0.5)


def test_the_state_keeps_only_the_used_slots_and_resumes_exactly():
    from agentos.errors import ParameterError

    rng = np.random.default_rng(0)
    memory = EpisodicMemory(num_envs=2, capacity=1000, embedding_dim=3, k=2)
    memory.add(rng.normal(size=(2, 3)).astype(np.float32), np.asarray([True, True]))
    for _ in range(4):
        memory.reward_and_add(rng.normal(size=(2, 3)).astype(np.float32))
    memory.reset(np.asarray([True, False]))
    memory.reward_and_add(rng.normal(size=(2, 3)).astype(np.float32))
    state = memory.state_dict()
    assert state["memory"].shape == (2, 6, 3)  # env 1 holds 6 items, env 0 one since its reset
    assert np.all(state["memory"][0, 1:] == 0.0)  # slots of the ended episode are not kept
    again = EpisodicMemory(num_envs=2, capacity=1000, embedding_dim=3, k=2)
    again.load_state_dict(state)
    query = rng.normal(size=(2, 3)).astype(np.float32)
    np.testing.assert_array_equal(again.reward_and_add(query), memory.reward_and_add(query))
    state["size"] = np.asarray([7, 6])
    with pytest.raises(ParameterError, match="needs that many memory slots"):
        again.load_state_dict(state)
