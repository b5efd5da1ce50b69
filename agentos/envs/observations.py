"""The default handling of observations that are not a Box: one flat float32 vector.

The Q-networks take Box observations. Structured and discrete observations are turned into
one vector, part by part, in the space's own order:

* ``Discrete(n)`` -> one-hot of length n (FrozenLake's cell, MiniGrid's direction);
* ``MultiDiscrete`` -> the one-hots of each entry, concatenated;
* ``MultiBinary`` and ``Box`` -> flattened as float32 (values kept, not rescaled);
* ``Dict`` / ``Tuple`` -> their parts, concatenated (Dict keys in the space's order);
* ``Text`` and other spaces of strings -> left out (MiniGrid's mission; a logged note
  says so).

A Box observation passes unchanged (images stay uint8 for the conv torso). Other spaces
(Graph, Sequence, OneOf) have no default: they are an error naming a wrapper to write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from agentos.errors import AgentOSError

logger = logging.getLogger(__name__)

Encoder = Callable[[Any], list[np.ndarray]]


def needs_flattening(space: Any) -> bool:
    """Whether ``space`` is not a Box, so the default handling turns it into one."""
    from gymnasium import spaces

    return not isinstance(space, spaces.Box)


def _encoder(space: Any, path: str, dropped: list[str]) -> tuple[int, Encoder]:
    """(vector length, function from one observation to its vector parts) for ``space``."""
    from gymnasium import spaces

    if isinstance(space, spaces.Box):
        size = int(np.prod(space.shape))
        return size, lambda x: [np.asarray(x, np.float32).reshape(-1)]
    if isinstance(space, spaces.Discrete):
        n, start = int(space.n), int(space.start)
        eye = np.eye(n, dtype=np.float32)
        return n, lambda x: [eye[int(x) - start]]
    if isinstance(space, spaces.MultiDiscrete):
        sizes = [int(n) for n in np.asarray(space.nvec).reshape(-1)]
        starts = np.asarray(space.start).reshape(-1)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

        def one_hots(x: Any) -> list[np.ndarray]:
            out = np.zeros(sum(sizes), np.float32)
            out[offsets + (np.asarray(x).reshape(-1) - starts)] = 1.0
            return [out]

        return sum(sizes), one_hots
    if isinstance(space, spaces.MultiBinary):
        size = int(np.prod(space.shape))
        return size, lambda x: [np.asarray(x, np.float32).reshape(-1)]
    if isinstance(space, spaces.Text) or _samples_text(space):
        dropped.append(path or "observation")
        return 0, lambda x: []
    if isinstance(space, (spaces.Dict, spaces.Tuple)):
        keys = list(space.spaces.keys()) if isinstance(space, spaces.Dict) else None
        subspaces = list(space.spaces.values()) if keys else list(space.spaces)
        names = keys or [str(i) for i in range(len(subspaces))]
        parts = [
            _encoder(sub, f"{path}.{name}" if path else name, dropped)
            for name, sub in zip(names, subspaces, strict=True)
        ]
        size = sum(p[0] for p in parts)
        index = keys or list(range(len(subspaces)))  # type: ignore[arg-type]

        def concat(x: Any) -> list[np.ndarray]:
            out: list[np.ndarray] = []
            for key, (_, encode) in zip(index, parts, strict=True):
                out.extend(encode(x[key]))
            return out

        return size, concat
    raise AgentOSError(
        f"observations of type {type(space).__name__} ({path or 'observation'}) have no "
        "default handling",
        fix="add a wrapper under environment.params.wrappers that turns them into a Box "
        "(a gymnasium.ObservationWrapper of your own, e.g. my_wrappers.py:ToVector)",
    )


def _samples_text(space: Any) -> bool:
    """Text-like spaces of other packages (MiniGrid's MissionSpace) sample strings."""
    try:
        return isinstance(space.sample(), str)
    except Exception:  # a space that cannot sample is not text
        return False


_warned_dropped: set[tuple[str, ...]] = set()


def flat_observation_wrapper(env: Any) -> Any:
    """``env`` with its observations encoded as one flat float32 Box (see module docstring)."""
    import gymnasium
    from gymnasium import spaces

    dropped: list[str] = []
    size, encode = _encoder(env.observation_space, "", dropped)
    if dropped and tuple(dropped) not in _warned_dropped:  # once, not once per copy
        _warned_dropped.add(tuple(dropped))
        logger.warning(
            "observation parts left out (text has no default encoding): %s. Where only the "
            "text names the goal (MiniGrid's Fetch, GoTo, PutNear; BabyAI) the task cannot be "
            "learned without a wrapper under environment.params.wrappers that encodes it",
            ", ".join(dropped),
        )
    if size == 0:
        raise AgentOSError(
            f"nothing is left of the observation space {env.observation_space} once its "
            "text parts are left out",
            fix="add a wrapper under environment.params.wrappers that encodes the text",
        )
    box = spaces.Box(-np.inf, np.inf, (size,), np.float32)

    class FlatObservation(gymnasium.ObservationWrapper):
        """Structured or discrete observations as one flat float32 vector."""

        def __init__(self, inner: Any):
            super().__init__(inner)
            self.observation_space = box

        def observation(self, observation: Any) -> np.ndarray:
            parts = encode(observation)
            return np.concatenate(parts).astype(np.float32, copy=False)

    return FlatObservation(env)
