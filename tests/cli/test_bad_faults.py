"""Faults of the machine, not the input: a tracking store that cannot be written or reached,
a full disk while checkpointing, a folder that cannot be written. Each is one message naming
the file or store, a Fix line, exit 2, and nothing half-written is left behind."""

from __future__ import annotations

import errno
from pathlib import Path

from bad_input_checks import assert_clean_exit_2


def test_tracking_store_in_a_missing_folder(agent_dir: Path, cli, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////proc/agentos-nope/mlflow.db")
    assert_clean_exit_2(
        *cli("run", "-e", "1", "--agent", agent_dir), ("/proc/agentos-nope", "MLFLOW_TRACKING_URI")
    )


def test_tracking_server_down(agent_dir: Path, cli, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    assert_clean_exit_2(
        *cli("run", "-e", "1", "--agent", agent_dir),
        ("MLFLOW_TRACKING_URI=http://127.0.0.1:9", "tracking store failed", "start the MLflow"),
    )


def test_disk_full_while_checkpointing(agent_dir: Path, cli, monkeypatch) -> None:
    import agentos.runtime.checkpoint as checkpoint

    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "fsync", full)
    assert_clean_exit_2(
        *cli(
            "learn",
            "--steps",
            "60",
            "-p",
            "loop.eval_every=0",
            "-p",
            "loop.eval_episodes=1",
            "--agent",
            agent_dir,
        ),
        (".msgpack", "No space left on device", "--resume"),
    )
    assert not list((agent_dir / ".agentos").rglob("*.tmp*")), "a temporary file was left"


def test_unwritable_agent_folder(agent_dir: Path, cli, monkeypatch) -> None:
    import agentos.components.install as install_module

    def denied(path, data):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(install_module, "save_raw", denied)
    assert_clean_exit_2(
        *cli("install", "cartpole", "--agent", agent_dir),
        ("agentos.yaml", "Permission denied", "writable"),
    )


def test_out_of_memory_is_a_user_error() -> None:
    from agentos.cli.faults import as_user_error

    jax_oom = type("JaxRuntimeError", (RuntimeError,), {})(
        "RESOURCE_EXHAUSTED: Out of memory allocating 400000000000 bytes."
    )
    for e in (MemoryError(), jax_oom):
        error = as_user_error(e)
        assert error is not None and "out of memory" in str(error), e
        assert error.fix and "environment.num_envs" in error.fix
    assert as_user_error(type("JaxRuntimeError", (RuntimeError,), {})("INTERNAL: bug")) is None


def test_a_file_where_a_folder_is_needed_is_a_user_error() -> None:
    import errno

    from agentos.cli.faults import as_user_error

    e = NotADirectoryError(errno.ENOTDIR, "Not a directory", "afile/g.svg")
    error = as_user_error(e)
    assert error is not None and "afile/g.svg" in str(error) and error.fix


def test_damaged_tracking_store(agent_dir: Path, cli, monkeypatch) -> None:
    # A store that is not SQLite (or half-written) named, with the way out, not a traceback.
    db = agent_dir / "mlflow.db"
    db.write_text("garbage, not a database\n" * 100)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
    for command in (("run", "-e", "1"), ("runs",)):
        assert_clean_exit_2(
            *cli(*command, "--agent", agent_dir),
            ("tracking store is damaged", "not a database", "mv mlflow.db"),
        )


def test_tracking_store_without_a_file(agent_dir: Path, cli, monkeypatch) -> None:
    # sqlite:/// with no path is an in-memory store: the run would vanish with the command.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///")
    assert_clean_exit_2(
        *cli("run", "-e", "1", "--agent", agent_dir), ("names no database file", "unset")
    )


def test_missing_database_driver_is_a_user_error(monkeypatch) -> None:
    from agentos.cli.faults import as_user_error

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://u@127.0.0.1:1/db")
    error = as_user_error(ModuleNotFoundError("No module named 'psycopg'", name="psycopg"))
    assert error is not None and "psycopg" in str(error) and "pip install psycopg" in str(error)
    assert as_user_error(ModuleNotFoundError("No module named 'x'", name="x")) is None
