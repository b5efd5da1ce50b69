"""Truthful run status: a run recorded as RUNNING whose process is gone (killed with
``kill -9``, power loss) is reported as KILLED (``effective_status``), and
``mark_stale_runs`` writes that into the store.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path

from agentos.tracking.backend import (
    TAG_END_REASON,
    TAG_HOST,
    TAG_PID,
    TAG_PID_START,
    _agent_name,
    _client,
    _experiment_id,
    _now_ms,
    _store_exists,
    tracking_uri,
)

logger = logging.getLogger("agentos.tracking.store")


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks) of a process from /proc, or None off Linux."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    if len(fields) < 20:
        return None
    return fields[0], fields[19]


def _pid_alive(pid: int, start: str | None = None) -> bool:
    """Whether process ``pid`` (started at ``start`` ticks, when known) still runs here."""
    if os.name == "nt":  # os.kill would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by another user
    except OSError:
        return True
    stat = _proc_stat(pid)
    if stat is not None:
        state, started = stat
        if state in ("Z", "X"):
            return False  # exited, not yet reaped
        if start and started != start:
            return False  # the pid was reused by another process
    return True


def effective_status(status: str, tags: Mapping[str, str]) -> str:
    """The run's status, KILLED when it is RUNNING but its process on this host is gone."""
    if status != "RUNNING":
        return status
    if tags.get(TAG_HOST) != socket.gethostname():
        return status  # another machine: cannot tell
    try:
        pid = int(tags.get(TAG_PID, ""))
    except ValueError:
        return status  # not started by agentos
    return status if _pid_alive(pid, tags.get(TAG_PID_START)) else "KILLED"


def mark_stale_runs(agent_dir: Path, *, agent_name: str | None = None) -> list[str]:
    """Write KILLED (with an end time) for RUNNING runs whose process is gone; their ids."""
    from agentos.tracking.runs import _iter_runs
    from agentos.tracking.sqlite_reader import read_runs, sqlite_path

    if not _store_exists(agent_dir):
        return []
    db = sqlite_path(tracking_uri(agent_dir))
    running = (
        None if db is None else read_runs(db, _agent_name(agent_dir, agent_name), 10**6, "RUNNING")
    )
    if running is not None and all(
        effective_status("RUNNING", r["tags"]) == "RUNNING" for r in running
    ):
        return []  # nothing to write: no need for MLflow (seconds to import)
    client = _client(agent_dir)
    exp_id = _experiment_id(client, agent_dir, _agent_name(agent_dir, agent_name), create=False)
    if exp_id is None:
        return []
    marked = []
    for run in _iter_runs(client, exp_id, "attributes.status = 'RUNNING'"):
        tags = run.data.tags
        if effective_status(run.info.status, tags) != "KILLED":
            continue
        reason = (
            f"process {tags.get(TAG_PID)} on {tags.get(TAG_HOST)} ended without closing the run"
        )
        client.set_tag(run.info.run_id, TAG_END_REASON, reason)
        client.set_terminated(run.info.run_id, "KILLED", end_time=_now_ms())
        logger.info("marked run %s KILLED: %s", run.info.run_id, reason)
        marked.append(run.info.run_id)
    return marked
