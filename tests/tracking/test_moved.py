"""A moved or copied agent folder is noticed: its mlflow.db still points artifacts at the old
folder, and the user is told so (the check never fails a command)."""

from __future__ import annotations

import logging

from agentos.tracking.moved import artifact_location_problem, warn_if_moved
from agentos.tracking.store import RunTracker


def _one_run(agent) -> None:
    with RunTracker.start(
        agent, kind="run", agent_name="mover", env_name="x", params={}, seed=0
    ) as tracker:
        tracker.log_text("hi", "note.txt")


def test_moved_folder_is_reported(make_agent_dir, caplog) -> None:
    agent = make_agent_dir("mover")
    _one_run(agent)
    assert artifact_location_problem(agent, "mover") is None
    moved = agent.with_name("moved")
    agent.rename(moved)
    problem = artifact_location_problem(moved, "mover")
    assert problem and str(agent / "mlartifacts") in problem and "no longer exists" in problem
    assert "Fix:" in problem
    with caplog.at_level(logging.WARNING):
        warn_if_moved(moved, "mover")
    assert "moved or copied" in caplog.text


def test_no_store_and_remote_store_are_quiet(make_agent_dir, monkeypatch) -> None:
    agent = make_agent_dir("quiet", with_store=False)
    assert artifact_location_problem(agent, "quiet") is None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    assert artifact_location_problem(agent, "quiet") is None
