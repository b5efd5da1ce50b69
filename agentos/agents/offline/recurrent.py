"""Recurrent CQL: the R2D2 learner plus CQL's conservative term on each sequence's trace.

The update is R2D2's (``agentos.agents.r2d2.learner``; Kapturowski et al. 2019,
https://openreview.net/forum?id=r1lyTjAqYX): sequences of ``burn_in + trace_length`` steps, the
online and target LSTMs burned in from the start state without gradient, n-step double-Q
targets with value rescaling on the trace, the masked squared TD loss, Adam after global-norm
clipping, new priorities for the replay. To each sequence's TD loss it adds ``alpha`` times the
conservative term of CQL(H) (Kumar et al. 2020, eq. 4, https://arxiv.org/abs/2006.04779;
``losses.sequence_cql_regulariser``) on the same trace steps, the ones that get a target:

    L = mean_b w_b [ td_b + alpha * mean_{t valid} (logsumexp_a Q(x_t, a) - Q(x_t, a_t)) ]

with ``w_b`` the replay's importance weights (1 for uniform sampling). ``alpha = 0`` is the
R2D2 update exactly. It samples the ``replay`` slot as R2D2 does, so it learns offline from the
sequence dataset (``agentos.datasets.sequences``, bundle ``r2d2_cql``) and the ``r2d2_actor``
acts with the result. Targets are n-step only: a dataset holds no behaviour probabilities for
Retrace.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from agentos.agents.offline.losses import sequence_cql_regulariser
from agentos.agents.r2d2 import losses as r2d2_losses
from agentos.agents.r2d2.adder import (
    ACTION,
    DISCOUNT,
    MASK,
    REWARD,
)
from agentos.agents.r2d2.learner import (
    R2D2Learner,
    UpdateConfig,
    burned_in_q_values,
    make_optimizer,
    n_step_sequence_targets,
)
from agentos.agents.r2d2.network import RecurrentQModule
from agentos.agents.target_learner import LearnerState
from agentos.errors import ParameterError
from agentos.runtime.roles import BuildContext


@dataclass(frozen=True)
class CQLUpdateConfig(UpdateConfig):
    """R2D2's static hyperparameters plus the conservative weight."""

    alpha: float = 1.0


def recurrent_cql_loss_fn(
    params: Any,
    target_params: Any,
    batch: dict[str, jax.Array],
    weights: jax.Array,
    module: RecurrentQModule,
    config: CQLUpdateConfig,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The importance-weighted R2D2 + alpha * conservative loss of a batch of sequences;
    aux: priorities [B], mean Q taken, TD loss and conservative term (batch means)."""
    b = config.burn_in
    q_online, q_target, q_select = burned_in_q_values(
        params, target_params, batch, module, burn_in=b
    )

    action = batch[ACTION][:, b:]
    mask = batch[MASK][:, b:]
    tx_pair = (
        r2d2_losses.SIGNED_HYPERBOLIC_PAIR if config.value_rescaling else r2d2_losses.IDENTITY_PAIR
    )
    target_fn = functools.partial(
        n_step_sequence_targets, gamma=config.discount, n=config.n_step, tx_pair=tx_pair
    )
    targets = jax.vmap(target_fn)(
        batch[REWARD][:, b:], batch[DISCOUNT][:, b:], mask, q_target, q_select
    )
    num = targets.shape[1]
    q_taken = jnp.take_along_axis(q_online[:, :num], action[:, :num, None], axis=-1)[..., 0]
    valid = mask[:, :num]
    td, td_errors = jax.vmap(r2d2_losses.td_error_loss)(q_taken, targets, valid)
    conservative = jax.vmap(sequence_cql_regulariser)(q_online[:, :num], action[:, :num], valid)
    loss = jnp.mean(weights * (td + config.alpha * conservative))
    priorities = jax.vmap(
        functools.partial(r2d2_losses.sequence_priority, eta=config.priority_eta)
    )(jnp.abs(td_errors), valid)
    q_values = tx_pair.apply_inv(jax.lax.stop_gradient(q_taken))
    q_mean = jnp.sum(valid * q_values) / jnp.maximum(jnp.sum(valid), 1.0)
    aux = {
        "priorities": priorities,
        "q_mean": q_mean,
        "td_loss": jnp.mean(td),
        "conservative": jnp.mean(conservative),
    }
    return loss, aux


@functools.partial(jax.jit, static_argnames=("module", "config"))
def cql_update_step(
    state: LearnerState,
    batch: dict[str, jax.Array],
    weights: jax.Array,
    *,
    module: RecurrentQModule,
    config: CQLUpdateConfig,
) -> tuple[LearnerState, dict[str, jax.Array], jax.Array]:
    """One gradient update (as ``agentos.agents.r2d2.learner.update_step``); returns (new
    state, metrics, [B] priorities). Metrics: ``loss``, ``td_loss``, ``conservative``,
    ``q_mean``, ``priority_mean``."""
    optimizer = make_optimizer(config.learning_rate, config.adam_eps, config.max_grad_norm)
    grad_fn = jax.value_and_grad(recurrent_cql_loss_fn, has_aux=True)
    (loss, aux), grads = grad_fn(state.params, state.target_params, batch, weights, module, config)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    num_updates = state.num_updates + 1
    target_params = optax.periodic_update(
        params, state.target_params, num_updates, config.target_update_period
    )
    priorities = aux.pop("priorities")
    metrics = {"loss": loss, **aux, "priority_mean": jnp.mean(priorities)}
    return LearnerState(params, target_params, opt_state, num_updates), metrics, priorities


class R2D2CQLLearner(R2D2Learner):
    """The R2D2 learner with CQL's conservative term (recurrent, offline)."""

    @dataclass(frozen=True)
    class Params(R2D2Learner.Params):
        """R2D2's parameters plus the conservative weight (n-step targets only)."""

        alpha: float = 1.0
        """Weight of ``logsumexp_a Q(x_t, a) - Q(x_t, a_t)`` on the trace (0: R2D2)."""

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.alpha < 0:
                raise ParameterError(f"alpha must be >= 0, got {self.alpha}")
            if self.loss != "n_step":
                raise ParameterError(
                    "r2d2_cql learns with n-step targets only (a dataset has no behaviour "
                    f"probabilities for Retrace), got loss={self.loss!r}"
                )

    def __init__(
        self, params: Params, context: BuildContext, *, network: Any, replay: Any, **dependencies
    ):
        super().__init__(params, context, network=network, replay=replay, **dependencies)
        self.config = CQLUpdateConfig(**dataclasses.asdict(self.config), alpha=float(params.alpha))

    def _update(
        self, batch: dict[str, np.ndarray], weights: np.ndarray
    ) -> tuple[LearnerState, dict[str, jax.Array], jax.Array]:
        """One jitted recurrent CQL update (``cql_update_step``)."""
        return cql_update_step(
            self.state, batch, weights, module=self.network.module, config=self.config
        )
