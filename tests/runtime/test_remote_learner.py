"""The learner in its own Ray process (``learn --actors N --learner-actor``; ``--learner-gpu``
asks that process for a GPU): it learns from the replay shards, its state reaches the
checkpoint on Ctrl-C and comes back on ``--resume``, no process is left, and a cluster without
a GPU, a JAX without CUDA or a replay that cannot be sharded give one clear error (exit 2)."""

from __future__ import annotations

import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import tiny_agents
from ray_helpers import Probe, agent_folder, alive, descendants

import agentos
from agentos.api import checkpoint_path, find_checkpoint
from agentos.errors import AgentOSError
from agentos.runtime.checkpoint import load_checkpoint
from agentos.tracking.store import get_run, metric_history

# With `pytest -n 2` the Ray tests run one after another in one worker: two local Ray
# clusters at once would fight for the two cores and their timeouts.
pytestmark = pytest.mark.xdist_group("ray")

TINY_R2D2 = [*tiny_agents.TINY_R2D2, "loop.checkpoint_every=0"]
HAS_NVIDIA = shutil.which("nvidia-smi") is not None


def _leaves(tree: dict) -> list[np.ndarray]:
    out = []
    for value in tree.values():
        out.extend(_leaves(value) if isinstance(value, dict) else [np.asarray(value)])
    return out


def test_learner_process_learns_checkpoints_on_ctrl_c_and_resumes(tmp_path: Path) -> None:
    folder = agent_folder(tmp_path, "r2d2", "cartpole")
    before = {p.pid for p in descendants()}
    probe = Probe(400, "interrupt")
    with pytest.raises(KeyboardInterrupt):
        agentos.load_agent(folder, TINY_R2D2).learn(
            5000, seed=0, actors=1, hooks=probe, learner_actor=True
        )
    assert probe.fired and len(probe.learners) == 1  # one ray::LearnerWorker process
    assert not alive(probe.pids - before)
    run_id, ckpt = find_checkpoint(folder, "latest")
    run = get_run(folder, run_id)
    assert run.recorded_status == "KILLED"
    assert run.tags["agentos.learner"] == "ray-actor"
    assert run.tags["agentos.learner_device"].startswith("cpu")
    assert metric_history(folder, run_id, "train/loss")
    middle = load_checkpoint(ckpt)["loop"]
    counters, learner = middle["counters"], middle["components"]["learner"]
    assert 400 <= counters["env_steps"] < 5000 and counters["learner_updates"] > 0
    # the learner state came from the learner process: its own update count is the loop's
    # (the driver's learner never stepped)
    assert learner["num_updates"] == counters["learner_updates"]

    resumed = agentos.load_agent(folder, TINY_R2D2).learn(
        counters["env_steps"] + 200, resume=True, actors=1, learner_actor=True
    )
    assert resumed.run_id == run_id and resumed.status == "FINISHED"
    final = load_checkpoint(checkpoint_path(folder, run_id))["loop"]
    updates = math.floor((resumed.env_steps - 100) * 4.0 / 4)
    assert resumed.learner_updates == updates == final["components"]["learner"]["num_updates"]
    # it went on from the checkpoint's variables, and changed them
    before_params = _leaves(learner["params"])
    after_params = _leaves(final["components"]["learner"]["params"])
    assert any(not np.array_equal(a, b) for a, b in zip(before_params, after_params, strict=True))


def test_learner_process_goes_on_when_a_replay_shard_dies(tmp_path: Path) -> None:
    """Shard 1 (worker 1's) is killed at 300 steps: the driver replaces it and sends the new
    one to the learner process, which samples the shards that answer meanwhile; every update
    due under the samples-per-insert rule still runs."""
    folder = agent_folder(tmp_path, "r2d2", "cartpole")
    probe = Probe(300, "kill_shard")
    result = agentos.load_agent(folder, TINY_R2D2).learn(
        2000, seed=0, actors=2, hooks=probe, replay_shards=2, learner_actor=True
    )
    assert probe.fired and len(probe.shards) == 2 and len(probe.learners) == 1
    assert result.status == "FINISHED" and result.env_steps == 2000
    assert result.learner_updates == math.floor((2000 - 100) * 4.0 / 4)
    assert int(get_run(folder, result.run_id).tags["agentos.replay_shard_restarts"]) == 1
    final = load_checkpoint(checkpoint_path(folder, result.run_id))["loop"]["components"]
    assert final["learner"]["num_updates"] == result.learner_updates
    # the new shard 1 filled again: the replacement starts ~2 s after the kill (detection one
    # chunk later, then a new process), which leaves over 1,000 of the 2,000 steps
    assert final["replay"]["shards"][1]["next_key"] > 0


@pytest.mark.skipif(HAS_NVIDIA, reason="checks the error of a machine without a GPU")
def test_learner_gpu_without_a_gpu_is_a_clear_error(tmp_path: Path, cli) -> None:
    folder = agent_folder(tmp_path, "r2d2", "cartpole")
    before = {p.pid for p in descendants()}
    code, out, err = cli(
        "learn", "--actors", "1", "--learner-gpu", "-n", "1000", "--agent", folder, *_params()
    )
    assert code == 2, out + err
    assert "--learner-gpu: the Ray cluster has no GPU" in out + err
    assert "Traceback" not in out + err
    assert not alive({p.pid for p in descendants()} - before)


@pytest.mark.skipif(HAS_NVIDIA, reason="needs a JAX without CUDA")
def test_a_gpu_that_jax_cannot_use_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    """Ray is told of a GPU the machine lacks: the learner process gets it, its JAX runs on
    the CPU, and the run stops before acting with the fix (a CUDA build of JAX)."""
    import ray
    import ray._private.ray_constants as ray_constants

    from agentos.runtime.layouts.ray_layout import LOOPBACK_ENV

    folder = agent_folder(tmp_path, "r2d2", "cartpole")
    monkeypatch.setenv(LOOPBACK_ENV, "0")
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False, raising=False)
    with warnings.catch_warnings():  # Ray forks then execs at once; JAX warns of any fork
        warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
        ray.init(
            address="local",
            num_cpus=2,
            num_gpus=1,
            include_dashboard=False,
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
        )
    try:
        with pytest.raises(AgentOSError, match="JAX there runs on cpu") as raised:
            agentos.load_agent(folder, TINY_R2D2).learn(1000, actors=1, learner_gpu=True)
        assert "jax[cuda12]" in str(raised.value)
    finally:
        ray.shutdown()


def test_learner_actor_needs_a_shardable_replay(tmp_path: Path, cli) -> None:
    folder = agent_folder(tmp_path, "dqn", "cartpole")
    code, out, err = cli(
        "learn", "--actors", "1", "--learner-actor", "-n", "500", "--agent", folder
    )
    assert code == 2, out + err
    assert "--learner-actor needs the replay in shard processes" in out + err
    assert "Traceback" not in out + err


def _params() -> list[str]:
    return [arg for p in TINY_R2D2 for arg in ("-p", p)]
