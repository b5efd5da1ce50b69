"""A killed run is recorded KILLED by the next command that sees it, and `agentos ui` stopped
by a plain `kill` (SIGTERM) takes its server's whole process group with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_runs_cmd import _tracked_run, agent, runner, template_db  # noqa: F401 - fixtures

from agentos.cli import runs_cmd


def _kill_owner(agent_dir: Path, run_id: str) -> None:
    from mlflow import MlflowClient

    from agentos.tracking.store import tracking_uri

    dead = subprocess.Popen(["true"])
    dead.wait()
    MlflowClient(tracking_uri(agent_dir)).set_tag(run_id, "agentos.pid", str(dead.pid))


def test_runs_records_a_dead_run_as_killed(agent: Path) -> None:  # noqa: F811
    from agentos.tracking.store import get_run

    run_id = _tracked_run(agent, status="RUNNING")
    _kill_owner(agent, run_id)
    result = runner.invoke(runs_cmd.app, ["--agent", str(agent)])
    assert result.exit_code == 0, result.output
    assert get_run(agent, run_id).recorded_status == "KILLED"


UI_SCRIPT = """
import sys
from agentos.cli import ui_cmd
from agentos.cli.main import main
# a stand-in server: a process group of two sleeping processes, pid printed first
ui_cmd.ui_command = lambda agent_dir, port: [
    "sh", "-c", "sleep 120 & echo $$ $!; sleep 120",
]
sys.exit(main(["ui", "--port", sys.argv[1], "--agent", sys.argv[2]]))
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waits for its parent: it holds nothing
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_ui_stopped_by_sigterm_leaves_no_orphans(agent: Path, tmp_path: Path) -> None:  # noqa: F811
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", UI_SCRIPT, str(port), str(agent)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    pids: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not pids:
        line = proc.stdout.readline()
        parts = line.split()
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            pids = [int(p) for p in parts]
    assert pids, "the stand-in server did not start"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 45  # a loaded 2-core machine is slow to reap
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), "agentos ui left its server running"


EARLY_SIGTERM_SCRIPT = """
import os, signal, subprocess, sys
from agentos.cli import ui_cmd
from agentos.cli.main import main
real_popen = subprocess.Popen

def popen_then_sigterm(cmd, **kwargs):
    # the SIGTERM lands while Popen has not yet returned the child to `ui`
    child = real_popen(
        ["sleep", "120"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs
    )
    print(child.pid, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
    return child

ui_cmd.subprocess.Popen = popen_then_sigterm
sys.exit(main(["ui", "--port", sys.argv[1], "--agent", sys.argv[2]]))
"""


def test_ui_sigterm_during_server_start_still_stops_it(agent: Path) -> None:  # noqa: F811
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = subprocess.run(
        [sys.executable, "-c", EARLY_SIGTERM_SCRIPT, str(port), str(agent)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    pids = [int(w) for w in done.stdout.split() if w.isdigit()]
    assert pids, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline and _alive(pids[0]):
        time.sleep(0.1)
    assert not _alive(pids[0]), "a SIGTERM during Popen left the server running"


def test_ui_server_is_quiet(agent: Path) -> None:  # noqa: F811
    from agentos.cli import ui_cmd

    cmd = ui_cmd.ui_command(agent, 5123)
    assert cmd[cmd.index("--uvicorn-opts") + 1] == "--log-level warning"
    env = ui_cmd.ui_env({})
    assert env["MLFLOW_LOGGING_LEVEL"] == "WARNING" and env["PYTHONWARNINGS"] == "ignore"
