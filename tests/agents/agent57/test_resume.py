"""Exact resume of Agent57: 300 steps + checkpoint + resume to 600 in a fresh agent ends in the
same state as 600 straight steps: networks, optimizers, replay and priorities, open sequences,
bandit windows, episodic memories, the RND normaliser, rng streams and counters."""

from __future__ import annotations

from pathlib import Path

from tiny_agents import TINY_AGENT57

import agentos
from agentos.api import checkpoint_path
from agentos.cli.init_cmd import init
from agentos.components.install import install
from agentos.runtime.checkpoint import load_checkpoint, tree_differences

TINY = [*TINY_AGENT57, "loop.checkpoint_every=200"]


def _agent_folder(root: Path) -> Path:
    folder = root / "agent"
    init(folder, None, False)
    install(folder, ["agent57", "permuted_chain"], [])
    return folder


def test_learn_300_then_resume_to_600_equals_learn_600(tmp_path: Path) -> None:
    straight = _agent_folder(tmp_path / "a")
    a = agentos.load_agent(straight, TINY).learn(600, seed=5)

    split = _agent_folder(tmp_path / "b")
    first = agentos.load_agent(split, TINY).learn(300, seed=5)
    middle = load_checkpoint(checkpoint_path(split, first.run_id))["loop"]
    assert middle["counters"]["learner_updates"] > 0
    assert middle["counters"]["episodes"] > 4  # bandits have been fed
    b = agentos.load_agent(split, TINY).learn(600, resume=True)
    assert b.run_id == first.run_id and b.env_steps == a.env_steps == 600

    state_a = load_checkpoint(checkpoint_path(straight, a.run_id))["loop"]
    state_b = load_checkpoint(checkpoint_path(split, b.run_id))["loop"]
    # B evaluated once more (after its first part): evaluation state is its own.
    for state in (state_a, state_b):
        for key in ("evaluations", "eval_episodes"):
            del state["counters"][key]
        actor = state["components"]["actor"]
        del state["eval_history"], actor["eval_rng"], actor["evaluator"]
    assert state_a["counters"]["learner_updates"] > middle["counters"]["learner_updates"]
    diffs = tree_differences(state_a, state_b)
    assert not diffs, "\n".join(diffs[:40])
