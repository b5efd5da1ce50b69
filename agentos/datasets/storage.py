"""Offline datasets in Minari's format (Farama's offline-RL standard; d3rlpy reads it too).

A dataset ``NAME`` recorded by ``agentos record`` lives in the agent folder's own Minari
storage, ``<agent>/.agentos/datasets/NAME/data/`` (Minari's layout: ``metadata.json`` plus one
folder per episode, in Minari's ``arrow`` format), so ``minari.load_dataset(NAME)`` reads it
with ``MINARI_DATASETS_PATH=<agent>/.agentos/datasets``. Beside ``data/``, agentos keeps
``agentos-dataset.json``: the digest of the files written (``content_hash``, the same hash as
components) and where the data came from (run, checkpoint, actor). Reading a dataset whose files
no longer match that digest is refused.

Episodes are Minari's: ``observations`` [T+1, ...] (the last one is the observation the episode
ended in), ``actions``, ``rewards``, ``terminations``, ``truncations`` [T]. The actor's per-step
extras, where it has them, go in the episode's ``infos`` (Minari's per-step extra data, one row
per observation, [T+1, ...]; see ``STEP_EXTRAS``): row ``t`` is what the actor had when it acted
in ``observations[t]`` and the last row what it would act from in the final observation.
Datasets already in the user's Minari storage (``MINARI_DATASETS_PATH``, else
``~/.minari/datasets``) are found by name too; nothing is ever downloaded.

minari is imported inside functions only.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agentos.errors import AgentOSError

logger = logging.getLogger(__name__)

DATASETS_DIR = Path(".agentos") / "datasets"
"""The agent folder's own Minari storage, relative to the agent folder."""
SIDECAR = "agentos-dataset.json"
"""agentos's record of a dataset (digest, provenance), beside Minari's ``data/`` folder."""
DATA_FORMAT = "arrow"
"""Minari storage format written (pyarrow ships with agentos's dependencies; h5py does not)."""
STATE_EXTRAS = ("lstm_h", "lstm_c")
"""Recurrent actors' state (R2D2 [H], Agent57 [2, H] per step): the state the action at
``observations[t]`` was chosen with, i.e. before that observation was seen (zero at t = 0); the
last row is the state after the last step. ``agentos.agents.r2d2.actor.STATE_KEYS``."""
CHOICE_EXTRAS = ("arm",)
"""What the actor chose along with the action at ``observations[t]`` (Agent57's mixture arm,
an int); the last row repeats the episode's last choice."""
STEP_EXTRAS = STATE_EXTRAS + CHOICE_EXTRAS
"""The actor extras recorded per step in a dataset's ``infos`` (where the actor has them);
other ``infos`` of datasets written elsewhere are left unread."""


class DatasetError(AgentOSError):
    """A dataset is missing, unreadable, empty, changed, or does not fit the agent."""


@dataclass(frozen=True)
class Episode:
    """One recorded episode in Minari's layout."""

    observations: np.ndarray
    """[T+1, ...] observations, the last being where the episode ended."""
    actions: np.ndarray
    """[T] actions taken."""
    rewards: np.ndarray
    """[T] rewards received."""
    terminations: np.ndarray
    """[T] bool: the step reached a terminal state."""
    truncations: np.ndarray
    """[T] bool: the step was cut by a time limit."""
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    """{name: [T+1, ...]} the actor's per-step extras (``STEP_EXTRAS``), stored as ``infos``;
    empty for actors without them."""


@dataclass(frozen=True)
class Transitions:
    """Every step of a dataset as flat arrays (episodes concatenated, in order)."""

    observation: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    ended: np.ndarray
    """[N] bool: the episode ended at this step (terminated or truncated)."""
    next_observation: np.ndarray
    episodes: int
    returns: np.ndarray
    """[episodes] undiscounted return of each episode."""


def agent_storage(agent_dir: Path) -> Path:
    """The agent folder's Minari storage root."""
    return Path(agent_dir) / DATASETS_DIR


def user_storage() -> Path:
    """The user's own Minari storage (``MINARI_DATASETS_PATH`` or ``~/.minari/datasets``)."""
    env = os.environ.get("MINARI_DATASETS_PATH")
    return Path(env) if env else Path.home() / ".minari" / "datasets"


