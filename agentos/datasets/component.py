"""The dataset component: a recorded Minari dataset in the ``replay`` slot.

It plays the ``replay`` role (no new role: the graph, the layouts and every learner keep
working) and samples exactly what ``uniform_replay`` samples — ``observation``, ``action``,
``reward``, ``discount`` (``1 - terminated``) and ``next_observation``, optionally n-step
(the same code: it *is* a ``UniformReplay`` whose buffer holds the whole dataset) — so the
DQN, BC and CQL learners learn from it unchanged. It is read-only: ``add`` is refused, so an
agent with a dataset learns with ``agentos learn --offline``.

At construction it finds the dataset by name (the agent folder's Minari storage first, then
the user's), refuses one whose files changed since they were recorded (or that differs from a
pinned ``digest``), one that is unreadable, truncated or empty, and one whose spaces differ
from the environment's. Checkpoints keep only the sampler's state and the dataset's digest; a
resume on a different dataset is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from agentos.datasets.storage import DatasetError, find_dataset, read_sidecar, read_transitions
from agentos.datasets.storage import verify as verify_dataset
from agentos.errors import ParameterError
from agentos.replay.memory import check_fits, item_bytes
from agentos.replay.uniform import UniformReplay
from agentos.runtime.roles import BuildContext, Replay, Transition

logger = logging.getLogger(__name__)


class DatasetSource:
    """What both dataset components share: the digest check on resume and the lineage record.

    Subclasses set ``params.dataset``, ``folder``, ``digest``, ``data_summary`` and
    ``_checkpoint_digest`` (the digest a restored checkpoint learned from, or None).
    """

    params: Any
    folder: Any
    digest: str
    data_summary: dict[str, Any]
    _checkpoint_digest: str | None = None

    def check_digest(self) -> None:
        """Refuse to go on learning from a dataset other than the checkpoint's."""
        if self._checkpoint_digest is not None and self._checkpoint_digest != self.digest:
            raise DatasetError(
                f"the checkpoint was learning from dataset {self.params.dataset!r} with digest "
                f"{self._checkpoint_digest}; the dataset of that name now hashes to "
                f"{self.digest}",
                fix="resume with the original dataset, or start a new run (without --resume)",
            )

    def lineage(self) -> dict[str, Any]:
        """What the run logs about its data: name, digest, path, size, provenance."""
        return {
            "name": self.params.dataset,
            "digest": self.digest,
            "path": str(self.folder),
            **self.data_summary,
            "recorded": read_sidecar(self.folder),
        }


class OfflineDataset(DatasetSource, UniformReplay):
    """A recorded dataset sampled uniformly with replacement, as ``uniform_replay`` is."""

    @dataclass(frozen=True)
    class Params:
        """Parameters of the dataset component."""

        dataset: str = ""
        """Name of the Minari dataset (``agentos record --dataset NAME``), looked up in
        ``<agent>/.agentos/datasets`` and then the user's Minari storage."""
        digest: str = ""
        """``sha256:...`` the dataset must hash to ('' : any; the digest is still checked
        against the one recorded with the dataset and logged with the run)."""
        n_step: int = 1
        """Steps of the same episode summed into one sampled item (1: single-step)."""
        gamma: float = 0.99
        """Discount inside an n-step sum; must equal the learner's. Unused when n_step is 1."""

        def __post_init__(self) -> None:
            if self.n_step < 1:
                raise ParameterError(f"n_step must be >= 1, got {self.n_step}")
            if not 0.0 <= self.gamma <= 1.0:
                raise ParameterError(f"gamma must be in [0, 1], got {self.gamma}")

    def __init__(self, params: Params, context: BuildContext, **dependencies: Any):
        Replay.__init__(self, params, context, **dependencies)
        if not params.dataset:
            raise DatasetError(
                "no dataset set for the dataset component",
                fix="record one (`agentos record --episodes 100 --dataset NAME` with an agent "
                "that acts), then `agentos learn --offline --dataset NAME`; to make every "
                "command use it, set `replay: params: {dataset: NAME}` in the spec",
            )
        self.folder = find_dataset(context.agent_dir, params.dataset)
        self.digest = verify_dataset(self.folder, params.dataset, params.digest)
        data, obs_space, act_space = read_transitions(self.folder, params.dataset)
        check_spaces_match(params.dataset, obs_space, act_space, context)
        self.data_summary = {
            "episodes": int(data.episodes),
            "steps": int(len(data.reward)),
            "return_mean": float(np.mean(data.returns)),
        }
        items = {
            "observation": data.observation.astype(context.observation_space.dtype, copy=False),
            "action": data.action.astype(np.int64, copy=False),
            "reward": data.reward.astype(np.float32, copy=False),
            "discount": 1.0 - data.terminated.astype(np.float32),
            "ended": data.ended,
            "next_observation": data.next_observation.astype(
                context.observation_space.dtype, copy=False
            ),
        }
        self.capacity = len(data.reward)
        self.n_step = int(params.n_step)
        self.num_envs = 1  # the episodes are stored one after another
        check_fits(self.capacity, item_bytes({k: v[:1] for k, v in items.items()}), "dataset")
        self._storage = items
        self._position = 0
        self._size = self.capacity
        self._rng = context.numpy_rng("sample")
        self._checkpoint_digest: str | None = None
        logger.info(
            "dataset %s: %d steps, %d episodes, %s",
            params.dataset,
            self.capacity,
            data.episodes,
            self.digest,
        )

    def add(self, transition: Transition) -> None:
        """Refused: a dataset is read-only."""
        raise DatasetError(
            f"the replay is the recorded dataset {self.params.dataset!r}, which cannot store "
            "new experience",
            fix="learn from it with `agentos learn --offline`, or install a replay "
            "(`agentos install uniform_replay`) to learn online",
        )

    def _sample(self, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        self.check_digest()
        return super()._sample(shape)

    def state_dict(self) -> dict[str, Any]:
        """The sampler's state and the dataset's digest (the data stays on disk)."""
        return {"rng": self._rng.bit_generator.state, "digest": self.digest}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the sampler; sampling refuses to continue on a different dataset."""
        if not state:
            return
        self._rng.bit_generator.state = state["rng"]
        self._checkpoint_digest = str(state.get("digest", self.digest))


def check_spaces_match(name: str, obs_space: Any, act_space: Any, context: BuildContext) -> None:
    """Refuse a dataset whose observation or action space differs from the environment's."""
    env_obs, env_act = context.observation_space, context.action_space
    problems = []
    if getattr(obs_space, "shape", None) != getattr(env_obs, "shape", None) or np.dtype(
        getattr(obs_space, "dtype", None) or "O"
    ) != np.dtype(getattr(env_obs, "dtype", None) or "O"):
        problems.append(f"observations {obs_space} (the environment gives {env_obs})")
    if type(act_space) is not type(env_act) or getattr(act_space, "n", None) != getattr(
        env_act, "n", None
    ):
        problems.append(f"actions {act_space} (the environment takes {env_act})")
    if problems:
        raise DatasetError(
            f"dataset {name!r} does not fit this agent's environment: it has "
            + " and ".join(problems),
            fix="record a dataset in this environment (`agentos record --dataset NAME-v1 "
            "...`), or install the environment the dataset was recorded in",
        )
