"""NGU's controllable-state embedding, trained by an inverse-dynamics model.

Puigdomenech Badia et al. (2020), "Never Give Up: Learning Directed Exploration Strategies",
section 2 and App. A, https://arxiv.org/abs/2002.06038 . The embedding ``f`` (used by the
episodic memory, ``agentos.agents.agent57.episodic``) is trained through a classifier ``h`` that
predicts the action taken between two consecutive observations::

    p(a | x_t, x_{t+1}) = softmax(h(f(x_t), f(x_{t+1})))

by maximum likelihood on transitions from replay. ``f`` then keeps what the agent's actions
change and drops the rest (the "controllable state"). Here ``f`` is an MLP on flattened
observations (NGU uses a small convnet for Atari; this framework's image torso lives in the
R2D2 network), and ``h`` is one ReLU hidden layer of 128 units then a linear layer to logits,
as in NGU.

``EmbeddingModel`` holds both modules; its ``embed`` and ``loss`` are pure functions of a params
dict ``{"embedding": ..., "idm": ...}``, ready for ``jax.jit`` and ``jax.grad``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from agentos.agents.torso import flat_float
from agentos.errors import ParameterError

Array: TypeAlias = chex.Array


class EmbeddingNet(nn.Module):
    """``f``: ``[B, ...]`` observations -> ``[B, embedding_dim]`` controllable-state embeddings.

    An MLP on the flattened observation (uint8 scaled by 1/255), ReLU after every layer
    INCLUDING the output: NGU's embedding is the ReLU'd output of a 32-unit layer (App. A), so
    distances in the episodic memory are between non-negative vectors. ``relu_output=False``
    gives a linear output instead (no dead coordinates, at the cost of departing from NGU).
    """

    features: Sequence[int] = (64,)
    """Hidden layer sizes, each followed by a ReLU."""
    embedding_dim: int = 32
    """Size of the embedding (NGU: 32)."""
    relu_output: bool = True
    """Apply a ReLU to the embedding, as NGU does."""

    @nn.compact
    def __call__(self, observation: Array) -> Array:
        x = flat_float(observation)
        for size in self.features:
            x = nn.relu(nn.Dense(int(size))(x))
        x = nn.Dense(self.embedding_dim)(x)
        return nn.relu(x) if self.relu_output else x


class InverseDynamicsHead(nn.Module):
    """``h``: ``(f(x_t) [B, D], f(x_{t+1}) [B, D])`` -> logits ``[B, num_actions]`` over ``a_t``.

    NGU App. A: the two embeddings are concatenated and fed to one ReLU hidden layer, then a
    linear layer whose softmax is ``p(a_t | x_t, x_{t+1})``.
    """

    num_actions: int
    """Number of discrete actions."""
    hidden: int = 128
    """Hidden layer size (NGU: 128)."""

    @nn.compact
    def __call__(self, embedding_t: Array, embedding_tp1: Array) -> Array:
        x = jnp.concatenate([embedding_t, embedding_tp1], axis=-1)
        x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.Dense(self.num_actions)(x)


def inverse_dynamics_loss(logits: Array, actions: Array, mask: Array) -> tuple[Array, Array]:
    """Masked mean softmax cross-entropy of the taken actions; returns ``(loss, accuracy)``.

    NGU section 2 (https://arxiv.org/abs/2002.06038): the inverse-dynamics model is trained by
    maximum likelihood, ``loss = sum_b m_b (-log softmax(logits_b)[a_b]) / max(sum_b m_b, 1)``.
    ``accuracy`` is the masked fraction of rows whose argmax (ties: first action) is ``a_b``
    (no gradient). ``mask`` (bool or float) marks rows that count, e.g. 0 for a pair
    ``(x_t, x_{t+1})`` that straddles an episode boundary; all-masked gives ``(0, 0)``.
    """
    chex.assert_rank([logits, actions, mask], [2, 1, 1])
    chex.assert_type([logits, actions], [float, int])
    chex.assert_equal_shape([logits[:, 0], actions, mask])
    mask = mask.astype(logits.dtype)
    cross_entropy = optax.softmax_cross_entropy_with_integer_labels(logits, actions)
    denominator = jnp.maximum(jnp.sum(mask), 1.0)
    loss = jnp.sum(mask * cross_entropy) / denominator
    correct = (jnp.argmax(logits, axis=-1) == actions).astype(logits.dtype)
    accuracy = jax.lax.stop_gradient(jnp.sum(mask * correct) / denominator)
    return loss, accuracy


class EmbeddingModel:
    """The embedding ``f`` and the inverse-dynamics head ``h``, with pure ``embed`` and ``loss``.

    Params are a dict ``{"embedding": f's params, "idm": h's params}``: one optimiser updates
    both, and an actor needs only ``params["embedding"]`` (``embed`` reads nothing else).
    """

    def __init__(
        self,
        num_actions: int,
        features: Sequence[int] = (64,),
        embedding_dim: int = 32,
        idm_hidden: int = 128,
        relu_output: bool = True,
    ):
        if isinstance(num_actions, int) and not isinstance(num_actions, bool) and num_actions < 2:
            raise ParameterError(
                f"Agent57 needs an environment with at least 2 actions, this one has "
                f"{num_actions}: its novelty embedding learns by predicting which action led "
                "from one observation to the next (inverse dynamics), which one action cannot "
                "teach",
                fix="with a single action there is nothing to choose: use the dqn or r2d2 "
                "bundle (`agentos install dqn`), or give the environment two or more actions",
            )
        if isinstance(num_actions, bool) or not isinstance(num_actions, int):
            raise ParameterError(
                f"EmbeddingModel: num_actions must be an int >= 2, got {num_actions!r}",
                fix="pass the size of the discrete action space",
            )
        for name, value in (("embedding_dim", embedding_dim), ("idm_hidden", idm_hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(
                    f"EmbeddingModel: {name} must be a positive int, got {value!r}",
                    fix=f"pass an int >= 1 for {name} (NGU: embedding_dim=32, idm_hidden=128)",
                )
        if any(int(size) < 1 for size in features):
            raise ParameterError(
                f"EmbeddingModel: features must be positive layer sizes, got {tuple(features)!r}",
                fix="pass e.g. features=(64,)",
            )
        self.num_actions = num_actions
        self.embedding_dim = embedding_dim
        self.embedding_net = EmbeddingNet(
            features=tuple(int(size) for size in features),
            embedding_dim=embedding_dim,
            relu_output=relu_output,
        )
        self.idm_head = InverseDynamicsHead(num_actions=num_actions, hidden=idm_hidden)

    def init(self, rng: chex.PRNGKey, observation_shape: Sequence[int]) -> dict:
        """Fresh params ``{"embedding": ..., "idm": ...}`` for observations of this shape."""
        observation_shape = tuple(int(size) for size in observation_shape)

        def init_both(rng: chex.PRNGKey) -> dict:
            rng_embedding, rng_idm = jax.random.split(rng)
            dummy_observation = jnp.zeros((1, *observation_shape), jnp.float32)
            dummy_embedding = jnp.zeros((1, self.embedding_dim), jnp.float32)
            return {
                "embedding": self.embedding_net.init(rng_embedding, dummy_observation),
                "idm": self.idm_head.init(rng_idm, dummy_embedding, dummy_embedding),
            }

        # One compiled call: op-by-op initialisation costs seconds of dispatch and compiles.
        return jax.jit(init_both)(rng)

    def embed(self, params: dict, observation: Array) -> Array:
        """``f(x)``: ``[B, ...]`` observations -> ``[B, embedding_dim]``."""
        return self.embedding_net.apply(params["embedding"], observation)

    def loss(
        self,
        params: dict,
        obs_t: Array,
        obs_tp1: Array,
        actions: Array,
        mask: Array,
    ) -> tuple[Array, Array]:
        """Inverse-dynamics ``(loss, accuracy)`` on ``B`` transitions ``(x_t, a_t, x_{t+1})``.

        ``obs_t`` and ``obs_tp1`` are ``[B, ...]``, ``actions`` ``[B]`` ints, ``mask`` ``[B]``
        (see ``inverse_dynamics_loss``). Gradients reach both ``f`` and ``h``.
        """
        chex.assert_equal_shape([obs_t, obs_tp1])
        batch = obs_t.shape[0]
        # One pass of f over both observations (the Siamese embedding shares its weights).
        embeddings = self.embed(params, jnp.concatenate([obs_t, obs_tp1], axis=0))
        logits = self.idm_head.apply(params["idm"], embeddings[:batch], embeddings[batch:])
        return inverse_dynamics_loss(logits, actions, mask)
