"""The offline loop: learn from a recorded dataset with no environment interaction.

It is the run loop (``agentos.runtime.loop.Loop``: same counters, evaluation, checkpoints and
resume) with ``learn`` counting learner updates instead of env steps. The ``loop:`` parameters
``log_every``, ``eval_every`` and ``checkpoint_every`` count learner updates here, and metrics
are logged at the learner-update count. Updates run in chunks of at most ``MAX_CHUNK`` that
end on multiples of those periods, so evaluations and checkpoints fall exactly on them and a
run resumed from a checkpoint takes the same chunks (and the same samples) as one run straight
through. Periodic evaluation plays episodes in the spec's environment unless ``evaluate`` is
False; the training environment is never stepped.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from typing import Any

import numpy as np

from agentos.errors import AgentOSError
from agentos.runtime.loop import Counters, Loop, Progress, crossed
from agentos.runtime.stepping import check_finite_losses

log = logging.getLogger(__name__)

MAX_CHUNK = 100
"""The most learner updates run in one call (one jitted scan)."""


def _unit(replay: object) -> str:
    """What the replay's length counts: sequences for recurrent learners, else steps."""
    return "sequences" if hasattr(replay, "update_priorities") else "steps"


class _UpdatesAsSteps:
    """Hooks whose metrics are stepped by learner updates (evaluation metrics included)."""

    def __init__(self, inner: Any, loop: Loop):
        self._inner, self._loop = inner, loop

    def on_metrics(self, metrics: dict[str, float], step: int) -> None:
        self._inner.on_metrics(metrics, self._loop.counters.learner_updates)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def check_offline_data(learner: Any) -> None:
    """Refuse offline learning from a replay that holds less than one batch (an online
    agent's replay is filled only by acting)."""
    held = len(getattr(learner, "replay", None) or ())
    if not learner.ready() and held:
        raise AgentOSError(
            f"the dataset holds {held} {_unit(learner.replay)}, fewer than one batch "
            f"of learner.batch_size={learner.batch_size}",
            fix="record more episodes into a new dataset, or lower -p learner.batch_size",
        )
    if not learner.ready():
        raise AgentOSError(
            "the replay holds no data to learn from offline (it is filled only by acting)",
            fix="use a recorded dataset: `agentos install cql` (or bc, or offline_dataset) "
            "and `agentos learn --offline --dataset NAME`",
        )


class OfflineLoop(Loop):
    """Drives a learner on its replay (a dataset) and evaluates the actor in the environment."""

    def __init__(self, *, evaluate: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.hooks = _UpdatesAsSteps(self.hooks, self)  # type: ignore[assignment]
        self.evaluate_during = evaluate
        """Whether to play evaluation episodes (periodically and at the end)."""

    def chunk(self) -> int:
        """Updates per learner call: divides every period, at most ``MAX_CHUNK``."""
        p = self.params
        periods = [every for every in (p.log_every, p.eval_every, p.checkpoint_every) if every > 0]
        return math.gcd(MAX_CHUNK, *periods)

    def _evaluate(self) -> None:
        self.actor.update(self.learner.get_variables())
        self.evaluate(self.params.eval_episodes)
        self.eval_history[-1]["learner_updates"] = self.counters.learner_updates

    def learn(self, total_updates: int) -> Counters:
        """Run learner updates until ``total_updates`` (in total, when resuming); evaluate and
        checkpoint on the way and at the end. KeyboardInterrupt is re-raised after a
        checkpoint is handed to the hooks."""
        p, c = self.params, self.counters
        if self.learner is None:
            raise AgentOSError(
                "this agent has no learner, so there is nothing to learn offline",
                fix="install one: `agentos install cql` (or bc)",
            )
        check_offline_data(self.learner)
        chunk = self.chunk()
        t0, updates0 = time.perf_counter(), c.learner_updates
        last_progress = 0.0
        pending: dict[str, list[float]] = {}
        try:
            while c.learner_updates < total_updates and not self.hooks.should_stop():
                if self.hooks.interrupted():
                    raise KeyboardInterrupt("interrupted")
                prev = c.learner_updates
                due = min(chunk - prev % chunk, total_updates - prev)
                metrics = self.learner.step(due)
                c.learner_updates += due
                check_finite_losses(metrics, c.learner_updates)
                c.learner_calls += 1
                for key, value in metrics.items():
                    pending.setdefault(f"train/{key}", []).append(value)
                now = time.perf_counter()
                rate = (c.learner_updates - updates0) / max(now - t0, 1e-9)
                if crossed(prev, c.learner_updates, p.log_every):
                    record = {k: float(np.mean(v)) for k, v in pending.items()}
                    record["train/learner_updates"] = float(c.learner_updates)
                    record["train/learner_updates_per_s"] = rate
                    pending = {}
                    self.hooks.on_metrics(record, c.learner_updates)
                if now - last_progress > 0.2 or c.learner_updates >= total_updates:
                    last_progress = now
                    self.hooks.on_progress(
                        Progress(
                            counters=c,
                            total_steps=total_updates,
                            recent_return=None,
                            steps_per_s=rate,
                            last_eval=self.last_eval,
                        )
                    )
                if (
                    self.evaluate_during
                    and p.eval_every
                    and crossed(prev, c.learner_updates, p.eval_every)
                ):
                    self._evaluate()
                if p.checkpoint_every and crossed(prev, c.learner_updates, p.checkpoint_every):
                    self.hooks.on_checkpoint(self.state_dict(), final=False)
        except KeyboardInterrupt:
            log.warning("interrupted at %d updates: writing a checkpoint", c.learner_updates)
            self.hooks.on_checkpoint(self.state_dict(), final=True)
            with contextlib.suppress(Exception):  # the run's updates as the checkpoint has them
                self.hooks.on_metrics({"train/learner_updates": float(c.learner_updates)}, 0)
            raise
        self.hooks.on_metrics({"train/learner_updates": float(c.learner_updates)}, 0)
        last = self.eval_history[-1].get("learner_updates") if self.eval_history else None
        if self.evaluate_during and last != c.learner_updates:
            self._evaluate()
        self.actor.update(self.learner.get_variables())
        self.hooks.on_checkpoint(self.state_dict(), final=True)
        return c
