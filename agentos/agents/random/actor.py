"""An actor that picks uniformly random actions: a baseline and a smoke test of the loop."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from agentos.errors import IncompatibleSpaceError
from agentos.runtime.roles import Actor, BuildContext, NoParams, Transition

SUPPORTED_SPACES = (
    gymnasium.spaces.Discrete,
    gymnasium.spaces.Box,
    gymnasium.spaces.MultiDiscrete,
    gymnasium.spaces.MultiBinary,
)
"""Action spaces the random actor can sample from."""


def sample_actions(space: Any, rng: np.random.Generator, num: int) -> np.ndarray:
    """[num, ...] random actions from ``space`` drawn with ``rng`` (gymnasium's own sampler is
    seeded separately from the run, so it is not used).

    Discrete and MultiDiscrete: uniform integers. Box: uniform within finite bounds; like
    gymnasium, normal where unbounded and shifted exponential where bounded on one side.
    """
    if isinstance(space, gymnasium.spaces.Discrete):
        start = int(space.start)
        return rng.integers(start, start + int(space.n), size=num).astype(space.dtype)
    if isinstance(space, gymnasium.spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec)
        start = np.asarray(space.start)  # type: ignore[assignment]
        draws = rng.integers(0, nvec, size=(num,) + nvec.shape)
        return (draws + start).astype(space.dtype)
    if isinstance(space, gymnasium.spaces.MultiBinary):
        return rng.integers(0, 2, size=(num,) + tuple(space.shape)).astype(space.dtype)
    if isinstance(space, gymnasium.spaces.Box):
        shape = (num,) + tuple(space.shape)
        low = np.broadcast_to(np.asarray(space.low, dtype=np.float64), shape)
        high = np.broadcast_to(np.asarray(space.high, dtype=np.float64), shape)
        bounded_low = np.isfinite(low)
        bounded_high = np.isfinite(high)
        safe_low = np.where(bounded_low, low, 0.0)
        safe_high = np.where(bounded_high, high, 0.0)
        is_integer = np.issubdtype(space.dtype, np.integer)
        if is_integer:  # floor(uniform[low, high + 1)) is uniform over the integers
            safe_high = safe_high + 1.0
        # Draw every stream for every element so the rng advances the same whatever the bounds.
        uniform = rng.uniform(size=shape)
        normal = rng.normal(size=shape)
        exponential = rng.exponential(size=shape)
        sample = np.select(
            [bounded_low & bounded_high, bounded_low, bounded_high],
            [
                safe_low + uniform * (safe_high - safe_low),
                safe_low + exponential,
                safe_high - exponential,
            ],
            default=normal,
        )
        if is_integer:
            sample = np.floor(sample)
        return sample.astype(space.dtype)
    raise IncompatibleSpaceError(f"the random actor cannot sample from {space!r}")


class RandomActor(Actor):
    """Acts uniformly at random with its own seeded numpy Generator; learns nothing."""

    Params = NoParams

    def __init__(self, params: NoParams, context: BuildContext, **dependencies: Any):
        super().__init__(params, context, **dependencies)
        self.check_spaces(params, context.observation_space, context.action_space)
        self.action_space = context.action_space
        self._rng = context.numpy_rng("actions")

    @classmethod
    def check_spaces(cls, params: Any, observation_space: Any, action_space: Any) -> None:
        """Require an action space the actor can sample (Discrete, Box, MultiDiscrete, ...)."""
        if not isinstance(action_space, SUPPORTED_SPACES):
            names = ", ".join(space.__name__ for space in SUPPORTED_SPACES)
            raise IncompatibleSpaceError(
                f"the random actor samples {names} action spaces only; environment has "
                f"{action_space!r}",
                fix="give the environment one of those action spaces; a Tuple of Discrete "
                "spaces becomes one Discrete with -p 'environment.wrappers=[agentos.envs."
                "actions.JointDiscreteActions]'",
            )

    def select_action(
        self, observation: np.ndarray, extras: dict[str, Any], *, explore: bool, env_steps: int
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """[N] random actions, one per observation (``explore`` makes no difference)."""
        num = int(np.shape(observation)[0])
        return sample_actions(self.action_space, self._rng, num), extras

    def observe(self, transition: Transition) -> int:
        """Nothing is stored; returns 0."""
        return 0

    def state_dict(self) -> dict[str, Any]:
        """The action rng state."""
        return {"rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        self._rng.bit_generator.state = state["rng"]
