"""The run loop's data: its parameters (``loop:`` in agentos.yaml), its counters and the
training episodes it is in the middle of; the last two go into every checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LoopParams:
    """Parameters of the run loop (the ``loop:`` section of agentos.yaml)."""

    samples_per_insert: float = 0.0
    """Learner samples per inserted env step (0: acting only)."""
    min_replay_size: int = 1000
    """Env steps collected before the first learner update."""
    learn_every: int = 1
    """Env steps between learner calls (the due updates run together)."""
    eval_every: int = 10_000
    """Env steps between evaluations during learn (0: only at the end)."""
    eval_episodes: int = 10
    """Episodes per evaluation."""
    checkpoint_every: int = 10_000
    """Env steps between checkpoints during learn (0: only at the end)."""
    checkpoint_seconds: float = 600.0
    """Also checkpoint when this many seconds passed since the last checkpoint, so a slow
    run killed early keeps its work (0: by env steps only)."""
    checkpoint_overhead: float = 0.05
    """Largest share of wall time that checkpoints due by env steps may take: one that comes
    too soon after the last save is postponed until the share allows, so that a replay of
    hundreds of MB does not halve the speed (0: no limit; saves under a second never wait)."""
    log_every: int = 1_000
    """Env steps between training metric records."""
    sync_every: int = 1
    """Learner calls between variable syncs to the actor."""
    overlap_learning: bool = False
    """Let the learner's update run while the actor acts, where the learner can (the
    sequence learners of R2D2 and Agent57): the actor acts with the parameters of the last
    finished update and priorities reach the replay one update later. The ``agent57``
    bundle turns it on (1.25x env steps/s on MiniGrid, 2 cores); off, each update is
    waited for, as R2D2's CartPole tests were tuned with."""


@dataclass
class Counters:
    """Core data of a run, saved with every checkpoint."""

    env_steps: int = 0
    episodes: int = 0
    learner_updates: int = 0
    learner_calls: int = 0
    evaluations: int = 0
    eval_episodes: int = 0


@dataclass
class EpisodesInProgress:
    """The training episodes the loop is in the middle of (one entry per env copy)."""

    observation: np.ndarray
    """[N, ...] observations to act on next."""
    extras: dict[str, Any]
    """The actor's per-env extras for the next step (recurrent state, previous action...)."""
    returns: np.ndarray
    """[N] returns so far."""
    lengths: np.ndarray
    """[N] steps so far."""

    def state_dict(self) -> dict[str, Any]:
        """Plain arrays for a checkpoint."""
        return {
            "observation": np.asarray(self.observation),
            "extras": {k: np.asarray(v) for k, v in self.extras.items()},
            "returns": np.asarray(self.returns, np.float64),
            "lengths": np.asarray(self.lengths, np.int64),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EpisodesInProgress:
        """Inverse of ``state_dict``."""
        return cls(
            observation=np.asarray(state["observation"]),
            extras=dict(state["extras"]),
            returns=np.asarray(state["returns"], np.float64).copy(),
            lengths=np.asarray(state["lengths"], np.int64).copy(),
        )
