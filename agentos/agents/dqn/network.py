"""The Q-network of DQN: observations to one value per discrete action.

Vector observations go through an MLP; [H, W, C] uint8 images (Atari) first through the
Nature-DQN convolutions (``agentos.agents.torso``), then the same MLP layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import flax.linen as nn
import flax.serialization
import gymnasium
import jax
import jax.numpy as jnp
import numpy as np

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

ACTIVATIONS = {"relu": nn.relu, "tanh": nn.tanh, "elu": nn.elu, "gelu": nn.gelu}
"""Activation functions selectable by name in ``QNetwork.Params.activation``."""

NORM_POSITIONS = ("before_activation", "after_activation")
"""Places of the LayerNorm selectable by name in ``QNetwork.Params.layer_norm_position``."""
INITS = ("lecun_normal", "fan_in_uniform")
"""Initialisations of the dense layers selectable by name in ``QNetwork.Params.init``."""


def dense(size: int, fan_in: int, init: str) -> nn.Dense:
    """A dense layer initialised the ``init`` way (see ``QNetwork.Params.init``)."""
    if init == "lecun_normal":
        return nn.Dense(size)  # flax's default: LeCun normal kernel, zero bias
    bound = 1.0 / np.sqrt(fan_in)

    def uniform(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return nn.Dense(size, kernel_init=uniform, bias_init=uniform)


def tree_to_numpy(params: Any) -> Any:
    """A pytree (flax variables, optax state) as nested plain dicts of numpy arrays."""
    return jax.tree_util.tree_map(np.asarray, flax.serialization.to_state_dict(params))


def tree_from_numpy(target: Any, state: Any) -> Any:
    """Rebuild a pytree shaped like ``target`` from what ``tree_to_numpy`` returned."""
    restored = flax.serialization.from_state_dict(target, state)
    return jax.tree_util.tree_map(jnp.asarray, restored)


class MLPQFunction(nn.Module):
    """Q(x, ·): flattens each observation and maps it through an MLP to ``num_actions`` values."""

    hidden_sizes: Sequence[int]
    num_actions: int
    activation: str = "relu"
    layer_norm: bool = True
    conv_torso: bool = False
    dense_init: str = "lecun_normal"
    norm_after_activation: bool = False

    @nn.compact
    def __call__(self, observation: jax.Array) -> jax.Array:
        """[B, ...] observations -> [B, num_actions] Q-values."""
        if self.conv_torso:
            x = conv_features(nature_conv_layers(), observation)
        else:
            x = jnp.reshape(observation, (observation.shape[0], -1)).astype(jnp.float32)
        for size in self.hidden_sizes:
            x = dense(size, x.shape[-1], self.dense_init)(x)
            if self.layer_norm and not self.norm_after_activation:
                x = nn.LayerNorm()(x)
            x = ACTIVATIONS[self.activation](x)
            if self.layer_norm and self.norm_after_activation:
                x = nn.LayerNorm()(x)
        return dense(self.num_actions, x.shape[-1], self.dense_init)(x)


class QNetwork(Network):
    """Holds the Q-function definition shared by the DQN actor and learner."""

    provides = ("q_values",)

    @dataclass(frozen=True)
    class Params:
        """Parameters of the Q-network."""

        torso: Literal["auto", "mlp", "conv"] = "auto"
        """``conv``: Nature-DQN convolutions before the MLP layers, for [H, W, C] uint8
        images; ``mlp``: flattened observations; ``auto``: conv for images, else mlp."""
        hidden_sizes: tuple[int, ...] = (256, 256)
        """Widths of the hidden layers of the MLP."""
        activation: str = "relu"
        """Nonlinearity after each hidden layer: one of relu, tanh, elu, gelu."""
        layer_norm: bool = True
        """Normalise each hidden layer's pre-activations (LayerNorm); keeps TD learning stable
        (Gallici et al. 2024, https://arxiv.org/abs/2407.04811)."""
        layer_norm_position: str = "before_activation"
        """Where the LayerNorm sits: ``before_activation`` (Dense, LayerNorm, activation) or
        ``after_activation`` (Dense, activation, LayerNorm: d3rlpy's ``VectorEncoder``)."""
        init: str = "lecun_normal"
        """Dense layers' initial weights: ``lecun_normal`` (flax's default, zero biases) or
        ``fan_in_uniform`` (kernel and bias uniform in +-1/sqrt(fan_in), PyTorch's ``nn.Linear``
        default, so d3rlpy's and SB3's). The conv torso keeps flax's default either way."""

        def __post_init__(self) -> None:
            if self.layer_norm_position not in NORM_POSITIONS:
                raise ParameterError(
                    f"unknown layer_norm_position {self.layer_norm_position!r}; choose one of "
                    f"{', '.join(NORM_POSITIONS)}"
                )
            if self.init not in INITS:
                raise ParameterError(
                    f"unknown init {self.init!r}; choose one of {', '.join(INITS)}"
                )
            if self.activation not in ACTIVATIONS:
                raise ParameterError(
                    f"unknown activation {self.activation!r}; choose one of "
                    f"{', '.join(sorted(ACTIVATIONS))}"
                )
            if any(int(size) < 1 for size in self.hidden_sizes):
                raise ParameterError(
                    f"hidden_sizes must be positive layer widths (empty for a linear Q), "
                    f"got {self.hidden_sizes!r}"
                )

    def __init__(self, params: Params, context: BuildContext, **dependencies: Any):
        super().__init__(params, context, **dependencies)
        self.check_spaces(params, context.observation_space, context.action_space)
        self.observation_shape = tuple(context.observation_space.shape)
        self.num_actions = int(context.action_space.n)
        conv = params.torso == "conv" or (
            params.torso == "auto" and is_image_space(context.observation_space)
        )
        self.module = MLPQFunction(
            hidden_sizes=tuple(int(size) for size in params.hidden_sizes),
            num_actions=self.num_actions,
            activation=params.activation,
            layer_norm=params.layer_norm,
            conv_torso=conv,
            dense_init=params.init,
            norm_after_activation=params.layer_norm_position == "after_activation",
        )

    @classmethod
    def check_spaces(cls, params: Params, observation_space: Any, action_space: Any) -> None:
        """Require a Box observation space and a Discrete action space."""
        if not isinstance(observation_space, gymnasium.spaces.Box):
            raise IncompatibleSpaceError(
                f"the dqn Q-network takes Box observations; environment has {observation_space!r}",
                fix="keep environment.params.preprocessing: auto (structured observations "
                "become one vector), or add a wrapper that makes them a Box",
            )
        if params is not None and params.torso == "conv":
            check_conv_input(observation_space)
        if not isinstance(action_space, gymnasium.spaces.Discrete):
            raise IncompatibleSpaceError(
                f"the dqn Q-network outputs one value per discrete action; environment has "
                f"{action_space!r}{action_kind(action_space)}",
                fix=discrete_actions_fix(action_space),
            )

    def init(self, rng: Any) -> Any:
        """Fresh parameters (a flax variables dict) from a JAX PRNG key."""
        dtype = jnp.uint8 if self.module.conv_torso else jnp.float32
        dummy = jnp.zeros((1,) + self.observation_shape, dtype=dtype)
        return self.module.init(rng, dummy)

    def initial_params(self) -> Any:
        """The run's initial parameters, seeded by this network component's ``init`` stream.

        Actor and learner both start from these, so they agree before the first update.
        """
        return self.init(jax.random.PRNGKey(self.context.component_seed("init")))

    def apply(self, params: Any, observation: np.ndarray | jax.Array) -> jax.Array:
        """[B, ...] observations -> [B, num_actions] Q-values."""
        return self.module.apply(params, observation)  # type: ignore[return-value]
