"""The roles components play, as small interfaces (Acme's split: environment, actor,
replay, learner, network).

A component is a class with:

* ``role``: which slot of the agent it fills;
* ``Params``: a frozen dataclass of its typed parameters (fields documented where declared);
* ``requires``: the components it needs, as ``{argument name: role}``; the graph passes the
  instances as keyword arguments of the same names, so components never reach each other
  through shared globals;
* ``__init__(self, params, context, **dependencies)``;
* ``state_dict()`` / ``load_state_dict()`` for checkpoints (plain dicts of numpy arrays and
  Python scalars; never a pickled ``__dict__``).

This module imports no JAX and no gymnasium so that spec validation stays light.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

# the component system's role names and build context, re-exported here
from agentos.components.roles import ROLES as ROLES
from agentos.components.roles import BuildContext as BuildContext


@dataclass
class EnvStep:
    """What a vectorised environment returns for one step of all its copies."""

    observation: np.ndarray
    """[N, ...] the observation to act on next (already reset where an episode ended)."""
    reward: np.ndarray
    """[N] float32 reward for the step just taken."""
    terminated: np.ndarray
    """[N] bool: the episode reached a terminal state (no bootstrapping)."""
    truncated: np.ndarray
    """[N] bool: the episode was cut by a time limit (bootstrap from final_observation)."""
    final_observation: np.ndarray
    """[N, ...] the true next observation of this transition (differs from ``observation``
    only where the episode ended and the environment was reset)."""


@dataclass
class Transition:
    """A batch of N transitions (x_t, a_t, r_{t+1}, x_{t+1}) handed to ``Actor.observe``."""

    observation: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    next_observation: np.ndarray
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NoParams:
    """For components without parameters."""


class Component:
    """Base of every component: typed params, declared dependencies, explicit state."""

    role: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    requires: ClassVar[dict[str, str]] = {}
    provides: ClassVar[tuple[str, ...]] = ()
    """What dependants may rely on (``agentos.components.compatibility.CAPABILITIES``);
    empty: undeclared, so the graph does not check it."""
    expects: ClassVar[dict[str, str]] = {}
    """{dependency argument: the capability it must provide}, checked before building."""

    def __init__(self, params: Any, context: BuildContext, **dependencies: Any):
        self.params = params
        self.context = context

    @classmethod
    def check_spaces(cls, params: Any, observation_space: Any, action_space: Any) -> None:
        """Raise IncompatibleSpaceError if this component cannot handle these spaces."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly after a restore."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""

    def close(self) -> None:
        """Release resources (environments, threads)."""

    def describe(self) -> dict[str, Any]:
        """Parameters as a plain dict (for tracking)."""
        if dataclasses.is_dataclass(self.params):
            return dataclasses.asdict(self.params)  # type: ignore[arg-type]
        return {}


class Environment(Component):
    """A vectorised environment of ``num_envs`` copies with gymnasium spaces.

    Copies reset themselves when their episode ends (see ``EnvStep.final_observation``).
    """

    role = "environment"
    num_envs: int = 1
    observation_space: Any = None
    action_space: Any = None

    @classmethod
    def spaces(cls, params: Any) -> tuple[Any, Any]:
        """(observation_space, action_space) of one copy, known before instantiation."""
        raise NotImplementedError

    @classmethod
    def time_limit_ends_task(cls, params: Any, agent_dir: Any = None) -> bool:
        """Whether an episode cut by the time limit ends the task's return (the limit is part
        of the task) rather than cutting an endless one; learners may bootstrap only in the
        second case. Default: a cut."""
        return False

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Reset all copies (copy i seeded with ``seed + i`` if given); returns [N, ...] obs."""
        raise NotImplementedError

    def step(self, action: np.ndarray) -> EnvStep:
        """Step all copies with [N] actions."""
        raise NotImplementedError

    def continues_episodes(self) -> bool:
        """Whether ``load_state_dict`` put every copy back inside the episode it was in when
        the checkpoint was taken; if not, a resumed run resets the copies (new episodes)."""
        return False


class Network(Component):
    """Holds a network definition shared by actor and learner (one instance for both)."""

    role = "network"

    def init(self, rng: Any) -> Any:
        """Fresh parameters for this network."""
        raise NotImplementedError

    def check_fits(self) -> None:
        """Refuse (ParameterError) parameters whose training state would not fit in memory.

        The graph calls it once the network is built, before anything calls ``init``; the
        shapes come from ``init`` traced on abstract values, so nothing is allocated."""
        from agentos.runtime.network_memory import check_network_fits

        context = getattr(self, "context", None)
        check_network_fits(self, getattr(context, "name", None) or "network")


class Replay(Component):
    """Stores experience; the learner samples from it."""

    role = "replay"

    def add(self, transition: Transition) -> None:
        """Insert a batch of transitions."""
        raise NotImplementedError

    def sample(self, batch_size: int) -> Any:
        """A batch of stored items."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class Actor(Component):
    """Chooses actions for a batch of environments and feeds experience to replay."""

    role = "actor"

    def initial_extras(self, num_envs: int) -> dict[str, Any]:
        """Per-environment extras (e.g. recurrent state) at the start of episodes."""
        return {}

    def select_action(
        self, observation: np.ndarray, extras: dict[str, Any], *, explore: bool, env_steps: int
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """[N] actions for [N, ...] observations; returns the updated extras.

        ``explore`` is False during evaluation; ``env_steps`` is the training step counter
        (for exploration schedules).
        """
        raise NotImplementedError

    def after_step(self, extras: dict[str, Any], step: EnvStep) -> dict[str, Any]:
        """Extras for the next step once the env answered (e.g. the previous reward as a
        network input); called in learn and evaluate, before finished episodes reset."""
        return extras

    def observe(self, transition: Transition) -> int:
        """Record a batch of transitions during training; returns how many were inserted."""
        return 0

    def step_info(self) -> dict[str, np.ndarray]:
        """Per-environment values of the last ``select_action`` worth a look when debugging
        (Q-values, epsilon, arm, intrinsic reward): ``{name: [N, ...]}``, written to step
        traces (``agentos run --trace``). Computed on request, so acting pays nothing."""
        return {}

    def update(self, variables: Any) -> None:
        """Receive fresh variables from the learner."""

    def end_episodes(self) -> None:
        """The episodes in progress were abandoned (a resume whose environment could not
        restore them): drop whatever was kept for them, such as open sequences."""


class Learner(Component):
    """Updates variables from replayed experience."""

    role = "learner"
    batch_size: int = 1

    def ready(self) -> bool:
        """Whether there is enough experience to take a step."""
        return True

    def step(self, num_updates: int = 1) -> dict[str, float]:
        """Run ``num_updates`` updates; returns scalar metrics (e.g. ``loss``)."""
        raise NotImplementedError

    def get_variables(self) -> Any:
        """The variables actors act with."""
        raise NotImplementedError
