"""What a learning run reports as it goes, the same in every layout.

``Hooks`` are the loop's callbacks (the CLI draws a progress bar, tracking logs metrics);
``Progress`` is what they are told every few hundred steps. ``LearnTally`` is the bookkeeping
of one ``learn`` call that every layout drives the same way: count a finished episode, collect
train metrics until ``log_every`` is crossed, tell the hooks about progress, and evaluate and
checkpoint on ``eval_every``/``checkpoint_every``. A layout only decides where acting,
learning and evaluation happen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from agentos.runtime.stepping import crossed

CHEAP_SAVE_S = 1.0
"""A checkpoint that saved faster than this never postpones the next (``checkpoint_overhead``)."""

if TYPE_CHECKING:
    from agentos.runtime.loop import Counters, Loop


@dataclass
class Progress:
    """What observers are told as a run goes."""

    counters: Counters
    total_steps: int
    recent_return: float | None
    steps_per_s: float
    last_eval: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    evaluating: tuple[int, int] | None = None
    """While an evaluation plays: (episodes finished, episodes asked for); else None."""


class Hooks:
    """Callbacks of the loop; the CLI draws a progress bar, tracking logs metrics."""

    def on_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Scalar metrics at env step ``step`` (``train/...``, ``eval/...``)."""

    def on_progress(self, progress: Progress) -> None:
        """Called every few hundred steps."""

    def on_checkpoint(self, state: dict[str, Any], final: bool) -> None:
        """A checkpoint is ready to be stored."""

    def on_best(self, state: dict[str, Any]) -> None:
        """A training evaluation beat every earlier one: the state behind it."""

    def should_stop(self) -> bool:
        """Return True to stop learning early (the run ends normally, evaluated)."""
        return False

    def interrupted(self) -> bool:
        """Return True to interrupt: checkpoint, then KeyboardInterrupt (run KILLED)."""
        return False


class LearnTally:
    """The bookkeeping of one ``learn`` call, shared by every layout (``Loop.tally``).

    A layout acts somewhere, adds the env steps to ``loop.counters.env_steps``, then calls
    ``episode`` for each finished episode, ``add`` for train metrics, ``metrics_due`` (and
    ``rates``) to log, ``progress`` and ``scheduled`` after each batch of steps.
    """

    def __init__(self, loop: Loop, total_steps: int):
        self.loop = loop
        self.total_steps = total_steps
        c = loop.counters
        self.t0, self.steps0, self.updates0 = time.perf_counter(), c.env_steps, c.learner_updates
        self._last_progress = 0.0
        self._last_checkpoint = self.t0
        self._last_save_s = 0.0
        self._checkpoint_due = False
        self._pending: dict[str, list[float]] = {}

    def episode(self, episode_return: float, length: float) -> None:
        """Count a finished training episode (counters, recent returns, train metrics)."""
        self.loop.counters.episodes += 1
        self.loop.recent_returns.append(episode_return)
        self._pending.setdefault("train/episode_return", []).append(episode_return)
        self._pending.setdefault("train/episode_length", []).append(float(length))

    def add(self, metrics: dict[str, float], prefix: str = "train/") -> None:
        """Collect metrics (averaged over the period when logged)."""
        for k, v in metrics.items():
            self._pending.setdefault(f"{prefix}{k}", []).append(v)

    def metrics_due(self, prev_steps: int) -> dict[str, float] | None:
        """When ``log_every`` was crossed since ``prev_steps``: the mean of every metric
        collected since the last record (then forgotten); otherwise None."""
        c, p = self.loop.counters, self.loop.params
        if not crossed(prev_steps, c.env_steps, p.log_every):
            return None
        record = {k: float(np.mean(v)) for k, v in self._pending.items()}
        self._pending = {}
        return record

    def rates(self) -> dict[str, float]:
        """The counters and the step and update rates since this call began."""
        elapsed = max(time.perf_counter() - self.t0, 1e-9)
        return self.loop.rate_metrics(self.steps0, self.updates0, elapsed)

    def progress(self, evaluating: tuple[int, int] | None = None, force: bool = False) -> None:
        """Tell the hooks how far the run is, at most every 0.2 s (and at the end, or with
        ``force``); during an evaluation, with its ``evaluating`` = (episodes finished,
        episodes asked for)."""
        loop, c = self.loop, self.loop.counters
        now = time.perf_counter()
        at_end = evaluating is None and c.env_steps >= self.total_steps
        if now - self._last_progress > 0.2 or at_end or force:
            self._last_progress = now
            recent = loop.recent_returns
            loop.hooks.on_progress(
                Progress(
                    counters=c,
                    total_steps=self.total_steps,
                    recent_return=float(np.mean(recent)) if recent else None,
                    steps_per_s=(c.env_steps - self.steps0) / max(now - self.t0, 1e-9),
                    last_eval=loop.last_eval,
                    evaluating=evaluating,
                )
            )

    def scheduled(self, prev_steps: int, evaluate: Callable[[int], Any]) -> None:
        """Evaluate (with ``evaluate(episodes)``) and checkpoint where ``eval_every`` and
        ``checkpoint_every`` were crossed since ``prev_steps``."""
        loop = self.loop
        p, c = loop.params, loop.counters
        if p.eval_every and crossed(prev_steps, c.env_steps, p.eval_every):
            evaluate(p.eval_episodes)
        if p.checkpoint_every and crossed(prev_steps, c.env_steps, p.checkpoint_every):
            self._checkpoint_due = True
        now = time.perf_counter()
        since = now - self._last_checkpoint
        affordable = (
            not p.checkpoint_overhead
            or self._last_save_s < CHEAP_SAVE_S
            or since * p.checkpoint_overhead >= self._last_save_s
        )
        by_time = p.checkpoint_seconds and since >= p.checkpoint_seconds
        if (self._checkpoint_due and affordable) or by_time:
            loop.hooks.on_checkpoint(loop.state_dict(), final=False)
            self._last_checkpoint = time.perf_counter()
            self._last_save_s = self._last_checkpoint - now
            self._checkpoint_due = False


