"""``agentos record --from-run RUN``: what an online run's replay holds, as a Minari dataset.

The run's checkpoint (its own folder first, else its stored artifact:
``agentos.tracking.checkpoints.find_checkpoint``) keeps the uniform replay's contents, oldest
first (``UniformReplay.state_dict``): one row per environment step with ``observation``,
``action``, ``reward``, ``discount`` (``1 - terminated``), ``ended`` (terminated or truncated)
and ``next_observation``. The loop adds the N environment copies' steps together, so row ``j``
comes from copy ``(j + offset) % N``; ``offset`` is ``(env_steps - size) % N`` when the buffer
wrapped (``env_steps`` being the run's counter of steps added), and it is checked: inside a
copy's stream every step that did not end an episode must be followed by the step starting
from its ``next_observation``. Each copy's stream is cut into episodes where ``ended`` is set.

Two pieces are not whole episodes, and are kept as what they are:

* the first episode of a copy may have lost its beginning to FIFO eviction: it starts at the
  oldest step the buffer kept (Minari episodes need not start at a reset);
* the last one may still have been running when the checkpoint was written: it is marked
  truncated at its last step, so a learner bootstraps from its ``next_observation`` as it would
  for a time limit.

Termination is ``discount == 0``; truncation is ``ended`` without termination.

R2D2's sequence replay (``PrioritizedSequenceReplay``, filled by
``agentos.agents.r2d2.adder.SequenceAdder``) is exported as the steps of its sequences, each
step once (``sequence_fragments``). Sequences of one episode start every ``period`` steps and
overlap, and the stored ones do not say which environment copy they came from, so each sequence
gives one fragment: the real steps before the next sequence's start (``period`` steps on, past
an episode's first sequence's padding), or all of them for the last sequence of an episode
(after which the adder emits none). A fragment ends truncated where it was cut (a learner
bootstraps there) and terminated where its episode terminated; Minari stores each fragment as
an episode. Steps in sequences the adder had not emitted yet, or that FIFO eviction dropped,
are missing. Agent57's sequences hold two rewards per step, ``[r_e, r_i]``: the dataset keeps
the extrinsic one (the intrinsic reward depends on the episodic memory and RND of that moment,
which an offline learner cannot redo), and the mixture arm each step was played with goes to
the step extras (``arm``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np

from agentos.datasets.storage import DatasetError, Episode

log = logging.getLogger(__name__)

REPLAY_FIELDS = ("observation", "action", "reward", "discount", "ended", "next_observation")
"""The arrays of a uniform replay's checkpointed contents that the export reads."""


def replay_episodes(
    contents: dict[str, np.ndarray], num_envs: int, env_steps: int | None = None
) -> list[Episode]:
    """The episodes in a uniform replay's chronological ``contents`` of ``num_envs`` copies.

    ``env_steps`` (steps ever added) gives the copy of the oldest row when the buffer wrapped;
    without it, or when it does not fit, every offset is tried and the one whose streams are
    continuous is used. Raises DatasetError when none is.
    """
    size = len(contents["reward"])
    if size == 0:
        return []
    n = int(num_envs)
    candidates = list(range(n))
    if env_steps is not None:
        first = (int(env_steps) - size) % n
        candidates.remove(first)
        candidates.insert(0, first)
    for offset in candidates:
        streams = [np.arange(size)[(np.arange(size) + offset) % n == i] for i in range(n)]
        if all(_continuous(contents, rows) for rows in streams):
            pieces = sorted(
                (piece for rows in streams for piece in _cut(contents, rows)),
                key=lambda piece: piece[0],
            )
            return [episode for _, episode in pieces]  # in the order they started
    raise DatasetError(
        f"the replay's {size} steps do not form continuous trajectories of {n} environment "
        "copies (each step's next_observation should start that copy's next step)",
        fix="export a run of the single-process loop (not --actors), with the replay it "
        "was trained with; or record episodes with `agentos record --episodes N --checkpoint RUN`",
    )


