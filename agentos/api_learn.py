"""What ``agentos.api.Agent.learn`` does besides running the loop: checking its arguments,
filming evaluations, and handing the loop to the Ray layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentos.api import Agent


@dataclass(frozen=True)
class RayPlacement:
    """Where ``learn`` runs its parts: everything in this process (``actors == 0``) or the
    Ray layout (``agentos.runtime.layouts``)."""

    actors: int = 0
    """Ray worker processes that act (0: no Ray, one process)."""
    address: str | None = None
    """An existing Ray cluster to join; None starts a local one bound to 127.0.0.1."""
    replay_shards: int = 1
    """Ray processes that hold the replay."""
    learner_actor: bool = False
    """The learner in its own Ray process instead of this one."""
    learner_gpu: bool = False
    """The learner in its own Ray process with a GPU."""


def check_learn_inputs(
    agent: Agent,
    steps: int,
    seed: int,
    placement: RayPlacement,
    video_every: int,
    *,
    resume: Any = False,
    tags: Any = None,
    hooks: Any = None,
) -> None:
    """``learn``'s arguments and the agent's learner, checked before anything starts."""
    from agentos.components.checks import check_api_arguments, check_counts
    from agentos.errors import AgentOSError, GraphError
    from agentos.runtime.layouts.ray_layout import check_layout

    check_api_arguments(resume=resume, tags=tags, hooks=hooks)
    check_counts(
        steps=steps,
        seed=seed,
        video_every=video_every,
        actors=placement.actors,
        replay_shards=placement.replay_shards,
    )
    check_layout(
        placement.actors,
        placement.address,
        placement.replay_shards,
        placement.learner_actor,
        placement.learner_gpu,
    )
    actors = placement.actors
    if video_every < 0 or (video_every and actors):
        raise AgentOSError(
            f"--video-every {video_every}: videos are filmed by the single-process "
            "evaluation" + (", not with --actors" if actors else " every N >= 1 env steps"),
            where="--video-every",
            fix="give a positive number of env steps, without --actors",
        )
    if agent.graph.node("learner") is None:
        raise GraphError(
            "this agent has no learner, so there is nothing to train",
            where=f"{agent.spec.path}: components",
            fix="install one, e.g. `agentos install dqn`, or use `agentos run`",
        )


def film_evaluations(loop: Any, folder: Path | None, video_every: int) -> None:
    """Film the first episode of the evaluations at least ``video_every`` env steps apart."""
    from agentos.viz.video import EpisodeFilm

    if folder is None:
        raise ValueError("film_evaluations needs the filmed agent's video folder")
    loop.film_every = video_every
    loop.make_film = lambda step: EpisodeFilm(folder, prefix=f"step-{step:09d}", limit=1)


def learn_on_ray(
    agent: Agent,
    loop: Any,
    built: Any,
    tracker: Any,
    state: dict[str, Any] | None,
    steps: int,
    seed: int,
    placement: RayPlacement,
) -> None:
    """``loop.learn`` with the actors (and optionally the learner) in Ray processes."""
    from agentos.runtime.layouts.ray_layout import RayLayout

    RayLayout(
        loop,
        replay=built.one("replay"),
        agent_dir=str(agent.agent_dir),
        overrides=agent.overrides,
        seed=seed,
        actors=placement.actors,
        address=placement.address,
        set_tags=tracker.set_tags,
        replay_shards=placement.replay_shards,
        resumed_components=state["loop"]["components"] if state else None,
        learner_actor=placement.learner_actor,
        learner_gpu=placement.learner_gpu,
    ).learn(steps)


def layout_check(placement: RayPlacement, then: Any = None) -> Any:
    """A check for ``_tracked`` (run on the built agent before any run is recorded): refuse
    ``--replay-shards`` above 1 and ``--learner-actor``/``--learner-gpu`` for an agent whose
    replay cannot be split over shard processes (DQN's uniform replay); then ``then``."""
    if not placement.actors:
        return then

    def check(built: Any) -> None:
        from agentos.errors import ParameterError
        from agentos.runtime.layouts.replay_shards import supports_shards

        replay, learner = built.one("replay"), built.one("learner")
        shardable = supports_shards(replay) and getattr(learner, "replay", None) is replay
        if not shardable and placement.replay_shards > 1:
            raise ParameterError(
                "--replay-shards needs a replay of sequences (add_items, sample, "
                "update_priorities) that the learner samples as its `replay`",
                where="agentos learn --replay-shards",
                fix="leave out --replay-shards: this agent's replay stays in the driver",
            )
        if not shardable and (placement.learner_actor or placement.learner_gpu):
            flag = "--learner-gpu" if placement.learner_gpu else "--learner-actor"
            raise ParameterError(
                f"{flag} needs the replay in shard processes, and this agent's replay cannot "
                "be sharded (it needs add_items, sample and update_priorities)",
                where=f"agentos learn {flag}",
                fix=f"leave out {flag}: the learner stays in this process",
            )
        if then is not None:
            then(built)

    return check
