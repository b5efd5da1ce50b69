"""The Agent57 learner (Badia et al. 2020, https://arxiv.org/abs/2003.13350 , App. B/F).

One update, top to bottom (``update_step``, one jitted pure function with an explicit carry):

1. a prioritized batch of B sequences of ``T = burn_in + trace_length`` steps, each with the
   LSTM states of both Q-networks at its first step, its arm j (constant in a sequence: a
   sequence never spans two episodes) and rewards ``[r_e, r_i]``;
2. burn-in of the extrinsic and intrinsic networks (online and target) from the stored
   states, without gradient; both networks are one ``jax.vmap`` over stacked parameters;
3. the target policy is greedy on the combined online values
   ``h(h^{-1}(Q_e) + beta_j h^{-1}(Q_i))`` and shared by both heads (App. B);
4. transformed Retrace targets (lambda = 0.95) per head with the head's reward and the arm's
   discount gamma_j (``targets.split_retrace_targets``); with ``non_episodic_intrinsic`` the
   intrinsic head bootstraps through terminations, and ``intrinsic_discount`` caps its
   discount at min(gamma_j, cap);
5. loss = importance-weighted masked squared TD errors of both heads; each network has its
   own Adam state and its own global-norm clipping at 40 (the optimizer is ``vmap``-ed over
   the stacked parameters);
6. priorities ``eta max|delta| + (1 - eta) mean|delta|`` of ``|delta_e + beta_j delta_i|``
   (``split_abs_td``: the heads' h-space TD errors combined as the arm's policy combines
   the heads);
7. the embedding is trained by its inverse-dynamics loss on the sequences' transitions and the
   RND predictor by its error on their observations, each with its own Adam (NGU App. A);
   RND's input is whitened (clip((x - mu) / sigma, -5, 5), RND paper section 2.4) with
   running observation statistics that this step first updates from the batch's observations
   (``rnd.update_observation_stats``; they travel to the actor and the checkpoint with the
   variables as ``"rnd_obs"``);
8. the target Q-networks are copied every ``target_update_period`` updates (or moved
   towards the online ones by ``target_update_tau``).
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

from agentos.agents.agent57.actor import ARM
from agentos.agents.agent57.network import (
    NUM_HEADS,
    Agent57Network,
    IntrinsicRewardInput,
    split_unroll,
)
from agentos.agents.agent57.novelty_loss import novelty_loss
from agentos.agents.agent57.rnd_inputs import update_observation_stats
from agentos.agents.agent57.targets import (
    exploit_arms,
    extrinsic_lambdas,
    resolve_time_limits,
    split_abs_td,
    split_retrace_targets,
)
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
from agentos.agents.r2d2.learner import make_optimizer, state_after_burn_in
from agentos.agents.r2d2.sequence_learner import SequenceLearner
from agentos.agents.target_learner import LearnerState
from agentos.components.checks import check_batch_fits, check_optimizer_params
from agentos.errors import AgentOSError, ParameterError
from agentos.runtime.roles import BuildContext

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpdateConfig:
    """The static (hashable) hyperparameters of ``update_step``."""

    burn_in: int
    num_arms: int
    value_rescaling: bool
    retrace_lambda: float
    priority_eta: float
    target_update_period: int
    learning_rate: float
    adam_eps: float
    max_grad_norm: float
    novelty_learning_rate: float
    exploit_every: int = 0
    non_episodic_intrinsic: bool = False
    traces: str = "retrace"
    intrinsic_discount: float | None = None
    target_update_tau: float = 1.0
    extrinsic_time_limits: str = "bootstrap"
    exploit_lambda: float | None = None
    intrinsic_input: IntrinsicRewardInput = "both_heads"


def _time_major(x: jax.Array) -> jax.Array:
    return jnp.swapaxes(x, 0, 1)


def q_loss(
    q_params: Any,
    target_q_params: Any,
    batch: dict[str, jax.Array],
    weights: jax.Array,
    betas: jax.Array,
    gammas: jax.Array,
    network: Agent57Network,
    config: UpdateConfig,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Retrace loss of both heads on a batch; aux: priorities [B] and per-head metrics."""
    obs = _time_major(batch[OBSERVATION])
    prev_action = _time_major(batch[PREV_ACTION])
    prev_reward = _time_major(batch[PREV_REWARD])
    own_arm = batch[ARM][:, 0].astype(jnp.int32)
    arm = exploit_arms(own_arm, config.exploit_every)  # [B]
    lambda_e = extrinsic_lambdas(own_arm, arm, config.retrace_lambda, config.exploit_lambda)
    arm_t = jnp.broadcast_to(arm, prev_action.shape)  # [T, B]
    start = (jnp.swapaxes(batch[STATE_KEYS[0]], 0, 1), jnp.swapaxes(batch[STATE_KEYS[1]], 0, 1))
    module, num_arms, b = network.module, config.num_arms, config.burn_in

    def unroll(params: Any, state: Any, lo: int, hi: int | None) -> tuple[jax.Array, Any]:
        return split_unroll(
            module,
            params,
            obs[lo:hi],
            prev_action[lo:hi],
            prev_reward[lo:hi],
            arm_t[lo:hi],
            state,
            num_arms,
            config.intrinsic_input,
        )

    online_state, target_state = start, start
    if b > 0:  # states are [2, B, H]: the batch is axis 1
        burned = (unroll(q_params, start, 0, b)[1], unroll(target_q_params, start, 0, b)[1])
        online_state, target_state = (
            state_after_burn_in(s, start, batch[MASK], b, 1) for s in burned
        )
    q_online, _ = unroll(q_params, online_state, b, None)  # [2, L, B, A]
    q_target, _ = unroll(target_q_params, target_state, b, None)
    q_online = jnp.swapaxes(q_online, 1, 2)  # [2, B, L, A]
    q_target = jax.lax.stop_gradient(jnp.swapaxes(q_target, 1, 2))
    beta = betas[arm]  # [B]
    gamma = gammas[arm]
    rescaled = config.value_rescaling
    tx_pair = losses.SIGNED_HYPERBOLIC_PAIR if rescaled else losses.IDENTITY_PAIR
    action = batch[ACTION][:, b:]
    mask = batch[MASK][:, b:]
    targets = jax.vmap(
        functools.partial(
            split_retrace_targets,
            lambda_=config.retrace_lambda,
            tx_pair=tx_pair,
            non_episodic_intrinsic=config.non_episodic_intrinsic,
            traces=config.traces,
            intrinsic_discount=config.intrinsic_discount,
            extrinsic_time_limits=config.extrinsic_time_limits,
        ),
        in_axes=(1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
    )(
        jax.lax.stop_gradient(q_online),
        q_target,
        action,
        batch[REWARD][:, b:],
        batch[DISCOUNT][:, b:],
        mask,
        batch[MU][:, b:],
        beta,
        gamma,
        lambda_e,
    )  # [B, 2, L - 1]
    num = targets.shape[-1]
    valid = mask[:, :num]
    td_heads = []
    total = jnp.zeros(())
    metrics = {}
    for head, name in enumerate(("extrinsic", "intrinsic")):
        q_taken = jnp.take_along_axis(q_online[head][:, :num], action[:, :num, None], axis=-1)
        q_taken = q_taken[..., 0]
        per_sequence, td = jax.vmap(losses.td_error_loss)(q_taken, targets[:, head], valid)
        head_loss = jnp.mean(weights * per_sequence)
        total = total + head_loss
        td_heads.append(td)
        metrics[f"loss_{name}"] = head_loss
        values = tx_pair.apply_inv(jax.lax.stop_gradient(q_taken))
        metrics[f"q_{name}_mean"] = jnp.sum(valid * values) / jnp.maximum(jnp.sum(valid), 1.0)
    abs_td = split_abs_td(td_heads[0], td_heads[1], beta)
    priorities = jax.vmap(functools.partial(losses.sequence_priority, eta=config.priority_eta))(
        abs_td, valid
    )
    metrics["priorities"] = priorities
    return total, metrics


def _optimizers(config: UpdateConfig) -> tuple[Any, Any]:
    q_opt = make_optimizer(config.learning_rate, config.adam_eps, config.max_grad_norm)
    novelty_opt = make_optimizer(config.novelty_learning_rate, 1e-8, config.max_grad_norm)
    return q_opt, novelty_opt


def init_opt_state(params: dict[str, Any], config: UpdateConfig) -> dict[str, Any]:
    """Adam states: one per Q-network (vmapped), one for the embedding, one for RND."""
    q_opt, novelty_opt = _optimizers(config)
    return {
        "q": jax.vmap(q_opt.init)(params["q"]),
        "embedding": novelty_opt.init(params["embedding"]),
        "rnd": novelty_opt.init(params["rnd"]["predictor"]),
    }


@functools.partial(jax.jit, static_argnames=("network", "config"))
def update_step(
    state: LearnerState,
    batch: dict[str, jax.Array],
    weights: jax.Array,
    betas: jax.Array,
    gammas: jax.Array,
    *,
    network: Agent57Network,
    config: UpdateConfig,
) -> tuple[LearnerState, dict[str, jax.Array], jax.Array]:
    """One update of both Q-networks, the embedding and RND; -> (state, metrics, priorities)."""
    q_opt, novelty_opt = _optimizers(config)
    params = state.params
    (_, q_aux), q_grads = jax.value_and_grad(q_loss, has_aux=True)(
        params["q"], state.target_params, batch, weights, betas, gammas, network, config
    )
    # RND's input statistics take this batch's observations (steps with an action) first.
    obs_stats = update_observation_stats(
        params["rnd_obs"],
        jnp.reshape(batch[OBSERVATION], (-1,) + batch[OBSERVATION].shape[2:]),
        jnp.reshape(batch[MASK], (-1,)),
    )
    novelty_params = {"embedding": params["embedding"], "rnd": params["rnd"]}
    (_, n_aux), n_grads = jax.value_and_grad(novelty_loss, has_aux=True)(
        novelty_params, batch, network, obs_stats
    )
    q_updates, q_opt_state = jax.vmap(q_opt.update)(q_grads, state.opt_state["q"], params["q"])
    emb_updates, emb_opt_state = novelty_opt.update(
        n_grads["embedding"], state.opt_state["embedding"], params["embedding"]
    )
    rnd_updates, rnd_opt_state = novelty_opt.update(
        n_grads["rnd"]["predictor"], state.opt_state["rnd"], params["rnd"]["predictor"]
    )
    new_params = {
        "q": optax.apply_updates(params["q"], q_updates),
        "embedding": optax.apply_updates(params["embedding"], emb_updates),
        "rnd": {
            "predictor": optax.apply_updates(params["rnd"]["predictor"], rnd_updates),
            "target": params["rnd"]["target"],
        },
        "rnd_obs": obs_stats,
    }
    num_updates = state.num_updates + 1
    target_params = jax.lax.cond(
        num_updates % config.target_update_period == 0,
        lambda: optax.incremental_update(
            new_params["q"], state.target_params, config.target_update_tau
        ),
        lambda: state.target_params,
    )
    priorities = q_aux.pop("priorities")
    metrics = {**q_aux, **n_aux, "priority_mean": jnp.mean(priorities)}
    metrics["loss"] = metrics["loss_extrinsic"] + metrics["loss_intrinsic"]
    opt_state = {"q": q_opt_state, "embedding": emb_opt_state, "rnd": rnd_opt_state}
    return LearnerState(new_params, target_params, opt_state, num_updates), metrics, priorities


class Agent57Learner(SequenceLearner):
    """Trains the Agent57 networks on prioritized sequences with transformed Retrace."""

    requires = {"network": "network", "replay": "replay"}
    expects = {"network": "agent57_values", "replay": "sequences"}

    @dataclass(frozen=True)
    class Params:
        """Parameters of the Agent57 learner."""

        burn_in: int = 8
        """Steps that only refresh the stored LSTM states; write ``${actor.burn_in}``."""
        trace_length: int = 32
        """Steps after the burn-in with a loss; write ``${actor.trace_length}``."""
        retrace_lambda: float = 0.95
        """lambda of the traces (Agent57: 0.95)."""
        traces: Literal["retrace", "peng", "peng_extrinsic"] = "retrace"
        """How traces are cut: Retrace's min(1, pi/mu) at each step (Agent57), Peng's
        Q(lambda), never cut by the behaviour (Kozuno et al. 2021), or Peng's for the
        extrinsic head and Retrace for the intrinsic one."""
        learning_rate: float = 1e-4
        """Adam step size of both Q-networks (Agent57: 1e-4)."""
        adam_eps: float = 1e-3
        """Adam epsilon of the Q-networks (Agent57: 1e-3)."""
        max_grad_norm: float = 40.0
        """Global-norm clip of each network's gradient (Agent57: 40)."""
        novelty_learning_rate: float = 5e-4
        """Adam step size of the embedding/IDM and the RND predictor (NGU: 5e-4)."""
        target_update_period: int = 1500
        """Updates between target-network refreshes (Agent57: 1500)."""
        target_update_tau: float = 1.0
        """At each refresh, target <- tau * online + (1 - tau) * target; 1: a copy (Agent57),
        below 1 with a period of 1: Polyak averaging."""
        priority_eta: float = 0.9
        """Priority = eta max|delta| + (1 - eta) mean|delta| (Agent57: 0.9)."""
        batch_size: int = 64
        """Sequences per update (Agent57: 64)."""
        exploit_every: int = 0
        """Train every k-th sequence of a batch as the exploitative arm 0 (off-policy)
        instead of its own arm; 0: each sequence only for its own arm (the paper). Lets arm 0
        learn from rewards the exploratory arms find; with Retrace's cut traces alone that is
        one step per target copy, so the bundle pairs it with ``traces: peng_extrinsic``."""
        exploit_lambda: float | None = None
        """The extrinsic head's lambda on sequences ``exploit_every`` relabels as arm 0; None:
        ``retrace_lambda``. Uncut traces on an explorer's sequence teach arm 0 the explorer's
        returns; measured on issue 11's maze, 0.8 and 0 did not help, so it is off."""
        non_episodic_intrinsic: bool = False
        """The intrinsic head bootstraps through terminations (RND's non-episodic intrinsic
        return); False: both heads end at termination (the paper)."""
        intrinsic_discount: float | None = None
        """Caps the intrinsic head's discount at min(gamma_j, this) (RND: gamma_I = 0.99);
        None: the arm's gamma_j for both heads (the paper). A non-episodic intrinsic value
        with gamma_j near 1 grows towards r_i / (1 - gamma_j) for the whole run and its
        noise, times beta_j, drowns the extrinsic values."""
        extrinsic_time_limits: Literal["bootstrap", "end", "auto"] = "bootstrap"
        """At a time limit the extrinsic head bootstraps from the last observation
        (``bootstrap``: the limit only cuts an endless task) or its return ends (``end``: the
        limit is part of the task, as in MiniGrid, where running out of steps pays 0);
        ``auto``: ``end`` where the environment truncates by itself, ``bootstrap`` where a
        TimeLimit wrapper cuts it (Pardo et al. 2018)."""

        def __post_init__(self) -> None:
            check_sequence_params(self.burn_in, self.trace_length, 1)
            check_optimizer_params(self)
            for name in ("retrace_lambda", "priority_eta", "exploit_lambda"):
                value = getattr(self, name)
                if value is not None and not 0.0 <= value <= 1.0:
                    raise ParameterError(f"{name} must be in [0, 1], got {value}")
            if not 0.0 < self.target_update_tau <= 1.0:
                raise ParameterError(
                    f"target_update_tau must be in (0, 1], got {self.target_update_tau}"
                )
            for name in ("learning_rate", "novelty_learning_rate"):
                if getattr(self, name) <= 0:
                    raise ParameterError(f"{name} must be > 0, got {getattr(self, name)}")
            if self.target_update_period < 1:
                raise ParameterError(
                    f"target_update_period must be >= 1, got {self.target_update_period}"
                )
            if self.batch_size < 1:
                raise ParameterError(f"batch_size must be >= 1, got {self.batch_size}")
            if self.intrinsic_discount is not None and not 0.0 <= self.intrinsic_discount <= 1.0:
                raise ParameterError(
                    f"intrinsic_discount must be in [0, 1] or null, got {self.intrinsic_discount}"
                )
            if self.exploit_every < 0:
                raise ParameterError(
                    f"exploit_every must be >= 0 (0: off), got {self.exploit_every}"
                )

    def __init__(
        self, params: Params, context: BuildContext, *, network: Any, replay: Any, **dependencies
    ):
        super().__init__(params, context, **dependencies)
        if not isinstance(network, Agent57Network):
            raise ParameterError(
                f"the Agent57 learner needs the agent57_network, got {type(network).__name__}",
                fix="agentos install agent57_network",
            )
        self.network = network
        self.replay = replay
        self.batch_size = int(params.batch_size)
        check_batch_fits(self.batch_size, replay)
        self.config = UpdateConfig(
            burn_in=int(params.burn_in),
            num_arms=int(network.num_arms),
            value_rescaling=bool(network.params.value_rescaling),
            intrinsic_input=network.params.intrinsic_reward_input,
            retrace_lambda=float(params.retrace_lambda),
            priority_eta=float(params.priority_eta),
            target_update_period=int(params.target_update_period),
            target_update_tau=float(params.target_update_tau),
            learning_rate=float(params.learning_rate),
            adam_eps=float(params.adam_eps),
            max_grad_norm=float(params.max_grad_norm),
            novelty_learning_rate=float(params.novelty_learning_rate),
            exploit_every=int(params.exploit_every),
            exploit_lambda=(
                None if params.exploit_lambda is None else float(params.exploit_lambda)
            ),
            non_episodic_intrinsic=bool(params.non_episodic_intrinsic),
            traces=str(params.traces),
            intrinsic_discount=(
                None if params.intrinsic_discount is None else float(params.intrinsic_discount)
            ),
            extrinsic_time_limits=resolve_time_limits(
                str(params.extrinsic_time_limits), context.time_limit_ends_task
            ),
        )
        self.betas = jnp.asarray(network.betas)
        self.gammas = jnp.asarray(network.gammas)
        initial = network.initial_params()
        self.state = LearnerState(
            params=initial,
            target_params=initial["q"],
            opt_state=init_opt_state(initial, self.config),
            num_updates=jnp.zeros((), dtype=jnp.int32),
        )

    def ready(self) -> bool:
        """Whether the replay holds a batch of sequences."""
        return len(self.replay) >= self.batch_size

    extra_fields = (MU, ARM)

    def _batch(self, items: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The shared sequence fields plus ``mu`` and the arm; rewards must be [r_e, r_i]."""
        if items[REWARD].shape[2:] != (NUM_HEADS,):
            raise AgentOSError(
                "replayed sequences hold no intrinsic rewards",
                where=self.context.name,
                fix="use the agent57_actor with the agent57_learner",
            )
        return super()._batch(items)

    def _update(
        self, batch: dict[str, np.ndarray], weights: np.ndarray
    ) -> tuple[LearnerState, dict[str, jax.Array], jax.Array]:
        """One jitted Agent57 update (``update_step``)."""
        return update_step(
            self.state,
            batch,
            weights,
            self.betas,
            self.gammas,
            network=self.network,
            config=self.config,
        )
