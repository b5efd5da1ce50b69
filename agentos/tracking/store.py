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

Reading: ``list_runs``, ``get_run``, ``metric_history``, ``download_artifacts``.

Status is truthful: a run recorded as RUNNING whose process is gone (killed with
``kill -9``, power loss) is reported as KILLED (``effective_status``), and
``mark_stale_runs`` writes that into the store. mlflow is imported inside functions only.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import re
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from agentos.errors import AgentOSError, RunNotFoundError

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

logger = logging.getLogger(__name__)

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

STEP_METRICS = ("train/env_steps", "eval/env_steps")
RETURN_METRIC = "eval/return_mean"
END_STATUSES = ("FINISHED", "FAILED", "KILLED")
MIN_PREFIX = 6

FLUSH_EVERY_METRICS = 500
FLUSH_EVERY_SECONDS = 5.0
# MLflow's limits for one log_batch call and for values.
_MAX_METRICS_PER_BATCH = 1000
_MAX_PARAMS_PER_BATCH = 100
_MAX_TAGS_PER_BATCH = 100
_MAX_PARAM_VALUE = 6000
_MAX_TAG_VALUE = 8000

ENV_PACKAGES = ("agentos", "jax", "jaxlib", "flax", "optax", "gymnasium", "numpy", "mlflow")


# --------------------------------------------------------------------------- store


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

    return MlflowClient(tracking_uri=tracking_uri(agent_dir))


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


# --------------------------------------------------------------------------- liveness


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


# --------------------------------------------------------------------------- writing


def _now_ms() -> int:
    return int(time.time() * 1000)


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
    from importlib import metadata

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

        new, changed = [], []
        for key, value in params.items():
            text = _param_value(value)
            if key not in existing:
                new.append(Param(str(key), text))
            elif existing[key] != text:
                changed.append(str(key))
        if changed:
            logger.warning(
                "run %s: params changed since it started, kept the first values: %s",
                self.run_id,
                ", ".join(changed),
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


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class RunSummary:
    """One row of the runs table."""

    run_id: str
    """MLflow run id (32 hex characters)."""
    kind: str
    """What made it: learn, run, bench, ..."""
    agent: str
    """Agent name (the experiment name)."""
    env: str
    """Environment name."""
    steps: int | None
    """Latest ``train/env_steps`` (else ``eval/env_steps``); None when not logged."""
    eval_return: float | None
    """Latest ``eval/return_mean``; None when not logged."""
    status: str
    """Effective status: RUNNING, FINISHED, FAILED, KILLED (a dead RUNNING run is KILLED)."""
    start_time: datetime
    """When the run started (local time zone)."""
    seed: int | None
    """The run's seed; None when not recorded."""


@dataclass(frozen=True)
class RunDetails:
    """Everything stored about one run."""

    summary: RunSummary
    """The table row (with the effective status)."""
    params: Mapping[str, str]
    """Logged params, flat dotted keys -> text."""
    metrics: Mapping[str, float]
    """Latest value of every metric."""
    tags: Mapping[str, str]
    """All tags, including MLflow's own (``mlflow.*``)."""
    artifacts: tuple[str, ...] = ()
    """Artifact file paths relative to the run's artifact root."""
    artifact_uri: str = ""
    """Where the run's artifacts are stored."""
    recorded_status: str = ""
    """The status as written in the store (may say RUNNING for a dead run)."""
    end_time: datetime | None = field(default=None)
    """When the run ended; None while running (or killed without notice)."""

    @property
    def run_id(self) -> str:
        """The full run id."""
        return self.summary.run_id


def _datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000).astimezone()


def _summary(run: Run) -> RunSummary:
    info = run.info
    return _summary_of(info.run_id, info.status, info.start_time, run.data.tags, run.data.metrics)


def _summary_of(
    run_id: str, status: str, start_ms: int | None, tags: Mapping[str, str], metrics: Mapping
) -> RunSummary:
    # An offline learn run never steps the environment: its counter is learner updates.
    offline = tags.get("agentos.offline") == "true"
    keys = ("train/learner_updates",) if offline else STEP_METRICS
    steps = next((metrics[k] for k in keys if k in metrics), None)
    seed = tags.get(TAG_SEED)
    return RunSummary(
        run_id=run_id,
        kind=tags.get(TAG_KIND, ""),
        agent=tags.get(TAG_AGENT, ""),
        env=tags.get(TAG_ENV, ""),
        steps=None if steps is None else int(steps),
        eval_return=metrics.get(RETURN_METRIC),
        status=effective_status(status, tags),
        start_time=_datetime(start_ms) or datetime.fromtimestamp(0).astimezone(),
        seed=int(seed) if seed is not None and seed.lstrip("-").isdigit() else None,
    )


def _iter_runs(
    client: MlflowClient, exp_id: str, filter_string: str = "", limit: int | None = None
) -> Iterator[Run]:
    token = None
    seen = 0
    while limit is None or seen < limit:
        page_size = 1000 if limit is None else min(1000, limit - seen)
        page = client.search_runs(
            [exp_id],
            filter_string,
            max_results=page_size,
            order_by=["attributes.start_time DESC"],
            page_token=token,
        )
        for run in page:
            yield run
            seen += 1
        token = page.token
        if not token:
            return


