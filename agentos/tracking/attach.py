"""Add a file to the artifacts of a run that has already ended (plots made afterwards)."""

from __future__ import annotations

from pathlib import Path

from agentos.tracking.store import _lookup


def attach_file(agent_dir: Path, run_id: str, path: Path, artifact_path: str) -> None:
    """Copy ``path`` into run ``run_id``'s artifacts under ``artifact_path``."""
    client, run = _lookup(Path(agent_dir), run_id, None)
    client.log_artifact(run.info.run_id, str(path), artifact_path)
