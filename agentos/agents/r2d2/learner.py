"""The R2D2 learner (Kapturowski et al. 2019, https://openreview.net/forum?id=r1lyTjAqYX).

One update, top to bottom (``update_step``, one jitted pure function with an explicit carry):

1. a prioritized batch of B sequences of ``T = burn_in + trace_length`` steps, each with the
   LSTM state the actor had at its first step (section 3, "stored state");
2. burn-in: the online and the target network are unrolled over the first ``burn_in`` steps
   from the stored state, with no gradient (``jax.lax.stop_gradient``), to refresh the state;
3. both networks are unrolled over the trace from the burned-in states;
4. targets for ``Q(x_t, a_t)`` on the trace: n-step double-Q with value rescaling
   (``losses.n_step_double_q_targets``; section 2.3) or transformed Retrace
   (``losses.transformed_retrace_targets``; as in NGU / Agent57), computed per sequence and
   ``jax.vmap``-ed over the batch;
5. loss = mean over the batch of importance weight x masked squared TD error
   (``losses.td_error_loss``); Adam after global-norm clipping (40);
6. new priorities ``eta max|delta| + (1 - eta) mean|delta|`` (``losses.sequence_priority``)
   go back to the replay; the target network is a copy refreshed every
   ``target_update_period`` updates.

Alignment is the adder's (``agentos.agents.r2d2.adder``): ``reward[t]``, ``discount[t]`` belong
to ``(x_{t-1}, a_{t-1}) -> x_t``; the learner multiplies ``discount`` by its ``discount``
parameter (gamma).

Episode ends. The step after an episode's last action holds its final observation ``x_T``
(mask 0, discount 0 if terminated, 1 if truncated); zero padding follows. For n-step targets
the padding is turned into an absorbing copy of ``x_T`` (reward 0, discount 1, the values at
``x_T``), so a target whose n steps reach past the end bootstraps from ``x_T`` with the right
power of gamma, times the stored discount of ``x_T`` (0 if terminated). For Retrace the trace
coefficient ``c`` is multiplied by the mask, so the trace is cut at ``x_T`` and the last real
action's target is ``r_T + gamma gamma_T V(x_T)`` (``V`` greedy; 0 bootstrap if terminated).
The mask itself cuts it, not a swapped-in non-greedy action: with one action the swap would be
the greedy action, and the trace would run into the padding (issue 11).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax

from agentos.agents.r2d2 import losses
from agentos.agents.r2d2.actor import MU, STATE_KEYS
from agentos.agents.r2d2.adder import (
    ACTION,
    DISCOUNT,
    MASK,
    OBSERVATION,
    PREV_ACTION,
    PREV_REWARD,
    REWARD,
    check_sequence_params,
)
from agentos.agents.r2d2.network import RecurrentQModule, unroll
from agentos.agents.r2d2.sequence_learner import SequenceLearner
from agentos.agents.target_learner import LearnerState
from agentos.components.checks import check_batch_fits, check_optimizer_params
from agentos.errors import ParameterError
from agentos.runtime.roles import BuildContext

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpdateConfig:
    """The static (hashable) hyperparameters of ``update_step``."""

    burn_in: int
    n_step: int
    discount: float
    value_rescaling: bool
    loss: str
    retrace_lambda: float
    priority_eta: float
    target_update_period: int
    learning_rate: float
    adam_eps: float
    max_grad_norm: float


def make_optimizer(
    learning_rate: float, adam_eps: float, max_grad_norm: float
) -> optax.GradientTransformation:
    """Adam preceded by global-norm gradient clipping (no clipping if max_grad_norm <= 0)."""
    adam = optax.adam(learning_rate, eps=adam_eps)
    if max_grad_norm > 0:
        return optax.chain(optax.clip_by_global_norm(max_grad_norm), adam)
    return adam


def n_step_sequence_targets(
    r_t: jax.Array,
    discount_t: jax.Array,
    mask_t: jax.Array,
    q_target_t: jax.Array,
    q_online_t: jax.Array,
    *,
    gamma: float,
    n: int,
    tx_pair: losses.TxPair,
) -> jax.Array:
    """n-step double-Q targets ``[L - n]`` for one trace, bootstrapping past an episode's end
    from its final observation (see the module docstring).

    ``mask_t`` is 1 at steps with a real action; the first 0 is the final observation
    ``x_T`` and later ones are padding, made an absorbing copy of ``x_T``.
    """
    is_pad = jnp.cumsum(1.0 - mask_t) >= 2.0
    end = jnp.argmax(mask_t <= 0)  # index of x_T (0 if the trace has none: then no padding)
    discount = jnp.where(is_pad, 1.0, gamma * discount_t)
    reward = jnp.where(is_pad, 0.0, r_t)
    q_target = jnp.where(is_pad[:, None], q_target_t[end], q_target_t)
    q_online = jnp.where(is_pad[:, None], q_online_t[end], q_online_t)
    return losses.n_step_double_q_targets(reward, discount, q_target, q_online, n, tx_pair)


def retrace_sequence_targets(
    a_t: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    mask_t: jax.Array,
    mu_t: jax.Array,
    q_target_t: jax.Array,
    q_online_t: jax.Array,
    *,
    gamma: float,
    lambda_: float | jax.Array,
    tx_pair: losses.TxPair,
    traces: str = "retrace",
) -> jax.Array:
    """Transformed Retrace (or, with ``traces="peng"``, Peng's Q(lambda)) targets ``[L - 1]``
    for one trace, greedy target policy on the online values; the trace is cut at steps
    without an action (mask 0: ``c = 0`` there).

    Targets at mask-0 steps (final observation, padding) are defined but carry no loss.
    """
    return losses.transformed_retrace_targets(
        q_target_t,
        q_online_t,
        a_t,
        r_t,
        gamma * discount_t,
        mu_t,
        lambda_,
        tx_pair,
        trace_mask_t=mask_t,
        traces=traces,
    )


def state_after_burn_in(
    burned: Any, start: Any, mask: jax.Array, burn_in: int, batch_axis: int = 0
) -> Any:
    """The burned-in recurrent state, without gradient; where a sequence's burn-in is all
    padding (``mask`` ``[B, T]`` 0: an episode's first sequence, see ``adder``) the stored
    ``start`` instead, the actor's state at ``x_0``, which unrolling over padding would change."""
    at_start = jnp.all(mask[:, :burn_in] == 0, axis=1)

    def pick(after: jax.Array, before: jax.Array) -> jax.Array:
        shape = [1] * after.ndim
        shape[batch_axis] = -1
        return jnp.where(jnp.reshape(at_start, shape), before, after)

    return jax.lax.stop_gradient(jax.tree.map(pick, burned, start))


def burned_in_q_values(
    params: Any,
    target_params: Any,
    batch: dict[str, jax.Array],
    module: RecurrentQModule,
    *,
    burn_in: int,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(online Q, target Q, online Q without gradient), each ``[B, L - burn_in, A]``.

    R2D2's burn-in (Kapturowski et al. 2019, section 3): both networks unroll the first
    ``burn_in`` steps from the stored state without gradient, then the rest of the sequence.
    A sequence whose burn-in is padding (an episode's first) starts from the stored state.
    """

    def time_major(x: jax.Array) -> jax.Array:
        return jnp.swapaxes(x, 0, 1)

    obs = time_major(batch[OBSERVATION])
    prev_action = time_major(batch[PREV_ACTION])
    prev_reward = time_major(batch[PREV_REWARD])
    start = (batch[STATE_KEYS[0]], batch[STATE_KEYS[1]])
    b = burn_in
    online_state, target_state = start, start
    if b > 0:
        _, online_state = unroll(module, params, obs[:b], prev_action[:b], prev_reward[:b], start)
        _, target_state = unroll(
            module, target_params, obs[:b], prev_action[:b], prev_reward[:b], start
        )
        online_state = state_after_burn_in(online_state, start, batch[MASK], b)
        target_state = state_after_burn_in(target_state, start, batch[MASK], b)
    q_online, _ = unroll(module, params, obs[b:], prev_action[b:], prev_reward[b:], online_state)
    q_target, _ = unroll(
        module, target_params, obs[b:], prev_action[b:], prev_reward[b:], target_state
    )
    q_online = time_major(q_online)  # back to [B, L, A]
    q_target = jax.lax.stop_gradient(time_major(q_target))
    return q_online, q_target, jax.lax.stop_gradient(q_online)


def _loss_fn(
    params: Any,
    target_params: Any,
    batch: dict[str, jax.Array],
    weights: jax.Array,
    module: RecurrentQModule,
    config: UpdateConfig,
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """Importance-weighted masked TD loss of a batch; aux: (priorities [B], mean Q taken)."""
    b = config.burn_in
    q_online, q_target, q_select = burned_in_q_values(
        params, target_params, batch, module, burn_in=b
    )
    action = batch[ACTION][:, b:]
    reward = batch[REWARD][:, b:]
    discount = batch[DISCOUNT][:, b:]
    mask = batch[MASK][:, b:]
    tx_pair = losses.SIGNED_HYPERBOLIC_PAIR if config.value_rescaling else losses.IDENTITY_PAIR
    if config.loss == "n_step":
        target_fn = functools.partial(
            n_step_sequence_targets, gamma=config.discount, n=config.n_step, tx_pair=tx_pair
        )
        targets = jax.vmap(target_fn)(reward, discount, mask, q_target, q_select)
    else:
        target_fn = functools.partial(
            retrace_sequence_targets,
            gamma=config.discount,
            lambda_=config.retrace_lambda,
            tx_pair=tx_pair,
            traces=config.loss,
        )
        mu = batch[MU][:, b:]
        targets = jax.vmap(target_fn)(action, reward, discount, mask, mu, q_target, q_select)
    num = targets.shape[1]
    q_taken = jnp.take_along_axis(q_online[:, :num], action[:, :num, None], axis=-1)[..., 0]
    valid = mask[:, :num]
    per_sequence, td_errors = jax.vmap(losses.td_error_loss)(q_taken, targets, valid)
    loss = jnp.mean(weights * per_sequence)
    priorities = jax.vmap(functools.partial(losses.sequence_priority, eta=config.priority_eta))(
        jnp.abs(td_errors), valid
    )
    q_values = tx_pair.apply_inv(jax.lax.stop_gradient(q_taken))
    q_mean = jnp.sum(valid * q_values) / jnp.maximum(jnp.sum(valid), 1.0)
    return loss, (priorities, q_mean)


@functools.partial(jax.jit, static_argnames=("module", "config"))
def update_step(
    state: LearnerState,
    batch: dict[str, jax.Array],
    weights: jax.Array,
    *,
    module: RecurrentQModule,
    config: UpdateConfig,
) -> tuple[LearnerState, dict[str, jax.Array], jax.Array]:
    """One gradient update on a batch of sequences; returns (new state, metrics, [B] priorities).

    Metrics: ``loss``, ``q_mean`` (mean Q of the taken actions on valid trace steps, in
    value space) and ``priority_mean``.
    """
    optimizer = make_optimizer(config.learning_rate, config.adam_eps, config.max_grad_norm)
    grad_fn = jax.value_and_grad(_loss_fn, has_aux=True)
    (loss, (priorities, q_mean)), grads = grad_fn(
        state.params, state.target_params, batch, weights, module, config
    )
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    num_updates = state.num_updates + 1
    target_params = optax.periodic_update(
        params, state.target_params, num_updates, config.target_update_period
    )
    metrics = {"loss": loss, "q_mean": q_mean, "priority_mean": jnp.mean(priorities)}
    return LearnerState(params, target_params, opt_state, num_updates), metrics, priorities


class R2D2Learner(SequenceLearner):
    """Trains the recurrent Q-network on prioritized sequences (R2D2)."""

    requires = {"network": "network", "replay": "replay"}
    expects = {"network": "recurrent_q_values", "replay": "sequences"}

    @dataclass(frozen=True)
    class Params:
        """Parameters of the R2D2 learner."""

        burn_in: int = 8
        """Steps of each sequence that only refresh the stored LSTM state (no loss); must
        equal the actor's: write ``${actor.burn_in}``."""
        trace_length: int = 32
        """Steps after the burn-in that the loss is computed on; ``${actor.trace_length}``."""
        n_step: int = 5
        """n of the n-step double-Q targets (R2D2: 5)."""
        discount: float = 0.997
        """gamma (R2D2: 0.997)."""
        learning_rate: float = 1e-4
        """Adam step size (R2D2: 1e-4)."""
        adam_eps: float = 1e-3
        """Adam's epsilon (R2D2: 1e-3)."""
        max_grad_norm: float = 40.0
        """Clip gradients to this global norm before Adam (R2D2: 40; 0: no clipping)."""
        target_update_period: int = 2500
        """Updates between copies of the online network into the target (R2D2: 2500)."""
        value_rescaling: bool = True
        """Targets in the space of h(x) = sign(x)(sqrt(|x|+1)-1) + 1e-3 x (R2D2, section 2.3)."""
        loss: Literal["n_step", "retrace", "peng"] = "n_step"
        """Targets: n-step double-Q (R2D2), transformed Retrace (NGU / Agent57) or Peng's
        Q(lambda) (Kozuno et al. 2021; traces not cut by the behaviour)."""
        retrace_lambda: float = 0.95
        """lambda of the traces (loss = retrace or peng)."""
        priority_eta: float = 0.9
        """Priority = eta max|delta| + (1 - eta) mean|delta| over the trace (R2D2: 0.9)."""
        batch_size: int = 64
        """Sequences per update (R2D2: 64)."""
        min_replay_sequences: int = 0
        """Sequences the replay must hold before the first update (at least batch_size)."""

        def __post_init__(self) -> None:
            check_sequence_params(self.burn_in, self.trace_length, 1)
            check_optimizer_params(self)
            if self.loss == "n_step" and not 1 <= self.n_step < self.trace_length:
                raise ParameterError(
                    f"n_step must be in [1, trace_length = {self.trace_length}), got {self.n_step}"
                )
            if not 0.0 <= self.discount <= 1.0:
                raise ParameterError(f"discount must be in [0, 1], got {self.discount}")
            if self.learning_rate <= 0:
                raise ParameterError(f"learning_rate must be > 0, got {self.learning_rate}")
            if self.target_update_period < 1:
                raise ParameterError(
                    f"target_update_period must be >= 1, got {self.target_update_period}"
                )
            if not 0.0 <= self.priority_eta <= 1.0:
                raise ParameterError(f"priority_eta must be in [0, 1], got {self.priority_eta}")
            if not 0.0 <= self.retrace_lambda <= 1.0:
                raise ParameterError(f"retrace_lambda must be in [0, 1], got {self.retrace_lambda}")
            if self.batch_size < 1:
                raise ParameterError(f"batch_size must be >= 1, got {self.batch_size}")

    def __init__(
        self, params: Params, context: BuildContext, *, network: Any, replay: Any, **dependencies
    ):
        super().__init__(params, context, **dependencies)
        self.network = network
        self.replay = replay
        self.batch_size = int(params.batch_size)
        check_batch_fits(
            self.batch_size, replay, needed=max(self.batch_size, params.min_replay_sequences)
        )
        self.extra_fields = (MU,) if params.loss != "n_step" else ()
        self.config = UpdateConfig(
            burn_in=int(params.burn_in),
            n_step=int(params.n_step),
            discount=float(params.discount),
            value_rescaling=bool(params.value_rescaling),
            loss=str(params.loss),
            retrace_lambda=float(params.retrace_lambda),
            priority_eta=float(params.priority_eta),
            target_update_period=int(params.target_update_period),
            learning_rate=float(params.learning_rate),
            adam_eps=float(params.adam_eps),
            max_grad_norm=float(params.max_grad_norm),
        )
        initial = network.initial_params()
        optimizer = make_optimizer(params.learning_rate, params.adam_eps, params.max_grad_norm)
        self.state = LearnerState(
            params=initial,
            target_params=initial,
            opt_state=optimizer.init(initial),
            num_updates=jnp.zeros((), dtype=jnp.int32),
        )

    def ready(self) -> bool:
        """Whether the replay holds max(batch_size, min_replay_sequences) sequences."""
        return len(self.replay) >= max(self.batch_size, self.params.min_replay_sequences)

    def _update(
        self, batch: dict[str, np.ndarray], weights: np.ndarray
    ) -> tuple[LearnerState, dict[str, jax.Array], jax.Array]:
        """One jitted R2D2 update (``update_step``)."""
        return update_step(
            self.state, batch, weights, module=self.network.module, config=self.config
        )