def find_dataset(agent_dir: Path, name: str) -> Path:
    """The folder of dataset ``name`` (holding ``data/``): the agent's storage first, then the
    user's Minari storage. Raises DatasetError naming what exists when it is in neither."""
    check_name(name)
    for root in (agent_storage(agent_dir), user_storage()):
        if (root / name / "data").is_dir():
            return root / name
    known = list_datasets(agent_dir)
    raise DatasetError(
        f"no dataset named {name!r} in {agent_storage(agent_dir)} or {user_storage()}"
        + (f" (recorded here: {', '.join(known)})" if known else ""),
        fix=f"record it with `agentos record --episodes 100 --dataset {name}`, or set "
        "replay.dataset to one of the datasets listed",
    )


def list_datasets(agent_dir: Path) -> list[str]:
    """Names of the datasets in the agent folder's storage."""
    root = agent_storage(agent_dir)
    if not root.is_dir():
        return []
    return sorted(p.parent.relative_to(root).as_posix() for p in root.rglob("data") if p.is_dir())


_NAME_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_name(name: str) -> None:
    """A dataset name must be a relative Minari id (``[namespace/...]name[-vN]``)."""
    parts = name.split("/") if isinstance(name, str) else [""]
    if not name or ".." in parts or not all(_NAME_PART.fullmatch(p) for p in parts):
        raise DatasetError(
            f"invalid dataset name {name!r}",
            fix="use a Minari id such as cartpole-expert-v0 or mygroup/cartpole-expert-v0 "
            "(ASCII letters, digits, '-', '_' and '.', namespaces separated by '/')",
        )


def data_files(folder: Path) -> list[Path]:
    """The files of a dataset's ``data/`` folder (what its digest covers)."""
    return sorted(p for p in (folder / "data").rglob("*") if p.is_file())


def dataset_digest(folder: Path) -> str:
    """``sha256:<hex>`` of the dataset's files (``agentos.components.sources.content_hash``)."""
    from agentos.components.sources import content_hash

    return content_hash(data_files(folder))


def read_sidecar(folder: Path) -> dict[str, Any]:
    """agentos's record of the dataset ({} for datasets agentos did not write)."""
    path = folder / SIDECAR
    if not path.is_file():
        return {}
    fix = f"delete the dataset folder {folder} and record it again"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path} is unreadable ({e})", fix=fix) from None
    if not isinstance(record, dict):
        raise DatasetError(
            f"{path} is not agentos's record of the dataset: a JSON "
            f"{type(record).__name__}, not an object",
            fix=fix,
        )
    return record


def write_dataset(
    folder: Path,
    name: str,
    episodes: list[Episode],
    observation_space: Any,
    action_space: Any,
    *,
    provenance: dict[str, Any] | None = None,
) -> str:
    """Write ``episodes`` as Minari dataset ``name`` into ``folder`` (``<root>/<name>``) and
    the sidecar with its digest; returns the digest. Refuses to overwrite a dataset.

    The files are written into a hidden sibling folder that becomes ``folder`` only once
    complete, so an interrupted or failed write leaves no half dataset behind."""
    import shutil

    check_name(name)
    if (folder / "data").exists():
        raise DatasetError(
            f"a dataset named {name!r} already exists at {folder}",
            fix="choose another --dataset name (e.g. add -v1), or delete that folder",
        )
    if not episodes:
        raise DatasetError("no complete episode to write", fix="record more --episodes")
    infos = [_infos(ep) for ep in episodes]  # checked before anything is written
    if folder.is_file() or (folder.exists() and any(folder.iterdir())):
        raise DatasetError(
            f"{folder} exists and holds no dataset",
            fix="choose another --dataset name, or delete that folder",
        )
    partial = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)  # left by an earlier interrupted write
    try:
        digest = _write_files(partial, name, episodes, infos, observation_space, action_space,
                              provenance)  # fmt: skip
        if folder.exists():
            folder.rmdir()  # an empty folder (a dataset with data/ was refused above)
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    logger.info("wrote dataset %s (%d episodes) to %s", name, len(episodes), folder)
    return digest


