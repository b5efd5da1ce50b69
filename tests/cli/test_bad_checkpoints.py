"""Faulty checkpoints and checkpoints that no longer fit the spec: exit 2 naming the file and
what to do; nothing new is recorded and a finished run stays FINISHED."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import msgpack
import pytest
from bad_input_checks import TRAIN, assert_clean_exit_2, trained_dqn_agent

# --- checkpoints: one trained agent per module, copied per case -----------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DQN agent with one finished learn run (and its checkpoint)."""
    return trained_dqn_agent(tmp_path_factory.mktemp("trained") / "agent")


def _latest(agent: Path) -> Path:
    return next((agent / ".agentos" / "checkpoints").glob("*/latest.msgpack"))


def _damage(data: bytes) -> Callable[[Path], None]:
    return lambda agent: _latest(agent).write_bytes(data)


def _install_acrobot(agent: Path) -> None:
    from agentos.components.install import install

    install(agent, ["gym:Acrobot-v1"], [])


def _install_r2d2(agent: Path) -> None:
    from agentos.components.install import install

    install(agent, ["r2d2"], [])


CKPT = ".msgpack"
DAMAGED = ("latest.msgpack", "--checkpoint best")
CHECKPOINT_CASES = [
    ("truncated-1-byte-run", _damage(b"\x93"), ["run", "-e", "1"], (*DAMAGED, "unreadable")),
    ("empty-file-run", _damage(b""), ["run", "-e", "1"], (*DAMAGED, "unreadable")),
    ("empty-map-run", _damage(msgpack.packb({})), ["run", "-e", "1"], (*DAMAGED, "no 'loop'")),
    ("list-instead-of-map", _damage(msgpack.packb([1, 2])), ["run", "-e", "1"], DAMAGED),
    (
        "truncated-resume",
        _damage(b"\x93"),
        ["learn", "--resume", "--steps", "200"],
        (*DAMAGED, "--resume --from"),
    ),
    (
        "empty-map-resume",
        _damage(msgpack.packb({})),
        ["learn", "--resume", "--steps", "200"],
        DAMAGED,
    ),
    (
        "hidden-sizes-changed-run",
        None,
        ["run", "-e", "1", "-p", "network.hidden_sizes=[32]"],
        (CKPT, "network.hidden_sizes: [256,256] in the checkpoint, [32] now", "-p network"),
    ),
    (
        "hidden-sizes-changed-resume",
        None,
        ["learn", "--resume", "--steps", "200", "-p", "network.hidden_sizes=[32]"],
        (CKPT, "network.hidden_sizes", "without --resume", "hidden_sizes=[256,256]"),
    ),
    (
        "offline-resume-of-online-run",
        None,
        ["learn", "--resume", "--offline", "--steps", "200"],
        ("--offline --resume continues an offline run", "learned online", "--from-run"),
    ),
    (
        "environment-changed-run",
        _install_acrobot,
        ["run", "-e", "1"],
        (CKPT, "CartPole-v1 in the checkpoint, Acrobot-v1 now", "agentos learn"),
    ),
    (
        "other-bundle-run",  # no -p brings back the DQN actor's parameters: name the way back
        _install_r2d2,
        ["run", "-e", "1"],
        (CKPT, "install again the components it was trained with", "actor.epsilon_decay_steps"),
    ),
    (
        "environment-changed-resume",
        _install_acrobot,
        ["learn", "--resume", "--steps", "200"],
        (CKPT, "CartPole-v1 in the checkpoint, Acrobot-v1 now", "without --resume"),
    ),
]


@pytest.mark.parametrize(
    "damage, command, fragments",
    [c[1:] for c in CHECKPOINT_CASES],
    ids=[c[0] for c in CHECKPOINT_CASES],
)
def test_bad_checkpoint(trained: Path, tmp_path: Path, cli, damage, command, fragments) -> None:
    from agentos.tracking.store import list_runs

    agent = tmp_path / "agent"
    shutil.copytree(trained, agent)
    if damage is not None:
        damage(agent)
    before = {r.run_id: r.status for r in list_runs(agent, agent_name="agent")}
    assert_clean_exit_2(*cli(*command, "--agent", agent), fragments)
    after = {r.run_id: r.status for r in list_runs(agent, agent_name="agent")}
    # nothing new is recorded, and no finished run gets worse
    assert after == before


def test_resume_that_fails_midway_keeps_the_run_finished(
    trained: Path, tmp_path: Path, monkeypatch
) -> None:
    from mlflow import MlflowClient

    from agentos.api import load_agent
    from agentos.runtime.loop import Loop
    from agentos.tracking.store import TAG_FOLDER, get_run, tracking_uri

    agent = tmp_path / "agent"
    shutil.copytree(trained, agent)
    run_id = _latest(agent).parent.name
    # the test session's store is shared: hand the run to the copy, or its resume is refused
    MlflowClient(tracking_uri(agent)).set_tag(run_id, TAG_FOLDER, str(agent.resolve()))

    def boom(self, steps):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Loop, "learn", boom)
    with pytest.raises(RuntimeError):
        load_agent(agent, TRAIN).learn(200, resume=True)
    run = get_run(agent, run_id)
    assert run.summary.status == "FINISHED"
    assert "disk on fire" in run.tags.get("agentos.resume_failed", "")
