"""``agentos rerun`` refuses runs it cannot reproduce (``agentos.tracking.rerun``)."""

from __future__ import annotations


def test_a_failed_run_is_not_rerun(agent_dir, cli, failed_run):
    from agentos.tracking.store import list_runs

    code, out, err = cli("rerun", failed_run, "--agent", agent_dir)
    assert code == 2 and "Traceback" not in err
    assert "FAILED, so it has no result to reproduce" in err
    assert list_runs(agent_dir)[0].run_id == failed_run  # nothing was run


def test_a_killed_run_is_not_rerun(agent_dir, cli):
    """A rerun of a KILLED run trained the whole budget and said "Differs from []"."""
    from mlflow import MlflowClient

    from agentos.tracking.store import list_runs, tracking_uri

    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    code, out, err = cli("learn", "--steps", "300", "-p", "loop.min_replay_size=200",
                         "-p", "loop.eval_episodes=1", "--agent", agent_dir)  # fmt: skip
    assert code == 0, err
    killed = list_runs(agent_dir)[0].run_id
    MlflowClient(tracking_uri(agent_dir)).set_terminated(killed, "KILLED")
    code, out, err = cli("rerun", killed[:8], "--agent", agent_dir)
    assert code == 2 and "Traceback" not in err
    assert f"run {killed[:8]} is KILLED" in err
    assert f"agentos learn --resume --from {killed[:8]}" in err
    assert list_runs(agent_dir)[0].run_id == killed  # nothing was run


def test_nothing_logged_is_not_reported_as_reproduced():
    from agentos.tracking.rerun import RerunReport

    assert not RerunReport("a", "b", [], [], "train/loss").identical
    assert RerunReport("a", "b", [1.5], [1.5]).identical
    assert not RerunReport("a", "b", [1.5], [1.25]).identical
