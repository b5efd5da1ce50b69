"""The Agent57 networks, shared by the Agent57 actor and learner as one component.

Badia et al. (2020), "Agent57: Outperforming the Atari Human Benchmark", section 4 and App. B,
https://arxiv.org/abs/2003.13350 ; NGU (Puigdomenech Badia et al. 2020,
https://arxiv.org/abs/2002.06038):

* **split values**: an extrinsic and an intrinsic recurrent Q-network of the same R2D2
  architecture (``agentos.agents.r2d2.network``), with their own parameters, stacked on a
  leading axis of size 2 and applied together with ``jax.vmap`` over the parameters (one call
  computes both); each sees the observation, the previous action, the previous extrinsic and
  intrinsic rewards (raw, as the papers feed them: ``lstm_extra_inputs``) and the one-hot
  mixture index j;
* the behaviour values of mixture j are ``Q_j = h(h^{-1}(Q_e) + beta_j h^{-1}(Q_i))``
  (``combined_q``; App. B, with h the value rescaling);
* **novelty networks**: the controllable-state embedding trained by inverse dynamics
  (``agentos.agents.agent57.embedding``) for the episodic reward, and the RND predictor /
  target (``agentos.agents.agent57.rnd``) for the lifelong modulation;
* **mixtures**: N pairs (beta_j, gamma_j) (``agentos.agents.agent57.mixtures``); arm 0 is the
  exploitative one (beta 0, the largest gamma).

The variables are one dict ``{"q": stacked Q params, "embedding": ..., "rnd": ..., "rnd_obs":
observation statistics}`` so the actor acts with exactly what the learner trains, and whitens
RND's input with the statistics the learner keeps (``rnd.update_observation_stats``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from agentos.agents.agent57.embedding import EmbeddingModel
from agentos.agents.agent57.mixtures import agent57_gammas, ngu_betas
from agentos.agents.agent57.rnd import RNDModel
from agentos.agents.agent57.rnd_inputs import initial_observation_stats
from agentos.agents.r2d2 import losses
from agentos.agents.r2d2.network import RecurrentQModule, RecurrentQNetwork
from agentos.agents.r2d2.network import step as q_step
from agentos.agents.r2d2.network import unroll as q_unroll
from agentos.agents.torso import is_image_space
from agentos.errors import ParameterError
from agentos.runtime.roles import BuildContext, Network

NUM_HEADS = 2
"""Index 0: extrinsic values; index 1: intrinsic values (on every stacked axis)."""


def mixture_inputs(arm: jax.Array, num_arms: int) -> jax.Array:
    """The one-hot mixture index ``[..., num_arms]`` fed to both Q-networks."""
    return jax.nn.one_hot(arm, num_arms, dtype=jnp.float32)


def lstm_extra_inputs(
    prev_reward: jax.Array, arm: jax.Array, num_arms: int
) -> tuple[jax.Array, jax.Array]:
    """(what the R2D2 module's reward slot gets, its ``extra`` input) for Agent57.

    NGU (App. F) and Agent57 (App. D) feed the LSTM the previous extrinsic reward, the
    previous intrinsic reward, the previous action and the one-hot mixture index, with no
    squashing. The R2D2 module passes its reward slot through ``tanh`` (Acme's convention),
    which saturates at NGU's intrinsic scale (r_i of 10-40: tanh 20 and tanh 40 are the same
    float32), so the previous ``[r_e, r_i]`` go raw through ``extra`` after the one-hot index,
    and the reward slot gets a constant 0 (``tanh(0) = 0``, an input with no effect).
    """
    prev_reward = prev_reward.astype(jnp.float32)
    extra = jnp.concatenate([mixture_inputs(arm, num_arms), prev_reward], axis=-1)
    return jnp.zeros(prev_reward.shape[:-1] + (1,), jnp.float32), extra


IntrinsicRewardInput = Literal["intrinsic_head", "both_heads"]


def per_head_extras(extra: jax.Array, intrinsic_input: IntrinsicRewardInput) -> jax.Array:
    """``extra`` for each Q-network, stacked ``[2, ...]``: with ``intrinsic_head`` the
    extrinsic network's copy has the previous intrinsic reward (its last entry) set to 0."""
    if intrinsic_input == "both_heads":
        return jnp.stack([extra, extra])
    keep = jnp.ones(extra.shape[-1], extra.dtype).at[-1].set(0.0)
    return jnp.stack([extra * keep, extra])


def split_step(
    module: RecurrentQModule,
    q_params: Any,
    observation: jax.Array,
    prev_action: jax.Array,
    prev_reward: jax.Array,
    arm: jax.Array,
    state: tuple[jax.Array, jax.Array],
    num_arms: int,
    intrinsic_input: IntrinsicRewardInput = "both_heads",
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """One step of both Q-networks for B environments: stacked params and states ``[2, B, H]``
    -> (Q ``[2, B, A]``, new states ``[2, B, H]``)."""
    slot, extra = lstm_extra_inputs(prev_reward, arm, num_arms)
    return jax.vmap(q_step, in_axes=(None, 0, None, None, None, 0, 0))(
        module, q_params, observation, prev_action, slot, state,
        per_head_extras(extra, intrinsic_input),
    )  # fmt: skip


def split_unroll(
    module: RecurrentQModule,
    q_params: Any,
    observation: jax.Array,
    prev_action: jax.Array,
    prev_reward: jax.Array,
    arm: jax.Array,
    state: tuple[jax.Array, jax.Array],
    num_arms: int,
    intrinsic_input: IntrinsicRewardInput = "both_heads",
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """Both Q-networks over time-major ``[T, B, ...]`` inputs -> (Q ``[2, T, B, A]``, final
    states ``[2, B, H]``)."""
    slot, extra = lstm_extra_inputs(prev_reward, arm, num_arms)
    return jax.vmap(q_unroll, in_axes=(None, 0, None, None, None, 0, 0))(
        module, q_params, observation, prev_action, slot, state,
        per_head_extras(extra, intrinsic_input),
    )  # fmt: skip


def combined_q(q_e: jax.Array, q_i: jax.Array, beta: jax.Array, rescaled: bool) -> jax.Array:
    """``Q = h(h^{-1}(Q_e) + beta h^{-1}(Q_i))`` (Agent57 App. B); beta broadcasts from the
    leading axes (e.g. ``[B]`` against ``[B, A]`` values)."""
    h, h_inv = losses.SIGNED_HYPERBOLIC_PAIR if rescaled else losses.IDENTITY_PAIR
    beta = jnp.reshape(beta, beta.shape + (1,) * (q_e.ndim - beta.ndim))
    return h(h_inv(q_e) + beta * h_inv(q_i))


@functools.partial(jax.jit, static_argnames=("module", "num_arms", "rescaled", "intrinsic_input"))
def act_step(
    module: RecurrentQModule,
    q_params: Any,
    observation: jax.Array,
    prev_action: jax.Array,
    prev_reward: jax.Array,
    arm: jax.Array,
    state: tuple[jax.Array, jax.Array],
    betas: jax.Array,
    *,
    num_arms: int,
    rescaled: bool,
    intrinsic_input: IntrinsicRewardInput = "both_heads",
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """The actor's one jitted call: -> (combined Q of each env's arm ``[B, A]``, new states)."""
    q, new_state = split_step(
        module, q_params, observation, prev_action, prev_reward, arm, state, num_arms,
        intrinsic_input,
    )  # fmt: skip
    return combined_q(q[0], q[1], betas[arm], rescaled), new_state


class Agent57Network(Network):
    """Extrinsic + intrinsic recurrent Q-networks, the embedding/IDM and RND, and the mixtures."""

    provides = ("agent57_values",)

    @dataclass(frozen=True)
    class Params:
        """Parameters of the Agent57 networks and of the (beta, gamma) mixtures."""

        torso: Literal["auto", "mlp", "conv"] = "auto"
        """Q-network torso: ``conv`` (Nature DQN) for images, ``mlp`` for vectors, ``auto``."""
        hidden_sizes: tuple[int, ...] = (128,)
        """Widths of the Q-networks' MLP torso."""
        lstm_size: int = 128
        """LSTM units of each Q-network (Agent57: 512)."""
        head_hidden: int = 128
        """Hidden units of each dueling stream (0: linear)."""
        num_arms: int = 8
        """N mixtures (beta_j, gamma_j) (Agent57: 32)."""
        beta_max: float = 0.3
        """Largest intrinsic weight of the NGU beta ladder (0: no intrinsic reward in the
        behaviour, i.e. R2D2 with a gamma ladder - the exploration ablation)."""
        gamma_max: float = 0.9999
        """Discount of the exploitative arm 0 (Agent57: 0.9999; NGU: 0.997). Near 1, the
        values of episodes that end at a time limit bootstrap over ~1 / (1 - gamma) steps and
        their overestimate drifts up, and a wasted step costs arm 0 only 1 - gamma of its
        value, less than its values' noise (the ``agent57`` bundle uses 0.99 for every arm)."""
        gamma_mid: float = 0.997
        """Middle discount of Agent57's ladder (used with 32-like arm counts)."""
        gamma_min: float = 0.99
        """Discount of the most exploratory arm (Agent57: 0.99)."""
        embedding_dim: int = 32
        """Size of the controllable-state embedding f(x) (NGU: 32)."""
        embedding_hidden: tuple[int, ...] = (64,)
        """Hidden widths of the embedding MLP."""
        rnd_hidden: tuple[int, ...] = (64,)
        """Hidden widths of the RND predictor and target MLPs."""
        rnd_output: int = 64
        """Output size of the RND networks."""
        max_modulation: float = 5.0
        """L, the clip of the lifelong modulation alpha in [1, L] (NGU: 5)."""
        value_rescaling: bool = True
        """Combine and learn the values in the space of h (R2D2 / Agent57)."""
        intrinsic_reward_input: IntrinsicRewardInput = "both_heads"
        """Which Q-networks see the previous intrinsic reward among their LSTM inputs:
        ``both_heads`` (NGU App. F, Agent57 App. D) or ``intrinsic_head``. In the extrinsic
        network it is a large input unrelated to the extrinsic return: ``intrinsic_head``
        learned slippery FrozenLake and CartPole far better, but explored MultiRoom-N4-S5
        slower (README, "Agent57: where the bundle departs from the paper")."""

        def __post_init__(self) -> None:
            if self.num_arms < 1:
                raise ParameterError(f"num_arms must be >= 1, got {self.num_arms}")
            if self.beta_max < 0:
                raise ParameterError(f"beta_max must be >= 0, got {self.beta_max}")
            if not 0.0 <= self.gamma_min <= self.gamma_mid <= self.gamma_max < 1.0:
                raise ParameterError(
                    "discounts must satisfy 0 <= gamma_min <= gamma_mid <= gamma_max < 1, got "
                    f"{self.gamma_min}, {self.gamma_mid}, {self.gamma_max}"
                )
            if self.max_modulation < 1.0:
                raise ParameterError(f"max_modulation must be >= 1, got {self.max_modulation}")
            if self.lstm_size < 1 or self.embedding_dim < 1 or self.rnd_output < 1:
                raise ParameterError("lstm_size, embedding_dim and rnd_output must be >= 1")

    def __init__(self, params: Params, context: BuildContext, **dependencies: Any):
        super().__init__(params, context, **dependencies)
        self.check_spaces(params, context.observation_space, context.action_space)
        space = context.observation_space
        self.observation_shape = tuple(space.shape)
        self.observation_dtype = np.uint8 if is_image_space(space) else np.float32
        self.num_actions = int(context.action_space.n)
        self.num_arms = int(params.num_arms)
        conv = params.torso == "conv" or (params.torso == "auto" and is_image_space(space))
        self.module = RecurrentQModule(
            num_actions=self.num_actions,
            conv_torso=conv,
            hidden_sizes=tuple(int(s) for s in params.hidden_sizes),
            lstm_size=int(params.lstm_size),
            head_hidden=int(params.head_hidden),
        )
        betas = ngu_betas(self.num_arms, beta_max=params.beta_max)
        gammas = agent57_gammas(
            self.num_arms,
            gamma_max=params.gamma_max,
            gamma_mid=params.gamma_mid,
            gamma_min=params.gamma_min,
        )
        self.betas = np.asarray(betas, dtype=np.float32)
        self.gammas = np.asarray(gammas, dtype=np.float32)
        self.embedding = EmbeddingModel(
            num_actions=self.num_actions,
            features=tuple(int(s) for s in params.embedding_hidden),
            embedding_dim=int(params.embedding_dim),
        )
        self.rnd = RNDModel(
            self.observation_shape,
            features=tuple(int(s) for s in params.rnd_hidden),
            output_dim=int(params.rnd_output),
            max_modulation=float(params.max_modulation),
        )

    @classmethod
    def check_spaces(cls, params: Params, observation_space: Any, action_space: Any) -> None:
        """The R2D2 network's requirements: Box observations, Discrete actions."""
        # Called on this class, so that a refusal names Agent57Network.
        RecurrentQNetwork.check_spaces.__func__(cls, None, observation_space, action_space)  # type: ignore[attr-defined]

    def initial_state(self, batch: int) -> tuple[jax.Array, jax.Array]:
        """Zero LSTM states ``(h, c)`` of both Q-networks, each ``[2, batch, lstm_size]``."""
        zeros = jnp.zeros((NUM_HEADS, batch, self.params.lstm_size), dtype=jnp.float32)
        return zeros, zeros

    def init(self, rng: jax.Array) -> dict[str, Any]:
        """Fresh variables: ``{"q": [2]-stacked Q params, "embedding": ..., "rnd": ...,
        "rnd_obs": RND's input statistics (none seen yet)}``."""
        q_key, emb_key, rnd_key = jax.random.split(rng, 3)
        dummy = jnp.zeros((1,) + self.observation_shape, dtype=self.observation_dtype)
        action = jnp.zeros((1,), dtype=jnp.int32)
        reward = jnp.zeros((1, NUM_HEADS), dtype=jnp.float32)
        slot, extra = lstm_extra_inputs(reward, jnp.zeros((1,), jnp.int32), self.num_arms)
        zeros = jnp.zeros((1, self.params.lstm_size), dtype=jnp.float32)

        def init_one(key: jax.Array) -> Any:
            return self.module.init(key, dummy, action, slot, (zeros, zeros), extra)

        q_params = jax.vmap(init_one)(jax.random.split(q_key, NUM_HEADS))
        return {
            "q": q_params,
            "embedding": self.embedding.init(emb_key, self.observation_shape),
            "rnd": self.rnd.init(rnd_key),
            "rnd_obs": initial_observation_stats(self.observation_shape),
        }

    def initial_params(self) -> dict[str, Any]:
        """The run's initial variables (actor and learner both start from these)."""
        return self.init(jax.random.PRNGKey(self.context.component_seed("init")))

    def act(
        self,
        variables: dict[str, Any],
        observation: Any,
        prev_action: Any,
        prev_reward: Any,
        arm: Any,
        state: tuple[Any, Any],
    ) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        """Combined values of each env's mixture ``[B, A]`` and the new LSTM states; jitted."""
        return act_step(
            self.module,
            variables["q"],
            observation,
            prev_action,
            prev_reward,
            arm,
            state,
            jnp.asarray(self.betas),
            num_arms=self.num_arms,
            rescaled=bool(self.params.value_rescaling),
            intrinsic_input=self.params.intrinsic_reward_input,
        )

    def novelty_inputs(self, variables: dict[str, Any], observation: Any) -> tuple[Any, Any]:
        """(embeddings ``[B, D]``, RND errors ``[B]`` on whitened input) of a batch of
        observations; jitted."""
        return _novelty_inputs(self.embedding, self.rnd, variables, observation)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _novelty_inputs(
    embedding: EmbeddingModel, rnd: RNDModel, variables: dict[str, Any], observation: jax.Array
) -> tuple[jax.Array, jax.Array]:
    return (
        embedding.embed(variables["embedding"], observation),
        rnd.errors(variables["rnd"], observation, variables.get("rnd_obs")),
    )
