"""mlflow.db deleted while learn runs: the run notices at its next checkpoint, says so, keeps
the checkpoint, and `--resume` continues it in a new tracked run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentos.errors import AgentOSError

TINY = [
    "loop.min_replay_size=50",
    "loop.eval_every=0",
    "loop.eval_episodes=1",
    "loop.checkpoint_every=100",
]


class _DeleteStore:
    """User hooks that delete the agent's mlflow.db once, after some steps."""

    def __init__(self, db: Path):
        self.db, self.done = db, False

    def on_metrics(self, metrics, step) -> None:
        pass

    def on_progress(self, progress) -> None:
        if not self.done and progress.counters.env_steps >= 40 and self.db.is_file():
            self.db.unlink()
            self.done = True

    def should_stop(self) -> bool:
        return False


def test_deleted_store_is_noticed_and_the_checkpoint_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentos.api import load_agent
    from agentos.cli.init_cmd import init
    from agentos.components.install import install
    from agentos.runtime.checkpoint import load_checkpoint

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    folder = tmp_path / "agent"
    init(folder, None, False)
    install(folder, ["dqn", "cartpole"], [])
    agent = load_agent(folder, TINY)
    with pytest.raises(AgentOSError) as info:
        agent.learn(150, hooks=_DeleteStore(folder / "mlflow.db"))
    message = str(info.value)
    assert "mlflow.db" in message and "deleted" in message and "--resume" in message
    [ckpt] = list((folder / ".agentos" / "checkpoints").glob("*/latest.msgpack"))
    lost_id = ckpt.parent.name

    # `agentos learn --resume` runs in a new process (this one keeps MLflow's cached store of
    # the deleted file)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    command = [sys.executable, "-m", "agentos.cli.main", "learn", "--resume", "--steps", "200"]
    for override in TINY:
        command += ["-p", override]
    done = subprocess.run(
        [*command, "--agent", str(folder)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "200 env steps" in done.stdout and "new run" in done.stderr
    new = [p for p in (folder / ".agentos" / "checkpoints").glob("*/latest.msgpack")]
    [continued] = [p for p in new if p.parent.name != lost_id]
    state = load_checkpoint(continued)
    assert state["loop"]["counters"]["env_steps"] == 200
