"""Finding a checkpoint by reference: a file path is refused with what to give instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentos.errors import CheckpointError
from agentos.tracking.checkpoints import CHECKPOINT_DIR, find_checkpoint

TINY = ["loop.min_replay_size=50", "loop.eval_every=0", "loop.eval_episodes=1"]


def dqn_folder(folder: Path) -> Path:
    """``agentos init`` + ``install dqn cartpole`` in ``folder``."""
    from agentos.cli.init_cmd import init
    from agentos.components.install import install

    init(folder, None, False)
    install(folder, ["dqn", "cartpole"], [])
    return folder


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


def test_latest_falls_back_to_the_stored_checkpoint_of_the_newest_learn_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder whose .agentos was deleted still evaluates what it learned: its own store
    (mlflow.db, mlartifacts/) kept the checkpoint."""
    import shutil

    from agentos.api import load_agent

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    folder = dqn_folder(tmp_path / "agent")
    result = load_agent(folder, [*TINY, "loop.eval_every=60"]).learn(120, seed=0)
    shutil.rmtree(folder / ".agentos")
    run_id, file = find_checkpoint(folder, "latest")
    assert run_id == result.run_id and file.is_file() and file.name == "latest.msgpack"


def test_a_shared_store_is_not_searched_for_latest(tmp_path: Path) -> None:
    """Under MLFLOW_TRACKING_URI (set for the test session) other folders' runs live in the
    same store: `latest` means this folder's checkpoints only."""
    with pytest.raises(CheckpointError, match="no checkpoint in"):
        find_checkpoint(tmp_path, "latest")


def test_another_folders_run_in_a_shared_store_is_not_resumed(tmp_path: Path) -> None:
    """Two folders with one agent name under one MLFLOW_TRACKING_URI (as this test session
    has): `learn --resume --from R` in the second continued the first's run R, giving it two
    histories."""
    from agentos.api import load_agent
    from agentos.errors import AgentOSError

    first, second = dqn_folder(tmp_path / "one" / "same"), dqn_folder(tmp_path / "two" / "same")
    overrides = TINY
    run = load_agent(first, overrides).learn(100, seed=0)
    with pytest.raises(AgentOSError, match="belongs to the agent folder") as e:
        load_agent(second, overrides).learn(200, resume=run.run_id)
    assert str(first) in str(e.value) and f"resume it in {first}" in (e.value.fix or "")
    assert not (second / CHECKPOINT_DIR).exists() or not any((second / CHECKPOINT_DIR).iterdir())
    again = load_agent(first, overrides).learn(200, resume=run.run_id)  # its own folder: fine
    assert again.run_id == run.run_id and again.env_steps == 200


def test_a_copied_folder_with_its_own_store_resumes_its_copy_of_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cp -r` of an agent folder copies its mlflow.db: the copy's run is its own."""
    import shutil

    from agentos.api import load_agent

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    first = dqn_folder(tmp_path / "agent")
    overrides = TINY
    run = load_agent(first, overrides).learn(100, seed=0)
    copy = tmp_path / "copy" / "agent"
    shutil.copytree(first, copy)
    again = load_agent(copy, overrides).learn(200, resume=run.run_id)
    assert again.run_id == run.run_id and again.env_steps == 200
