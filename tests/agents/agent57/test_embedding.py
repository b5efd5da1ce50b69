"""Tests of NGU's inverse-dynamics embedding: the loss by hand (with and without jit), the
modules' shapes, and that training on a toy deterministic environment learns the actions."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from agentos.agents.agent57.embedding import (
    EmbeddingModel,
    EmbeddingNet,
    inverse_dynamics_loss,
)
from agentos.errors import ParameterError

JIT = pytest.mark.parametrize("jit", [False, True], ids=["nojit", "jit"])

LN3 = math.log(3.0)
NUM_CELLS = 8


@pytest.fixture(scope="module")
def toy_model():
    """A small model for 8-dimensional observations and 2 actions, with fresh params."""
    model = EmbeddingModel(num_actions=2, features=(32,), embedding_dim=16, idm_hidden=32)
    return model, model.init(jax.random.PRNGKey(0), (NUM_CELLS,))


@JIT
def test_inverse_dynamics_loss_hand_numbers(jit):
    # Row 0: logits [0, ln 3] -> p = [1/4, 3/4], action 1: CE = ln(4/3), argmax 1 (right).
    # Row 1: logits [ln 3, 0] -> p = [3/4, 1/4], action 1: CE = ln 4, argmax 0 (wrong).
    # Row 2: logits [0, 0], action 0, masked out (were it counted, accuracy would be 2/3:
    #        the tie goes to action 0).
    # loss = (ln(4/3) + ln 4) / 2 = ln(16/3) / 2 = 0.8369882; accuracy = 1/2.
    logits = jnp.array([[0.0, LN3], [LN3, 0.0], [0.0, 0.0]], jnp.float32)
    actions = jnp.array([1, 1, 0], jnp.int32)
    mask = jnp.array([1.0, 1.0, 0.0], jnp.float32)
    fn = jax.jit(inverse_dynamics_loss) if jit else inverse_dynamics_loss
    loss, accuracy = fn(logits, actions, mask)
    np.testing.assert_allclose(loss, math.log(16.0 / 3.0) / 2.0, rtol=1e-6)
    np.testing.assert_allclose(accuracy, 0.5, rtol=1e-6)
    # Unmasked: loss = (ln(4/3) + ln 4 + ln 2) / 3 = ln(32/3) / 3, accuracy 2/3.
    loss, accuracy = fn(logits, actions, jnp.ones(3, bool))
    np.testing.assert_allclose(loss, math.log(32.0 / 3.0) / 3.0, rtol=1e-6)
    np.testing.assert_allclose(accuracy, 2.0 / 3.0, rtol=1e-6)
    # All masked: (0, 0), no NaN.
    loss, accuracy = fn(logits, actions, jnp.zeros(3, jnp.float32))
    assert float(loss) == 0.0 and float(accuracy) == 0.0


def test_inverse_dynamics_loss_gradient_is_masked_softmax_minus_onehot():
    # d loss / d logits_b = m_b (softmax_b - onehot(a_b)) / sum m, sum m = 2:
    # row 0 -> ([1/4, 3/4] - [0, 1]) / 2 = [1/8, -1/8]; row 1 -> ([3/4, 1/4] - [1, 0]) / 2 =
    # [-1/8, 1/8]; row 2 is masked -> 0.
    logits = jnp.array([[0.0, LN3], [LN3, 0.0], [LN3, 0.0]], jnp.float32)
    actions, mask = jnp.array([1, 0, 1]), jnp.array([1.0, 1.0, 0.0])
    grad = jax.grad(lambda x: inverse_dynamics_loss(x, actions, mask)[0])(logits)
    np.testing.assert_allclose(grad, [[0.125, -0.125], [-0.125, 0.125], [0.0, 0.0]], atol=1e-6)


def test_embedding_net_shapes_relu_and_uint8_scaling():
    obs = jnp.asarray(np.random.default_rng(0).normal(size=(5, 4, 3)), jnp.float32)
    relu_net = EmbeddingNet(features=(16,), embedding_dim=8)
    params = jax.jit(relu_net.init)(jax.random.PRNGKey(0), obs)
    apply = jax.jit(relu_net.apply)
    out = apply(params, obs)
    assert out.shape == (5, 8) and bool(jnp.all(out >= 0.0))
    # The same params without the final ReLU give some negative coordinates.
    linear_net = EmbeddingNet(features=(16,), embedding_dim=8, relu_output=False)
    assert bool(jnp.any(jax.jit(linear_net.apply)(params, obs) < 0.0))
    # uint8 observations are scaled by 1/255: 255 embeds like 1.0.
    full = apply(params, jnp.full((5, 4, 3), 255, jnp.uint8))
    np.testing.assert_allclose(full, apply(params, jnp.ones((5, 4, 3))), rtol=1e-6)


def test_embedding_model_init_embed_and_loss(toy_model):
    model, params = toy_model
    assert set(params) == {"embedding", "idm"}
    obs = jnp.asarray(np.random.default_rng(1).normal(size=(6, NUM_CELLS)), jnp.float32)
    embeddings = jax.jit(model.embed)(params, obs)
    assert embeddings.shape == (6, 16)
    actions = jnp.array([0, 1, 1, 0, 1, 0])
    mask = jnp.ones(6)
    loss_fn = jax.jit(jax.value_and_grad(model.loss, has_aux=True))
    (loss, accuracy), grads = loss_fn(params, obs, obs[::-1], actions, mask)
    assert np.isfinite(float(loss)) and 0.0 <= float(accuracy) <= 1.0
    # Gradients reach both f and h.
    for part in ("embedding", "idm"):
        norm = sum(float(jnp.sum(jnp.abs(g))) for g in jax.tree_util.tree_leaves(grads[part]))
        assert norm > 0.0, part


def test_embedding_model_rejects_bad_parameters():
    with pytest.raises(ParameterError):
        EmbeddingModel(num_actions=1)
    with pytest.raises(ParameterError):
        EmbeddingModel(num_actions=4, embedding_dim=0)
    with pytest.raises(ParameterError):
        EmbeddingModel(num_actions=4, features=(0,))


def test_inverse_dynamics_training_learns_toy_actions(toy_model):
    # A ring of 8 cells, observed one-hot; action 0 moves left, action 1 right. The action is
    # a deterministic function of (x_t, x_{t+1}), so the IDM can reach accuracy 1.
    model, params = toy_model
    num_cells, batch = NUM_CELLS, 64
    optimiser = optax.adam(3e-3)
    opt_state = optimiser.init(params)

    def sample(rng):
        rng_pos, rng_act = jax.random.split(rng)
        position = jax.random.randint(rng_pos, (batch,), 0, num_cells)
        action = jax.random.randint(rng_act, (batch,), 0, 2)
        next_position = (position + 2 * action - 1) % num_cells
        one_hot = jax.nn.one_hot
        return one_hot(position, num_cells), one_hot(next_position, num_cells), action

    def update(carry, rng):
        params, opt_state = carry
        obs_t, obs_tp1, action = sample(rng)
        (loss, _), grads = jax.value_and_grad(model.loss, has_aux=True)(
            params, obs_t, obs_tp1, action, jnp.ones(batch)
        )
        updates, opt_state = optimiser.update(grads, opt_state)
        return (optax.apply_updates(params, updates), opt_state), loss

    @jax.jit
    def train(params, opt_state, rng):
        # PureJaxRL style: the whole loop is one compiled scan.
        carry, losses = jax.lax.scan(update, (params, opt_state), jax.random.split(rng, 300))
        return carry[0], losses

    params, losses = train(params, opt_state, jax.random.PRNGKey(42))
    obs_t, obs_tp1, action = sample(jax.random.PRNGKey(7))
    loss, accuracy = jax.jit(model.loss)(params, obs_t, obs_tp1, action, jnp.ones(batch))
    assert float(accuracy) > 0.9
    assert float(loss) < 0.5 * float(losses[0])