def _continuous(contents: dict[str, np.ndarray], rows: np.ndarray) -> bool:
    """Whether each step of one copy's stream that did not end leads to the next one."""
    if len(rows) < 2:
        return True
    go_on = ~contents["ended"][rows[:-1]]
    after = contents["next_observation"][rows[:-1]][go_on]
    return bool(np.array_equal(after, contents["observation"][rows[1:]][go_on]))


def _cut(contents: dict[str, np.ndarray], rows: np.ndarray) -> list[tuple[int, Episode]]:
    """One copy's stream cut into (first row, episode) pairs at its ``ended`` steps."""
    ends = np.flatnonzero(contents["ended"][rows])
    bounds = [*(ends + 1).tolist()]
    if not bounds or bounds[-1] != len(rows):
        bounds.append(len(rows))
    pieces, start = [], 0
    for stop in bounds:
        part = rows[start:stop]
        terminated = contents["discount"][part] == 0.0
        truncated = contents["ended"][part] & ~terminated
        truncated[-1] = not terminated[-1]  # a running episode is cut by the checkpoint
        pieces.append(
            (
                int(part[0]),
                Episode(
                    observations=np.concatenate(
                        [contents["observation"][part], contents["next_observation"][part[-1:]]]
                    ),
                    actions=np.asarray(contents["action"][part], dtype=np.int64),
                    rewards=np.asarray(contents["reward"][part], dtype=np.float32),
                    terminations=terminated,
                    truncations=truncated,
                ),
            )
        )
        start = stop
    return pieces


def replay_contents(state: dict[str, Any], run_id: str) -> dict[str, np.ndarray]:
    """The uniform replay's contents in a checkpoint record; DatasetError when it kept none."""
    where = f"run {run_id[:8]}'s checkpoint"
    replay = (state.get("loop", {}).get("components") or {}).get("replay")
    if replay is None:
        raise DatasetError(
            "the run has no replay in its checkpoint", where=where, fix="pick a learn run"
        )
    if "digest" in replay and "contents" not in replay:
        raise DatasetError(
            "the run learned offline from a dataset, so its replay holds no new experience",
            where=where,
            fix="export an online run (`agentos runs` lists them), or use its dataset directly",
        )
    contents = replay.get("contents") or {}
    if not contents:
        raise DatasetError(
            "the run's checkpoint holds no replay contents (replay.checkpoint=none, or it "
            "had not acted yet)",
            where=where,
            fix="train with replay.checkpoint=all (the default) to export its replay",
        )
    if "keys" in replay and "priorities" in replay:
        return sequence_contents(contents, replay["keys"], where)
    missing = [k for k in REPLAY_FIELDS if k not in contents]
    if missing:
        raise DatasetError(
            f"the run's replay has no {', '.join(missing)}: it is not a uniform replay",
            where=where,
            fix="export a run of uniform_replay (e.g. the dqn bundle)",
        )
    return {key: np.asarray(contents[key]) for key in REPLAY_FIELDS}


SEQUENCE_FIELDS = ("observation", "action", "reward", "discount", "mask")
"""The arrays of R2D2's stored sequences that the export reads."""
SEQUENCE_EXTRAS = ("arm",)
"""Per-step extras of stored sequences that the export keeps where present (Agent57's arm)."""
AGENT57_HEADS = 2
"""Agent57 stores ``[r_e, r_i]`` per step (``agentos.agents.agent57.actor``)."""


