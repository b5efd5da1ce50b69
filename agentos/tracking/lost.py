"""A tracking store lost during a run (``mlflow.db`` deleted while ``learn`` runs): notice it
at the next checkpoint, stop with the checkpoint kept, and let ``--resume`` continue the run's
training in a new tracked run (the old run's records are gone with the store)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from agentos.errors import AgentOSError

logger = logging.getLogger(__name__)

TAG_CONTINUES = "agentos.continues"
"""Set on a run that continues the checkpoint of a run its store no longer has."""


def store_missing(agent_dir: Path) -> bool:
    """Whether the agent folder's default store (``mlflow.db``) was deleted during the run
    (SQLite then makes a new, empty file at the next write, or refuses to write)."""
    from agentos.tracking.store import default_db_path

    if os.environ.get("MLFLOW_TRACKING_URI"):
        return False
    db = default_db_path(agent_dir)
    return not db.is_file() or db.stat().st_size == 0


def check_store_kept(agent_dir: Path, run_id: str, checkpoint: Path) -> None:
    """Raise when the agent folder's default store file has disappeared during the run."""
    from agentos.tracking.store import default_db_path

    if not store_missing(agent_dir):
        return
    db = default_db_path(agent_dir)
    raise AgentOSError(
        f"the tracking store {db} was deleted while run {run_id[:8]} was learning: its "
        f"metrics and records since then are lost; the checkpoint {checkpoint} is kept",
        where=str(db),
        fix=f"continue the training with `agentos learn --resume --from {run_id[:8]}` (a new "
        f"tracked run), or evaluate it with `agentos run --checkpoint {run_id[:8]}`",
    )


def run_is_tracked(agent_dir: Path, run_id: str, agent_name: str) -> bool:
    """Whether the store still has ``run_id`` (False when it was lost with its store)."""
    from agentos.errors import RunNotFoundError
    from agentos.tracking.store import get_run

    try:
        get_run(agent_dir, run_id, agent_name=agent_name, max_artifacts=0)
    except RunNotFoundError:
        return False
    return True
