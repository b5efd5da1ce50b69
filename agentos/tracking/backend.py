"""Where an agent's runs are stored and how to reach them: the tracking URI, the agent's
experiment, the tags every run carries. Shared by writing (``store``), reading (``runs``) and
run status (``liveness``); ``agentos.tracking.store`` re-exports every public name.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; opening stays unserialised there
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from mlflow import MlflowClient

DB_FILENAME = "mlflow.db"
ARTIFACTS_DIRNAME = "mlartifacts"

# Tags every agentos run carries.
TAG_KIND = "agentos.kind"
TAG_AGENT = "agentos.agent"
TAG_ENV = "agentos.env"
TAG_SEED = "agentos.seed"
TAG_PID = "agentos.pid"
TAG_PID_START = "agentos.pid_start"
TAG_HOST = "agentos.host"
TAG_VERSION = "agentos.version"
TAG_RESUMES = "agentos.resumes"
TAG_END_REASON = "agentos.end_reason"
TAG_FOLDER = "agentos.folder"
"""The agent folder a run was started (or last resumed) in."""

STEP_METRICS = ("train/env_steps", "eval/env_steps")
RETURN_METRIC = "eval/return_mean"
END_STATUSES = ("FINISHED", "FAILED", "KILLED")
MIN_PREFIX = 6


def tracking_uri(agent_dir: Path) -> str:
    """The tracking URI: ``MLFLOW_TRACKING_URI`` if set, else the agent's ``mlflow.db``."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{default_db_path(agent_dir)}"


def default_db_path(agent_dir: Path) -> Path:
    """The default SQLite store of an agent folder (absolute)."""
    return Path(agent_dir).expanduser().resolve() / DB_FILENAME


def artifact_root(agent_dir: Path) -> Path:
    """Where the artifacts of a local store's runs go: ``<agent_dir>/mlartifacts``."""
    return Path(agent_dir).expanduser().resolve() / ARTIFACTS_DIRNAME


def is_local_store(uri: str) -> bool:
    """Whether ``uri`` is a store on this machine (a SQLite file or a folder)."""
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def _store_exists(agent_dir: Path) -> bool:
    """False when the default store was never created (so reading needs no store)."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return True
    return default_db_path(agent_dir).is_file()


def _client(agent_dir: Path) -> MlflowClient:
    from mlflow import MlflowClient

    uri = tracking_uri(agent_dir)
    with _store_setup_lock(uri):
        return MlflowClient(tracking_uri=uri)


@contextmanager
def _store_setup_lock(uri: str) -> Iterator[None]:
    """Serialise opening a local SQLite store across processes: opening one creates and
    migrates its tables, and two commands doing that at once in a new folder left a store
    that every later command failed on."""
    from agentos.errors import AgentOSError
    from agentos.tracking.sqlite_reader import SQLITE_PREFIX, sqlite_path

    db = sqlite_path(uri)
    if uri.startswith(SQLITE_PREFIX) and not uri[len(SQLITE_PREFIX) :].strip():
        raise AgentOSError(
            f"MLFLOW_TRACKING_URI={uri} names no database file, so every run would be kept "
            "in memory and lost when the command ends",
            fix="name a file (e.g. sqlite:////home/me/mlflow.db), or unset MLFLOW_TRACKING_URI "
            "to track in the agent folder's mlflow.db",
        )
    if db is None or fcntl is None or not db.parent.is_dir():
        yield
        return
    with open(db.parent / f".{db.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _experiment_id(client: MlflowClient, agent_dir: Path, name: str, *, create: bool) -> str | None:
    """The id of the agent's experiment, created (with local artifacts) when asked."""
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(name)
    if exp is not None:
        if exp.lifecycle_stage == "deleted" and create:
            client.restore_experiment(exp.experiment_id)
        return exp.experiment_id
    if not create:
        return None
    location = None
    if is_local_store(client.tracking_uri):
        root = artifact_root(agent_dir)
        root.mkdir(parents=True, exist_ok=True)
        location = root.as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException:  # created by another process in the meantime
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def _agent_name(agent_dir: Path, agent_name: str | None) -> str:
    if agent_name:
        return agent_name
    from agentos.components.spec import load_spec

    return load_spec(agent_dir).name


def _now_ms() -> int:
    return int(time.time() * 1000)
