"""The tracking plumbing of ``agentos.api``: every learn/run/record is a tracked run.

``tracked_run`` builds the agent and opens (or reopens) its MLflow run with the spec, the lock
of component sources and the environment; ``_TrackingHooks`` sends the loop's metrics and
checkpoints there; ``_interrupts_at_safe_points`` turns Ctrl-C and ``kill`` into a stop
between two steps. ``agentos.api`` re-exports these names.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentos.tracking.checkpoints import BEST_FILE, checkpoint_path

if TYPE_CHECKING:
    from agentos.api import Agent

log = logging.getLogger("agentos.api")


@contextmanager
def tracked_run(
    agent: Agent,
    kind: str,
    seed: int,
    tags: dict[str, str],
    resume_id: str | None,
    check: Any = None,
) -> Iterator[tuple[Any, Any]]:
    """Build the agent, run ``check(built)`` (nothing is tracked if it fails), then start
    (or reopen) the tracked run."""
    import yaml

    from agentos.components.params import flatten
    from agentos.runtime.compile_cache import use_compile_cache
    from agentos.tracking.store import RunTracker, environment_info

    use_compile_cache(agent.agent_dir)
    built = agent.graph.build(seed)
    if check is not None:
        try:
            check(built)
        except BaseException:
            built.close()
            raise
    chain = getattr(built.one("environment"), "wrapper_chain", None)
    if chain is not None:
        tags = {**tags, "agentos.env_wrappers": " > ".join(chain()) or "none"}
    _record_dead_runs(agent)
    if _InterruptFlag.requested:  # stopped while building: no run to record
        built.close()
        raise KeyboardInterrupt("signal received before the run started")
    tracker = RunTracker.start(
        agent.agent_dir,
        kind=kind,
        agent_name=agent.spec.name,
        env_name=agent.env_name(),
        params={**flatten(agent.graph.full_params()), "seed": seed},
        seed=seed,
        tags=tags,
        resume_run_id=resume_id,
    )
    try:
        with tracker, _interrupts_at_safe_points():
            if resume_id is None:
                tracker.log_text(agent.spec.path.read_text(), "agentos.yaml")
                tracker.log_text(yaml.safe_dump(agent.lock(), sort_keys=False), "lock.yaml")
                tracker.log_dict(environment_info(), "environment.json")
            yield tracker, built
    finally:
        built.close()


def _still_tracked(agent: Agent, run_id: str) -> bool:
    from agentos.tracking.lost import run_is_tracked

    if run_is_tracked(agent.agent_dir, run_id, agent.spec.name):
        return True
    log.warning(
        "run %s is no longer in the tracking store (deleted?): its checkpoint continues in a "
        "new run",
        run_id[:8],
    )
    return False


def _record_dead_runs(agent: Agent) -> None:
    """Record KILLED for this agent's runs left RUNNING by a process that is gone, and warn
    when the folder was moved (artifacts would go to the old one)."""
    from agentos.tracking.moved import warn_if_moved
    from agentos.tracking.store import mark_stale_runs

    try:
        mark_stale_runs(agent.agent_dir, agent_name=agent.spec.name)
    except Exception:  # never let bookkeeping of old runs stop a new one
        log.debug("could not mark stale runs", exc_info=True)
    warn_if_moved(agent.agent_dir, agent.spec.name)


class _TrackingHooks:
    """Sends loop metrics to the tracker, stores checkpoints, forwards to user hooks."""

    def __init__(self, agent: Agent, tracker: Any, seed: int, user: Any, keep_best: bool):
        self.agent, self.tracker, self.seed, self.user = agent, tracker, seed, user
        self.keep_best = keep_best

    def on_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.tracker.log_metrics(metrics, step)
        if self.user is not None:
            self.user.on_metrics(metrics, step)

    def on_progress(self, progress: Any) -> None:
        if self.user is not None:
            self.user.on_progress(progress)

    def on_checkpoint(self, state: dict[str, Any], final: bool) -> None:
        from agentos.runtime.checkpoint import save_checkpoint
        from agentos.tracking.lost import check_store_kept, store_missing

        path = checkpoint_path(self.agent.agent_dir, self.tracker.run_id)
        # Metrics first: once a checkpoint exists, everything logged before it is stored too,
        # even if the process is killed right after (kill -9 between the two lost them).
        try:
            self.tracker.flush()
        except Exception:
            if not store_missing(self.agent.agent_dir):
                raise
        save_checkpoint(path, self.agent.checkpoint_record(self.seed, state))
        check_store_kept(self.agent.agent_dir, self.tracker.run_id, path)
        if final:
            self.tracker.log_file(path, "checkpoints")
        if self.user is not None and hasattr(self.user, "on_checkpoint"):
            self.user.on_checkpoint(state, final)

    def on_best(self, state: dict[str, Any]) -> None:
        from agentos.runtime.checkpoint import save_checkpoint

        if not self.keep_best:
            return
        path = checkpoint_path(self.agent.agent_dir, self.tracker.run_id).with_name(BEST_FILE)
        save_checkpoint(path, self.agent.checkpoint_record(self.seed, state))

    def should_stop(self) -> bool:
        return bool(self.user is not None and self.user.should_stop())

    def interrupted(self) -> bool:
        return _InterruptFlag.requested


class _InterruptFlag:
    """Set by SIGINT/SIGTERM; the loop turns it into KeyboardInterrupt at a safe point
    (between steps), so a checkpoint or a tracking write is never cut in half."""

    requested = False
    signum: int = signal.SIGINT
    """The latest stop signal (for the exit code: 128 + signum)."""


STOP_SIGNALS = tuple(
    sig for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if sig
)
"""Ctrl-C, ``kill`` and a closed terminal (SIGHUP): each stops a command at a safe point."""


def _flag_then_raise(signum: int, frame: Any) -> None:
    """The first signal sets the flag (acted on at a safe point); a second one stops at once."""
    _InterruptFlag.signum = signum
    if _InterruptFlag.requested:
        raise KeyboardInterrupt(f"signal {signum}")
    _InterruptFlag.requested = True


@contextmanager
def _interrupts_at_safe_points() -> Iterator[None]:
    """Ctrl-C and `kill` stop learn between two steps; a second signal stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _InterruptFlag.requested:  # a signal caught by interrupts_from_the_start
        raise KeyboardInterrupt("signal received before the run started")
    previous = {sig: signal.signal(sig, _flag_then_raise) for sig in STOP_SIGNALS}
    try:
        yield
        if _InterruptFlag.requested:
            raise KeyboardInterrupt("signal received")
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        _InterruptFlag.requested = False


