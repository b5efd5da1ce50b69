"""The R2D2 recurrent Q-network: torso -> LSTM -> dueling head.

Kapturowski et al. (2019), "Recurrent Experience Replay in Distributed Reinforcement
Learning", section 2.3 and App. C, https://openreview.net/forum?id=r1lyTjAqYX :

* torso: an MLP for flat Box observations, or the Nature-DQN convolutions (32 8x8/4,
  64 4x4/2, 64 3x3/1, then 512 units; Mnih et al. 2015) for [H, W, C] uint8 images scaled
  by 1/255;
* the LSTM receives the torso's embedding, the previous action (one-hot) and the previous
  reward (squashed with ``tanh``, as Acme's observation-action-reward embedding does);
* a dueling head (Wang et al. 2016, https://arxiv.org/abs/1511.06581):
  ``Q = V + A - mean_a A``.

The recurrent state is the pair ``(h, c)``, each ``[B, lstm_size]``. ``step`` and ``unroll``
are pure module-level functions (the module is a static argument), so the actor's step and
the learner's update can each be one jitted call; ``unroll`` runs the torso and head on all
``T * B`` inputs at once and only the LSTM through ``jax.lax.scan``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import flax.linen as nn
import gymnasium
import jax
import jax.numpy as jnp
import numpy as np

from agentos.agents.lstm_sequence import lstm_sequence, stacked_weights
from agentos.agents.torso import (
    action_kind,
    check_conv_input,
    conv_features,
    discrete_actions_fix,
    is_image_space,
    nature_conv_layers,
)
from agentos.errors import IncompatibleSpaceError, ParameterError
from agentos.runtime.roles import BuildContext, Network

LSTMState = tuple[jax.Array, jax.Array]
"""``(h, c)``, each ``[B, lstm_size]``."""


class RecurrentQModule(nn.Module):
    """Q(x_t, a_{t-1}, r_t, (h, c)) -> (Q [B, A], (h', c')), split into three methods.

    ``embed`` (torso + previous action and reward), ``core`` (one LSTM step) and ``head``
    (dueling) are separate so ``unroll`` can batch the torso and head over time.
    """

    num_actions: int
    conv_torso: bool
    hidden_sizes: Sequence[int]
    lstm_size: int
    head_hidden: int

    def setup(self) -> None:
        if self.conv_torso:
            self.convs = nature_conv_layers()
            self.torso_dense = [nn.Dense(512)]
        else:
            self.convs = []
            self.torso_dense = [nn.Dense(int(size)) for size in self.hidden_sizes]
        self.lstm = nn.OptimizedLSTMCell(self.lstm_size)
        if self.head_hidden > 0:
            self.value_hidden = nn.Dense(self.head_hidden)
            self.advantage_hidden = nn.Dense(self.head_hidden)
        self.value = nn.Dense(1)
        self.advantage = nn.Dense(self.num_actions)

    def embed(
        self,
        observation: jax.Array,
        prev_action: jax.Array,
        prev_reward: jax.Array,
        extra: jax.Array | None = None,
    ) -> jax.Array:
        """[B, ...] observations, [B] previous actions, [B] or [B, R] previous rewards and
        optional [B, X] extra inputs -> [B, E] LSTM inputs.

        Agent57 passes its previous (extrinsic, intrinsic) rewards as [B, 2] and the one-hot
        mixture index as ``extra``.
        """
        batch = observation.shape[0]
        if self.conv_torso:
            x = conv_features(self.convs, observation)
        else:
            x = jnp.reshape(observation, (batch, -1)).astype(jnp.float32)
        for dense in self.torso_dense:
            x = nn.relu(dense(x))
        one_hot = jax.nn.one_hot(prev_action, self.num_actions, dtype=jnp.float32)
        reward = jnp.tanh(prev_reward.astype(jnp.float32)).reshape(batch, -1)
        inputs = [x, one_hot, reward]
        if extra is not None:
            inputs.append(extra.astype(jnp.float32).reshape(batch, -1))
        return jnp.concatenate(inputs, axis=-1)

    def core(self, state: LSTMState, embedding: jax.Array) -> tuple[LSTMState, jax.Array]:
        """One LSTM step: ((h, c), [B, E]) -> ((h', c'), h')."""
        h, c = state
        (c, h), out = self.lstm((c, h), embedding)
        return (h, c), out

    def head(self, core_output: jax.Array) -> jax.Array:
        """Dueling head: [B, lstm_size] -> [B, num_actions], ``V + A - mean(A)``."""
        v_in, a_in = core_output, core_output
        if self.head_hidden > 0:
            v_in = nn.relu(self.value_hidden(core_output))
            a_in = nn.relu(self.advantage_hidden(core_output))
        value = self.value(v_in)
        advantage = self.advantage(a_in)
        return value + advantage - jnp.mean(advantage, axis=-1, keepdims=True)

    def __call__(
        self,
        observation: jax.Array,
        prev_action: jax.Array,
        prev_reward: jax.Array,
        state: LSTMState,
        extra: jax.Array | None = None,
    ) -> tuple[jax.Array, LSTMState]:
        """One step for a batch: -> (Q [B, A], (h', c'))."""
        state, out = self.core(state, self.embed(observation, prev_action, prev_reward, extra))
        return self.head(out), state


def step(
    module: RecurrentQModule,
    params: Any,
    observation: jax.Array,
    prev_action: jax.Array,
    prev_reward: jax.Array,
    state: LSTMState,
    extra: jax.Array | None = None,
) -> tuple[jax.Array, LSTMState]:
    """One step of the network for a batch of B: -> (Q [B, A], (h', c'))."""
    return module.apply(params, observation, prev_action, prev_reward, state, extra)  # type: ignore[return-value]


def unroll(
    module: RecurrentQModule,
    params: Any,
    observation: jax.Array,
    prev_action: jax.Array,
    prev_reward: jax.Array,
    state: LSTMState,
    extra: jax.Array | None = None,
) -> tuple[jax.Array, LSTMState]:
    """Unroll over time-major inputs ``[T, B, ...]`` from ``state``: -> (Q [T, B, A], final state).

    Equal to ``T`` calls of ``step`` (tested); the torso and head run once on ``T * B`` inputs
    and ``lstm_sequence`` scans the LSTM (PureJaxRL style) with a cheaper backward pass.
    """
    num_steps, batch = prev_action.shape[:2]
    flat_obs = jnp.reshape(observation, (num_steps * batch,) + observation.shape[2:])
    flat_extra = None if extra is None else jnp.reshape(extra, (num_steps * batch, -1))
    embedding = module.apply(
        params,
        flat_obs,
        jnp.reshape(prev_action, (-1,)),
        jnp.reshape(prev_reward, (num_steps * batch, -1)),
        flat_extra,
        method=RecurrentQModule.embed,
    )
    embedding = jnp.reshape(embedding, (num_steps, batch, -1))  # type: ignore[arg-type]

    # The scan of ``core`` with a hand-written backward pass (``lstm_sequence``).
    h0, c0 = state
    outputs, c_last, h_last = lstm_sequence(
        *stacked_weights(params["params"]["lstm"]), embedding, c0, h0
    )
    final_state = (h_last, c_last)
    q = module.apply(
        params, jnp.reshape(outputs, (num_steps * batch, -1)), method=RecurrentQModule.head
    )
    return jnp.reshape(q, (num_steps, batch, -1)), final_state  # type: ignore[arg-type]


step_jit = jax.jit(step, static_argnums=0)
"""``step`` jitted (the module is static)."""
unroll_jit = jax.jit(unroll, static_argnums=0)
"""``unroll`` jitted (the module is static)."""


class RecurrentQNetwork(Network):
    """Holds the R2D2 network shared by the R2D2 actor and learner (one instance for both)."""

    provides = ("recurrent_q_values",)

    @dataclass(frozen=True)
    class Params:
        """Parameters of the recurrent Q-network."""

        torso: Literal["auto", "mlp", "conv"] = "auto"
        """``conv``: Nature-DQN convolutions + 512 for [H, W, C] uint8 images; ``mlp``: flattened
        observations through ``hidden_sizes``; ``auto``: conv for uint8 images, else mlp."""
        hidden_sizes: tuple[int, ...] = (128,)
        """Widths of the MLP torso's layers (ignored by the conv torso)."""
        lstm_size: int = 128
        """Units of the LSTM (R2D2: 512)."""
        head_hidden: int = 128
        """Hidden units of each dueling stream (R2D2: 512; 0: linear value and advantage)."""

        def __post_init__(self) -> None:
            if self.lstm_size < 1:
                raise ParameterError(f"lstm_size must be >= 1, got {self.lstm_size}")
            if self.head_hidden < 0:
                raise ParameterError(f"head_hidden must be >= 0, got {self.head_hidden}")
            if any(int(size) < 1 for size in self.hidden_sizes):
                raise ParameterError(
                    f"hidden_sizes must be positive layer widths, got {self.hidden_sizes!r}"
                )

    def __init__(self, params: Params, context: BuildContext, **dependencies: Any):
        super().__init__(params, context, **dependencies)
        self.check_spaces(params, context.observation_space, context.action_space)
        self.observation_space = context.observation_space
        self.observation_shape = tuple(context.observation_space.shape)
        self.num_actions = int(context.action_space.n)
        conv = params.torso == "conv" or (
            params.torso == "auto" and is_image_space(context.observation_space)
        )
        self.module = RecurrentQModule(
            num_actions=self.num_actions,
            conv_torso=conv,
            hidden_sizes=tuple(int(size) for size in params.hidden_sizes),
            lstm_size=int(params.lstm_size),
            head_hidden=int(params.head_hidden),
        )

    @classmethod
    def check_spaces(cls, params: Params, observation_space: Any, action_space: Any) -> None:
        """Require a Box observation space (images for the conv torso) and Discrete actions."""
        if not isinstance(action_space, gymnasium.spaces.Discrete):
            raise IncompatibleSpaceError(
                f"{cls.__name__} outputs one value per discrete action; environment has "
                f"{action_space!r}{action_kind(action_space)}",
                fix=discrete_actions_fix(action_space),
            )
        if not isinstance(observation_space, gymnasium.spaces.Box):
            raise IncompatibleSpaceError(
                f"{cls.__name__} takes Box observations; environment has {observation_space!r}",
                fix="keep environment.params.preprocessing: auto (structured observations "
                "become one vector), or add a wrapper that makes them a Box",
            )
        if params is not None and params.torso == "conv":
            check_conv_input(observation_space)

    def initial_state(self, batch: int) -> LSTMState:
        """Zero LSTM state ``(h, c)`` for ``batch`` sequences."""
        zeros = jnp.zeros((batch, self.params.lstm_size), dtype=jnp.float32)
        return zeros, zeros

    def init(self, rng: Any) -> Any:
        """Fresh parameters (a flax variables dict) from a JAX PRNG key."""
        dtype = np.uint8 if self.module.conv_torso else np.float32
        dummy = jnp.zeros((1,) + self.observation_shape, dtype=dtype)
        action = jnp.zeros((1,), dtype=jnp.int32)
        reward = jnp.zeros((1,), dtype=jnp.float32)
        return self.module.init(rng, dummy, action, reward, self.initial_state(1))

    def initial_params(self) -> Any:
        """The run's initial parameters, seeded by this component's ``init`` stream.

        Actor and learner both start from these, so they agree before the first update.
        """
        return self.init(jax.random.PRNGKey(self.context.component_seed("init")))

    def apply(
        self,
        params: Any,
        observation: Any,
        prev_action: Any,
        prev_reward: Any,
        state: LSTMState,
    ) -> tuple[jax.Array, LSTMState]:
        """One step: [B, ...] observations, [B] previous actions and rewards, (h, c) ->
        (Q [B, A], (h', c')). Jitted."""
        return step_jit(self.module, params, observation, prev_action, prev_reward, state)

    def unroll(
        self,
        params: Any,
        observation: Any,
        prev_action: Any,
        prev_reward: Any,
        state: LSTMState,
    ) -> tuple[jax.Array, LSTMState]:
        """Time-major [T, B, ...] inputs from ``state`` -> (Q [T, B, A], final state). Jitted."""
        return unroll_jit(self.module, params, observation, prev_action, prev_reward, state)
