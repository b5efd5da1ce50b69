"""One loop for learn, run and evaluate.

It owns the core counters (training env steps and episodes, learner updates, and
evaluation episodes kept apart from training), the samples-per-insert ratio between
acting and learning, variable syncs, periodic evaluation, checkpoints and resume.

Samples per insert: after ``min_replay_size`` env steps the learner is kept at
``floor((env_steps - min_replay_size) * samples_per_insert / batch_size)`` updates.
Acting never waits for learning and learning never waits for acting (it simply runs the
updates that are due), so the ratio holds without any chance of deadlock.

Resume is exact: a checkpoint also holds the training episodes in progress (observations,
actor extras such as the recurrent state, returns and lengths so far), and an environment
that restores its copies (``Environment.continues_episodes``) lets the resumed run go on
inside those episodes, so learning N steps straight and learning M < N, checkpointing and
resuming to N end in the same state.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np

from agentos.runtime import stepping
from agentos.runtime.actor_calls import select_actions
from agentos.runtime.loop_data import Counters, EpisodesInProgress, LoopParams
from agentos.runtime.reporting import Hooks, LearnTally, Progress, why_no_update
from agentos.runtime.roles import Replay
from agentos.runtime.stepping import crossed, eval_seed, reset_extras, train_seed, training_step

__all__ = [
    "Counters",
    "EpisodesInProgress",
    "Hooks",
    "LearnTally",
    "Loop",
    "LoopParams",
    "Progress",
    "crossed",
    "train_seed",
    "training_step",
]

# the names these helpers had here before they moved to ``stepping`` (still imported so)
_reset_extras = reset_extras
_eval_seed = eval_seed

log = logging.getLogger(__name__)

LONG_EVAL_EPISODE = 100_000
"""Steps after which an evaluation episode that has not ended is warned about (once)."""


class Loop:
    """Drives an environment, an actor and (for learn) a learner."""

    def __init__(
        self,
        *,
        environment: Any,
        actor: Any,
        learner: Any | None,
        params: LoopParams,
        make_eval_env: Callable[[], Any],
        seed: int,
        hooks: Hooks | None = None,
        components: dict[str, Any] | None = None,
    ):
        self.env = environment
        self.actor = actor
        self.learner = learner
        self.params = params
        self.seed = seed
        self.hooks = hooks or Hooks()
        self.components = components or {}
        self._make_eval_env = make_eval_env
        self.trace: Any = None
        """An ``agentos.viz.trace.StepTrace`` that evaluation steps are written to, or None."""
        self.film: Any = None
        """An ``agentos.viz.video.EpisodeFilm`` filming every evaluation, or None."""
        self.film_every = 0
        """With ``make_film``: film the evaluations at least this many env steps apart."""
        self.make_film: Callable[[int], Any] | None = None
        """Makes the film of one evaluation, given the env step count."""
        self._filmed_at: int | None = None
        self._eval_env: Any | None = None
        self.counters = Counters()
        self.last_eval: float | None = None
        self.eval_history: list[dict[str, Any]] = []
        self.recent_returns: deque[float] = deque(maxlen=20)  # the last 20 training episodes
        self._episodes: EpisodesInProgress | None = None
        self._tally: LearnTally | None = None  # the learn call in progress, told of evaluations

    # --- state -------------------------------------------------------------------------
    def state_dict(self, *, replay: bool = True) -> dict[str, Any]:
        """Counters, evaluation history, episodes in progress and every component's state
        (without the replay's with ``replay=False``: enough to act, not to resume)."""
        components = {
            n: c.state_dict()
            for n, c in self.components.items()
            if replay or getattr(c, "role", None) != Replay.role
        }
        state = {
            "counters": asdict(self.counters),
            "eval_history": list(self.eval_history),
            "recent_returns": list(self.recent_returns),
            "components": components,
        }
        if self._episodes is not None:
            state["episodes"] = self._episodes.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any], *, new_episodes: bool = False) -> None:
        """Continue from a checkpoint: same counters, replay, variables, rng streams.

        ``new_episodes``: the caller plays episodes of its own from a reset (``run``,
        ``record``), so the training environment's episodes in progress are not restored
        (replaying them took up to ``max_episode_steps`` steps a copy, for nothing, and warned
        about an environment that cannot replay them)."""
        self.counters = Counters(**state["counters"])
        self.eval_history = list(state.get("eval_history", []))
        self.recent_returns.extend(state.get("recent_returns", []))
        if self.eval_history:
            self.last_eval = self.eval_history[-1]["return_mean"]
        for name, comp_state in state["components"].items():
            if name in self.components and not (new_episodes and self.components[name] is self.env):
                _load_component(name, self.components[name], comp_state)
        if self.learner is not None:
            self.actor.update(self.learner.get_variables())
        self._episodes = None
        saved = None if new_episodes else state.get("episodes")
        if saved is not None and self.env.continues_episodes():
            self._episodes = EpisodesInProgress.from_state(saved)
        else:
            # The environment starts new episodes: what the actor kept of the old ones
            # (open sequences) must not be continued with steps of other episodes.
            self.actor.end_episodes()
            if saved is not None:
                log.warning(
                    "the environment could not restore its episodes in progress: they restart"
                )

    # --- evaluation --------------------------------------------------------------------
    def evaluate(self, episodes: int, *, track: bool = True) -> list[float]:
        """Greedy returns of ``episodes`` episodes on a separate, freshly seeded env."""
        if self._eval_env is None:
            self._eval_env = self._make_eval_env()
        env = self._eval_env
        n = env.num_envs
        quota = [episodes // n + (1 if i < episodes % n else 0) for i in range(n)]
        returns: list[list[float]] = [[] for _ in range(n)]
        ep_ret = np.zeros(n, np.float64)
        ep_len = np.zeros(n, np.int64)
        warned = False
        obs = env.reset(seed=eval_seed(self.seed, self.counters.evaluations))
        extras = self.actor.initial_extras(n)
        if self.trace is not None:
            self.trace.start(n)
        film = self.film or self._film_due()
        if film is not None:
            film.start(env, np.array([q > 0 for q in quota]))
        while any(len(r) < q for r, q in zip(returns, quota, strict=True)):
            if self.hooks.interrupted():  # Ctrl-C or kill: an episode may never end
                raise KeyboardInterrupt("interrupted during an evaluation")
            action, extras = select_actions(
                self.actor, env, obs, extras, explore=False, env_steps=self.counters.env_steps
            )
            step = env.step(action)
            counting = np.array([len(r) < q for r, q in zip(returns, quota, strict=True)])
            extras = self.actor.after_step(extras, step)
            info: Any = None  # after after_step: Agent57's intrinsic reward of this step is known
            if self.trace is not None or getattr(film, "overlay", False):
                info = getattr(self.actor, "step_info", dict)()
            if self.trace is not None:
                self.trace.record(counting, action, step, extras, info)
            ep_ret += step.reward
            ep_len += 1
            done = step.terminated | step.truncated
            for i in np.flatnonzero(done):
                if len(returns[i]) < quota[i]:
                    returns[i].append(float(ep_ret[i]))
                ep_ret[i] = 0.0
                ep_len[i] = 0
            if not warned and ep_len.max() >= LONG_EVAL_EPISODE:
                warned = True
                log.warning(
                    "an evaluation episode has run %d steps without ending: the environment "
                    "may have no time limit, and the greedy policy may never end it. Stop "
                    "with Ctrl-C and set one: -p environment.max_episode_steps=N",
                    int(ep_len.max()),
                )
            if film is not None:
                still = np.array([len(r) < q for r, q in zip(returns, quota, strict=True)])
                film.record(counting, still, env, step, info)
            extras = reset_extras(self.actor, extras, done)
            obs = step.observation
            if self._tally is not None:  # a long evaluation should not look like a hang
                self._tally.progress(evaluating=(sum(map(len, returns)), episodes))
        flat = [r for per_env in returns for r in per_env]
        pop_eval_stats = getattr(self.actor, "pop_eval_stats", None)  # e.g. Agent57's modes
        self.record_evaluation(
            flat, track=track, extra=pop_eval_stats() if pop_eval_stats else None
        )
        if self._tally is not None:  # the bar shows the new evaluation, not "playing"
            self._tally.progress(force=True)
        return flat

    def _film_due(self) -> Any:
        """A film for this evaluation when ``film_every`` env steps passed since the last."""
        step = self.counters.env_steps
        if self.make_film is None or self.film_every <= 0:
            return None
        if self._filmed_at is not None and step - self._filmed_at < self.film_every:
            return None
        self._filmed_at = step
        return self.make_film(step)

    def record_evaluation(
        self, flat: list[float], *, track: bool = True, extra: dict[str, float] | None = None
    ) -> None:
        """Count an evaluation's returns (wherever they were played) into the counters and
        history; with ``track``, send its metrics (and the actor's ``extra`` ones, as
        ``eval/<name>``) and a best checkpoint to the hooks."""
        self.counters.evaluations += 1
        self.counters.eval_episodes += len(flat)
        mean = float(np.mean(flat))
        self.last_eval = mean
        record = {
            "env_steps": self.counters.env_steps,
            "return_mean": mean,
            "returns": flat,
        }
        best = max((h["return_mean"] for h in self.eval_history), default=None)
        self.eval_history.append(record)
        if track and (best is None or mean > best):
            # The best state is for acting (`run`, `record`); resume uses the latest one.
            self.hooks.on_best(self.state_dict(replay=False))
        if track:
            self.hooks.on_metrics(
                {
                    "eval/return_mean": mean,
                    "eval/return_std": float(np.std(flat)),
                    "eval/return_min": float(np.min(flat)),
                    "eval/return_max": float(np.max(flat)),
                    "eval/episodes": float(self.counters.eval_episodes),
                    **{f"eval/{k}": v for k, v in (extra or {}).items()},
                },
                self.counters.env_steps,
            )
        log.info("evaluation at %d steps: mean return %.2f", self.counters.env_steps, mean)

    # --- learning ----------------------------------------------------------------------
    def learn(self, total_steps: int) -> Counters:
        """Act and learn until ``total_steps`` env steps; checkpoint on the way and at the end.

        KeyboardInterrupt is re-raised after a checkpoint is handed to the hooks.
        """
        p = self.params
        c = self.counters
        if self.learner is None and p.samples_per_insert > 0:
            log.warning("samples_per_insert > 0 but the agent has no learner: acting only")
        n = self.env.num_envs
        if self._episodes is None:
            self._episodes = EpisodesInProgress(
                observation=self.env.reset(seed=train_seed(self.seed, c.episodes)),
                extras=self.actor.initial_extras(n),
                returns=np.zeros(n, np.float64),
                lengths=np.zeros(n, np.int64),
            )
        episodes = self._episodes
        obs, extras = episodes.observation, episodes.extras
        ep_ret, ep_len = episodes.returns, episodes.lengths
        tally = self.tally(total_steps)
        start = c.env_steps
        try:
            while c.env_steps < total_steps and not self.hooks.should_stop():
                if self.hooks.interrupted():
                    raise KeyboardInterrupt("interrupted")
                prev = c.env_steps
                step, extras = training_step(self.env, self.actor, obs, extras, c.env_steps)
                c.env_steps += n
                ep_ret += step.reward
                ep_len += 1
                done = step.terminated | step.truncated
                for i in np.flatnonzero(done):
                    tally.episode(float(ep_ret[i]), float(ep_len[i]))
                    ep_ret[i] = 0.0
                    ep_len[i] = 0
                obs = step.observation
                episodes.observation, episodes.extras = obs, extras

                if self.learner is not None and p.samples_per_insert > 0:
                    tally.add(self.learn_due(prev))

                record = tally.metrics_due(prev)
                if record is not None:
                    pop_stats = getattr(self.actor, "pop_stats", None)
                    if pop_stats is not None:  # actor-side metrics (e.g. Agent57's novelty)
                        record.update({f"train/{k}": v for k, v in pop_stats().items()})
                    record.update(tally.rates())
                    self.hooks.on_metrics(record, c.env_steps)
                tally.progress()
                tally.scheduled(prev, self.evaluate)
        except KeyboardInterrupt:
            log.warning("interrupted at %d env steps: writing a checkpoint", c.env_steps)
            self.hooks.on_checkpoint(self.state_dict(), final=True)
            with contextlib.suppress(Exception):  # the run's steps as the checkpoint has them
                self.hooks.on_metrics(self.counter_metrics(), c.env_steps)
            raise
        if self.learner is not None and not c.learner_updates:
            replay = getattr(self.learner, "replay", None)
            try:
                size = None if replay is None else len(replay)
            except TypeError:  # a replay of the user's own without __len__
                size = None
            reason = why_no_update(
                c, p, start, self.learner.batch_size, size, type(self.actor).__name__
            )
            if reason is not None:
                log.warning("the learner took no update in %d env steps: %s", c.env_steps, reason)
        self.hooks.on_metrics(self.counter_metrics(), c.env_steps)
        if not self.eval_history or self.eval_history[-1]["env_steps"] != c.env_steps:
            try:
                self.evaluate(p.eval_episodes)
            except KeyboardInterrupt:  # the steps are done: keep them
                log.warning("interrupted in the final evaluation: writing a checkpoint")
                self.hooks.on_checkpoint(self.state_dict(), final=True)
                raise
        self.hooks.on_checkpoint(self.state_dict(), final=True)
        return c

    # --- the interface other layouts drive ---------------------------------------------
    def tally(self, total_steps: int) -> LearnTally:
        """The bookkeeping of one learn call until ``total_steps`` (see ``LearnTally``)."""
        self._tally = LearnTally(self, total_steps)
        return self._tally

    def forget_episodes(self) -> None:
        """Drop the training episodes in progress and what the actor kept of them (open
        sequences): for a layout whose workers start new episodes of their own."""
        self.actor.end_episodes()
        self._episodes = None

    def rate_metrics(self, steps0: int, updates0: int, elapsed: float) -> dict[str, float]:
        """The counters and the env-step and update rates since ``steps0``/``updates0``,
        ``elapsed`` seconds ago, as ``train/`` metrics."""
        c = self.counters
        return {
            "train/env_steps": float(c.env_steps),
            "train/episodes": float(c.episodes),
            "train/learner_updates": float(c.learner_updates),
            "train/steps_per_s": (c.env_steps - steps0) / elapsed,
            "train/learner_updates_per_s": (c.learner_updates - updates0) / elapsed,
        }

    def counter_metrics(self) -> dict[str, float]:
        """The counters as metrics (``agentos runs`` shows ``train/env_steps``)."""
        c = self.counters
        return {
            "train/env_steps": float(c.env_steps),
            "train/episodes": float(c.episodes),
            "train/learner_updates": float(c.learner_updates),
        }

    def learn_due(self, prev_steps: int) -> dict[str, float]:
        """Run the learner updates that the env steps since ``prev_steps`` make due under the
        samples-per-insert rule (and sync the actor every ``sync_every`` calls)."""
        p, c = self.params, self.counters
        if c.env_steps < p.min_replay_size or not crossed(prev_steps, c.env_steps, p.learn_every):
            return {}
        target = math.floor(
            (c.env_steps - p.min_replay_size) * p.samples_per_insert / self.learner.batch_size
        )
        due = target - c.learner_updates
        if due <= 0 or not self.learner.ready():
            return {}
        if p.overlap_learning and hasattr(self.learner, "in_flight"):
            metrics = self.learner.step(due, wait=False)
        else:
            metrics = self.learner.step(due)
        c.learner_updates += due
        stepping.check_finite_losses(metrics, c.learner_updates)
        c.learner_calls += 1
        if c.learner_calls % max(p.sync_every, 1) == 0:
            self.actor.update(self.learner.get_variables())
        return metrics

    def close(self) -> None:
        """Close the evaluation environment."""
        if self._eval_env is not None:
            self._eval_env.close()
            self._eval_env = None


def _load_component(name: str, component: Any, state: Any) -> None:
    """``component.load_state_dict(state)``; a state another kind of component saved (the
    dataset of a CQL run, then ``install dqn``) is a CheckpointError, not a KeyError."""
    from agentos.errors import AgentOSError, CheckpointError

    try:
        component.load_state_dict(state)
    except AgentOSError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise CheckpointError(
            f"the checkpoint's '{name}' was saved by another component than the "
            f"{type(component).__name__} the spec builds now ({type(e).__name__}: {e})",
            fix="install again the components the run was trained with (`agentos runs show "
            "RUN_ID` lists them), or train the agent as the spec is now with `agentos learn`",
        ) from e
