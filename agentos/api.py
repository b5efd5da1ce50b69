"""The Python API, mirroring the CLI: ``load_agent(path)``, ``agent.learn``, ``agent.run``.

Every call is a tracked MLflow run: resolved parameters, the spec, a lock of component
sources and hashes, package versions, batched metrics, checkpoints and a truthful status.
"""

from __future__ import annotations

import json
import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# the tracking plumbing (agentos.api_tracking); these names stay importable from here
from agentos.api_tracking import _InterruptFlag as _InterruptFlag
from agentos.api_tracking import _interrupts_at_safe_points as _interrupts_at_safe_points
from agentos.api_tracking import _record_dead_runs as _record_dead_runs
from agentos.api_tracking import _still_tracked as _still_tracked
from agentos.api_tracking import _TrackingHooks as _TrackingHooks
from agentos.api_tracking import checkpoint_fits, component_lock, tracked_loop, tracked_run
from agentos.components.checks import check_api_arguments, check_counts
from agentos.components.spec import AgentSpec, load_spec, parse_spec
from agentos.errors import AgentOSError, CheckpointError
from agentos.tracking.checkpoints import (
    checkpoint_path,
    find_checkpoint,
)
from agentos.tracking.lost import TAG_CONTINUES

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What learn/run return."""

    run_id: str
    status: str
    env_steps: int
    episodes: int
    learner_updates: int
    eval_returns: list[float]
    """Returns of the last evaluation."""
    eval_history: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: Path | None = None
    videos: list[Path] = field(default_factory=list)
    """mp4 files of the evaluation episodes (``run(video=True)``)."""
    trace: Path | None = None
    """The step trace CSV (``run(trace=...)``)."""

    @property
    def eval_mean(self) -> float | None:
        """Mean of the last evaluation."""
        return sum(self.eval_returns) / len(self.eval_returns) if self.eval_returns else None


def load_agent(path: str | Path = ".", overrides: list[str] | None = None) -> Agent:
    """The agent in folder ``path`` (validated; nothing built yet)."""
    check_api_arguments(path=path, overrides=overrides)
    return Agent(load_spec(path), overrides)


class Agent:
    """An agent folder's spec, ready to learn and run."""

    def __init__(self, spec: AgentSpec, overrides: list[str] | None = None):
        from agentos.components.graph import load_graph

        check_api_arguments(overrides=overrides)
        self.spec = spec
        self.overrides = list(overrides or [])
        self._video_folder: Path | None = None
        self._overlay = False
        self._trace_path: Path | None = None
        self.graph = load_graph(spec, self.overrides)

    @property
    def agent_dir(self) -> Path:
        """The agent folder."""
        return self.spec.agent_dir

    def checkpoint_record(self, seed: int, loop_state: dict[str, Any]) -> dict[str, Any]:
        """What a checkpoint file holds: the loop's state, the seed and the ``-p`` overrides
        the agent was built with (``run`` rebuilds the same networks from them), and the
        resolved parameters and environment (to say what differs when the spec changed)."""
        from agentos.components.params import flatten

        return {
            "seed": seed,
            "overrides": list(self.overrides),
            "params": flatten(self.graph.full_params()),
            "env": self.env_name(),
            "loop": loop_state,
        }

    def _fits(self, state: dict[str, Any], path: Path, resume: bool) -> Any:
        """A check for ``_tracked``: refuse ``state`` when its arrays do not fit the agent
        built now (before any run is started or reopened)."""
        return checkpoint_fits(self, state, path, resume)

    def _with_checkpoint_overrides(self, state: dict[str, Any]) -> Agent:
        """This agent rebuilt with the overrides of the run that wrote ``state`` first and
        this agent's own after them (so a network trained with ``-p network.lstm_size=16`` is
        evaluated with that size)."""
        from agentos.components.compat import render_only

        # how the training run rendered is not the network: `run` renders as it is told
        saved = [str(o) for o in state.get("overrides", []) if not render_only(str(o))]
        if not saved or saved == self.overrides[: len(saved)]:
            return self
        try:
            rebuilt = Agent(self.spec, [*saved, *self.overrides])
        except AgentOSError as e:  # for components gone (CQL's dataset, then `install dqn`)
            log.warning("checkpoint's overrides %s left out: %s", " ".join(saved), e.message)
            return self
        rebuilt._video_folder, rebuilt._trace_path = self._video_folder, self._trace_path
        rebuilt._overlay = self._overlay
        return rebuilt

    def env_name(self) -> str:
        """A short label of the environment for run tables."""
        node = self.graph.node("environment")
        gym_id = getattr(node.params, "gym_id", None)
        return str((gym_id() if gym_id else "") or node.spec.name)

    # --- learn -------------------------------------------------------------------------
    def learn(
        self,
        steps: int,
        *,
        seed: int = 0,
        resume: bool | str = False,
        hooks: Any = None,
        tags: dict[str, str] | None = None,
        actors: int = 0,
        address: str | None = None,
        replay_shards: int = 1,
        learner_actor: bool = False,
        learner_gpu: bool = False,
        video_every: int = 0,
    ) -> RunResult:
        """Train until ``steps`` env steps (in total, when resuming) and evaluate.

        ``actors > 0`` acts in that many Ray worker processes and keeps the replay in
        ``replay_shards`` Ray shard processes; the learner stays in this process unless
        ``learner_actor`` (its own Ray process) or ``learner_gpu`` (the same, with a GPU; see
        ``agentos.runtime.layouts``); ``address`` joins an existing Ray cluster instead of
        starting a local one bound to 127.0.0.1. ``video_every > 0`` films the first
        evaluation episode of the evaluations at least that many env steps apart. A finished
        run's learning curve is written to ``plots/<run id>.png`` (and its artifacts).
        """
        from agentos.api_learn import (
            RayPlacement,
            check_learn_inputs,
            film_evaluations,
            layout_check,
            learn_on_ray,
        )
        from agentos.runtime.checkpoint import load_run_checkpoint as load_checkpoint

        placement = RayPlacement(actors, address, replay_shards, learner_actor, learner_gpu)
        check_learn_inputs(
            self, steps, seed, placement, video_every, resume=resume, tags=tags, hooks=hooks
        )
        if video_every and self._video_folder is None:
            return self._filmed().learn(
                steps, seed=seed, resume=resume, hooks=hooks, tags=tags,
                video_every=video_every,
            )  # fmt: skip
        if learner_gpu:
            from agentos.runtime.layouts.partial_build import jax_on_cpu_only

            jax_on_cpu_only()  # the GPU is the learner process's, not this one's
        state = None
        resume_id = None
        check = None
        if resume is True or isinstance(resume, str):  # "" is refused as an empty run id
            resume_id, ckpt = self._resume_target(resume)
            state = load_checkpoint(ckpt)
            seed = int(state.get("seed", seed))
            check = self._fits(state, ckpt, resume=True)
        check = layout_check(placement, check)
        run_tags = {"agentos.steps": str(steps), "agentos.overrides": json.dumps(self.overrides)}
        if resume_id is not None and not _still_tracked(self, resume_id):
            run_tags[TAG_CONTINUES] = resume_id  # its store was lost: a new run continues it
            resume_id = None
        if actors:
            run_tags.update({"agentos.layout": "ray", "agentos.actors": str(actors)})
        run_tags.update(tags or {})
        with self._tracked("learn", seed, run_tags, resume_id, check) as (tracker, built):
            loop = self._loop(built, seed, tracker, hooks, learn=True)
            if state is not None:
                loop.load_state_dict(state["loop"])
                log.info("resumed run %s at %d env steps", resume_id, loop.counters.env_steps)
                if loop.counters.env_steps >= steps:
                    log.warning(
                        "run %s is already at %d env steps, so --steps %d leaves nothing to "
                        "learn: --steps is the total to reach, give more to continue",
                        str(resume_id)[:8],
                        loop.counters.env_steps,
                        steps,
                    )
            if video_every:
                film_evaluations(loop, self._video_folder, video_every)
            try:
                if actors:
                    learn_on_ray(self, loop, built, tracker, state, steps, seed, placement)
                else:
                    loop.learn(steps)
            finally:
                loop.close()
                if video_every:
                    self._keep_videos(tracker)
            result = self._result(tracker, loop)
        self._plot_curve(result.run_id)
        return result

    def _plot_curve(self, run_id: str) -> None:
        """The finished run's learning curve, as plots/<run id>.png and a run artifact."""
        from agentos.viz.runs import plot_runs

        try:
            plot_runs(self.agent_dir, [run_id], out=self.agent_dir / "plots" / f"{run_id[:8]}.png")
        except AgentOSError as e:  # no evaluation to draw, a plots file: the run is fine
            folder = self.agent_dir / "plots"
            report = log.warning if folder.exists() and not folder.is_dir() else log.info
            report("no learning curve for run %s: %s", run_id[:8], str(e).splitlines()[0])

    def _resume_target(self, resume: bool | str) -> tuple[str, Path]:
        ref = resume if isinstance(resume, str) else "latest"
        if not ref.strip():
            raise CheckpointError(
                f"--resume --from {ref!r}: an empty RUN_ID names no run to continue",
                fix="give the run to continue (`agentos runs` lists them), or leave out --from "
                "to continue the latest run",
            )
        try:
            return find_checkpoint(self.agent_dir, ref)
        except CheckpointError as e:
            raise CheckpointError(
                f"--resume found no checkpoint to continue from ({e.args[0].splitlines()[0]})",
                fix="start a new run with `agentos learn` (without --resume)",
            ) from None

    # --- offline -----------------------------------------------------------------------
    def learn_offline(
        self,
        updates: int,
        *,
        seed: int = 0,
        resume: bool | str = False,
        hooks: Any = None,
        evaluate: bool = True,
        tags: dict[str, str] | None = None,
    ) -> RunResult:
        """Learn from the agent's dataset for ``updates`` learner updates (in total, when
        resuming), never stepping the environment except to evaluate (see
        ``agentos.datasets.offline_api.learn_offline``)."""
        from agentos.datasets.offline_api import learn_offline

        return learn_offline(
            self, updates, seed=seed, resume=resume, hooks=hooks, evaluate=evaluate, tags=tags
        )

    def record(
        self,
        episodes: int,
        dataset: str,
        *,
        seed: int = 0,
        checkpoint: str | None = None,
        explore: bool = False,
    ) -> Any:
        """Play ``episodes`` episodes with the actor and write them as Minari dataset
        ``dataset`` in the agent folder (see ``agentos.datasets.offline_api.record``)."""
        from agentos.datasets.offline_api import record

        return record(self, episodes, dataset, seed=seed, checkpoint=checkpoint, explore=explore)

    # --- run ---------------------------------------------------------------------------
    def run(
        self,
        episodes: int = 10,
        *,
        seed: int = 0,
        checkpoint: str | None = None,
        hooks: Any = None,
        video: bool = False,
        trace: str | Path | None = None,
        overlay: bool = False,
    ) -> RunResult:
        """Evaluate the greedy policy for ``episodes`` episodes (from a checkpoint if given).

        ``video`` records the evaluation episodes as mp4 files (``<agent>/videos/<run id>/``,
        also run artifacts), with the actor's per-step values beside the frames if
        ``overlay``; ``trace`` writes one CSV row per evaluation step there.
        """
        from agentos.runtime.checkpoint import load_run_checkpoint as load_checkpoint

        check_counts(episodes=episodes, seed=seed)
        check_api_arguments(checkpoint=checkpoint, trace=trace, hooks=hooks)
        if trace is not None:
            from agentos.viz.trace import check_trace_path

            check_trace_path(Path(trace))
        if video and self._video_folder is None:
            filmed = self._filmed()
            filmed._overlay = overlay
            return filmed.run(episodes, seed=seed, checkpoint=checkpoint, hooks=hooks, trace=trace)
        self._trace_path = None if trace is None else Path(trace)
        state = None
        source = None
        ckpt = None
        has_learner = self.graph.node("learner") is not None
        if checkpoint is None and has_learner:
            try:
                source, ckpt = find_checkpoint(self.agent_dir, "latest")
            except CheckpointError:
                from agentos.datasets.offline_api import refuse_acting_without_data

                refuse_acting_without_data(self.graph, "evaluate")
                log.warning("no checkpoint yet: evaluating the untrained agent")
            else:
                # A checkpoint that exists but cannot be read is refused, never replaced by
                # the untrained agent.
                state = load_checkpoint(ckpt)
        elif checkpoint is not None:
            self._refuse_checkpoint_without_learner(checkpoint)
            source, ckpt = find_checkpoint(self.agent_dir, checkpoint)
            state = load_checkpoint(ckpt)
        if state is not None:
            rebuilt = self._with_checkpoint_overrides(state)
            if rebuilt is not self:
                return rebuilt._run_from(state, source, episodes, seed, hooks, ckpt)
        return self._run_from(state, source, episodes, seed, hooks, ckpt)

    def _refuse_checkpoint_without_learner(self, checkpoint: str) -> None:
        if self.graph.node("learner") is None:
            raise CheckpointError(
                f"--checkpoint {checkpoint}: this agent has no learner, so it has no checkpoints",
                where=f"{self.spec.path}: components",
                fix="leave out --checkpoint (the agent acts as it is), or install a learner "
                "(`agentos install dqn`) and `agentos learn` first",
            )

    def _run_from(
        self,
        state: dict[str, Any] | None,
        source: str | None,
        episodes: int,
        seed: int,
        hooks: Any,
        ckpt: Path | None = None,
    ) -> RunResult:
        tags = {"agentos.episodes": str(episodes), "agentos.overrides": json.dumps(self.overrides)}
        if source:
            tags["agentos.checkpoint_run"] = source
        check = self._fits(state, ckpt or Path(str(source)), resume=False) if state else None
        with self._tracked("run", seed, tags, None, check) as (tracker, built):
            loop = self._loop(built, seed, tracker, hooks, learn=False)
            if state is not None:
                loop.load_state_dict(state["loop"], new_episodes=True)
                loop.counters.evaluations = 0
                loop.counters.eval_episodes = 0
                loop.eval_history = []
            if self._trace_path is not None:
                from agentos.viz.trace import StepTrace

                loop.trace = StepTrace(self._trace_path)
            if self._video_folder is not None:
                from agentos.viz.video import EpisodeFilm

                loop.film = EpisodeFilm(self._video_folder, overlay=self._overlay)
            try:
                loop.evaluate(episodes)
            finally:
                loop.close()
                if loop.trace is not None:
                    tracker.log_file(loop.trace.write(), "traces")
            result = self._result(tracker, loop)
            result.trace = self._trace_path
            if self._video_folder is not None:
                result.videos = self._keep_videos(tracker)
            return result

    # --- videos (agentos.api_videos) ---------------------------------------------------
    def _filmed(self) -> Agent:
        """This agent with an environment that films every finished episode."""
        from agentos.api_videos import filmed

        return filmed(self)

    def _keep_videos(self, tracker: Any) -> list[Path]:
        """Move the evaluation's videos to ``videos/<run id>/`` and log them as artifacts."""
        from agentos.api_videos import keep_videos

        return keep_videos(self, tracker)

    # --- plumbing ----------------------------------------------------------------------
    def _loop(self, built: Any, seed: int, tracker: Any, hooks: Any, learn: bool) -> Any:
        return tracked_loop(self, built, seed, tracker, hooks, learn)

    def _result(self, tracker: Any, loop: Any) -> RunResult:
        c = loop.counters
        last = loop.eval_history[-1]["returns"] if loop.eval_history else []
        ckpt = checkpoint_path(self.agent_dir, tracker.run_id)
        return RunResult(
            run_id=tracker.run_id,
            status="FINISHED",
            env_steps=c.env_steps,
            episodes=c.episodes,
            learner_updates=c.learner_updates,
            eval_returns=list(last),
            eval_history=list(loop.eval_history),
            checkpoint=ckpt if ckpt.exists() else None,
        )

    def lock(self) -> dict[str, dict[str, Any]]:
        """Sources, versions and current content hashes of every component."""
        return component_lock(self)

    def _tracked(
        self,
        kind: str,
        seed: int,
        tags: dict[str, str],
        resume_id: str | None,
        check: Any = None,
    ) -> AbstractContextManager[tuple[Any, Any]]:
        """Build the agent, run ``check(built)`` (nothing is tracked if it fails), then start
        (or reopen) the tracked run (``agentos.api_tracking.tracked_run``)."""
        return tracked_run(self, kind, seed, tags, resume_id, check)


def spec_from_text(text: str, agent_dir: Path) -> AgentSpec:
    """A spec parsed from stored text, as if it were the agent folder's agentos.yaml."""
    import yaml

    path = agent_dir / "agentos.yaml"
    data = yaml.safe_load(text) or {}
    return parse_spec(data, path)


__all__ = [
    "Agent",
    "RunResult",
    "load_agent",
    "checkpoint_path",
    "find_checkpoint",
    "spec_from_text",
]
