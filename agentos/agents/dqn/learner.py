"""The DQN learner: Double DQN with a periodically copied target network (Mnih et al. 2015,
van Hasselt et al. 2016), Adam with global-norm gradient clipping, and many updates per call
run as one jitted ``jax.lax.scan`` over an explicit carry (PureJaxRL style).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from agentos.agents.dqn.losses import batched_double_q_loss
from agentos.agents.target_learner import LearnerState, TargetNetworkLearner
from agentos.components.checks import check_batch_fits, check_optimizer_params
from agentos.errors import ParameterError
from agentos.runtime.roles import BuildContext

logger = logging.getLogger(__name__)


def make_optimizer(config: Any) -> optax.GradientTransformation:
    """Adam after global-norm gradient clipping, from ``DQNLearner.Params``.

    No clipping if ``max_grad_norm <= 0``; with ``learning_rate_decay_updates > 0`` the step size
    decays linearly from ``learning_rate`` to ``learning_rate_end`` over that many updates.
    """
    schedule: Any = config.learning_rate
    if config.learning_rate_decay_updates > 0:
        schedule = optax.linear_schedule(
            config.learning_rate, config.learning_rate_end, config.learning_rate_decay_updates
        )
    adam = optax.adam(schedule, eps=config.adam_eps)
    if config.max_grad_norm > 0:
        return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), adam)
    return adam


def _loss_fn(params, target_params, batch, module, gamma, huber_delta):
    """Double DQN loss of one batch; returns (loss, mean Q of the taken actions)."""
    q_tm1 = module.apply(params, batch["observation"])
    q_t_value = module.apply(target_params, batch["next_observation"])
    q_t_selector = module.apply(params, batch["next_observation"])
    discount_t = gamma * batch["discount"]
    loss, _ = batched_double_q_loss(
        q_tm1,
        batch["action"],
        batch["reward"],
        discount_t,
        q_t_value,
        q_t_selector,
        huber_delta,
    )
    q_taken = jnp.take_along_axis(q_tm1, batch["action"][:, None], axis=-1)
    return loss, jnp.mean(q_taken)


@functools.partial(jax.jit, static_argnames=("module", "config"))
def scan_updates(
    state: LearnerState, batches: dict[str, jax.Array], *, module: nn.Module, config: Any
) -> tuple[LearnerState, dict[str, jax.Array]]:
    """One gradient update per leading slice of ``batches`` in a ``lax.scan``.

    ``config`` is the learner's (hashable, frozen) ``DQNLearner.Params``. Returns the new state
    and the loss and Q of the taken actions, averaged over the updates.
    """
    optimizer = make_optimizer(config)
    gamma, huber_delta = config.gamma, config.huber_delta
    period, tau = config.target_update_period, config.target_update_tau

    def update(state: LearnerState, batch: dict[str, jax.Array]):
        grad_fn = jax.value_and_grad(_loss_fn, has_aux=True)
        (loss, q_mean), grads = grad_fn(
            state.params, state.target_params, batch, module, gamma, huber_delta
        )
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        num_updates = state.num_updates + 1
        target_params = jax.lax.cond(
            num_updates % period == 0,
            lambda: optax.incremental_update(params, state.target_params, tau),
            lambda: state.target_params,
        )
        new_state = LearnerState(params, target_params, opt_state, num_updates)
        return new_state, {"loss": loss, "q_mean": q_mean}

    state, metrics = jax.lax.scan(update, state, batches)
    return state, jax.tree_util.tree_map(jnp.mean, metrics)


class DQNLearner(TargetNetworkLearner):
    """Trains the Q-network on uniformly replayed transitions with Double DQN."""

    requires = {"network": "network", "replay": "replay"}
    expects = {"network": "q_values", "replay": "transitions"}

    @dataclass(frozen=True)
    class Params:
        """Parameters of the DQN learner."""

        learning_rate: float = 5e-4
        """Adam step size (at the start, if it decays)."""
        learning_rate_end: float = 0.0
        """Step size reached at the end of the decay."""
        learning_rate_decay_updates: int = 0
        """Gradient updates over which the step size decays linearly (0: constant)."""
        gamma: float = 0.99
        """Discount factor of returns."""
        batch_size: int = 64
        """Transitions per gradient update."""
        target_update_period: int = 32
        """Gradient updates between refreshes of the target network."""
        target_update_tau: float = 1.0
        """At each refresh, target <- tau * online + (1 - tau) * target (1: a copy)."""
        max_grad_norm: float = 10.0
        """Clip gradients to this global norm before Adam (0: no clipping)."""
        huber_delta: float = 1.0
        """Huber loss threshold on TD errors (0: squared loss)."""
        adam_eps: float = 1e-8
        """Adam's denominator epsilon."""

        def __post_init__(self) -> None:
            check_optimizer_params(self)
            if not 0.0 <= self.gamma <= 1.0:
                raise ParameterError(f"gamma must be in [0, 1], got {self.gamma}")
            if self.batch_size < 1:
                raise ParameterError(f"batch_size must be >= 1, got {self.batch_size}")
            if self.target_update_period < 1:
                raise ParameterError(
                    f"target_update_period must be >= 1, got {self.target_update_period}"
                )
            if self.learning_rate < 0:  # 0 is allowed: a frozen learner (bench regression checks)
                raise ParameterError(f"learning_rate must be >= 0, got {self.learning_rate}")
            if not 0.0 < self.target_update_tau <= 1.0:
                raise ParameterError(
                    f"target_update_tau must be in (0, 1], got {self.target_update_tau}"
                )
            if self.learning_rate_decay_updates < 0 or self.learning_rate_end < 0:
                raise ParameterError(
                    "learning_rate_decay_updates and learning_rate_end must be >= 0, got "
                    f"{self.learning_rate_decay_updates} and {self.learning_rate_end}"
                )

    def __init__(
        self, params: Params, context: BuildContext, *, network: Any, replay: Any, **dependencies
    ):
        super().__init__(params, context, **dependencies)
        self.network = network
        self.replay = replay
        self.batch_size = int(params.batch_size)
        check_batch_fits(self.batch_size, replay)
        replay_params = getattr(replay, "params", None)
        replay_gamma = getattr(replay_params, "gamma", params.gamma)
        if getattr(replay_params, "n_step", 1) > 1 and replay_gamma != params.gamma:
            raise ParameterError(
                f"replay.gamma ({replay_gamma}) differs from learner.gamma ({params.gamma}): "
                f"n-step returns would be discounted inconsistently",
                fix="set replay.gamma to ${learner.gamma}",
            )
        initial = network.initial_params()
        size = sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(initial))
        logger.debug("dqn learner: %d network parameters", size)
        self.state = LearnerState(
            params=initial,
            target_params=initial,
            opt_state=make_optimizer(params).init(initial),
            num_updates=jnp.zeros((), dtype=jnp.int32),
        )

    def ready(self) -> bool:
        """Whether replay holds at least one batch of transitions, each with the steps its
        n-step return needs (n_step can exceed loop.min_replay_size)."""
        startable = getattr(self.replay, "startable", None)
        return len(self.replay) >= self.batch_size and (startable is None or startable() > 0)

    def step(self, num_updates: int = 1) -> dict[str, float]:
        """Run ``num_updates`` gradient updates in one scan; returns mean loss and Q."""
        if num_updates < 1:
            raise ValueError(f"num_updates must be >= 1, got {num_updates}")
        batches = self.replay.sample_many(num_updates, self.batch_size)
        batches = {
            "observation": batches["observation"],
            "action": batches["action"].astype(np.int32),
            "reward": batches["reward"].astype(np.float32),
            "discount": batches["discount"].astype(np.float32),
            "next_observation": batches["next_observation"],
        }
        self.state, metrics = scan_updates(
            self.state, batches, module=self.network.module, config=self.params
        )
        return {key: float(value) for key, value in metrics.items()}
