"""Fixtures for tracking tests: one migrated SQLite store, copied into each agent folder.

Creating an MLflow SQLite store runs its migrations (seconds); copying a migrated file
takes milliseconds, so every test still gets its own, empty store at the default path.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly migrated, empty MLflow SQLite store."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def make_agent_dir(
    tmp_path: Path, template_db: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Path]:
    """Factory: an agent folder ``name`` with a minimal spec and (optionally) an empty store."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    def make(name: str, *, with_store: bool = True) -> Path:
        agent = tmp_path / name
        agent.mkdir()
        (agent / "agentos.yaml").write_text(f"name: {name}\ncomponents: {{}}\n")
        if with_store:
            shutil.copy(template_db, agent / "mlflow.db")
        return agent

    return make


@pytest.fixture
def agent_dir(make_agent_dir: Callable[..., Path]) -> Path:
    """An agent folder ``agent_a`` whose default store (``mlflow.db``) exists and is empty."""
    return make_agent_dir("agent_a")
