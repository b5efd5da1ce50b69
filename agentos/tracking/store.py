"""Run tracking on MLflow: one experiment per agent, one run per learn/run/bench.

The default store is a SQLite file in the agent folder (``mlflow.db``) with artifacts in
``mlartifacts/`` beside it; ``MLFLOW_TRACKING_URI`` overrides the store. Every function
takes the agent folder and builds its own ``MlflowClient`` with an explicit tracking URI,
so MLflow's global state (active run, global tracking URI) is never used or changed and
two agent folders can be tracked from one process.

Writing::

    with RunTracker.start(agent_dir, kind="learn", agent_name="my_agent", env_name="CartPole-v1",
                          params={"learner.learning_rate": 3e-4}, seed=0) as tracker:
        tracker.log_metrics({"train/loss": 0.5}, step=100)   # buffered, sent with log_batch

Reading (``agentos.tracking.runs``, re-exported here): ``list_runs``, ``get_run``,
``metric_history``, ``download_artifacts``.

Status is truthful (``agentos.tracking.liveness``, re-exported here): a run recorded as RUNNING
whose process is gone (killed with ``kill -9``, power loss) is reported as KILLED
(``effective_status``), and ``mark_stale_runs`` writes that into the store. Paths, tags and
the MLflow client are ``agentos.tracking.backend``. mlflow is imported inside functions only.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentos.errors import AgentOSError

# Paths, tags and the client (backend), run status (liveness) and reading (runs) live in their
# own modules; their names stay importable from here.
from agentos.tracking.backend import ARTIFACTS_DIRNAME as ARTIFACTS_DIRNAME
from agentos.tracking.backend import DB_FILENAME as DB_FILENAME
from agentos.tracking.backend import END_STATUSES as END_STATUSES
from agentos.tracking.backend import MIN_PREFIX as MIN_PREFIX
from agentos.tracking.backend import RETURN_METRIC as RETURN_METRIC
from agentos.tracking.backend import STEP_METRICS as STEP_METRICS
from agentos.tracking.backend import TAG_AGENT as TAG_AGENT
from agentos.tracking.backend import TAG_END_REASON as TAG_END_REASON
from agentos.tracking.backend import TAG_ENV as TAG_ENV
from agentos.tracking.backend import TAG_FOLDER as TAG_FOLDER
from agentos.tracking.backend import TAG_HOST as TAG_HOST
from agentos.tracking.backend import TAG_KIND as TAG_KIND
from agentos.tracking.backend import TAG_PID as TAG_PID
from agentos.tracking.backend import TAG_PID_START as TAG_PID_START
from agentos.tracking.backend import TAG_RESUMES as TAG_RESUMES
from agentos.tracking.backend import TAG_SEED as TAG_SEED
from agentos.tracking.backend import TAG_VERSION as TAG_VERSION
from agentos.tracking.backend import _agent_name as _agent_name
from agentos.tracking.backend import _client as _client
from agentos.tracking.backend import _experiment_id as _experiment_id
from agentos.tracking.backend import _now_ms as _now_ms
from agentos.tracking.backend import _store_exists as _store_exists
from agentos.tracking.backend import artifact_root as artifact_root
from agentos.tracking.backend import default_db_path as default_db_path
from agentos.tracking.backend import is_local_store as is_local_store
from agentos.tracking.backend import tracking_uri as tracking_uri
from agentos.tracking.liveness import _pid_alive as _pid_alive
from agentos.tracking.liveness import _proc_stat as _proc_stat
from agentos.tracking.liveness import effective_status as effective_status
from agentos.tracking.liveness import mark_stale_runs as mark_stale_runs
from agentos.tracking.runs import RunDetails as RunDetails
from agentos.tracking.runs import RunSummary as RunSummary
from agentos.tracking.runs import _iter_runs as _iter_runs
from agentos.tracking.runs import _lookup as _lookup
from agentos.tracking.runs import _resolve_run as _resolve_run
from agentos.tracking.runs import _summary as _summary
from agentos.tracking.runs import download_artifacts as download_artifacts
from agentos.tracking.runs import get_run as get_run
from agentos.tracking.runs import list_runs as list_runs
from agentos.tracking.runs import metric_history as metric_history
from agentos.tracking.runs import resolve_run_id as resolve_run_id

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

FLUSH_EVERY_METRICS = 500
FLUSH_EVERY_SECONDS = 5.0
# MLflow's limits for one log_batch call and for values.
_MAX_METRICS_PER_BATCH = 1000
_MAX_PARAMS_PER_BATCH = 100
_MAX_TAGS_PER_BATCH = 100
_MAX_PARAM_VALUE = 6000
_MAX_TAG_VALUE = 8000

ENV_PACKAGES = ("agentos", "jax", "jaxlib", "flax", "optax", "gymnasium", "numpy", "mlflow")


# --------------------------------------------------------------------------- writing


def _param_value(value: Any) -> str:
    """A param as text: strings as is, everything else as JSON (so YAML/JSON reads it back)."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, default=str)
        except (TypeError, ValueError):
            text = str(value)
    if len(text) > _MAX_PARAM_VALUE:
        logger.warning("param value truncated to %d characters", _MAX_PARAM_VALUE)
        text = text[: _MAX_PARAM_VALUE - 3] + "..."
    return text