@contextmanager
def interrupts_from_the_start() -> Iterator[None]:
    """A Ctrl-C or ``kill`` while the agent is still being built is remembered and ends the
    command before a run is created. Python's own handler would raise KeyboardInterrupt
    wherever the interpreter is, and inside JAX's garbage-collection callback that exception
    is dropped, so the signal was lost and learning went on."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _InterruptFlag.requested = False
    _InterruptFlag.signum = signal.SIGINT
    previous = {sig: signal.signal(sig, _flag_then_raise) for sig in STOP_SIGNALS}
    try:
        yield
        if _InterruptFlag.requested:
            raise KeyboardInterrupt("signal received")
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        _InterruptFlag.requested = False


def interrupt_exit_code() -> int:
    """The exit code shells give a command stopped by the latest stop signal: 130 for Ctrl-C,
    143 for ``kill`` (128 + the signal's number)."""
    return 128 + int(_InterruptFlag.signum)


def component_lock(agent: Agent) -> dict[str, dict[str, Any]]:
    """Sources, versions and current content hashes of every component."""
    from agentos.components.sources import component_files, content_hash

    out = {}
    for name, c in agent.spec.components.items():
        files = component_files(c, agent.agent_dir)
        out[name] = {
            "source": c.source,
            "registry_name": c.registry_name,
            "module": c.module,
            "class": c.class_name,
            "version": c.version,
            "url": c.url,
            "commit": c.commit,
            "requirements": list(c.requirements),
            "recorded_hash": c.hash,
            "hash": content_hash(files),
        }
    return out


def checkpoint_fits(agent: Agent, state: dict[str, Any], path: Path, resume: bool) -> Any:
    """A check for ``_tracked``: refuse ``state`` when its arrays do not fit the agent
    built now (before any run is started or reopened)."""
    from agentos.components.compat import check_checkpoint_fits
    from agentos.components.params import flatten

    def check(built: Any) -> None:
        check_checkpoint_fits(
            state,
            path,
            built.components,
            {n.spec.name: n.role for n in agent.graph.nodes},
            flatten(agent.graph.full_params()),
            agent.env_name(),
            resume,
        )

    return check


def tracked_loop(agent: Agent, built: Any, seed: int, tracker: Any, hooks: Any, learn: bool) -> Any:
    """The run loop of a tracked run, its hooks sending to ``tracker``."""
    from agentos.runtime.loop import Loop

    return Loop(
        environment=built.one("environment"),
        actor=built.one("actor"),
        learner=built.one("learner"),
        params=agent.graph.loop,
        make_eval_env=lambda: agent.graph.build_one("environment", seed, "/eval"),
        seed=seed,
        hooks=_TrackingHooks(agent, tracker, seed, hooks, keep_best=learn),  # type: ignore[arg-type]
        components=built.components,
    )
