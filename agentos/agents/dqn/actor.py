"""The DQN actor: epsilon-greedy on the Q-network, feeding transitions to replay."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import gymnasium
import jax
import jax.numpy as jnp
import numpy as np

from agentos.agents.dqn.network import tree_from_numpy, tree_to_numpy
from agentos.agents.torso import action_kind, discrete_actions_fix
from agentos.errors import IncompatibleSpaceError, ParameterError
from agentos.runtime.roles import Actor, BuildContext, Transition


@functools.partial(jax.jit, static_argnames="module")
def greedy_actions(module: nn.Module, params: Any, observation: jax.Array) -> jax.Array:
    """argmax_a Q(x, a) for a [N, ...] batch of observations (one jitted call)."""
    return jnp.argmax(module.apply(params, observation), axis=-1)  # type: ignore[arg-type]


def linear_epsilon(
    env_steps: int, epsilon_start: float, epsilon_end: float, decay_steps: int
) -> float:
    """Epsilon decayed linearly from ``epsilon_start`` to ``epsilon_end`` over ``decay_steps``."""
    if decay_steps <= 0:
        return float(epsilon_end)
    fraction = min(max(env_steps, 0) / decay_steps, 1.0)
    return float(epsilon_start + fraction * (epsilon_end - epsilon_start))


class DQNActor(Actor):
    """Acts epsilon-greedily on the latest learner parameters and writes to replay.

    Starts from the network's initial parameters (the same ones the learner starts from), so
    acting before the first learner update is well defined.
    """

    requires = {"network": "network", "replay": "replay"}
    expects = {"network": "q_values", "replay": "transitions"}

    @dataclass(frozen=True)
    class Params:
        """Parameters of the DQN actor's exploration."""

        epsilon_start: float = 1.0
        """Exploration rate at env step 0."""
        epsilon_end: float = 0.04
        """Exploration rate once the decay is over."""
        epsilon_decay_steps: int = 8_000
        """Training env steps (all environments together) over which epsilon decays linearly."""
        evaluation_epsilon: float = 0.0
        """Exploration rate when ``explore`` is False (0: greedy evaluation)."""

        def __post_init__(self) -> None:
            for name in ("epsilon_start", "epsilon_end", "evaluation_epsilon"):
                value = getattr(self, name)
                if not 0.0 <= value <= 1.0:
                    raise ParameterError(f"{name} must be in [0, 1], got {value}")
            if self.epsilon_decay_steps < 0:
                raise ParameterError(
                    f"epsilon_decay_steps must be >= 0, got {self.epsilon_decay_steps}"
                )

    def __init__(
        self, params: Params, context: BuildContext, *, network: Any, replay: Any, **dependencies
    ):
        super().__init__(params, context, **dependencies)
        self.check_spaces(params, context.observation_space, context.action_space)
        self.network = network
        self.replay = replay
        self.num_actions = int(context.action_space.n)
        self._rng = context.numpy_rng("explore")
        self._variables = network.initial_params()
        self._last: tuple[np.ndarray, float] | None = None

    @classmethod
    def check_spaces(cls, params: Params, observation_space: Any, action_space: Any) -> None:
        """Require a Discrete action space."""
        if not isinstance(action_space, gymnasium.spaces.Discrete):
            raise IncompatibleSpaceError(
                f"the dqn actor handles Discrete action spaces only; environment has "
                f"{action_space!r}{action_kind(action_space)}",
                fix=discrete_actions_fix(action_space),
            )

    def epsilon(self, env_steps: int) -> float:
        """The exploration rate of training after ``env_steps`` env steps."""
        p = self.params
        return linear_epsilon(env_steps, p.epsilon_start, p.epsilon_end, p.epsilon_decay_steps)

    def select_action(
        self, observation: np.ndarray, extras: dict[str, Any], *, explore: bool, env_steps: int
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Epsilon-greedy [N] actions: greedy for all N in one jitted call, then random swaps."""
        actions = np.asarray(greedy_actions(self.network.module, self._variables, observation))
        epsilon = self.epsilon(env_steps) if explore else self.params.evaluation_epsilon
        if epsilon > 0.0:
            num = actions.shape[0]
            explore_mask = self._rng.random(num) < epsilon
            random_actions = self._rng.integers(0, self.num_actions, size=num)
            actions = np.where(explore_mask, random_actions, actions)
        self._last = (observation, epsilon)
        return actions.astype(np.int64), extras

    def step_info(self) -> dict[str, np.ndarray]:
        """Q-values and epsilon of the last ``select_action`` (computed only when asked)."""
        if self._last is None:
            return {}
        observation, epsilon = self._last
        q = np.asarray(self.network.apply(self._variables, observation))
        return {"q": q, "epsilon": np.full(q.shape[0], epsilon, np.float32)}

    def observe(self, transition: Transition) -> int:
        """Add the batch of transitions to replay; returns how many were added."""
        self.replay.add(transition)
        return int(np.shape(transition.action)[0])

    def update(self, variables: Any) -> None:
        """Act with these learner parameters from now on."""
        self._variables = variables

    def state_dict(self) -> dict[str, Any]:
        """Exploration rng state and the parameters being acted with."""
        return {"rng": self._rng.bit_generator.state, "params": tree_to_numpy(self._variables)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        self._rng.bit_generator.state = state["rng"]
        self._variables = tree_from_numpy(self._variables, state["params"])
