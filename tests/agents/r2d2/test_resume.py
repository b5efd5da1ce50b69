"""Exact resume of R2D2: learning 600 steps straight and learning 300, checkpointing and
resuming from the checkpoint in a fresh agent to 600 steps end in the same state, bit for
bit (parameters, target, optimizer, replay and priorities, open sequences, rng streams,
counters, the environments' episodes in progress)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tiny_agents import TINY_R2D2

import agentos
from agentos.api import checkpoint_path
from agentos.cli.init_cmd import init
from agentos.components.install import install
from agentos.runtime.checkpoint import load_checkpoint, tree_differences

TINY = [*TINY_R2D2, "loop.checkpoint_every=200"]


def _agent_folder(root: Path) -> Path:
    folder = root / "agent"
    init(folder, None, False)
    install(folder, ["r2d2", "cartpole"], [])
    return folder


def _final_state(folder: Path, run_id: str) -> dict[str, Any]:
    return load_checkpoint(checkpoint_path(folder, run_id))


def test_learn_300_then_resume_to_600_equals_learn_600(tmp_path: Path) -> None:
    straight = _agent_folder(tmp_path / "a")
    a = agentos.load_agent(straight, TINY).learn(600, seed=3)

    split = _agent_folder(tmp_path / "b")
    first = agentos.load_agent(split, TINY).learn(300, seed=3)
    middle = _final_state(split, first.run_id)["loop"]
    # the checkpoint falls inside episodes and open sequences, and learning has started
    assert middle["counters"]["env_steps"] == 300 and middle["counters"]["learner_updates"] > 0
    assert middle["episodes"]["lengths"].min() > 0
    assert any(env["length"] > 0 for env in middle["components"]["actor"]["adder"]["envs"])
    b = agentos.load_agent(split, TINY).learn(600, resume=True)  # a fresh agent, as after exit
    assert b.run_id == first.run_id and b.env_steps == a.env_steps == 600

    state_a = _final_state(straight, a.run_id)["loop"]
    state_b = _final_state(split, b.run_id)["loop"]
    # B also evaluated at the end of its first part (300 steps): evaluation has its own
    # counters, history, environment and rng, and must leave the training state alone
    count_a, count_b = state_a["counters"], state_b["counters"]
    assert (count_a["evaluations"], count_b["evaluations"]) == (1, 2)
    assert [h["env_steps"] for h in state_b["eval_history"]] == [300, 600]
    for state in (state_a, state_b):
        for key in ("evaluations", "eval_episodes"):
            del state["counters"][key]
        del state["eval_history"], state["components"]["actor"]["eval_rng"]
    assert state_a["counters"]["learner_updates"] > middle["counters"]["learner_updates"]
    diffs = tree_differences(state_a, state_b)
    assert not diffs, "\n".join(diffs[:40])
