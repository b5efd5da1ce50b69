"""The Python API (agentos.api): what learn says about the arguments it was given."""

from __future__ import annotations

import agentos


def test_resume_to_fewer_steps_than_done_says_steps_is_a_total(agent_dir, cli, caplog):
    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    overrides = ["loop.min_replay_size=20", "loop.eval_every=0", "loop.eval_episodes=1"]
    agent = agentos.load_agent(agent_dir, overrides=overrides)
    agent.learn(steps=40, seed=0)
    caplog.clear()
    with caplog.at_level("WARNING"):
        result = agentos.load_agent(agent_dir, overrides=overrides).learn(steps=30, resume=True)
    assert result.env_steps == 40
    notes = [r.getMessage() for r in caplog.records]
    assert any("already at 40 env steps, so --steps 30 leaves nothing" in n for n in notes)
    assert not any("took no update" in n for n in notes)  # nothing was stepped this time
