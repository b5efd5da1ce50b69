from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agentos.errors import CheckpointError
from agentos.runtime.checkpoint import load_checkpoint, save_checkpoint


def test_round_trip_keeps_types(tmp_path):
    rng = np.random.default_rng(3)
    state = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "rng": rng.bit_generator.state,  # holds 128-bit ints
        "t": (1, 2.5, None, "s", True),
        "nested": {1: [np.int64(4), {"x": np.zeros((0, 4), np.uint8)}]},
    }
    save_checkpoint(tmp_path / "c.msgpack", state)
    back = load_checkpoint(tmp_path / "c.msgpack")
    np.testing.assert_array_equal(back["a"], state["a"])
    assert back["a"].dtype == np.float32
    assert back["t"] == (1, 2.5, None, "s", True)
    assert back["nested"][1][0] == 4 and back["nested"][1][1]["x"].shape == (0, 4)
    restored = np.random.default_rng()
    restored.bit_generator.state = back["rng"]
    assert restored.random() == rng.random()


def test_missing_and_corrupt(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.msgpack")
    (tmp_path / "bad.msgpack").write_bytes(b"\xc1\xc1garbage")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(tmp_path / "bad.msgpack")
    (tmp_path / "folder.msgpack").mkdir()
    with pytest.raises(CheckpointError, match="is a folder") as e:
        load_checkpoint(tmp_path / "folder.msgpack")
    assert "Fix:" in str(e.value)
    (tmp_path / "zero.msgpack").symlink_to("/dev/zero")
    with pytest.raises(CheckpointError, match="not a regular file"):
        load_checkpoint(tmp_path / "zero.msgpack")


def test_a_damaged_checkpoint_points_to_the_other_one():
    from agentos.runtime.checkpoint import damaged_fix

    assert "--checkpoint latest" in damaged_fix(Path("runs/x/best.msgpack"))
    assert "--checkpoint best" in damaged_fix(Path("runs/x/latest.msgpack"))
