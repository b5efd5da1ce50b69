"""Small hand-made datasets for the dataset tests (no download, no environment)."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import numpy as np

from agentos.datasets.storage import Episode, agent_storage, write_dataset

OBS_SPACE = gymnasium.spaces.Box(-np.inf, np.inf, (4,), np.float32)
ACT_SPACE = gymnasium.spaces.Discrete(2)


def make_episodes(
    lengths=(3, 5, 2), seed: int = 0, truncate_last: bool = True, state_size: int = 0
) -> list[Episode]:
    """Episodes with random observations; all terminate except (optionally) the last, which
    is truncated by a time limit. ``state_size`` > 0 adds per-step extras as a recurrent
    mixture actor records them: random ``lstm_h``, ``lstm_c`` [T+1, state_size] and an
    ``arm`` [T+1] (the episode's index)."""
    rng = np.random.default_rng(seed)
    episodes = []
    for i, length in enumerate(lengths):
        terminations = np.zeros(length, bool)
        truncations = np.zeros(length, bool)
        if truncate_last and i == len(lengths) - 1:
            truncations[-1] = True
        else:
            terminations[-1] = True
        episodes.append(
            Episode(
                observations=rng.standard_normal((length + 1, 4)).astype(np.float32),
                actions=rng.integers(0, 2, length).astype(np.int64),
                rewards=np.arange(1, length + 1, dtype=np.float32),
                terminations=terminations,
                truncations=truncations,
                extras=_extras(rng, length, state_size, arm=i) if state_size else {},
            )
        )
    return episodes


def _extras(rng: np.random.Generator, length: int, state_size: int, arm: int) -> dict:
    return {
        "lstm_h": rng.standard_normal((length + 1, state_size)).astype(np.float32),
        "lstm_c": rng.standard_normal((length + 1, state_size)).astype(np.float32),
        "arm": np.full(length + 1, arm, np.int32),
    }


def write(agent_dir: Path, name: str = "toy-v0", **kwargs) -> tuple[Path, list[Episode]]:
    """Write ``make_episodes(**kwargs)`` as dataset ``name`` in the agent folder's storage."""
    episodes = make_episodes(**kwargs)
    folder = agent_storage(agent_dir) / name
    write_dataset(folder, name, episodes, OBS_SPACE, ACT_SPACE, provenance={"actor": "test"})
    return folder, episodes
