"""``Agent.record`` and ``Agent.learn_offline``: record episodes into a dataset, learn from one.

Both are tracked runs like ``learn`` and ``run`` (kind ``record``, and ``learn`` with the tag
``agentos.offline``), built on the same plumbing (``Agent._tracked``, checkpoints, hooks).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agentos.datasets.storage import (
    CHOICE_EXTRAS,
    STATE_EXTRAS,
    DatasetError,
    Episode,
    agent_storage,
    check_name,
)
from agentos.errors import CheckpointError, GraphError
from agentos.tracking.rerun import TAG_OFFLINE, TAG_OFFLINE_EVALUATION

log = logging.getLogger(__name__)


@dataclass
class RecordResult:
    """What ``Agent.record`` returns."""

    run_id: str
    dataset: str
    path: Path
    digest: str
    episodes: int
    steps: int
    return_mean: float


def refuse_acting_without_data(graph: Any, verb: str) -> None:
    """Refuse ``run``/``record`` of an untrained offline agent (no checkpoint) whose dataset
    component names no dataset: it cannot be built, and the usual "no dataset set" error would
    tell a user who is recording to go and record."""
    from agentos.datasets.component import DatasetSource

    node = graph.node("replay")
    if node is None or not issubclass(node.cls, DatasetSource):
        return
    if getattr(node.params, "dataset", "x"):
        return
    learner = graph.spec.components.get("learner")
    offline = str(getattr(learner, "registry_name", None) or "").removesuffix("_learner")
    offline = offline if offline in ("cql", "bc", "r2d2_cql") else "cql"
    online = "r2d2" if offline == "r2d2_cql" else "dqn"
    raise DatasetError(
        f"this agent learns offline, from a recorded dataset, and has neither a dataset nor a "
        f"checkpoint yet: there is no trained agent to {verb}, and its dataset component "
        "cannot be built without a dataset",
        where=f"{graph.spec.path}: components.{node.spec.name}.params.dataset",
        fix=f"record a dataset in this folder with an agent that learns online: `agentos "
        f"install {online}`, `agentos learn`, `agentos record --episodes 100 --dataset NAME`; "
        f"then `agentos install {offline}` and `agentos learn --offline --dataset NAME` (a "
        "dataset in your Minari storage is found by name too)",
    )


def record(
    agent: Any,
    episodes: int,
    dataset: str,
    *,
    seed: int = 0,
    checkpoint: str | None = None,
    explore: bool = False,
) -> RecordResult:
    """Play ``episodes`` episodes with the agent's actor (from ``checkpoint``: latest, best or
    a run id; the latest by default when the agent has a learner) and write them as the Minari
    dataset ``dataset`` in the agent folder. ``explore`` acts with the training exploration
    (e.g. DQN's final epsilon) instead of the evaluation policy (``actor.evaluation_epsilon``)."""
    from agentos.components.checks import check_counts
    from agentos.runtime.checkpoint import load_run_checkpoint
    from agentos.tracking.checkpoints import find_checkpoint

    check_counts(episodes=episodes, seed=seed)
    check_name(dataset)
    folder = agent_storage(agent.agent_dir) / dataset
    if (folder / "data").exists():
        raise DatasetError(
            f"a dataset named {dataset!r} already exists at {folder}",
            where="--dataset",
            fix="choose another name (e.g. add -v1), or delete that folder",
        )
    state, source, ckpt = None, None, None
    if checkpoint is not None:
        agent._refuse_checkpoint_without_learner(checkpoint)
        source, ckpt = find_checkpoint(agent.agent_dir, checkpoint)
    elif agent.graph.node("learner") is not None:
        try:
            source, ckpt = find_checkpoint(agent.agent_dir, "latest")
        except CheckpointError:
            refuse_acting_without_data(agent.graph, "record with")
            log.warning("no checkpoint yet: recording the untrained agent")
    if ckpt is not None:
        state = load_run_checkpoint(ckpt)
        agent = agent._with_checkpoint_overrides(state)
    tags = {
        "agentos.episodes": str(episodes),
        "agentos.dataset_recording": dataset,
        "agentos.overrides": json.dumps(agent.overrides),
    }
    if source:
        tags["agentos.checkpoint_run"] = source
    check = agent._fits(state, ckpt, resume=False) if state is not None else None
    with agent._tracked("record", seed, tags, None, check) as (tracker, built):
        loop = agent._loop(built, seed, tracker, None, learn=False)
        try:
            if state is not None:
                loop.load_state_dict(state["loop"], new_episodes=True)
            env_steps = loop.counters.env_steps
            played = play_episodes(loop.env, loop.actor, episodes, seed, explore, env_steps)
        finally:
            loop.close()
        from agentos.datasets.lineage import TAG_RECORDED
        from agentos.datasets.storage import write_dataset

        returns = [float(np.sum(ep.rewards)) for ep in played]
        steps = int(sum(len(ep.rewards) for ep in played))
        env = built.one("environment")
        digest = write_dataset(
            folder,
            dataset,
            played,
            env.observation_space,
            env.action_space,
            provenance={
                "actor": type(loop.actor).__name__,
                "record_run": tracker.run_id,
                "checkpoint_run": source or "",
                "env": agent.env_name(),
                "explore": explore,
                "seed": seed,
                "return_mean": float(np.mean(returns)),
                "description": f"{episodes} episodes of {agent.env_name()} recorded by agentos",
            },
        )
        tracker.log_metrics(
            {
                "record/return_mean": float(np.mean(returns)),
                "record/return_std": float(np.std(returns)),
                "record/episodes": float(len(played)),
                "record/steps": float(steps),
            },
            0,
        )
        tracker.set_tags({TAG_RECORDED: f"{dataset} {digest}"})
        return RecordResult(
            tracker.run_id, dataset, folder, digest, len(played), steps, float(np.mean(returns))
        )


def play_episodes(
    env: Any, actor: Any, episodes: int, seed: int, explore: bool, env_steps: int
) -> list[Episode]:
    """The first ``episodes`` complete episodes the actor plays in the N environment copies,
    with the actor's per-step extras where it has them (``storage.STEP_EXTRAS``)."""
    from agentos.api_tracking import _InterruptFlag
    from agentos.runtime.actor_calls import select_actions
    from agentos.runtime.loop import _reset_extras

    n = env.num_envs
    obs = env.reset(seed=2_000_000 + seed * 7919)
    extras = actor.initial_extras(n)
    open_eps: list[dict[str, Any]] = [_new_buffer(obs[i]) for i in range(n)]
    finished: list[Episode] = []
    while len(finished) < episodes:
        if _InterruptFlag.requested:  # Ctrl-C/kill: stop before writing anything
            raise KeyboardInterrupt("interrupted")
        action, chosen = select_actions(
            actor, env, obs, extras, explore=explore, env_steps=env_steps
        )
        step = env.step(action)
        done = step.terminated | step.truncated
        for i in range(n):
            buf = open_eps[i]
            buf["actions"].append(action[i])
            buf["rewards"].append(step.reward[i])
            buf["terminations"].append(bool(step.terminated[i]))
            buf["truncations"].append(bool(step.truncated[i]))
            _add_extras(buf, extras, chosen, i)
            # The episode's last observation is the one it ended in, not the next reset's.
            last = step.final_observation if done[i] else step.observation
            buf["observations"].append(last[i])
            if done[i]:
                _add_extras(buf, chosen, chosen, i)  # what it would act from in x_T
                finished.append(_episode(buf))
                open_eps[i] = _new_buffer(step.observation[i])
        extras = _reset_extras(actor, actor.after_step(chosen, step), done)
        obs = step.observation
    return finished[:episodes]


def _add_extras(buf: dict[str, Any], before: dict, after: dict, i: int) -> None:
    """Append environment ``i``'s row of the recorded extras: the recurrent state the action
    was chosen with (``before`` the choice) and what was chosen with it (``after``: the arm)."""
    for keys, source in ((STATE_EXTRAS, before), (CHOICE_EXTRAS, after)):
        for key in keys:
            if key in source:
                buf["extras"].setdefault(key, []).append(np.array(source[key][i]))


def _new_buffer(first_observation: np.ndarray) -> dict[str, Any]:
    return {
        "observations": [np.asarray(first_observation)],
        "actions": [],
        "rewards": [],
        "terminations": [],
        "truncations": [],
        "extras": {},
    }


def _episode(buf: dict[str, Any]) -> Episode:
    return Episode(
        observations=np.stack(buf["observations"]),
        actions=np.asarray(buf["actions"], dtype=np.int64),
        rewards=np.asarray(buf["rewards"], dtype=np.float32),
        terminations=np.asarray(buf["terminations"], dtype=bool),
        truncations=np.asarray(buf["truncations"], dtype=bool),
        extras={key: np.stack(rows) for key, rows in buf["extras"].items()},
    )


def check_offline_resume(replay: Any) -> None:
    """Refuse ``--offline --resume`` when the replay is not a dataset: the run it would
    continue learned online, and its checkpointed replay is what it collected by acting."""
    from agentos.datasets.component import DatasetSource

    if not isinstance(replay, DatasetSource):
        raise DatasetError(
            "--offline --resume continues an offline run, and this agent's replay is filled "
            "by acting (it learned online)",
            where="agentos learn",
            fix="continue it online with `agentos learn --resume` (without --offline), or "
            "export what its replay holds with `agentos record --from-run RUN --dataset NAME` "
            "and learn from that with an offline learner (`agentos install cql`)",
        )


def learn_offline(
    agent: Any,
    updates: int,
    *,
    seed: int = 0,
    resume: bool | str = False,
    hooks: Any = None,
    evaluate: bool = True,
    tags: dict[str, str] | None = None,
) -> Any:
    """Run ``updates`` learner updates (in total, when resuming) on the agent's dataset, with
    no environment interaction except evaluation episodes (none if not ``evaluate``)."""
    from agentos.api import _TrackingHooks
    from agentos.components.checks import check_counts
    from agentos.datasets.lineage import log_dataset_input
    from agentos.runtime.checkpoint import load_run_checkpoint
    from agentos.runtime.offline_loop import OfflineLoop, check_offline_data

    check_counts(updates=updates, seed=seed)
    if agent.graph.node("learner") is None:
        raise GraphError(
            "this agent has no learner, so there is nothing to train",
            where=f"{agent.spec.path}: components",
            fix="install one, e.g. `agentos install cql`",
        )
    state, resume_id, check = None, None, None
    if resume is True or isinstance(resume, str):  # "" is refused as an empty run id
        resume_id, ckpt = agent._resume_target(resume)
        state = load_run_checkpoint(ckpt)
        seed = int(state.get("seed", seed))
        check = agent._fits(state, ckpt, resume=True)
    run_tags = {
        "agentos.steps": str(updates),
        TAG_OFFLINE: "true",
        TAG_OFFLINE_EVALUATION: str(evaluate).lower(),
        "agentos.overrides": json.dumps(agent.overrides),
        **(tags or {}),
    }
    fits = check

    def check_before_the_run(built: Any) -> None:  # refused inputs leave no FAILED run
        if fits is not None:
            fits(built)
        if not resume:  # a resumed run's replay comes from its checkpoint
            check_offline_data(built.one("learner"))
        else:
            check_offline_resume(built.one("replay"))

    with agent._tracked("learn", seed, run_tags, resume_id, check_before_the_run) as (
        tracker,
        built,
    ):
        lineage = getattr(built.one("replay"), "lineage", None)
        if lineage is not None and resume_id is None:
            log_dataset_input(tracker, lineage())
        loop = OfflineLoop(
            evaluate=evaluate,
            environment=built.one("environment"),
            actor=built.one("actor"),
            learner=built.one("learner"),
            params=agent.graph.loop,
            make_eval_env=lambda: agent.graph.build_one("environment", seed, "/eval"),
            seed=seed,
            hooks=_TrackingHooks(agent, tracker, seed, hooks, keep_best=True),
            components=built.components,
        )
        if state is not None:
            loop.load_state_dict(state["loop"])
            log.info("resumed run %s at %d updates", resume_id, loop.counters.learner_updates)
        try:
            loop.learn(updates)
        finally:
            loop.close()
        return agent._result(tracker, loop)
