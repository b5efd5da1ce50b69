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


def test_the_api_refuses_arguments_of_the_wrong_type(agent_dir):
    """Each was a TypeError/AttributeError deep inside (some left a FAILED run behind), or
    was misread: a string of overrides character by character, resume=1 as "no"."""
    import pytest

    from agentos.errors import AgentOSError
    from agentos.tracking.store import list_runs

    agent = agentos.load_agent(agent_dir)
    cases = [
        (lambda: agentos.load_agent(None), "path must be an agent folder"),
        (lambda: agentos.load_agent(agent_dir, "loop.eval_episodes=2"), "overrides must be a list"),
        (lambda: agentos.load_agent(agent_dir, [1, 2]), "overrides must be a list"),
        (lambda: agent.run(episodes=None), "episodes must be a whole number, got None"),
        (lambda: agent.run(episodes=1, seed=None), "seed must be a whole number, got None"),
        (lambda: agent.run(episodes=1, checkpoint=1), "checkpoint must be 'latest'"),
        (lambda: agent.run(episodes=1, trace=123), "trace must be a CSV file path"),
        (lambda: agent.run(episodes=1, hooks="x"), "hooks must be an object with on_metrics"),
        (lambda: agent.learn(None), "steps must be a whole number, got None"),
        (lambda: agent.learn(10, seed=None), "seed must be a whole number"),
        (lambda: agent.learn(10, video_every="x"), "video_every must be a whole number"),
        (lambda: agent.learn(10, actors="2"), "actors must be a whole number"),
        (lambda: agent.learn(10, tags="x"), "tags must be a dict"),
        (lambda: agent.learn(10, resume=1), "resume must be True, False or a run id"),
        (lambda: agent.record(1, None), "invalid dataset name None"),
    ]
    before = len(list_runs(agent_dir))
    for call, message in cases:
        with pytest.raises(AgentOSError, match=message.replace("(", r"\(")):
            call()
    assert len(list_runs(agent_dir)) == before  # nothing was run
