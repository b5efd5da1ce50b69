"""A replay that would not fit in memory stops with a clear error before it allocates."""

from __future__ import annotations

import numpy as np
import pytest

from agentos.errors import ParameterError
from agentos.replay.memory import check_fits, human, item_bytes


def test_item_bytes_counts_one_item_of_every_array():
    items = {
        "observation": np.zeros((5, 40, 84, 84, 1), np.uint8),
        "reward": np.zeros((5, 40), np.float32),
        "__state__": {"h": np.zeros((5, 512), np.float32)},
    }
    assert item_bytes(items) == 40 * 84 * 84 + 40 * 4 + 512 * 4


def test_a_replay_that_does_not_fit_names_capacity_and_a_size_that_fits():
    with pytest.raises(ParameterError) as e:
        check_fits(20_000, 1_000_000, "sequence replay", available=10_000_000_000)
    text = str(e.value)
    assert text.startswith("replay.capacity: the sequence replay would need 20.0 GB")
    assert "80% of the 10.0 GB" in text and "-p replay.capacity=8000" in text
    check_fits(8_000, 1_000_000, "sequence replay", available=10_000_000_000)  # fits


def test_human_sizes():
    assert [human(x) for x in (512, 1500, 2.5e9)] == ["512 B", "1.5 KB", "2.5 GB"]


def test_learn_with_a_capacity_beyond_memory_is_exit_2(agent_dir, cli):
    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    code, out, err = cli(
        "learn", "--steps", "200", "-p", "replay.capacity=1000000000000", "--agent", agent_dir
    )
    assert code == 2 and "Traceback" not in err
    assert "replay.capacity" in err and "Fix: set a capacity that fits" in err


def test_a_sequence_replay_too_large_for_its_index_is_refused_at_build(agent_dir, cli):
    assert cli("install", "r2d2", "cartpole", "--agent", agent_dir)[0] == 0
    code, out, err = cli("show", "--agent", agent_dir)
    assert code == 0, err
    code, out, err = cli(
        "learn", "--steps", "100", "-p", "replay.capacity=100000000000000", "--agent", agent_dir
    )
    assert code == 2 and "Traceback" not in err
    assert "priority index" in err and "replay.capacity" in err


def test_sequences_of_large_images_are_refused_before_the_first_insert():
    import gymnasium

    from agentos.replay.memory import check_sequences_fit

    class Replay:
        capacity = 20_000

    frames = gymnasium.spaces.Box(0, 255, (96, 96, 3), np.uint8)  # CarRacing's observation
    # 20,000 sequences x 40 steps x 27,648 bytes = 22.1 GB; 80% of 10 GB holds 7,233 of them
    with pytest.raises(ParameterError) as e:
        check_sequences_fit(Replay(), frames, 40, available=10_000_000_000)
    assert "22.1 GB (20,000 items of 1.1 MB)" in str(e.value)
    assert "-p replay.capacity=7233" in str(e.value)
    check_sequences_fit(Replay(), frames, 40, available=30_000_000_000)  # fits
    check_sequences_fit(object(), frames, 40, available=1)  # a stand-in replay: no capacity


def test_r2d2_on_images_beyond_memory_stops_before_a_run_starts(agent_dir, cli):
    from agentos.tracking.store import list_runs

    assert cli("install", "r2d2", "gym:ALE/Pong-v5", "--agent", agent_dir)[0] == 0
    # The session shares one tracking store, where other tests' agents are also "agent".
    before = {r.run_id for r in list_runs(agent_dir, agent_name="agent")}
    code, out, err = cli(
        "learn", "--steps", "100", "-p", "replay.capacity=100000000", "--agent", agent_dir
    )
    assert code == 2 and "Traceback" not in err
    assert "the sequence replay would need" in err and "replay.capacity" in err
    after = {r.run_id for r in list_runs(agent_dir, agent_name="agent")}
    assert after == before, "a run was recorded"
