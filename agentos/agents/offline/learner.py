"""Offline learners on the DQN network: behaviour cloning and discrete CQL.

Both sample the ``replay`` slot (a recorded dataset, ``agentos.datasets.component``, or any
replay) with the sampling call the DQN learner uses, train the shared ``dqn_network`` (so the
``dqn_actor`` acts with the result: greedy on Q for CQL, the most likely action for BC), use
DQN's optimiser (Adam after global-norm clipping) and run many updates as one jitted
``jax.lax.scan`` over a ``LearnerState`` carry, as ``agentos.agents.dqn.learner`` does.

* ``CQLLearner``: the Double DQN learner with the conservative term of CQL(H) (Kumar et al.
  2020, eq. 4, https://arxiv.org/abs/2006.04779), weight ``alpha``, and eq. (4)'s squared TD
  loss by default (``huber_delta = 0``); ``alpha = 0`` with ``huber_delta = 1`` is DQN.
* ``BCLearner``: cross-entropy of the dataset's actions under softmax(network outputs).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from agentos.agents.dqn.learner import DQNLearner, make_optimizer
from agentos.agents.offline.losses import batched_behaviour_cloning_loss, batched_cql_loss
from agentos.agents.target_learner import LearnerState, TargetNetworkLearner
from agentos.components.checks import check_optimizer_params
from agentos.errors import ParameterError
from agentos.runtime.roles import BuildContext


def cql_loss_fn(params, target_params, batch, module, config):
    """CQL(H) on one batch with the Double DQN target; returns (loss, metrics)."""
    q_tm1 = module.apply(params, batch["observation"])
    q_t_value = module.apply(target_params, batch["next_observation"])
    q_t_selector = module.apply(params, batch["next_observation"])
    loss, info = batched_cql_loss(
        q_tm1,
        batch["action"],
        batch["reward"],
        config.gamma * batch["discount"],
        q_t_value,
        q_t_selector,
        config.alpha,
        config.huber_delta,
    )
    q_taken = jnp.take_along_axis(q_tm1, batch["action"][:, None], axis=-1)
    return loss, {
        "loss": loss,
        "td_loss": info.td_loss,
        "conservative": info.conservative,
        "q_mean": jnp.mean(q_taken),
    }


def bc_loss_fn(params, target_params, batch, module, config):
    """Behaviour cloning on one batch; returns (loss, metrics)."""
    del target_params, config
    logits = module.apply(params, batch["observation"])
    loss, accuracy = batched_behaviour_cloning_loss(logits, batch["action"])
    return loss, {"loss": loss, "accuracy": accuracy}


@functools.partial(jax.jit, static_argnames=("module", "config", "loss_fn"))
def scan_offline_updates(
    state: LearnerState,
    batches: dict[str, jax.Array],
    *,
    module: nn.Module,
    config: Any,
    loss_fn: Any,
) -> tuple[LearnerState, dict[str, jax.Array]]:
    """One gradient update of ``loss_fn`` per leading slice of ``batches`` in a ``lax.scan``;
    the target network is refreshed as DQN's (configs without ``target_update_period`` keep
    it fixed). Returns the new state and the metrics averaged over the updates."""
    optimizer = make_optimizer(config)
    period = getattr(config, "target_update_period", 0)
    tau = getattr(config, "target_update_tau", 1.0)

    def update(state: LearnerState, batch: dict[str, jax.Array]):
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        (_, metrics), grads = grad_fn(state.params, state.target_params, batch, module, config)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        num_updates = state.num_updates + 1
        target_params = state.target_params
        if period:
            target_params = jax.lax.cond(
                num_updates % period == 0,
                lambda: optax.incremental_update(params, state.target_params, tau),
                lambda: state.target_params,
            )
        return LearnerState(params, target_params, opt_state, num_updates), metrics

    state, metrics = jax.lax.scan(update, state, batches)
    return state, jax.tree_util.tree_map(jnp.mean, metrics)


def sample_batches(replay: Any, num_updates: int, batch_size: int) -> dict[str, np.ndarray]:
    """``num_updates`` stacked batches from ``replay``, with the dtypes the losses expect."""
    if num_updates < 1:
        raise ValueError(f"num_updates must be >= 1, got {num_updates}")
    batches = replay.sample_many(num_updates, batch_size)
    return {
        "observation": batches["observation"],
        "action": batches["action"].astype(np.int32),
        "reward": batches["reward"].astype(np.float32),
        "discount": batches["discount"].astype(np.float32),
        "next_observation": batches["next_observation"],
    }


class CQLLearner(DQNLearner):
    """Discrete CQL: the Double DQN learner plus ``alpha`` times the conservative term."""

    @dataclass(frozen=True)
    class Params(DQNLearner.Params):
        """Parameters of the CQL learner: DQN's, plus the conservative weight."""

        alpha: float = 1.0
        """Weight of the conservative term ``logsumexp_a Q(s,a) - Q(s,a_data)`` (0: DQN)."""
        huber_delta: float = 0.0
        """TD loss: 0 is eq. (4)'s squared error ``0.5 * td**2``; > 0 a Huber loss (DQN's default,
        1). ``alpha`` is weighed against this term: the conservative gradient of a transition is
        at most 1 (``softmax(Q) - onehot(a_data)``), and so is a Huber (delta 1) TD gradient,
        whereas the squared loss pulls by the whole TD error, so on returns far above 1
        (CartPole's reach 100) Huber acts as a much larger ``alpha``."""

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.alpha < 0:
                raise ParameterError(f"alpha must be >= 0, got {self.alpha}")

    def step(self, num_updates: int = 1) -> dict[str, float]:
        """Run ``num_updates`` CQL updates in one scan; returns the mean metrics."""
        batches = sample_batches(self.replay, num_updates, self.batch_size)
        self.state, metrics = scan_offline_updates(
            self.state, batches, module=self.network.module, config=self.params, loss_fn=cql_loss_fn
        )
        return {key: float(value) for key, value in metrics.items()}


