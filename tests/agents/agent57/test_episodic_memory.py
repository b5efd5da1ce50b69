"""The batched episodic memory: f(x_0) stored without a score (NGU's memory holds
f(x_0 .. x_t)), and the k-NN over the filled prefix giving the same rewards as over the whole
30,000-slot memory."""

from __future__ import annotations

import numpy as np
import pytest

from agentos.agents.agent57 import episodic_memory
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