def why_no_update(
    counters: Counters,
    params: Any,
    start: int,
    batch_size: int,
    replay_size: int | None = None,
    actor: str = "the actor",
) -> str | None:
    """Why a learn call that acted from ``start`` to ``counters.env_steps`` took no learner
    update, and what to change; None when it did not act past its start. ``replay_size``:
    what the learner's replay holds now (None: unknown); ``actor``: the actor's class."""
    c, p = counters, params
    if c.env_steps <= start:
        return None
    if replay_size == 0:
        return (
            f"{actor} wrote nothing to the learner's replay, so it can never update. Install "
            "an actor that feeds it (the learner's own bundle has one, e.g. `agentos install "
            "dqn_actor`), or uninstall the learner to only act"
        )
    if p.samples_per_insert <= 0:
        return (
            f"loop.samples_per_insert={p.samples_per_insert:g} asks for no updates (acting "
            "only). Set -p loop.samples_per_insert to a value > 0 (e.g. 1) to learn"
        )
    past_warmup = c.env_steps > p.min_replay_size
    earliest = max(start + 1, p.min_replay_size)
    first_call = -(-earliest // p.learn_every) * p.learn_every  # a multiple of learn_every
    if past_warmup and p.learn_every > 1 and first_call > c.env_steps:
        return (
            f"loop.learn_every={p.learn_every} calls the learner every {p.learn_every} env "
            f"steps, and none came due by step {c.env_steps}. Lower -p loop.learn_every, or "
            "learn for more --steps"
        )
    if past_warmup and (c.env_steps - p.min_replay_size) * p.samples_per_insert < batch_size:
        return (
            f"loop.samples_per_insert={p.samples_per_insert:g} makes one update due every "
            f"{batch_size / p.samples_per_insert:.3g} env steps (a batch of {batch_size} "
            "samples). Raise -p loop.samples_per_insert, or learn for more --steps"
        )
    if past_warmup and replay_size is not None and replay_size < batch_size:  # batch not full
        return (
            f"it waits until its replay holds a batch of {batch_size}, and after "
            f"{c.env_steps} env steps it holds {replay_size} (a sequence replay counts "
            "sequences, which a copy adds only every actor.period steps). Learn for more "
            "--steps, or lower -p learner.batch_size"
        )
    return (
        f"it starts after loop.min_replay_size={p.min_replay_size} env steps, once the replay "
        "holds a batch. Learn for more --steps, or lower -p loop.min_replay_size"
    )