def sequence_contents(contents: dict[str, Any], keys: Any, where: str) -> dict[str, np.ndarray]:
    """R2D2's checkpointed sequences in the order they were inserted (by key)."""
    missing = [k for k in SEQUENCE_FIELDS if k not in contents]
    if missing:
        raise DatasetError(
            f"the run's sequence replay has no {', '.join(missing)}",
            where=where,
            fix="export a run of the r2d2 bundle",
        )
    reward = np.asarray(contents["reward"])
    if reward.ndim == 3 and reward.shape[-1] == AGENT57_HEADS:
        reward = reward[..., 0]  # Agent57's extrinsic reward (see the module docstring)
    if reward.ndim != 2:
        raise DatasetError(
            f"the run's sequences hold rewards of shape {reward.shape[1:]} per step, which "
            "neither R2D2 ([T]) nor Agent57 ([T, 2]) stores",
            where=where,
            fix="record episodes with its actor instead: `agentos record --episodes N "
            "--checkpoint RUN --dataset NAME`",
        )
    order = np.argsort(np.asarray(keys), kind="stable")
    fields = {key: np.asarray(contents[key])[order] for key in SEQUENCE_FIELDS}
    fields["reward"] = reward[order]
    for key in SEQUENCE_EXTRAS:
        if key in contents:
            fields[key] = np.asarray(contents[key])[order]
    return fields


def sequence_fragments(contents: dict[str, np.ndarray], burn_in: int, period: int) -> list[Episode]:
    """Each stored sequence's own steps as one fragment (see the module docstring).

    Sequence alignment is the adder's: step ``t`` holds ``x_t``, ``a_t``, the reward and
    discount of arriving at ``x_t``, mask 1 where an action was taken; the first mask-0 step
    holds the episode's final observation. So the transition ``(x_t, a_t) -> x_{t+1}`` has
    reward ``reward[t + 1]`` and terminates if ``discount[t + 1] == 0`` at the final
    observation.
    """
    fragments = []
    extra_keys = [key for key in SEQUENCE_EXTRAS if key in contents]
    for index, (obs, action, reward, discount, mask) in enumerate(
        zip(*(contents[k] for k in SEQUENCE_FIELDS), strict=True)
    ):
        length = len(mask)
        acted = mask > 0
        # An episode's first sequence starts with padding before x_0 (the adder's burn-in).
        pads = int(np.argmax(acted)) if not acted[0] and acted.any() else 0
        after = np.flatnonzero(~acted[pads:])
        real = pads + int(after[0]) if len(after) else length
        ends = real < length  # the episode's final observation is at index ``real``
        drop = max(period, pads)  # where the adder starts the next sequence
        last = ends and real <= drop + burn_in  # the adder emits no sequence after it
        take = (real if last else drop) - pads
        take = min(take, length - 1 - pads)  # x_{take} must be in the sequence
        if take < 1:
            continue
        terminated = np.zeros(take, bool)
        truncated = np.zeros(take, bool)
        if ends and pads + take == real and discount[real] == 0.0:
            terminated[-1] = True
        else:
            truncated[-1] = True  # cut here (or by a time limit): bootstrap from x_{take}
        steps = slice(pads, pads + take)
        fragments.append(
            Episode(
                observations=obs[pads : pads + take + 1],
                actions=np.asarray(action[steps], dtype=np.int64),
                rewards=np.asarray(reward[pads + 1 : pads + take + 1], dtype=np.float32),
                terminations=terminated,
                truncations=truncated,
                extras={key: _choice_rows(contents[key][index][pads:], take) for key in extra_keys},
            )
        )
    return fragments


def _choice_rows(values: np.ndarray, take: int) -> np.ndarray:
    """[take + 1] ints: the choice made at each of the fragment's steps, the last row repeating
    the last choice (``storage.CHOICE_EXTRAS``; the adder pads the final observation with 0)."""
    rows = np.asarray(values[: take + 1]).astype(np.int64)
    rows[take] = rows[take - 1]
    return rows


