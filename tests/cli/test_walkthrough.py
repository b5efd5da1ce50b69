"""The README walkthrough as a new user types it, plus interrupt/kill and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FAST_DQN = [
    "-p", "loop.min_replay_size=200",
    "-p", "loop.eval_every=1000",
    "-p", "loop.eval_episodes=3",
    "-p", "loop.checkpoint_every=500",
]  # fmt: skip


def test_init_then_run(tmp_path, cli):
    folder = tmp_path / "a"
    assert cli("init", folder)[0] == 0
    code, out, err = cli("run", "--episodes", "3", "--agent", folder)
    assert code == 0, err
    assert "mean return" in out


def test_learn_run_runs_rerun(agent_dir, cli):
    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    code, out, err = cli("learn", "--steps", "1500", "--seed", "3", *FAST_DQN, "--agent", agent_dir)
    assert code == 0, err
    from agentos.tracking.store import list_runs

    learn = [r for r in list_runs(agent_dir) if r.kind == "learn"][0]
    assert learn.status == "FINISHED" and learn.seed == 3
    assert learn.steps == 1500

    code, out, err = cli("run", "--episodes", "2", "--checkpoint", "latest", "--agent", agent_dir)
    assert code == 0, err

    code, out, err = cli("runs", "--agent", agent_dir)
    assert code == 0 and learn.run_id[:8] in out

    code, out, err = cli("rerun", learn.run_id[:8], "--agent", agent_dir)
    assert code == 0, out + err
    assert "Reproduced exactly" in out


def _spawn_learn(agent_dir: Path, steps: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "agentos.cli.main", "learn", "--steps", str(steps), *FAST_DQN,
         *extra, "--agent", str(agent_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


def _wait_for_checkpoint(agent_dir: Path, min_steps: int, proc, timeout: float = 120) -> dict:
    from agentos.runtime.checkpoint import load_checkpoint

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for f in (agent_dir / ".agentos" / "checkpoints").glob("*/latest.msgpack"):
            state = load_checkpoint(f)
            if state["loop"]["counters"]["env_steps"] >= min_steps:
                return state
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("no checkpoint in time")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_interrupted_learn_resumes_with_same_counters(agent_dir, cli, sig):
    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    proc = _spawn_learn(agent_dir, 1_000_000)
    try:
        state = _wait_for_checkpoint(agent_dir, 1000, proc)
        os.kill(proc.pid, sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    from agentos.runtime.checkpoint import load_checkpoint
    from agentos.tracking.store import list_runs, metric_history

    killed = list_runs(agent_dir)[0]
    assert killed.status == "KILLED"  # never FINISHED
    if sig != signal.SIGKILL:  # as shells report it: Ctrl-C 130, `kill` 143, hang-up 129
        assert proc.returncode == 128 + sig, proc.returncode
    ckpt = agent_dir / ".agentos" / "checkpoints" / killed.run_id / "latest.msgpack"
    state = load_checkpoint(ckpt)
    at = state["loop"]["counters"]["env_steps"]
    before = metric_history(agent_dir, killed.run_id, "train/env_steps")
    assert before and before[0][1] <= at

    target = at + 1000
    code, out, err = cli("learn", "--resume", "--steps", target, *FAST_DQN, "--agent", agent_dir)
    assert code == 0, err
    resumed = list_runs(agent_dir)[0]
    assert resumed.run_id == killed.run_id and resumed.status == "FINISHED"
    after = load_checkpoint(ckpt)["loop"]["counters"]
    assert after["env_steps"] == target
    assert after["episodes"] >= state["loop"]["counters"]["episodes"]
    assert after["learner_updates"] > state["loop"]["counters"]["learner_updates"]
    history = metric_history(agent_dir, killed.run_id, "train/env_steps")
    assert [s for s, _ in before] == [s for s, _ in history][: len(before)]  # nothing lost


def test_show_prints_resolved_params_and_graph(agent_dir, cli):
    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    code, out, err = cli("show", "-p", "learner.learning_rate=0.01", "--agent", agent_dir)
    assert code == 0, err
    assert "learning_rate = 0.01" in out
    assert "depends network -> network, replay -> replay" in out
    assert "build order:" in out and "Discrete(2)" in out


def test_python_api_mirrors_cli(agent_dir):
    import agentos

    agent = agentos.load_agent(agent_dir, ["environment.length=3"])
    first = agent.run(episodes=4, seed=1)
    again = agent.run(episodes=4, seed=1)
    assert len(first.eval_returns) == 4 and first.eval_returns == again.eval_returns
    assert all(r <= -2.0 for r in first.eval_returns)  # at least 3 steps to the goal
    assert first.run_id != again.run_id


def test_an_interrupted_resume_from_an_older_run_names_that_run(agent_dir, cli):
    """Ctrl-C in `learn --resume --from A` named the newest run B and told to resume it."""
    from datetime import datetime

    from mlflow import MlflowClient

    import agentos
    from agentos.cli.learn_cmd import _what_the_interrupt_left
    from agentos.tracking.store import list_runs, tracking_uri

    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    ids = []  # the session's store holds other tests' runs too: take these two by id
    for seed in (0, 1):
        code, out, err = cli("learn", "--steps", 300, "--seed", seed, *FAST_DQN,
                             "--agent", agent_dir)  # fmt: skip
        assert code == 0, err
        ids.append(out.split("Done run ")[1][:8])
    older, newest = (next(r.run_id for r in list_runs(agent_dir) if r.run_id[:8] == i) for i in ids)
    MlflowClient(tracking_uri(agent_dir)).set_terminated(older, "KILLED")
    said = _what_the_interrupt_left(
        agentos.load_agent(agent_dir), datetime.now().astimezone(), True, older[:6]
    )
    assert f"run {older[:8]} marked KILLED" in said and newest[:8] not in said
    assert f"agentos learn --resume --from {older[:8]}" in said
