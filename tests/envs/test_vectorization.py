"""gymnasium.vector underneath: async copies equal sync ones, resume, and no orphan process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from agentos.envs.gym_env import GymEnvironment, GymParams
from agentos.runtime.roles import BuildContext

CTX = BuildContext(name="environment", seed=0, agent_dir=Path("."))


def _rollout(mode: str, steps: int = 300) -> np.ndarray:
    env = GymEnvironment(GymParams(env_id="CartPole-v1", num_envs=3, vectorization=mode), CTX)
    out = [env.reset(seed=4)]
    for t in range(steps):
        step = env.step(np.array([t % 2, (t // 3) % 2, 1]))
        out.append(np.concatenate([step.observation, step.final_observation], axis=1))
    env.close()
    return out


def test_async_equals_sync_including_automatic_resets():
    sync, asynchronous = _rollout("sync"), _rollout("async")
    for a, b in zip(sync, asynchronous, strict=True):
        np.testing.assert_array_equal(a, b)


def test_async_state_is_empty_so_a_resume_restarts_episodes(caplog):
    params = GymParams(env_id="CartPole-v1", num_envs=2, vectorization="async")
    env = GymEnvironment(params, CTX)
    env.reset(seed=0)
    env.step(np.array([0, 1]))
    assert env.state_dict() == {}
    restored = GymEnvironment(params, CTX)
    sync_state = GymEnvironment(GymParams(env_id="CartPole-v1", num_envs=2), CTX)
    sync_state.reset(seed=0)
    sync_state.step(np.array([0, 1]))
    with caplog.at_level("INFO"):
        restored.load_state_dict(sync_state.state_dict())
    assert not restored.continues_episodes() and "async copies" in caplog.text
    for e in (env, restored, sync_state):
        e.close()


def test_close_ends_every_subprocess():
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    env = GymEnvironment(GymParams(env_id="CartPole-v1", num_envs=3, vectorization="async"), CTX)
    env.reset(seed=0)
    workers = [p for p in me.children(recursive=True) if p.pid not in before]
    assert workers, "async copies run in worker subprocesses"
    env.close()
    gone, alive = psutil.wait_procs([w for w in workers if _is_env_worker(w)], timeout=10)
    assert not alive


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _is_env_worker(proc: psutil.Process) -> bool:
    try:
        return "forkserver" not in " ".join(proc.cmdline())
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_async_learn_leaves_no_process(agent_dir, cli, how):
    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentos.cli.main", "learn", "--steps", "1000000",
         "-p", "environment.num_envs=2", "-p", "environment.vectorization=async",
         "-p", "loop.checkpoint_every=200", "--agent", str(agent_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        family: set[int] = set()
        while time.monotonic() < deadline and not list(
            agent_dir.glob(".agentos/checkpoints/*/latest.msgpack")
        ):
            assert proc.poll() is None, proc.communicate()
            family |= {p.pid for p in psutil.Process(proc.pid).children(recursive=True)}
            time.sleep(0.2)
        family |= {p.pid for p in psutil.Process(proc.pid).children(recursive=True)}
        assert len(family) >= 2, "the async copies run in subprocesses"
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        else:
            os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    out, err = proc.communicate()
    assert proc.returncode in (130, 143), err
    assert "Traceback" not in err, err
    time.sleep(0.5)
    left = [
        pid
        for pid in family
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert not left, f"processes outlived the run: {left}"
    from agentos.tracking.store import list_runs

    assert list_runs(agent_dir)[0].status == "KILLED"


def test_workers_do_not_repeat_the_main_process_warnings(capfd, caplog, monkeypatch):
    """Each worker built its copies anew and repeated "observation parts left out"."""
    from agentos.envs import observations

    monkeypatch.setattr(observations, "_warned_dropped", set())
    params = GymParams(
        env_id="MiniGrid-Empty-5x5-v0", num_envs=2, vectorization="async", async_workers=2
    )
    env = GymEnvironment(params, CTX)
    env.reset(seed=0)
    env.step(np.array([0, 1]))
    env.close()
    said = [r for r in caplog.records if "observation parts left out" in r.getMessage()]
    assert len(said) == 1  # the main process's probe copy
    err = capfd.readouterr().err  # workers log to their own stderr
    assert "observation parts left out" not in err, err
