"""``agentos ui``: the MLflow UI for an agent's runs, on 127.0.0.1 only."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import typer

from agentos.cli.common import AgentOption
from agentos.cli.console import console, escape

HOST = "127.0.0.1"  # loopback only, always


def ui_command(agent_dir: Path, port: int = 5000) -> list[str]:
    """The ``mlflow ui`` command line serving the agent's store on 127.0.0.1:``port``.

    One worker process: a local UI for one user needs no more, and it starts in seconds.
    """
    import sys

    from agentos.tracking.store import artifact_root, tracking_uri

    return [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        tracking_uri(agent_dir),
        "--default-artifact-root",
        artifact_root(agent_dir).as_uri(),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        "--uvicorn-opts",
        "--log-level warning",  # no access log of every request in the user's terminal
    ]


def ui_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for ``ui_command``: MLflow's job runner (GenAI scorers) turned off."""
    import os

    env = dict(os.environ if base is None else base)
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    # Quiet terminal: MLflow's INFO lines and library deprecation warnings are not the user's.
    env.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    env.setdefault("PYTHONWARNINGS", "ignore")
    return env


def _check_port_free(port: int) -> None:
    import socket

    from agentos.errors import AgentOSError

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except PermissionError:
            raise AgentOSError(
                f"port {port} on {HOST} may not be opened by this user (ports below 1024 "
                "need administrator rights)",
                where="--port",
                fix="pass a port from 1024 up: `agentos ui --port 5000`",
            ) from None
        except OSError:
            raise AgentOSError(
                f"port {port} on {HOST} is already in use",
                where="--port",
                fix=f"pass another port: `agentos ui --port {port + 1 if port < 65535 else 5000}`",
            ) from None


def stop_process_group(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminate a process started with ``start_new_session=True`` and all its children."""
    import os
    import signal

    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # Workers may outlive the server briefly; make sure none of the group is left.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_on_signals(started: dict) -> dict:
    """Turn SIGTERM and SIGHUP (a plain `kill`, a closed terminal) into KeyboardInterrupt, so
    the MLflow server's whole process group is stopped instead of left holding the port.

    A signal that arrives before the server's Popen has returned is only noted in
    ``started["pending"]``: raising inside Popen would lose the child's pid and leak its group.
    """

    def interrupt(signum: int, frame: object) -> None:
        if started.get("proc") is None:
            started["pending"] = signum
            return
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {}
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            previous[sig] = signal.signal(sig, interrupt)
    return previous


def ui(
    agent: Path = AgentOption,
    port: int = typer.Option(
        5000, "--port", min=1, max=65535, help="Port on 127.0.0.1 to serve the UI on."
    ),
) -> None:
    """Open the MLflow UI on the agent's runs (http://127.0.0.1:PORT; Ctrl-C stops it)."""
    from agentos.components.spec import load_spec
    from agentos.tracking.store import is_local_store, mark_stale_runs, tracking_uri

    spec = load_spec(agent)
    uri = tracking_uri(spec.agent_dir)
    if not is_local_store(uri):
        console.print(
            f"Runs are tracked on {escape(uri)} (MLFLOW_TRACKING_URI): open it in a browser."
        )
        return
    _check_port_free(port)
    killed = mark_stale_runs(spec.agent_dir, agent_name=spec.name)
    if killed:
        console.print(f"Marked {len(killed)} run(s) whose process is gone as KILLED.")
    cmd = ui_command(spec.agent_dir, port)
    console.print(
        f"MLflow UI for [bold]{escape(spec.name)}[/] at http://{HOST}:{port}  (Ctrl-C to stop)"
    )
    # The handlers go in before the server starts: a SIGTERM in between would otherwise end
    # this process the default way and leave the server's group running.
    started: dict = {}
    previous = _stop_on_signals(started)
    proc: subprocess.Popen | None = None
    try:
        proc = started["proc"] = subprocess.Popen(cmd, env=ui_env(), start_new_session=True)
        if "pending" in started:
            raise KeyboardInterrupt(f"signal {started['pending']}")
        code = proc.wait()
    except KeyboardInterrupt:
        console.print("MLflow UI stopped.")
        return
    finally:
        if proc is not None:
            stop_process_group(proc)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code != 0:
        raise typer.Exit(code)
