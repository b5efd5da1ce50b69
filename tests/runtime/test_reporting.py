"""Why a learn call took no learner update: the reason named must be the real one."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from agentos.runtime.loop_data import Counters
from agentos.runtime.reporting import why_no_update

LOOP = SimpleNamespace(min_replay_size=1000, samples_per_insert=32.0, learn_every=1)


def _counters(env_steps: int) -> Counters:
    counters = Counters()
    counters.env_steps = env_steps
    return counters


def test_an_empty_replay_past_the_warm_up_blames_the_actor_not_the_warm_up() -> None:
    reason = why_no_update(_counters(1500), LOOP, 0, 64, replay_size=0, actor="RandomActor")
    assert reason is not None and reason.startswith("RandomActor wrote nothing")
    assert "min_replay_size" not in reason


def test_a_replay_still_filling_names_the_warm_up() -> None:
    reason = why_no_update(_counters(500), LOOP, 0, 64, replay_size=500)
    assert reason is not None and "loop.min_replay_size=1000" in reason


def test_no_samples_per_insert_and_a_learn_every_never_due_are_named() -> None:
    none = SimpleNamespace(min_replay_size=64, samples_per_insert=0.0, learn_every=1)
    reason = why_no_update(_counters(300), none, 0, 64, replay_size=300)
    assert reason is not None and "loop.samples_per_insert=0 asks for no updates" in reason
    rare = SimpleNamespace(min_replay_size=64, samples_per_insert=1.0, learn_every=100_000)
    reason = why_no_update(_counters(300), rare, 0, 64, replay_size=300)
    assert reason is not None and "loop.learn_every=100000" in reason
    assert "min_replay_size" not in reason
    due = SimpleNamespace(min_replay_size=64, samples_per_insert=1.0, learn_every=100)
    reason = why_no_update(_counters(300), due, 0, 64, replay_size=300)  # due at 100, 200, 300
    assert reason is not None and "learn_every" not in reason


def test_a_random_actor_beside_a_learner_is_named_at_the_end_of_learn(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    from agentos.api import load_agent
    from agentos.cli.init_cmd import init
    from agentos.components.install import install

    folder = tmp_path / "agent"
    init(folder, None, False)
    install(folder, ["dqn", "cartpole"], [])
    install(folder, ["random_actor"], [])  # over the dqn_actor
    overrides = ["loop.min_replay_size=50", "loop.eval_every=0", "loop.eval_episodes=1"]
    load_agent(folder, overrides).learn(200, seed=0)
    assert "RandomActor wrote nothing to the learner's replay" in caplog.text


def test_a_batch_not_yet_held_past_the_warm_up_is_named() -> None:
    """R2D2 (8 copies, 80-step sequences) after 504 env steps with min_replay_size 200 was
    told to lower min_replay_size."""
    loop = SimpleNamespace(min_replay_size=200, samples_per_insert=4.0, learn_every=8)
    reason = why_no_update(_counters(504), loop, 0, 32, replay_size=16)
    assert reason is not None and "holds a batch of 32" in reason and "it holds 16" in reason
    assert "min_replay_size" not in reason and "learner.batch_size" in reason
