"""A moved (or copied) agent folder: MLflow keeps each experiment's artifact location in
``mlflow.db``, so new runs would keep writing artifacts to the old folder. Say so."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)


def artifact_location_problem(agent_dir: Path, agent_name: str) -> str | None:
    """A message when the agent's experiment stores artifacts outside this agent folder
    (the folder was moved or copied), else None. Only for the default store in the folder."""
    from agentos.tracking.store import artifact_root, default_db_path

    if os.environ.get("MLFLOW_TRACKING_URI") or not default_db_path(agent_dir).is_file():
        return None
    from mlflow import MlflowClient

    from agentos.tracking.store import tracking_uri

    exp = MlflowClient(tracking_uri(agent_dir)).get_experiment_by_name(agent_name)
    if exp is None or not exp.artifact_location.startswith("file:"):
        return None
    stored = Path(unquote(urlsplit(exp.artifact_location).path))
    here = artifact_root(agent_dir)
    if stored == here:
        return None
    state = "no longer exists" if not stored.exists() else "is another folder's"
    return (
        f"this agent folder was moved or copied: its mlflow.db keeps run artifacts in {stored}, "
        f"which {state}; new runs' artifacts (checkpoints, specs, plots) go there, not to "
        f"{here}. Fix: to keep everything in this folder, move mlflow.db and mlartifacts/ "
        "aside (runs start afresh), or set MLFLOW_TRACKING_URI to a shared store"
    )


def warn_if_moved(agent_dir: Path, agent_name: str) -> None:
    """Log the ``artifact_location_problem`` as a warning (shown by the CLI)."""
    try:
        problem = artifact_location_problem(agent_dir, agent_name)
    except Exception:  # a check, never a reason to fail the command
        logger.debug("could not check the artifact location", exc_info=True)
        return
    if problem:
        logger.warning(problem)
