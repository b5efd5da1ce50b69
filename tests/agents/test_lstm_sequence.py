"""The LSTM over a sequence: same values as flax's cell, same gradients as autodiff."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentos.agents.lstm_sequence import lstm_sequence, stacked_weights

T, B, E, H = 7, 3, 5, 4


def _cell_params(seed: int) -> dict:
    cell = nn.OptimizedLSTMCell(H)
    carry = (jnp.zeros((B, H)), jnp.zeros((B, H)))
    params = cell.init(jax.random.PRNGKey(seed), carry, jnp.zeros((B, E)))["params"]
    # Non-zero biases, so that a wrong bias gradient shows.
    return jax.tree.map(lambda p: p + 0.1 * jnp.arange(p.size).reshape(p.shape) / p.size, params)


def _flax_scan(params: dict, inputs: jax.Array, c0: jax.Array, h0: jax.Array) -> tuple:
    cell = nn.OptimizedLSTMCell(H)

    def body(carry: tuple, x: jax.Array) -> tuple:
        return cell.apply({"params": params}, carry, x)

    (c, h), outputs = jax.lax.scan(body, (c0, h0), inputs)
    return outputs, c, h


def _ours(params: dict, inputs: jax.Array, c0: jax.Array, h0: jax.Array) -> tuple:
    return lstm_sequence(*stacked_weights(params), inputs, c0, h0)


def _data(seed: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    rng = np.random.default_rng(seed)
    inputs = jnp.asarray(rng.normal(size=(T, B, E)), jnp.float32)
    c0 = jnp.asarray(rng.normal(size=(B, H)), jnp.float32)
    h0 = jnp.asarray(rng.normal(size=(B, H)) * 0.5, jnp.float32)
    return inputs, c0, h0


def _loss(unroll):  # type: ignore[no-untyped-def]
    """A loss that reads every output step and both final states, non-linearly."""

    def loss(params: dict, inputs: jax.Array, c0: jax.Array, h0: jax.Array) -> jax.Array:
        outputs, c, h = unroll(params, inputs, c0, h0)
        weights = jnp.arange(1, T + 1, dtype=jnp.float32)[:, None, None]
        return jnp.sum(weights * jnp.sin(outputs)) + jnp.sum(c**2) + 3.0 * jnp.sum(h)

    return loss


def test_values_match_flax_cell():
    params, (inputs, c0, h0) = _cell_params(0), _data(0)
    ours, theirs = _ours(params, inputs, c0, h0), _flax_scan(params, inputs, c0, h0)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_gradients_match_autodiff_of_the_cell(seed):
    params, (inputs, c0, h0) = _cell_params(seed), _data(seed)
    ours = jax.grad(_loss(_ours), argnums=(0, 1, 2, 3))(params, inputs, c0, h0)
    theirs = jax.grad(_loss(_flax_scan), argnums=(0, 1, 2, 3))(params, inputs, c0, h0)
    flat_ours, tree_ours = jax.tree.flatten(ours)
    flat_theirs, tree_theirs = jax.tree.flatten(theirs)
    assert tree_ours == tree_theirs
    for a, b in zip(flat_ours, flat_theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


def test_gradients_under_vmap_over_parameters():
    """Agent57 runs its two Q-networks' LSTMs as one vmap over stacked parameters."""
    stacked = jax.tree.map(lambda a, b: jnp.stack([a, b]), _cell_params(0), _cell_params(1))
    inputs, c0, h0 = _data(2)

    def total(unroll):  # type: ignore[no-untyped-def]
        def f(p: dict) -> jax.Array:
            per_head = jax.vmap(_loss(unroll), in_axes=(0, None, None, None))
            return jnp.sum(per_head(p, inputs, c0, h0))

        return jax.grad(f)(stacked)

    for a, b in zip(jax.tree.leaves(total(_ours)), jax.tree.leaves(total(_flax_scan)), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


def test_one_step_worked_by_hand():
    """E = H = 1, every weight 0, c0 = 0.5: all gates are sigmoid(0) = 0.5 and g = tanh(0) = 0,
    so c1 = 0.5 * 0.5 = 0.25 and h1 = 0.5 tanh(0.25) = 0.12245933. With h1 as the loss,
    dh1/dc1 = o (1 - tanh^2 c1) = 0.47000743; dh1/dc0 = that * f = 0.23500371; the bias
    gradients are i: dc1 * g * i(1 - i) = 0, f: dc1 * c0 * f(1 - f) = 0.05875093,
    g: dc1 * i * (1 - g^2) = 0.23500371, o: tanh(c1) * o(1 - o) = 0.06122967."""
    w_in, w_rec, bias = jnp.zeros((1, 4)), jnp.zeros((1, 4)), jnp.zeros((4,))
    inputs, c0, h0 = jnp.ones((1, 1, 1)), jnp.full((1, 1), 0.5), jnp.zeros((1, 1))
    outputs, c1, h1 = lstm_sequence(w_in, w_rec, bias, inputs, c0, h0)
    np.testing.assert_allclose(c1, [[0.25]], rtol=1e-6)
    np.testing.assert_allclose(outputs[0], [[0.12245933]], rtol=1e-6)

    def h_out(bias: jax.Array, c0: jax.Array) -> jax.Array:
        return lstm_sequence(w_in, w_rec, bias, inputs, c0, h0)[0][0, 0, 0]

    d_bias, d_c0 = jax.grad(h_out, argnums=(0, 1))(bias, c0)
    np.testing.assert_allclose(d_bias, [0.0, 0.05875093, 0.23500371, 0.06122967], atol=1e-7)
    np.testing.assert_allclose(d_c0, [[0.23500371]], rtol=1e-6)
