"""Reproduce a tracked run: the stored spec, overrides, seed and budget, run again.

Component files are checked against the hashes in the run's lock first, so a rerun that
cannot be faithful says so instead of quietly running different code. An offline learn run
(tag ``agentos.offline``) is rerun offline: the same learner updates on the same dataset (its
``replay.dataset`` override, whose digest the lock pins), with or without evaluation as the
original (tag ``agentos.offline_evaluation``). Without evaluation there are no returns to
compare, so the learner's logged ``train/loss`` history is compared instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agentos.errors import AgentOSError, IntegrityError

TAG_OFFLINE = "agentos.offline"
"""Set to ``true`` on learn runs that learned from a dataset (``learn --offline``)."""
TAG_OFFLINE_EVALUATION = "agentos.offline_evaluation"
"""``true``/``false``: whether the offline run played evaluation episodes."""
OFFLINE_METRIC = "train/loss"
"""What an offline rerun without evaluation compares."""


@dataclass(frozen=True)
class RerunReport:
    """The outcome of a rerun."""

    original_run_id: str
    new_run_id: str
    original_returns: list[float]
    """Evaluation mean returns of the original, in order."""
    new_returns: list[float]
    """Evaluation mean returns of the rerun, in order."""
    compared: str = "eval/return_mean"
    """The metric whose history is compared (``train/loss`` for offline runs without
    evaluation)."""

    @property
    def identical(self) -> bool:
        """Whether there was something to compare and every value of it matched exactly."""
        return bool(self.original_returns) and self.original_returns == self.new_returns


def rerun_run(
    agent_dir: Path,
    run_id: str,
    *,
    load_agent: Callable[[str, Path, list[str]], Any],
    force: bool = False,
) -> RerunReport:
    """Run ``run_id`` again from what was tracked and compare evaluation returns.

    ``load_agent(spec_text, agent_dir, overrides)`` makes the agent to run (an
    ``agentos.api.Agent``; tracking knows nothing of the API layer above it)."""
    from agentos.tracking.store import download_artifacts, get_run, metric_history

    run = get_run(agent_dir, run_id)
    kind = run.tags.get("agentos.kind")
    if kind not in ("learn", "run"):
        raise AgentOSError(
            f"run {run.run_id[:8]} is a '{kind}' run; rerun reproduces learn and run runs",
            fix="pick a learn or run id from `agentos runs`",
        )
    if run.summary.status == "FAILED":
        raise AgentOSError(
            f"run {run.run_id[:8]} FAILED, so it has no result to reproduce",
            fix="fix what made it fail (`agentos runs show ID` has its error), then `agentos "
            "learn` again; rerun a FINISHED run",
        )
    if run.summary.status in ("KILLED", "RUNNING"):
        short = run.run_id[:8]
        done = f" at {run.summary.steps:,} env steps" if run.summary.steps is not None else ""
        raise AgentOSError(
            f"run {short} is {run.summary.status}: it stopped{done} before its end, so "
            "there is no final result for a rerun (which would run the whole budget) to match",
            fix=(
                f"finish it with `agentos learn --resume --from {short}`, then rerun it"
                if kind == "learn" and run.summary.status == "KILLED"
                else "rerun a FINISHED run"
            ),
        )
    spec_text = Path(download_artifacts(agent_dir, run.run_id, "agentos.yaml")).read_text()
    lock = yaml.safe_load(Path(download_artifacts(agent_dir, run.run_id, "lock.yaml")).read_text())
    overrides = json.loads(run.tags.get("agentos.overrides", "[]"))
    seed = _count_tag(run, "agentos.seed")
    agent = load_agent(spec_text, agent_dir, overrides)

    changed = [
        f"components.{name}: {entry['hash']} -> {now['hash']}"
        for name, now in agent.lock().items()
        if (entry := (lock or {}).get(name)) and entry.get("hash") != now["hash"]
    ]
    if changed and not force:
        raise IntegrityError(
            "component files changed since the run, so a rerun would not reproduce it: "
            + "; ".join(changed),
            where=f"run {run.run_id[:8]}",
            fix="restore those files (e.g. git checkout), or pass --force to rerun anyway",
        )
    tags = {"agentos.rerun_of": run.run_id}
    if kind == "learn" and run.tags.get(TAG_OFFLINE) == "true":
        evaluate = run.tags.get(TAG_OFFLINE_EVALUATION, "true") == "true"
        result = agent.learn_offline(
            _count_tag(run, "agentos.steps"), seed=seed, evaluate=evaluate, tags=tags
        )
        if not evaluate:
            original = [v for _, v in metric_history(agent_dir, run.run_id, OFFLINE_METRIC)]
            new = [v for _, v in metric_history(agent_dir, result.run_id, OFFLINE_METRIC)]
            return RerunReport(run.run_id, result.run_id, original, new, OFFLINE_METRIC)
    elif kind == "learn":
        result = agent.learn(_count_tag(run, "agentos.steps"), seed=seed, tags=tags)
    else:
        result = agent.run(
            int(run.tags.get("agentos.episodes", "10")),
            seed=seed,
            checkpoint=run.tags.get("agentos.checkpoint_run"),
        )
    original = [v for _, v in metric_history(agent_dir, run.run_id, "eval/return_mean")]
    new = [h["return_mean"] for h in result.eval_history]
    return RerunReport(run.run_id, result.run_id, original, new)


def _count_tag(run: Any, tag: str) -> int:
    """A whole-number tag of ``run`` (seed, steps); a missing or garbled one is an error."""
    text = run.tags.get(tag)
    try:
        return int(text)
    except (TypeError, ValueError):
        raise AgentOSError(
            f"run {run.run_id[:8]} has no usable tag {tag} ({text!r}), so it cannot be rerun",
            fix="rerun a run that `agentos learn` or `agentos run` recorded",
        ) from None
