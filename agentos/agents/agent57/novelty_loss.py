"""The loss that trains Agent57's novelty networks (NGU, Badia et al. 2020, App. A): the
embedding by its inverse-dynamics classifier, and the RND predictor by its error on the target
network's outputs, both on the sampled sequences' steps."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from agentos.agents.agent57.network import Agent57Network
from agentos.agents.r2d2.adder import ACTION, MASK, OBSERVATION


def novelty_loss(
    params: dict[str, Any],
    batch: dict[str, jax.Array],
    network: Agent57Network,
    obs_stats: dict[str, jax.Array] | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Inverse-dynamics loss of the embedding + RND predictor error (on input whitened with
    ``obs_stats``), on the batch's steps."""
    obs = batch[OBSERVATION]
    mask = batch[MASK]
    flat = functools.partial(jnp.reshape, shape=(-1,) + obs.shape[2:])
    # Step t with a real action has a real next observation (an episode's final one included).
    idm_loss, idm_accuracy = network.embedding.loss(
        params["embedding"],
        flat(obs[:, :-1]),
        flat(obs[:, 1:]),
        jnp.reshape(batch[ACTION][:, :-1], (-1,)),
        jnp.reshape(mask[:, :-1], (-1,)),
    )
    rnd_loss = network.rnd.loss(params["rnd"], flat(obs), jnp.reshape(mask, (-1,)), obs_stats)
    return idm_loss + rnd_loss, {
        "idm_loss": idm_loss,
        "idm_accuracy": idm_accuracy,
        "rnd_loss": rnd_loss,
    }
