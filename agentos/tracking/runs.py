"""Reading runs back: the runs table (``list_runs``), one run (``get_run``), its metric
histories and artifacts. Statuses are the effective ones (``liveness``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from agentos.errors import AgentOSError, RunNotFoundError
from agentos.tracking.backend import (
    MIN_PREFIX,
    RETURN_METRIC,
    STEP_METRICS,
    TAG_AGENT,
    TAG_ENV,
    TAG_KIND,
    TAG_SEED,
    _agent_name,
    _client,
    _experiment_id,
    _store_exists,
    tracking_uri,
)
from agentos.tracking.checkpoints import looks_like_path
from agentos.tracking.liveness import effective_status

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run


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
    if looks_like_path(run_id):
        raise _not_found(f"'{run_id}' is a file path: a run is given by its ID (or a prefix)")
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
