"""What every learner with an online and a target network shares: the update carry and
its checkpoint form (DQN, R2D2 and the agents built on them)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from agentos.agents.dqn.network import tree_from_numpy, tree_to_numpy
from agentos.runtime.roles import Learner


class LearnerState(NamedTuple):
    """The carry of an update: everything it reads and writes."""

    params: Any
    """Online network variables."""
    target_params: Any
    """Target network variables (a copy of ``params`` refreshed every target_update_period)."""
    opt_state: Any
    """Optimizer state."""
    num_updates: jax.Array
    """Gradient updates done so far (int32 scalar)."""


class TargetNetworkLearner(Learner):
    """A Learner whose state is a ``LearnerState`` in ``self.state``."""

    state: LearnerState

    @property
    def num_updates(self) -> int:
        """Gradient updates done so far."""
        return int(self.state.num_updates)

    def get_variables(self) -> Any:
        """The online network parameters (what actors act with)."""
        return self.state.params

    def state_dict(self) -> dict[str, Any]:
        """Online and target parameters, optimizer state and update counter, as numpy."""
        return {
            "params": tree_to_numpy(self.state.params),
            "target_params": tree_to_numpy(self.state.target_params),
            "opt_state": tree_to_numpy(self.state.opt_state),
            "num_updates": int(self.state.num_updates),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        self.state = LearnerState(
            params=tree_from_numpy(self.state.params, state["params"]),
            target_params=tree_from_numpy(self.state.target_params, state["target_params"]),
            opt_state=tree_from_numpy(self.state.opt_state, state["opt_state"]),
            num_updates=jnp.asarray(int(state["num_updates"]), dtype=jnp.int32),
        )
