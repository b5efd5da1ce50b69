"""Opening a local SQLite store is serialised across processes: two commands started at once
in a new agent folder both create and migrate its tables, and unserialised that left a store
every later command failed on."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentos.tracking.backend import _store_setup_lock


def test_opening_the_store_holds_an_exclusive_lock(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with _store_setup_lock(uri):
        with open(tmp_path / ".mlflow.db.lock", "a") as other:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(tmp_path / ".mlflow.db.lock", "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released afterwards


def test_two_first_commands_at_once_share_one_store(tmp_path: Path) -> None:
    from agentos.cli.init_cmd import init

    agent = tmp_path / "agent"
    init(agent, None, False)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    command = [sys.executable, "-m", "agentos", "run", "-e", "1", "--agent", str(agent)]
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()[-2000:]
    code = subprocess.run(
        [sys.executable, "-m", "agentos", "runs", "--agent", str(agent)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert code.returncode == 0, code.stderr
    assert code.stdout.count(" run ") >= 2, code.stdout
