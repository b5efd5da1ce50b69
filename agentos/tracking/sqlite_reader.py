"""Read the runs table straight from a local MLflow sqlite store, without importing mlflow.

``agentos runs`` only needs each run's tags, status, start time and two latest metrics.
Importing mlflow takes seconds; three SQL queries on the store take milliseconds. The schema
read here (``experiments``, ``runs``, ``tags``, ``latest_metrics``) is MLflow's own; if it
does not answer as expected (another MLflow version, a remote store), the caller falls
back to the MLflow client.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

SQLITE_PREFIX = "sqlite:///"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI (None for other stores)."""
    return Path(uri[len(SQLITE_PREFIX) :]) if uri.startswith(SQLITE_PREFIX) else None


def read_runs(
    db: Path, experiment: str, limit: int, status: str | None = None
) -> list[dict[str, Any]] | None:
    """The experiment's newest runs (with ``status`` only, if given) as ``{run_id, status,
    start_time, tags, metrics}``.

    None when the store cannot be read this way; [] when the experiment has no runs.
    """
    if not db.is_file():
        return []
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        row = con.execute(
            "SELECT experiment_id FROM experiments WHERE name = ? AND lifecycle_stage = 'active'",
            (experiment,),
        ).fetchone()
        if row is None:
            return []
        runs = con.execute(
            "SELECT run_uuid, status, start_time FROM runs WHERE experiment_id = ? AND "
            "lifecycle_stage = 'active' AND (? IS NULL OR status = ?) "
            "ORDER BY start_time DESC LIMIT ?",
            (row[0], status, status, min(int(limit), 2**63 - 1)),  # SQLite's integers: 64 bits
        ).fetchall()
        ids = [r[0] for r in runs]
        marks = ",".join("?" * len(ids))
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
        if ids:
            for run_id, key, value in con.execute(
                f"SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({marks})", ids
            ):
                tags[run_id][key] = value
            for run_id, key, value in con.execute(
                f"SELECT run_uuid, key, value FROM latest_metrics WHERE run_uuid IN ({marks})",
                ids,
            ):
                metrics[run_id][key] = float(value)
    except sqlite3.Error:
        return None
    finally:
        con.close()
    return [
        {"run_id": i, "status": s, "start_time": t, "tags": tags[i], "metrics": metrics[i]}
        for i, s, t in runs
    ]
