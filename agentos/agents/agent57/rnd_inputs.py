"""Running statistics of RND's input, for its whitening ``clip((x - mu) / sigma, -5, 5)``.

Burda et al. (2018), "Exploration by Random Network Distillation", section 2.4,
https://arxiv.org/abs/1810.12894 : the fixed random target's outputs carry little information
about unnormalised observations. The statistics are a pytree (``ObservationStats``) updated
inside the Agent57 learner's jitted step from the replayed observations, and reach the actor
(and the checkpoint) with the network variables as ``"rnd_obs"``. ``rnd.RNDModel`` applies
them (``rnd.normalise_observation``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import chex
import jax
import jax.numpy as jnp

Array: TypeAlias = chex.Array


def scaled_float(observation: Array) -> Array:
    """Observations as float32, uint8 images scaled to [0, 1] (as ``torso.flat_float``)."""
    if observation.dtype == jnp.uint8:
        return observation.astype(jnp.float32) / 255.0
    return observation.astype(jnp.float32)


ObservationStats = dict[str, Array]
"""``{"mean": [*obs_shape], "var": [*obs_shape], "count": []}``, float32, a pytree."""


def initial_observation_stats(observation_shape: Sequence[int]) -> ObservationStats:
    """No observation seen: mean 0, var 1 (whitening is then only the clip), count 0."""
    shape = tuple(int(d) for d in observation_shape)
    return {
        "mean": jnp.zeros(shape, jnp.float32),
        "var": jnp.ones(shape, jnp.float32),
        "count": jnp.zeros((), jnp.float32),
    }


def update_observation_stats(
    stats: ObservationStats, observation: Array, mask: Array
) -> ObservationStats:
    """Merge the rows of ``observation [B, *obs_shape]`` with ``mask [B]`` set into the
    all-time per-element mean/var (RND, Burda et al. 2018, section 2.4); pure, jittable.

    Chan et al.'s parallel merge, as ``RunningMeanStd.update``, on ``scaled_float`` values.
    The first batch replaces the initial var of 1. A batch with no valid row changes nothing.
    ``count`` is float32: past 2^24 its increments round, when a batch already weighs < 1e-4.
    """
    chex.assert_rank(mask, 1)
    chex.assert_equal_shape_prefix([observation, mask], 1)
    x = scaled_float(observation)
    w = jnp.reshape(mask.astype(jnp.float32), (-1,) + (1,) * (x.ndim - 1))
    m = jnp.sum(mask.astype(jnp.float32))
    batch_mean = jnp.sum(w * x, axis=0) / jnp.maximum(m, 1.0)
    batch_m2 = jnp.sum(w * jnp.square(x - batch_mean), axis=0)
    n = stats["count"]
    total = jnp.maximum(n + m, 1.0)
    delta = batch_mean - stats["mean"]
    merged = {
        "mean": stats["mean"] + delta * m / total,
        "var": (stats["var"] * n + batch_m2 + jnp.square(delta) * n * m / total) / total,
        "count": n + m,
    }
    return jax.tree_util.tree_map(lambda new, old: jnp.where(m > 0, new, old), merged, stats)
