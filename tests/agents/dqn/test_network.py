"""The DQN Q-network's parameters: the dense layers' initialisation by name."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import jax
import numpy as np
import pytest

from agentos.agents.dqn.network import QNetwork
from agentos.errors import ParameterError
from agentos.runtime.roles import BuildContext

OBS = gymnasium.spaces.Box(-1.0, 1.0, (4,), np.float32)
ACTIONS = gymnasium.spaces.Discrete(3)


def dense_layers(init: str) -> list[dict]:
    context = BuildContext(
        name="network", seed=0, agent_dir=Path("."), observation_space=OBS, action_space=ACTIONS
    )
    network = QNetwork(QNetwork.Params(hidden_sizes=(64, 32), init=init), context)
    params = network.init(jax.random.PRNGKey(0))["params"]
    return [params[f"Dense_{i}"] for i in range(3)]


def test_fan_in_uniform_bounds_kernel_and_bias_by_one_over_root_fan_in():
    for layer, fan_in in zip(dense_layers("fan_in_uniform"), (4, 64, 32), strict=True):
        bound = 1.0 / np.sqrt(fan_in)
        for name in ("kernel", "bias"):
            values = np.asarray(layer[name])
            assert np.abs(values).max() <= bound
            if values.size >= 32:  # uniform on [-b, b]: some magnitude comes close to b
                assert np.abs(values).max() > 0.9 * bound


def test_lecun_normal_keeps_flax_default_zero_biases():
    layers = dense_layers("lecun_normal")
    assert all(np.all(np.asarray(layer["bias"]) == 0.0) for layer in layers)
    # LeCun normal: std 1/sqrt(fan_in) (truncated), so the first layer's kernel std ~ 0.5
    assert 0.3 < float(np.std(np.asarray(layers[0]["kernel"]))) < 0.7


def test_unknown_init_is_a_parameter_error():
    with pytest.raises(ParameterError, match="fan_in_uniform"):
        QNetwork.Params(init="xavier")


@pytest.mark.parametrize("position", ["before_activation", "after_activation"])
def test_layer_norm_position_by_hand(position):
    context = BuildContext(
        name="network", seed=0, agent_dir=Path("."), observation_space=OBS, action_space=ACTIONS
    )
    params = QNetwork.Params(hidden_sizes=(5,), layer_norm_position=position)
    network = QNetwork(params, context)
    variables = network.init(jax.random.PRNGKey(1))
    p = jax.tree_util.tree_map(np.asarray, variables["params"])
    x = np.array([[0.3, -1.2, 0.7, 2.0]], np.float32)

    def layer_norm(h):  # flax's LayerNorm: epsilon 1e-6, then scale and bias
        mean, var = h.mean(-1, keepdims=True), h.var(-1, keepdims=True)
        return (h - mean) / np.sqrt(var + 1e-6) * p["LayerNorm_0"]["scale"] + p["LayerNorm_0"][
            "bias"
        ]

    h = x @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]
    if position == "before_activation":
        h = np.maximum(layer_norm(h), 0.0)
    else:
        h = layer_norm(np.maximum(h, 0.0))
    q = h @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"]
    np.testing.assert_allclose(np.asarray(network.apply(variables, x)), q, rtol=1e-5, atol=1e-6)


def test_unknown_layer_norm_position_is_a_parameter_error():
    with pytest.raises(ParameterError, match="after_activation"):
        QNetwork.Params(layer_norm_position="middle")
