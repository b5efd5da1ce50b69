"""Finding a checkpoint by reference: a file path is refused with what to give instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentos.errors import CheckpointError
from agentos.tracking.checkpoints import CHECKPOINT_DIR, find_checkpoint


def test_a_file_path_is_refused_naming_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="is a file path") as e:
        find_checkpoint(tmp_path, "/elsewhere/x.msgpack")
    assert "run ID" in str(e.value) and "latest" in str(e.value)


def test_a_path_to_this_agents_checkpoint_names_its_run(tmp_path: Path) -> None:
    file = tmp_path / CHECKPOINT_DIR / "0123456789abcdef" / "latest.msgpack"
    file.parent.mkdir(parents=True)
    file.write_bytes(b"")
    with pytest.raises(CheckpointError, match="give 01234567 instead of its path"):
        find_checkpoint(tmp_path, str(file))