def _write_files(
    folder: Path,
    name: str,
    episodes: list[Episode],
    infos: list[dict[str, Any]],
    observation_space: Any,
    action_space: Any,
    provenance: dict[str, Any] | None,
) -> str:
    """The Minari files and the sidecar of ``write_dataset``, into ``folder``."""
    import minari
    from minari.data_collector.episode_buffer import EpisodeBuffer
    from minari.dataset.minari_storage import MinariStorage

    (folder / "data").mkdir(parents=True)
    storage = MinariStorage.new(
        folder / "data",
        observation_space=observation_space,
        action_space=action_space,
        data_format=DATA_FORMAT,
        jpeg_encoding=False,  # lossless frames: learners see what actors saw
    )
    provenance = dict(provenance or {})
    storage.update_metadata(
        {
            "dataset_id": name,
            "minari_version": minari.__version__,
            "algorithm_name": str(provenance.get("actor", "agentos")),
            "author": {"agentos"},
            "description": str(provenance.get("description", "recorded by agentos record")),
        }
    )
    storage.update_episodes(
        EpisodeBuffer(
            id=i,
            observations=np.asarray(ep.observations),
            actions=np.asarray(ep.actions),
            rewards=[float(r) for r in ep.rewards],
            terminations=[bool(t) for t in ep.terminations],
            truncations=[bool(t) for t in ep.truncations],
            infos=infos[i],
        )
        for i, ep in enumerate(episodes)
    )
    digest = dataset_digest(folder)
    record = {
        "name": name,
        "digest": digest,
        "episodes": len(episodes),
        "steps": int(sum(len(ep.rewards) for ep in episodes)),
        "extras": sorted({key for ep in episodes for key in ep.extras}),
        **provenance,
    }
    (folder / SIDECAR).write_text(json.dumps(record, indent=2, sort_keys=True))
    return digest


def _infos(ep: Episode) -> dict[str, Any]:
    """The episode's extras as Minari ``infos``: arrays with a shape per step as arrays, 1-D
    ones as lists (minari 0.5's arrow storage cannot read back a 1-D array it wrote)."""
    infos: dict[str, Any] = {}
    for key, value in ep.extras.items():
        value = np.asarray(value)
        if len(value) != len(ep.rewards) + 1:
            raise ValueError(
                f"extra {key!r} has {len(value)} rows; an episode of {len(ep.rewards)} steps "
                f"needs {len(ep.rewards) + 1} (one per observation)"
            )
        infos[key] = value if value.ndim > 1 else value.tolist()
    return infos


def verify(folder: Path, name: str, pinned: str = "") -> str:
    """The dataset's digest, after checking it against the one recorded when it was written
    and against ``pinned`` (if given). Raises DatasetError on a mismatch."""
    digest = dataset_digest(folder)
    recorded = read_sidecar(folder).get("digest")
    if recorded and recorded != digest:
        raise DatasetError(
            f"dataset {name!r} changed since it was recorded: its files hash to {digest}, "
            f"recorded {recorded} ({folder / SIDECAR})",
            fix=f"record it again (`agentos record --dataset {name}-v1 ...`), or restore "
            "the original files",
        )
    if pinned and pinned != digest:
        raise DatasetError(
            f"dataset {name!r} hashes to {digest}, not the pinned replay.digest {pinned}",
            fix="use the dataset that was pinned, or set replay.digest to the new value "
            "(or '') after checking the data",
        )
    return digest


def read_transitions(folder: Path, name: str) -> tuple[Transitions, Any, Any]:
    """Every step of the dataset as flat arrays, with its (observation, action) spaces.

    Raises DatasetError for an unreadable (e.g. truncated) or empty dataset.
    """
    episodes, obs_space, act_space = read_episodes(folder, name)
    return _flatten(episodes), obs_space, act_space


def read_episodes(folder: Path, name: str) -> tuple[list[Episode], Any, Any]:
    """The dataset's episodes in order, with its (observation, action) spaces.

    Raises DatasetError for an unreadable (e.g. truncated) or empty dataset.
    """
    from minari.dataset.minari_dataset import MinariDataset

    fix = f"record it again with `agentos record --dataset {name} ...` (delete {folder} first)"
    try:
        dataset = MinariDataset(folder / "data")
        episodes = [_as_episode(ep) for ep in dataset.iterate_episodes()]
        obs_space, act_space = dataset.observation_space, dataset.action_space
    except DatasetError:
        raise
    except Exception as e:  # pyarrow/json/minari errors of damaged files
        raise DatasetError(
            f"dataset {name!r} at {folder} is unreadable ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else e!r}); it may be truncated or damaged",
            fix=fix,
        ) from None
    steps = sum(len(ep.rewards) for ep in episodes)
    if steps == 0:
        raise DatasetError(f"dataset {name!r} at {folder} holds no steps", fix=fix)
    for i, ep in enumerate(episodes):
        if len(ep.observations) != len(ep.rewards) + 1 or len(ep.actions) != len(ep.rewards):
            raise DatasetError(
                f"dataset {name!r}: episode {i} has {len(ep.observations)} observations, "
                f"{len(ep.actions)} actions and {len(ep.rewards)} rewards (Minari needs "
                "T+1, T, T); it is truncated or damaged",
                fix=fix,
            )
        for key, value in ep.extras.items():
            if len(value) != len(ep.observations):
                raise DatasetError(
                    f"dataset {name!r}: episode {i} has {len(value)} rows of {key!r} for "
                    f"{len(ep.observations)} observations; it is damaged",
                    fix=fix,
                )
    _check_values(name, episodes, act_space)
    episodes, act_space = _zero_based(episodes, act_space)
    return episodes, obs_space, act_space