class BCLearner(TargetNetworkLearner):
    """Behaviour cloning: the network's outputs as logits of the dataset's actions."""

    requires = {"network": "network", "replay": "replay"}
    expects = {"network": "q_values", "replay": "transitions"}

    @dataclass(frozen=True)
    class Params:
        """Parameters of the behaviour-cloning learner."""

        learning_rate: float = 5e-4
        """Adam step size (at the start, if it decays)."""
        learning_rate_end: float = 0.0
        """Step size reached at the end of the decay."""
        learning_rate_decay_updates: int = 0
        """Gradient updates over which the step size decays linearly (0: constant)."""
        batch_size: int = 64
        """Transitions per gradient update."""
        max_grad_norm: float = 10.0
        """Clip gradients to this global norm before Adam (0: no clipping)."""
        adam_eps: float = 1e-8
        """Adam's denominator epsilon."""

        def __post_init__(self) -> None:
            check_optimizer_params(self)
            if self.batch_size < 1:
                raise ParameterError(f"batch_size must be >= 1, got {self.batch_size}")
            if self.learning_rate < 0:
                raise ParameterError(f"learning_rate must be >= 0, got {self.learning_rate}")

    def __init__(
        self, params: Params, context: BuildContext, *, network: Any, replay: Any, **dependencies
    ):
        super().__init__(params, context, **dependencies)
        self.network = network
        self.replay = replay
        self.batch_size = int(params.batch_size)
        initial = network.initial_params()
        self.state = LearnerState(
            params=initial,
            target_params=initial,  # unused by BC; kept so checkpoints look like DQN's
            opt_state=make_optimizer(params).init(initial),
            num_updates=jnp.zeros((), dtype=jnp.int32),
        )

    def ready(self) -> bool:
        """Whether replay holds at least one batch."""
        return len(self.replay) >= self.batch_size

    def step(self, num_updates: int = 1) -> dict[str, float]:
        """Run ``num_updates`` BC updates in one scan; returns mean loss and accuracy."""
        batches = sample_batches(self.replay, num_updates, self.batch_size)
        self.state, metrics = scan_offline_updates(
            self.state, batches, module=self.network.module, config=self.params, loss_fn=bc_loss_fn
        )
        return {key: float(value) for key, value in metrics.items()}