def _tag_value(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _MAX_TAG_VALUE else text[: _MAX_TAG_VALUE - 3] + "..."


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _mlflow_source_tags(kind: str) -> dict[str, str]:
    """The tags the MLflow UI shows as a run's user and source columns."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return {
        "mlflow.user": user,
        "mlflow.source.type": "LOCAL",
        "mlflow.source.name": f"agentos {kind}",
    }


def _package_version(name: str) -> str | None:
    """The installed version of package ``name``; for ``agentos``, of this package's
    distribution (``agentos.DISTRIBUTION``), falling back to ``agentos.__version__``."""
    from importlib import metadata

    import agentos

    if name == "agentos":
        try:
            return metadata.version(agentos.DISTRIBUTION)
        except metadata.PackageNotFoundError:
            return agentos.__version__
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment_info() -> dict[str, Any]:
    """Python, platform and key package versions (read from metadata, nothing imported)."""
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": {name: _package_version(name) for name in ENV_PACKAGES},
    }


class RunTracker:
    """One tracked MLflow run: buffered metrics, params, tags, artifacts, a truthful end."""

    def __init__(self, client: MlflowClient, run_id: str, artifact_uri: str):
        self.client = client
        self.run_id = run_id
        self.artifact_uri = artifact_uri
        self._buffer: list[Any] = []
        self._last_flush = time.monotonic()
        self._ended = False
        self.status = "RUNNING"
        self.resumed_status: str | None = None
        """The status of a reopened run before this command; a FINISHED one stays FINISHED."""

    @classmethod
    def start(
        cls,
        agent_dir: Path,
        *,
        kind: str,
        agent_name: str,
        env_name: str,
        params: Mapping[str, Any],
        seed: int,
        tags: Mapping[str, str] | None = None,
        resume_run_id: str | None = None,
    ) -> RunTracker:
        """Start a run (or reopen ``resume_run_id``) in the agent's experiment."""
        client = _client(agent_dir)
        exp_id = _experiment_id(client, agent_dir, agent_name, create=True)
        stat = _proc_stat(os.getpid())
        own = {
            TAG_KIND: kind,
            TAG_AGENT: agent_name,
            TAG_ENV: env_name,
            TAG_SEED: str(seed),
            TAG_PID: str(os.getpid()),
            TAG_HOST: socket.gethostname(),
            TAG_VERSION: _package_version("agentos") or "unknown",
            TAG_FOLDER: str(Path(agent_dir).resolve()),
        }
        if stat is not None:
            own[TAG_PID_START] = stat[1]
        own.update(_mlflow_source_tags(kind))
        all_tags = {**{k: _tag_value(v) for k, v in (tags or {}).items()}, **own}
        if resume_run_id is None:
            run = client.create_run(
                exp_id,  # type: ignore[arg-type]
                tags=all_tags,
                run_name=f"{kind}-{env_name}-seed{seed}".replace("/", "_"),
            )
            existing: Mapping[str, str] = {}
        else:
            run = _resolve_run(client, exp_id, resume_run_id, agent_name)
            _refuse_another_folders_run(run, agent_dir)
            status = effective_status(run.info.status, run.data.tags)
            if status == "RUNNING" and run.data.tags.get(TAG_PID) != str(os.getpid()):
                raise AgentOSError(
                    f"run {run.info.run_id} is still running "
                    f"(process {run.data.tags.get(TAG_PID)} on {run.data.tags.get(TAG_HOST)})",
                    fix="wait for it to end or stop that process, then resume",
                )
            resumes = int(run.data.tags.get(TAG_RESUMES, "0")) + 1
            all_tags[TAG_RESUMES] = str(resumes)
            all_tags.pop(TAG_END_REASON, None)
            client.update_run(run.info.run_id, status="RUNNING")
            if TAG_END_REASON in run.data.tags:
                client.delete_tag(run.info.run_id, TAG_END_REASON)
            existing = run.data.params
        tracker = cls(client, run.info.run_id, run.info.artifact_uri)
        tracker.resumed_status = None if resume_run_id is None else status
        tracker._log_params(params, existing)
        if resume_run_id is not None:
            tracker.set_tags(all_tags)
        logger.info("tracking %s run %s in %s", kind, tracker.run_id, client.tracking_uri)
        return tracker

    def _log_params(self, params: Mapping[str, Any], existing: Mapping[str, str]) -> None:
        from mlflow.entities import Param

        from agentos.components.compat import render_only

        new, changed, moves, again = [], [], [], []
        for key, value in params.items():
            text = _param_value(value)
            if key not in existing:
                new.append(Param(str(key), text))
            elif existing[key] != text:
                changed.append(str(key))
                moves.append(f"{key} {existing[key]} -> {text}")
                if not render_only(str(key)):  # how episodes are shown: nothing to go back to
                    again.append(f"-p {key}={existing[key]}")
        if changed:
            # The resumed run is built from the parameters given now; only MLflow's record
            # of the run's params cannot change.
            logger.warning(
                "run %s continues with changed params: %s (the run's recorded params keep "
                "the first values; the changed keys are in its tag "
                "agentos.resume_changed_params).%s",
                self.run_id[:8],
                "; ".join(moves),
                " To continue with the first values, resume with the same overrides: "
                + " ".join(again)
                if again
                else "",
            )
            self.set_tags({"agentos.resume_changed_params": ", ".join(changed)})
        for chunk in _chunks(new, _MAX_PARAMS_PER_BATCH):
            self.client.log_batch(self.run_id, params=chunk)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Buffer metrics at ``step``; sent in batches (500 metrics or every 5 s)."""
        from mlflow.entities import Metric

        ts = _now_ms()
        for key, value in metrics.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise TypeError(
                    f"metric '{key}' must be a number, got {type(value).__name__}"
                ) from None
            if not math.isfinite(number):
                logger.debug("skipping non-finite metric %s=%s at step %s", key, number, step)
                continue
            self._buffer.append(Metric(str(key), number, ts, int(step)))
        if (
            len(self._buffer) >= FLUSH_EVERY_METRICS
            or time.monotonic() - self._last_flush >= FLUSH_EVERY_SECONDS
        ):
            self.flush()

    def flush(self) -> None:
        """Send the buffered metrics now."""
        buffer, self._buffer = self._buffer, []
        self._last_flush = time.monotonic()
        for chunk in _chunks(buffer, _MAX_METRICS_PER_BATCH):
            self.client.log_batch(self.run_id, metrics=chunk)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set (or overwrite) run tags."""
        from mlflow.entities import RunTag

        items = [RunTag(str(k), _tag_value(v)) for k, v in tags.items()]
        for chunk in _chunks(items, _MAX_TAGS_PER_BATCH):
            self.client.log_batch(self.run_id, tags=chunk)

    def log_text(self, text: str, artifact_file: str) -> None:
        """Store ``text`` as the artifact ``artifact_file``."""
        self.client.log_text(self.run_id, text, artifact_file)

    def log_dict(self, d: Mapping[str, Any], artifact_file: str) -> None:
        """Store a mapping as a YAML (``.yaml``/``.yml``) or JSON artifact."""
        self.client.log_dict(self.run_id, dict(d), artifact_file)

    def log_file(self, path: Path, artifact_path: str | None = None) -> None:
        """Copy a file (or a folder's contents) into the run's artifacts under ``artifact_path``."""
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path)
        else:
            self.client.log_artifact(self.run_id, str(path), artifact_path)

    def end(self, status: str = "FINISHED") -> None:
        """Flush and close the run as FINISHED, FAILED or KILLED; later calls do nothing."""
        if status not in END_STATUSES:
            raise ValueError(f"status must be one of {', '.join(END_STATUSES)}, got {status!r}")
        if self._ended:
            return
        self._ended = True
        try:
            self.flush()
        finally:
            self.client.set_terminated(self.run_id, status, end_time=_now_ms())
            self.status = status
            logger.info("run %s ended %s", self.run_id, status)

    def __enter__(self) -> RunTracker:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:  # type: ignore[exit-return]
        if exc_type is None:
            status = "FINISHED"
        elif issubclass(exc_type, SystemExit) and exc.code in (0, None):
            status = "FINISHED"  # sys.exit(0): the program ended normally
        elif issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
            status = "KILLED"
        else:
            status = "FAILED"
        if status != "FINISHED" and self.resumed_status == "FINISHED":
            from agentos.tracking.resume_guard import keep_finished

            status = keep_finished(self, status, exc)
        if exc_type is None:
            self.end(status)
        else:
            try:
                self.end(status)
            except Exception:  # never hide the original error
                logger.exception("could not close run %s as %s", self.run_id, status)
        return False


def _refuse_another_folders_run(run: Any, agent_dir: Path) -> None:
    """Two folders that share a tracking store (``MLFLOW_TRACKING_URI``) and an agent name
    see each other's runs; resuming the other folder's run would give it two histories (and
    leave that folder's checkpoint behind). A folder that no longer exists was moved here;
    a folder with its own store (the default) holds its own copy of the run."""
    origin = run.data.tags.get(TAG_FOLDER)
    here = Path(agent_dir).resolve()
    own_store = tracking_uri(agent_dir) == f"sqlite:///{default_db_path(agent_dir)}"
    if own_store or not origin or Path(origin) == here or not Path(origin).is_dir():
        return  # a copied folder has its own store (a copy of the run), so it may go on
    raise AgentOSError(
        f"run {run.info.run_id[:8]} belongs to the agent folder {origin}, not {here}: both "
        "share this tracking store, and resuming it here would give it two histories",
        fix=f"resume it in {origin}, or start a new run here with `agentos learn` (without "
        "--resume)",
    )