def _zero_based(episodes: list[Episode], act_space: Any) -> tuple[list[Episode], Any]:
    """A ``Discrete(n, start=s)`` dataset's actions numbered from 0, as agentos numbers the
    actions of such an environment (``ZeroBasedActions``), with its ``Discrete(n)`` space."""
    import dataclasses

    from gymnasium import spaces

    if not isinstance(act_space, spaces.Discrete) or int(act_space.start) == 0:
        return episodes, act_space
    start = int(act_space.start)
    shifted = [dataclasses.replace(ep, actions=np.asarray(ep.actions) - start) for ep in episodes]
    return shifted, spaces.Discrete(int(act_space.n))


def _check_values(name: str, episodes: list[Episode], act_space: Any) -> None:
    """Refuse NaN or infinite rewards and observations, and discrete actions outside the
    action space: a learner would take them in silently (a NaN loss, or an action index
    that JAX clamps to the last action)."""
    import re

    from gymnasium import spaces

    version = re.search(r"-v(\d+)$", name)
    renamed = f"{name[: version.start()]}-v{int(version[1]) + 1}" if version else f"{name}-v1"
    fix = f"write the data again without them, under a new name (e.g. {renamed})"
    for i, ep in enumerate(episodes):
        with np.errstate(all="ignore"):
            rewards = np.asarray(ep.rewards, np.float32)
        bad = np.flatnonzero(~np.isfinite(rewards))
        if len(bad):
            raise DatasetError(
                f"dataset {name!r}: episode {i} has the reward {ep.rewards[bad[0]]} at step "
                f"{bad[0]} ({len(bad)} such rewards); a NaN or infinite reward makes learning NaN",
                fix=fix,
            )
        obs = ep.observations
        if isinstance(obs, np.ndarray) and obs.dtype.kind == "f" and not np.isfinite(obs).all():
            step = int(np.flatnonzero(~np.isfinite(obs.reshape(len(obs), -1)).all(axis=1))[0])
            raise DatasetError(
                f"dataset {name!r}: episode {i} has a NaN or infinite observation at step {step}",
                fix=fix,
            )
        if isinstance(act_space, spaces.Discrete) and len(ep.actions):
            low, high = int(act_space.start), int(act_space.start + act_space.n - 1)
            actions = np.asarray(ep.actions).reshape(-1)
            out = np.flatnonzero((actions < low) | (actions > high))
            if len(out):
                raise DatasetError(
                    f"dataset {name!r}: episode {i} has the action {actions[out[0]]} at step "
                    f"{out[0]}, outside its action space {act_space} ({low}..{high})",
                    fix=fix,
                )


def _as_episode(ep: Any) -> Episode:
    infos = ep.infos if isinstance(ep.infos, dict) else {}
    return Episode(
        observations=np.asarray(ep.observations),
        actions=np.asarray(ep.actions),
        rewards=np.asarray(ep.rewards, dtype=np.float32),
        terminations=np.asarray(ep.terminations, dtype=bool),
        truncations=np.asarray(ep.truncations, dtype=bool),
        extras={key: np.asarray(infos[key]) for key in STEP_EXTRAS if key in infos},
    )


def _flatten(episodes: list[Episode]) -> Transitions:
    nonempty = [ep for ep in episodes if len(ep.rewards)]
    return Transitions(
        observation=np.concatenate([ep.observations[:-1] for ep in nonempty]),
        action=np.concatenate([ep.actions for ep in nonempty]),
        reward=np.concatenate([ep.rewards for ep in nonempty]),
        terminated=np.concatenate([ep.terminations for ep in nonempty]),
        ended=np.concatenate([_ends(ep) for ep in nonempty]),
        next_observation=np.concatenate([ep.observations[1:] for ep in nonempty]),
        episodes=len(episodes),
        returns=np.array([float(np.sum(ep.rewards)) for ep in episodes], dtype=np.float64),
    )


def _ends(ep: Episode) -> np.ndarray:
    """Where the episode ended: terminated or truncated, and always at its last step (so an
    n-step sum never runs into the next episode)."""
    ended = ep.terminations | ep.truncations
    ended[-1] = True
    return ended
