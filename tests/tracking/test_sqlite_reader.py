"""`list_runs` reads a local sqlite store directly: the same rows as MLflow, without mlflow."""

from __future__ import annotations

import subprocess
import sys

from agentos.tracking.sqlite_reader import read_runs, sqlite_path
from agentos.tracking.store import RunTracker, _client, _iter_runs, _summary, list_runs


def _runs(agent, n):
    for i in range(n):
        tracker = RunTracker.start(
            agent, kind="learn", agent_name=agent.name, env_name="CartPole-v1",
            params={"learner.learning_rate": 0.001}, seed=i, tags={},
        )  # fmt: skip
        with tracker:
            tracker.log_metrics({"train/env_steps": 100.0 * (i + 1), "eval/return_mean": i}, 1)


def test_the_same_rows_as_mlflow(make_agent_dir):
    agent = make_agent_dir("fast")
    _runs(agent, 3)
    fast = list_runs(agent)
    client = _client(agent)
    exp = client.get_experiment_by_name("fast").experiment_id
    slow = [_summary(r) for r in _iter_runs(client, exp)]
    assert fast == slow and [r.seed for r in fast] == [2, 1, 0]
    assert [r.steps for r in fast] == [300, 200, 100] and fast[0].eval_return == 2.0
    assert list_runs(agent, max_results=2) == slow[:2]


def test_listing_imports_no_mlflow(make_agent_dir):
    agent = make_agent_dir("quiet")
    _runs(agent, 2)
    code = (
        "import sys; from pathlib import Path; from agentos.tracking.store import list_runs; "
        f"rows = list_runs(Path({str(agent)!r})); "
        "print(len(rows), 'mlflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "False"]


def test_other_stores_and_unknown_schemas_fall_back(tmp_path):
    assert sqlite_path("http://127.0.0.1:5000") is None
    assert sqlite_path("sqlite:////x/mlflow.db").as_posix() == "/x/mlflow.db"
    assert read_runs(tmp_path / "missing.db", "a", 10) == []
    (tmp_path / "other.db").write_bytes(b"")  # an sqlite file without MLflow's tables
    assert read_runs(tmp_path / "other.db", "a", 10) is None


def test_marking_stale_runs_needs_no_mlflow_when_none_is_stale(make_agent_dir):
    agent = make_agent_dir("alive")
    _runs(agent, 1)
    code = (
        "import sys; from pathlib import Path; "
        "from agentos.tracking.store import mark_stale_runs, list_runs; "
        f"a = Path({str(agent)!r}); print(mark_stale_runs(a), len(list_runs(a)), "
        "'mlflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "1", "False"]
