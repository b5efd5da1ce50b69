"""``agentos rerun`` refuses runs it cannot reproduce (``agentos.tracking.rerun``)."""

from __future__ import annotations


def test_a_failed_run_is_not_rerun(agent_dir, cli):
    from agentos.tracking.store import list_runs

    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    code, _, err = cli(
        "learn", "--steps", "3000", "-p", "learner.learning_rate=1e30",
        "-p", "loop.min_replay_size=200", "-p", "loop.eval_every=0", "--agent", agent_dir,
    )  # fmt: skip
    assert code == 2 and "learning diverged" in err
    failed = list_runs(agent_dir)[0]
    code, out, err = cli("rerun", failed.run_id, "--agent", agent_dir)
    assert code == 2 and "Traceback" not in err
    assert "FAILED, so it has no result to reproduce" in err
    assert list_runs(agent_dir)[0].run_id == failed.run_id  # nothing was run