def record_from_run(agent: Any, run: str, dataset: str, *, seed: int = 0) -> Any:
    """Write what run ``run``'s replay held at its latest checkpoint as Minari dataset
    ``dataset``; a tracked ``record`` run (tagged with the source run) like ``record``."""
    from agentos.components.params import flatten
    from agentos.datasets.lineage import TAG_RECORDED
    from agentos.datasets.offline_api import RecordResult
    from agentos.datasets.storage import agent_storage, check_name, write_dataset
    from agentos.runtime.checkpoint import load_run_checkpoint
    from agentos.tracking.checkpoints import find_checkpoint
    from agentos.tracking.store import RunTracker

    check_name(dataset)
    folder = agent_storage(agent.agent_dir) / dataset
    if (folder / "data").exists():
        raise DatasetError(
            f"a dataset named {dataset!r} already exists at {folder}",
            where="--dataset",
            fix="choose another name (e.g. add -v1), or delete that folder",
        )
    source, path = find_checkpoint(agent.agent_dir, run)
    state = load_run_checkpoint(path)
    contents = replay_contents(state, source)
    if state.get("env") and state["env"] != agent.env_name():
        raise DatasetError(
            f"run {source[:8]} learned in {state['env']}, this agent's environment is "
            f"{agent.env_name()}",
            where="--from-run",
            fix=f"install {state['env']} (`agentos install ...`), or pick a run of this "
            "environment",
        )
    params = state.get("params", {})
    if "mask" in contents:  # R2D2's sequences
        burn_in, period = params.get("actor.burn_in"), params.get("actor.period")
        if burn_in is None or period is None:
            raise DatasetError(
                "the run's checkpoint records no actor.burn_in/actor.period, which cutting its "
                "sequences back into steps needs",
                where=f"run {source[:8]}'s checkpoint",
                fix="export a run of the r2d2 bundle",
            )
        episodes = sequence_fragments(contents, int(burn_in), int(period))
    else:
        num_envs = int(params.get("environment.num_envs", 1))
        env_steps = state["loop"].get("counters", {}).get("env_steps")
        episodes = replay_episodes(contents, num_envs, env_steps)
    if not episodes:
        raise DatasetError(
            f"run {source[:8]}'s replay holds no complete step to export",
            where="--from-run",
            fix="export a run that has acted longer",
        )
    env = agent.graph.build_one("environment", seed, "/export")
    try:
        obs_space, act_space = env.observation_space, env.action_space
    finally:
        getattr(env, "close", lambda: None)()
    returns = [float(np.sum(ep.rewards)) for ep in episodes]
    steps = int(sum(len(ep.rewards) for ep in episodes))
    tags = {
        "agentos.dataset_recording": dataset,
        "agentos.checkpoint_run": source,
        "agentos.from_run": source,
        "agentos.overrides": json.dumps(agent.overrides),
    }
    tracker = RunTracker.start(
        agent.agent_dir,
        kind="record",
        agent_name=agent.spec.name,
        env_name=agent.env_name(),
        params={**flatten(agent.graph.full_params()), "seed": seed},
        seed=seed,
        tags=tags,
    )
    with tracker:
        digest = write_dataset(
            folder,
            dataset,
            episodes,
            obs_space,
            act_space,
            provenance={
                "actor": "replay",
                "record_run": tracker.run_id,
                "checkpoint_run": source,
                "from_run": source,
                "env": agent.env_name(),
                "seed": seed,
                "return_mean": float(np.mean(returns)),
                # no run id here: the same steps give the same files, hence the same digest
                "description": f"the replay of an online run ({steps} steps of "
                f"{agent.env_name()}), exported by agentos record --from-run",
            },
        )
        tracker.log_metrics(
            {
                "record/return_mean": float(np.mean(returns)),
                "record/episodes": float(len(episodes)),
                "record/steps": float(steps),
            },
            0,
        )
        tracker.set_tags({TAG_RECORDED: f"{dataset} {digest}"})
        log.info("exported %d steps of run %s's replay as %s", steps, source[:8], dataset)
        return RecordResult(
            tracker.run_id, dataset, folder, digest, len(episodes), steps, float(np.mean(returns))
        )
