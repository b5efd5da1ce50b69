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
