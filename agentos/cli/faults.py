"""Faults of the machine rather than the input: an unwritable folder, a full disk, memory
that runs out, a tracking store that cannot be reached. The CLI reports them like input
errors (one message naming the file or store, a Fix line, exit 2); ``--debug`` shows the
traceback instead."""

from __future__ import annotations

import errno
import os

from agentos.errors import AgentOSError

_READ_ONLY = (errno.EACCES, errno.EPERM, errno.EROFS)


_STORE_LIBRARIES = ("mlflow", "sqlalchemy", "sqlite3", "alembic")
_STORE_DRIVERS = ("psycopg", "psycopg2", "pymysql", "MySQLdb", "pyodbc", "pymssql")
_DAMAGED_STORE = (
    "file is not a database",
    "database disk image is malformed",
    "_alembic_tmp",
    "online migration expected",
)


def _from_store(e: BaseException) -> bool:
    """Raised by MLflow or the database layers under it."""
    return any(cls.__module__.split(".")[0] in _STORE_LIBRARIES for cls in type(e).__mro__)


def _store_fault(e: BaseException) -> AgentOSError:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    where = f"MLFLOW_TRACKING_URI={uri}" if uri else "the agent folder's mlflow.db"
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    if any(mark in str(e).lower() for mark in _DAMAGED_STORE):
        name = "the store's database" if uri else "mlflow.db"
        return AgentOSError(
            f"the tracking store is damaged or was left half-created: {first[:300]}",
            where=where,
            fix=f"move {name} aside (e.g. `mv mlflow.db mlflow.db.broken`) and run the command "
            "again: a new store is made, the checkpoints under .agentos/ are kept, but the old "
            "runs are no longer listed",
        )
    return AgentOSError(
        f"the tracking store failed: {first[:400]}",
        where=where,
        fix="check that the store is reachable and writable (start the MLflow server, or "
        "unset MLFLOW_TRACKING_URI to track in the agent folder's mlflow.db)",
    )


def _out_of_memory(e: BaseException) -> bool:
    """A MemoryError, or an accelerator runtime's allocation failure (JAX/XLA raise
    ``RESOURCE_EXHAUSTED: Out of memory allocating ...``)."""
    if isinstance(e, MemoryError):
        return True
    text = str(e)
    return type(e).__name__ in ("JaxRuntimeError", "XlaRuntimeError") and (
        "RESOURCE_EXHAUSTED" in text or "Out of memory" in text
    )


def as_user_error(e: BaseException) -> AgentOSError | None:
    """The ``AgentOSError`` to print for ``e``, or None when ``e`` is a bug to show as one."""
    if isinstance(e, OSError) and e.errno is not None:
        where = e.filename if e.filename else None
        what = e.strerror or str(e)
        if e.errno in _READ_ONLY:
            return AgentOSError(
                f"cannot write here: {what}",
                where=str(where) if where else None,
                fix="make the agent folder (and MLFLOW_TRACKING_URI's store) writable, or copy "
                "the agent to a folder you can write and run it there",
            )
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            return AgentOSError(
                f"the disk is full: {what}",
                where=str(where) if where else None,
                fix="free some space and run the command again (a learn keeps its last "
                "complete checkpoint: continue it with `agentos learn --resume`)",
            )
        if e.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR) and where is not None:
            return AgentOSError(
                f"{what}",
                where=str(where),
                fix="check the path: a part of it is a file where a folder is needed, or a "
                "folder where a file is",
            )
        if e.errno == errno.ENOENT and where is not None:
            return AgentOSError(f"{what}", where=str(where), fix=_missing_path_fix(str(where)))
        return None
    if _out_of_memory(e):
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return AgentOSError(
            f"out of memory: {first[:300]}",
            fix="make the agent smaller: fewer environment copies (-p environment.num_envs), "
            "a smaller replay (-p replay.capacity), smaller networks (-p "
            "network.hidden_sizes) or batches (-p learner.batch_size); `agentos show` lists "
            "the values in use",
        )
    if _from_store(e):
        return _store_fault(e)
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if isinstance(e, ModuleNotFoundError) and uri and e.name in _STORE_DRIVERS:
        return AgentOSError(
            f"the tracking store needs the database driver '{e.name}', which is not installed",
            where=f"MLFLOW_TRACKING_URI={uri}",
            fix=f"install it into this environment (`pip install {e.name}`), or unset "
            "MLFLOW_TRACKING_URI to track in the agent folder's mlflow.db",
        )
    return None


def _missing_path_fix(path: str) -> str:
    """Name the missing path; MLFLOW_TRACKING_URI only when it is set (a missing output
    folder has nothing to do with tracking otherwise)."""
    fix = (
        f"check the path {path}: a folder in it does not exist and cannot be made there; "
        "create it, or give a path in a folder you can write"
    )
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        fix += (
            f" (if it is the tracking store's, check MLFLOW_TRACKING_URI={uri}, or unset it "
            "to track in the agent folder's mlflow.db)"
        )
    return fix
