"""Tests of ``agentos runs`` / ``agentos runs show`` and ``agentos ui``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentos.cli import console as console_mod
from agentos.cli import runs_cmd, ui_cmd
from agentos.errors import AgentOSError, RunNotFoundError, SpecError

runner = CliRunner()


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty MLflow SQLite store (migrating takes seconds; copying does not)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def agent(tmp_path: Path, template_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An agent folder ``cli_agent`` with an empty default store."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(console_mod.console, "_width", 200)
    folder = tmp_path / "cli_agent"
    folder.mkdir()
    (folder / "agentos.yaml").write_text("name: cli_agent\ncomponents: {}\n")
    shutil.copy(template_db, folder / "mlflow.db")
    return folder


def _tracked_run(agent: Path, *, status: str = "FINISHED", seed: int = 0) -> str:
    from agentos.tracking.store import RunTracker

    t = RunTracker.start(
        agent,
        kind="learn",
        agent_name="cli_agent",
        env_name="CartPole-v1",
        params={"learner.learning_rate": 3e-4},
        seed=seed,
    )
    t.log_metrics({"train/env_steps": 12345, "eval/return_mean": 187.25}, step=12345)
    t.log_text("hello", "notes/readme.txt")
    if status != "RUNNING":
        t.end(status)
    else:
        t.flush()
    return t.run_id


def test_runs_table(agent):
    finished = _tracked_run(agent)
    failed = _tracked_run(agent, status="FAILED", seed=1)
    result = runner.invoke(runs_cmd.app, ["--agent", str(agent)])
    assert result.exit_code == 0, result.output
    out = result.output
    for text in (finished[:8], failed[:8], "learn", "cli_agent", "CartPole-v1", "12,345", "187.25"):
        assert text in out
    assert "FINISHED" in out and "FAILED" in out
    assert out.index(failed[:8]) < out.index(finished[:8])  # newest first
    assert finished[:9] not in out  # ids shortened to 8 characters


def test_runs_table_shows_dead_running_run_as_killed(agent):
    from agentos.tracking.store import get_run

    run_id = _tracked_run(agent, status="RUNNING")
    proc = subprocess.Popen(["true"])
    proc.wait()
    get_run(agent, run_id)  # exists
    from mlflow import MlflowClient

    from agentos.tracking.store import tracking_uri

    MlflowClient(tracking_uri(agent)).set_tag(run_id, "agentos.pid", str(proc.pid))
    result = runner.invoke(runs_cmd.app, ["--agent", str(agent)])
    assert "KILLED" in result.output and "RUNNING" not in result.output


def test_runs_without_runs(agent, tmp_path):
    result = runner.invoke(runs_cmd.app, ["--agent", str(agent)])
    assert result.exit_code == 0
    assert "No runs yet — try `agentos learn`." in result.output
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "agentos.yaml").write_text("name: bare\n")
    result = runner.invoke(runs_cmd.app, ["--agent", str(bare)])
    assert "No runs yet" in result.output
    assert not (bare / "mlflow.db").exists()


def test_runs_needs_an_agent_folder(tmp_path):
    result = runner.invoke(runs_cmd.app, ["--agent", str(tmp_path)])
    assert isinstance(result.exception, SpecError)
    assert "agentos init" in str(result.exception)


def test_runs_show(agent):
    run_id = _tracked_run(agent)
    for args in (["show", run_id[:8], "--agent", str(agent)], ["-a", str(agent), "show", run_id]):
        result = runner.invoke(runs_cmd.app, args)
        assert result.exit_code == 0, result.output
        out = result.output
        assert run_id in out and "FINISHED" in out
        assert "learner.learning_rate" in out and "0.0003" in out
        assert "eval/return_mean" in out and "187.25" in out
        assert "agentos.kind" in out and "mlflow.user" not in out
        assert "notes/readme.txt" in out and "mlartifacts" in out


def test_runs_show_unknown_id(agent):
    _tracked_run(agent)
    result = runner.invoke(runs_cmd.app, ["show", "abcdef0123", "--agent", str(agent)])
    assert isinstance(result.exception, RunNotFoundError)
    assert "agentos runs" in str(result.exception)


# --------------------------------------------------------------------------- ui


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ui_command_binds_loopback(agent, monkeypatch):
    cmd = ui_cmd.ui_command(agent, 5123)
    assert cmd[:4] == [sys.executable, "-m", "mlflow", "ui"]
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--port") + 1] == "5123"
    assert cmd[cmd.index("--backend-store-uri") + 1] == f"sqlite:///{agent.resolve()}/mlflow.db"
    assert cmd[cmd.index("--default-artifact-root") + 1].endswith("/cli_agent/mlartifacts")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/elsewhere.db")
    cmd = ui_cmd.ui_command(agent, 5123)
    assert cmd[cmd.index("--backend-store-uri") + 1] == "sqlite:////tmp/elsewhere.db"


def test_ui_refuses_a_busy_port(agent):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(AgentOSError, match="already in use"):
            ui_cmd.ui(agent=agent, port=port)


def _listening(port: int) -> list[str]:
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    addrs = [line.split()[3] for line in out.splitlines() if len(line.split()) >= 4]
    return [a for a in addrs if a.rsplit(":", 1)[-1] == str(port)]


class _FakeUI:
    """Stands in for the mlflow ui process: the user presses Ctrl-C while it runs."""

    started: list[_FakeUI] = []

    def __init__(self, cmd, env=None, start_new_session=False):
        self.cmd, self.env, self.new_session = cmd, env, start_new_session
        self.pid = 999_999_999
        _FakeUI.started.append(self)

    def wait(self, timeout=None):
        raise KeyboardInterrupt

    def poll(self):
        return 0


def test_ui_ctrl_c_stops_the_server(agent, monkeypatch):
    stopped = []
    monkeypatch.setattr(ui_cmd.subprocess, "Popen", _FakeUI)
    monkeypatch.setattr(ui_cmd, "stop_process_group", lambda proc: stopped.append(proc))
    _FakeUI.started.clear()
    ui_cmd.ui(agent=agent, port=_free_port())
    (proc,) = _FakeUI.started
    assert proc.new_session and proc.env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert proc.cmd[proc.cmd.index("--host") + 1] == "127.0.0.1"
    assert stopped and stopped[0] is proc


def test_ui_marks_dead_runs_killed_first(agent, monkeypatch):
    from mlflow import MlflowClient

    from agentos.tracking.store import get_run, tracking_uri

    run_id = _tracked_run(agent, status="RUNNING")
    dead = subprocess.Popen(["true"])
    dead.wait()
    MlflowClient(tracking_uri(agent)).set_tag(run_id, "agentos.pid", str(dead.pid))
    monkeypatch.setattr(ui_cmd.subprocess, "Popen", _FakeUI)
    monkeypatch.setattr(ui_cmd, "stop_process_group", lambda proc: None)
    ui_cmd.ui(agent=agent, port=_free_port())
    assert get_run(agent, run_id).recorded_status == "KILLED"


def test_ui_with_a_remote_store_points_there(agent, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    monkeypatch.setattr(ui_cmd.subprocess, "Popen", None)  # must not start anything
    ui_cmd.ui(agent=agent, port=_free_port())


@pytest.mark.slow  # starting the MLflow server takes 5-40 s depending on the machine's load
@pytest.mark.skipif(shutil.which("ss") is None, reason="needs `ss` to check the bound address")
def test_mlflow_ui_listens_on_loopback_only(agent, tmp_path):
    run_id = _tracked_run(agent)
    port = _free_port()
    log = (tmp_path / "ui.log").open("wb")
    proc = subprocess.Popen(
        ui_cmd.ui_command(agent, port),
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=ui_cmd.ui_env({k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "ui.log").read_text()
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "mlflow ui did not answer within 60 s"
            time.sleep(0.5)
        addrs = _listening(port)
        assert addrs and all(a == f"127.0.0.1:{port}" for a in addrs), addrs
        # The UI reads the run's artifacts from the agent folder.
        url = f"{base}/get-artifact?path=notes/readme.txt&run_uuid={run_id}"
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.read() == b"hello"
    finally:
        ui_cmd.stop_process_group(proc)
        log.close()
    assert proc.poll() is not None
    deadline = time.monotonic() + 10
    while _listening(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _listening(port)