def list_runs(
    agent_dir: Path, max_results: int = 200, *, agent_name: str | None = None
) -> list[RunSummary]:
    """The agent's runs, newest first (``agent_name`` defaults to the spec's name).

    A local sqlite store is read directly (``sqlite_reader``: no mlflow import, so
    ``agentos runs`` answers in well under a second); other stores through MLflow.
    """
    from agentos.tracking.sqlite_reader import read_runs, sqlite_path

    name = _agent_name(agent_dir, agent_name)
    if not _store_exists(agent_dir):
        return []
    db = sqlite_path(tracking_uri(agent_dir))
    rows = None if db is None else read_runs(db, name, max_results)
    if rows is not None:
        return [
            _summary_of(r["run_id"], r["status"], r["start_time"], r["tags"], r["metrics"])
            for r in rows
        ]
    client = _client(agent_dir)
    exp_id = _experiment_id(client, agent_dir, name, create=False)
    if exp_id is None:
        return []
    return [_summary(run) for run in _iter_runs(client, exp_id, limit=max_results)]


def _not_found(message: str) -> RunNotFoundError:
    return RunNotFoundError(
        message, fix="see `agentos runs` for the run ids (a unique prefix of 6+ characters works)"
    )


def _resolve_run(client: MlflowClient, exp_id: str | None, run_id: str, agent: str) -> Run:
    """The run whose id is ``run_id`` or starts with it (unique, >= 6 characters)."""
    from mlflow.exceptions import MlflowException

    prefix = run_id.strip().lower()
    if len(prefix) < MIN_PREFIX or not re.fullmatch(r"[0-9a-f]+", prefix):
        raise _not_found(
            f"'{run_id}' is not a run id: give the id or at least {MIN_PREFIX} of its first "
            "hex characters"
        )
    if exp_id is None:
        raise _not_found(f"agent '{agent}' has no runs, so no run '{run_id}'")
    try:
        matches = list(
            client.search_runs([exp_id], f"attributes.run_id LIKE '{prefix}%'", max_results=2)
        )
    except MlflowException:  # a store without LIKE on run ids: scan
        matches = [r for r in _iter_runs(client, exp_id) if r.info.run_id.startswith(prefix)]
        matches = matches[:2]
    if not matches:
        raise _not_found(f"no run '{run_id}' for agent '{agent}'")
    if len(matches) > 1:
        ids = ", ".join(r.info.run_id[:12] for r in matches)
        raise _not_found(f"run id prefix '{run_id}' is ambiguous ({ids}, ...): give more of it")
    return matches[0]


def _lookup(agent_dir: Path, run_id: str, agent_name: str | None) -> tuple[MlflowClient, Run]:
    name = _agent_name(agent_dir, agent_name)
    if not _store_exists(agent_dir):
        raise _not_found(f"agent '{name}' has no runs yet, so no run '{run_id}'")
    client = _client(agent_dir)
    exp_id = _experiment_id(client, agent_dir, name, create=False)
    return client, _resolve_run(client, exp_id, run_id, name)


def _artifact_files(client: MlflowClient, run_id: str, limit: int) -> list[str]:
    out: list[str] = []
    pending: list[str | None] = [None]
    while pending and len(out) < limit:
        for info in client.list_artifacts(run_id, pending.pop()):
            if info.is_dir:
                pending.append(info.path)
            else:
                out.append(info.path)
    return sorted(out)[:limit]


def get_run(
    agent_dir: Path, run_id: str, *, agent_name: str | None = None, max_artifacts: int = 500
) -> RunDetails:
    """Params, latest metrics, tags and artifacts of a run (id or unique prefix)."""
    client, run = _lookup(agent_dir, run_id, agent_name)
    return RunDetails(
        summary=_summary(run),
        params=MappingProxyType(dict(run.data.params)),
        metrics=MappingProxyType(dict(run.data.metrics)),
        tags=MappingProxyType(dict(run.data.tags)),
        artifacts=tuple(_artifact_files(client, run.info.run_id, max_artifacts)),
        artifact_uri=run.info.artifact_uri,
        recorded_status=run.info.status,
        end_time=None if run.info.status == "RUNNING" else _datetime(run.info.end_time),
    )


def resolve_run_id(agent_dir: Path, run_id: str, *, agent_name: str | None = None) -> str:
    """The full id of the agent's run given by id or unique prefix."""
    return _lookup(agent_dir, run_id, agent_name)[1].info.run_id


def download_artifacts(
    agent_dir: Path,
    run_id: str,
    artifact_path: str,
    dst_path: Path | None = None,
    *,
    agent_name: str | None = None,
) -> Path:
    """A local copy of a run's artifact (file or folder)."""
    from mlflow.exceptions import MlflowException

    client, run = _lookup(agent_dir, run_id, agent_name)
    if dst_path is not None:
        Path(dst_path).mkdir(parents=True, exist_ok=True)
    try:
        local = client.download_artifacts(
            run.info.run_id, artifact_path, None if dst_path is None else str(dst_path)
        )
    except (MlflowException, OSError) as e:
        raise AgentOSError(
            f"run {run.info.run_id} has no artifact '{artifact_path}' ({e})",
            fix=f"see `agentos runs show {run.info.run_id[:8]}` for its artifacts",
        ) from None
    return Path(local)


def metric_history(
    agent_dir: Path, run_id: str, key: str, *, agent_name: str | None = None
) -> list[tuple[int, float]]:
    """All (step, value) pairs of a run's metric, in step order."""
    client, run = _lookup(agent_dir, run_id, agent_name)
    history = client.get_metric_history(run.info.run_id, key)
    return [(m.step, m.value) for m in sorted(history, key=lambda m: (m.step, m.timestamp))]
