"""Tests of agentos.tracking.store: writing runs, truthful status, reading them back."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from agentos.errors import AgentOSError, RunNotFoundError
from agentos.tracking import store
from agentos.tracking.store import (
    RunTracker,
    effective_status,
    environment_info,
    get_run,
    list_runs,
    mark_stale_runs,
    metric_history,
    tracking_uri,
)

NAME = "agent_a"


def start(agent_dir: Path, **kw) -> RunTracker:
    args = dict(
        kind="learn",
        agent_name=NAME,
        env_name="CartPole-v1",
        params={"learner.learning_rate": 3e-4, "replay.capacity": 1000},
        seed=0,
    )
    args.update(kw)
    return RunTracker.start(agent_dir, **args)


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# --------------------------------------------------------------------------- store


def test_tracking_uri_default_is_absolute_sqlite_in_agent_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert tracking_uri(Path(".")) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert tracking_uri(Path(".")).startswith("sqlite:////")


def test_tracking_uri_env_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert tracking_uri(tmp_path) == "http://127.0.0.1:5999"


def test_environment_info_reads_versions_without_importing():
    info = environment_info()
    assert info["python"].count(".") == 2
    assert set(info["packages"]) >= {"agentos", "jax", "jaxlib", "flax", "optax", "gymnasium"}
    assert info["packages"]["mlflow"] == "3.17.2"
    json.dumps(info)


# --------------------------------------------------------------------------- writing


def test_start_log_end_finished(agent_dir, tmp_path):
    (tmp_path / "ckpt.txt").write_text("weights")
    with start(agent_dir, tags={"user.note": "hello"}) as t:
        t.log_metrics({"train/env_steps": 100, "train/loss": 0.5}, step=100)
        t.log_metrics({"train/env_steps": 200, "eval/return_mean": 21.5}, step=200)
        t.log_text("spec text", "spec/agentos.yaml")
        t.log_dict({"a": 1}, "resolved.yaml")
        t.log_dict(environment_info(), "environment.json")
        t.log_file(tmp_path / "ckpt.txt", "checkpoints")
        t.set_tags({"user.extra": 1})
    assert t.status == "FINISHED"
    assert t.artifact_uri.startswith((agent_dir / "mlartifacts").resolve().as_uri())

    d = get_run(agent_dir, t.run_id)
    s = d.summary
    assert (s.run_id, s.kind, s.agent, s.env, s.seed) == (t.run_id, "learn", NAME, "CartPole-v1", 0)
    assert (s.status, d.recorded_status) == ("FINISHED", "FINISHED")
    assert s.steps == 200 and s.eval_return == 21.5
    assert d.params == {"learner.learning_rate": "0.0003", "replay.capacity": "1000"}
    assert d.metrics["train/loss"] == 0.5
    assert d.tags["user.note"] == "hello" and d.tags["user.extra"] == "1"
    assert d.tags["agentos.pid"] == str(os.getpid())
    assert {"agentos.host", "agentos.version", "agentos.kind"} <= set(d.tags)
    assert set(d.artifacts) == {
        "spec/agentos.yaml",
        "resolved.yaml",
        "environment.json",
        "checkpoints/ckpt.txt",
    }
    assert d.end_time is not None
    local = store.download_artifacts(agent_dir, t.run_id[:8], "resolved.yaml")
    assert yaml.safe_load(local.read_text()) == {"a": 1}
    assert metric_history(agent_dir, t.run_id, "train/env_steps") == [(100, 100.0), (200, 200.0)]


def test_end_is_idempotent_and_checks_status(agent_dir):
    t = start(agent_dir)
    with pytest.raises(ValueError):
        t.end("DONE")
    t.end("FINISHED")
    t.end("FAILED")
    assert get_run(agent_dir, t.run_id).summary.status == "FINISHED"


def test_metrics_are_batched(agent_dir):
    t = start(agent_dir)
    calls = []
    real = t.client.log_batch

    def spy(run_id, metrics=(), params=(), tags=(), **kw):
        calls.append(len(metrics))
        return real(run_id, metrics=metrics, params=params, tags=tags, **kw)

    t.client.log_batch = spy
    for step in range(120):
        t.log_metrics({f"m{i}": float(step + i) for i in range(10)}, step=step)
    t.end()
    metric_calls = [n for n in calls if n]
    assert sum(metric_calls) == 1200
    assert len(metric_calls) <= 3  # 500 + 500 + 200 (end flush), not 1200 calls
    assert len(metric_history(agent_dir, t.run_id, "m3")) == 120


def test_metrics_flush_after_interval(agent_dir, monkeypatch):
    t = start(agent_dir)
    monkeypatch.setattr(store, "FLUSH_EVERY_SECONDS", 0.0)
    t.log_metrics({"x": 1.0}, step=1)
    assert t._buffer == []
    assert get_run(agent_dir, t.run_id).metrics["x"] == 1.0
    t.end()


def test_non_finite_metrics_are_skipped(agent_dir):
    with start(agent_dir) as t:
        t.log_metrics({"a": math.nan, "b": math.inf, "c": 2}, step=0)
        with pytest.raises(TypeError, match="'d'"):
            t.log_metrics({"d": "text"}, step=0)
    assert get_run(agent_dir, t.run_id).metrics == {"c": 2.0}


def test_params_chunked_and_long_values_truncated(agent_dir):
    params = {f"p.k{i:03d}": i for i in range(250)}
    params["p.long"] = "x" * 7000
    params["p.list"] = [1, 2]
    params["p.flag"] = True
    with start(agent_dir, params=params) as t:
        pass
    d = get_run(agent_dir, t.run_id)
    assert len(d.params) == 253
    assert len(d.params["p.long"]) == 6000
    assert (d.params["p.list"], d.params["p.flag"]) == ("[1, 2]", "true")


@pytest.mark.parametrize(
    ("exc", "status"),
    [(KeyboardInterrupt, "KILLED"), (SystemExit(3), "KILLED"), (RuntimeError("x"), "FAILED")],
)
def test_context_manager_status_on_error(agent_dir, exc, status):
    with pytest.raises(type(exc) if isinstance(exc, BaseException) else exc):
        with start(agent_dir) as t:
            t.log_metrics({"train/loss": 1.0}, step=1)
            raise exc
    d = get_run(agent_dir, t.run_id)
    assert d.summary.status == status
    assert d.metrics["train/loss"] == 1.0  # flushed before ending


def test_resume_reopens_same_run_and_keeps_metrics(agent_dir, caplog):
    t = start(agent_dir)
    for step in range(3):
        t.log_metrics({"train/env_steps": step * 10}, step=step)
    t.end("KILLED")

    params = {"learner.learning_rate": 1e-3, "replay.capacity": 1000, "new.key": 1}
    t2 = start(agent_dir, params=params, resume_run_id=t.run_id[:8])
    assert t2.run_id == t.run_id
    d = get_run(agent_dir, t.run_id)
    assert d.recorded_status == "RUNNING" and d.summary.status == "RUNNING"
    assert d.end_time is None
    assert d.tags["agentos.pid"] == str(os.getpid()) and d.tags["agentos.resumes"] == "1"
    assert d.params["learner.learning_rate"] == "0.0003"  # first value kept
    assert d.params["new.key"] == "1"
    assert d.tags["agentos.resume_changed_params"] == "learner.learning_rate"
    # the resumed run uses the new value: the warning says so, and which value was recorded
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "continues with changed params: learner.learning_rate 0.0003 -> 0.001" in warning
    assert "recorded params keep the first values" in warning
    t2.log_metrics({"train/env_steps": 30}, step=3)
    t2.end()
    history = metric_history(agent_dir, t.run_id, "train/env_steps")
    assert history == [(0, 0.0), (1, 10.0), (2, 20.0), (3, 30.0)]
    assert get_run(agent_dir, t.run_id).summary.status == "FINISHED"
    assert len(list_runs(agent_dir)) == 1


def test_resume_refuses_a_run_still_running_elsewhere(agent_dir):
    t = start(agent_dir)
    t.set_tags({"agentos.pid": os.getppid(), "agentos.pid_start": ""})
    with pytest.raises(AgentOSError, match="still running"):
        start(agent_dir, resume_run_id=t.run_id)
    t.end()


# --------------------------------------------------------------------------- status


def test_running_run_with_dead_pid_shows_killed(agent_dir):
    t = start(agent_dir)
    t.set_tags({"agentos.pid": dead_pid()})
    assert list_runs(agent_dir)[0].status == "KILLED"
    d = get_run(agent_dir, t.run_id)
    assert (d.summary.status, d.recorded_status) == ("KILLED", "RUNNING")

    assert mark_stale_runs(agent_dir) == [t.run_id]
    d = get_run(agent_dir, t.run_id)
    assert (d.summary.status, d.recorded_status) == ("KILLED", "KILLED")
    assert d.end_time is not None and "agentos.end_reason" in d.tags
    assert mark_stale_runs(agent_dir) == []


def test_live_run_stays_running(agent_dir):
    t = start(agent_dir)
    assert mark_stale_runs(agent_dir) == []
    assert list_runs(agent_dir)[0].status == "RUNNING"
    t.end()


def test_effective_status_rules():
    me = {"agentos.host": store.socket.gethostname(), "agentos.pid": str(os.getpid())}
    assert effective_status("RUNNING", me) == "RUNNING"
    assert effective_status("FINISHED", {**me, "agentos.pid": str(dead_pid())}) == "FINISHED"
    assert effective_status("RUNNING", {**me, "agentos.pid": str(dead_pid())}) == "KILLED"
    assert effective_status("RUNNING", {**me, "agentos.host": "elsewhere", "agentos.pid": "1"})
    assert effective_status("RUNNING", {}) == "RUNNING"  # not an agentos run
    if Path("/proc/self/stat").exists():  # a reused pid: same number, other start time
        assert effective_status("RUNNING", {**me, "agentos.pid_start": "1"}) == "KILLED"


KILL9_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from agentos.tracking.store import RunTracker
    t = RunTracker.start(Path(sys.argv[1]), kind="learn", agent_name="agent_a",
                         env_name="CartPole-v1", params={}, seed=1)
    with t:
        t.log_metrics({"train/env_steps": 5}, step=5)
        t.flush()
        print(t.run_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_kill_dash_9_never_shows_finished(agent_dir):
    proc = subprocess.run(
        [sys.executable, "-c", KILL9_SCRIPT, str(agent_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    run_id = proc.stdout.split()[-1]
    d = get_run(agent_dir, run_id)
    assert (d.summary.status, d.recorded_status) == ("KILLED", "RUNNING")
    assert d.summary.steps == 5


# --------------------------------------------------------------------------- reading


def test_list_runs_newest_first_and_limited(agent_dir):
    ids = []
    for seed in range(3):
        with start(agent_dir, seed=seed, kind="run") as t:
            ids.append(t.run_id)
    runs = list_runs(agent_dir)
    assert [r.run_id for r in runs] == ids[::-1]
    assert [r.seed for r in runs] == [2, 1, 0]
    assert runs[0].steps is None and runs[0].eval_return is None
    assert len(list_runs(agent_dir, max_results=2)) == 2


def test_eval_steps_used_when_no_train_steps(agent_dir):
    with start(agent_dir, kind="run") as t:
        t.log_metrics({"eval/env_steps": 42, "eval/return_mean": -3.0}, step=42)
    r = list_runs(agent_dir)[0]
    assert (r.steps, r.eval_return) == (42, -3.0)


def test_no_store_means_no_runs_and_no_db_created(make_agent_dir, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    agent = make_agent_dir("fresh", with_store=False)
    assert list_runs(agent) == []
    assert mark_stale_runs(agent) == []
    with pytest.raises(RunNotFoundError, match="no runs"):
        get_run(agent, "abcdef12")
    with pytest.raises(RunNotFoundError, match="'/p/x.msgpack' is a file path"):
        get_run(agent, "/p/x.msgpack")
    assert not (agent / "mlflow.db").exists()


def test_prefix_lookup_and_errors(agent_dir):
    with start(agent_dir) as t:
        pass
    assert get_run(agent_dir, t.run_id[:6]).run_id == t.run_id
    assert get_run(agent_dir, t.run_id.upper()).run_id == t.run_id
    assert store.resolve_run_id(agent_dir, t.run_id[:10]) == t.run_id
    with pytest.raises(RunNotFoundError, match="at least 6") as e:
        get_run(agent_dir, t.run_id[:5])
    assert "agentos runs" in str(e.value)
    with pytest.raises(RunNotFoundError, match="no run") as e:
        get_run(agent_dir, "0" * 32 if not t.run_id.startswith("0") else "f" * 32)
    assert "agentos runs" in str(e.value)
    with pytest.raises(RunNotFoundError):
        get_run(agent_dir, "x' OR '1'='1")
    with pytest.raises(AgentOSError, match="no artifact"):
        store.download_artifacts(agent_dir, t.run_id, "missing.txt")


def test_ambiguous_prefix_is_an_error():
    class Info:
        def __init__(self, run_id):
            self.run_id = run_id

    class Run:
        def __init__(self, run_id):
            self.info = Info(run_id)

    class Client:
        def search_runs(self, *args, **kw):
            return [Run("abcdef" + "1" * 26), Run("abcdef" + "2" * 26)]

    with pytest.raises(RunNotFoundError, match="ambiguous"):
        store._resolve_run(Client(), "1", "abcdef", "a")


def test_runs_of_other_agents_are_not_listed(agent_dir, make_agent_dir):
    other = make_agent_dir("agent_b")
    with start(agent_dir) as a:
        pass
    with start(other, agent_name="agent_b") as b:
        pass
    assert [r.run_id for r in list_runs(agent_dir)] == [a.run_id]
    assert [r.run_id for r in list_runs(other)] == [b.run_id]
    assert b.artifact_uri.startswith((other / "mlartifacts").resolve().as_uri())
    with pytest.raises(RunNotFoundError):
        get_run(agent_dir, b.run_id)


def test_agent_name_comes_from_spec(agent_dir):
    with start(agent_dir) as t:
        pass
    (agent_dir / "agentos.yaml").write_text("name: renamed\ncomponents: {}\n")
    assert list_runs(agent_dir) == []
    assert [r.run_id for r in list_runs(agent_dir, agent_name=NAME)] == [t.run_id]


def test_resume_with_another_render_mode_suggests_no_render_mode(agent_dir, caplog):
    t = start(agent_dir, params={"environment.render_mode": "human", "learner.gamma": 0.9})
    t.end("KILLED")
    params = {"environment.render_mode": None, "learner.gamma": 0.99}
    start(agent_dir, params=params, resume_run_id=t.run_id).end()
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "environment.render_mode human -> null" in warning  # said, but not to go back to
    assert "-p learner.gamma=0.9" in warning and "-p environment.render_mode" not in warning
