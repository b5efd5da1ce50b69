"""Lifelong novelty for NGU / Agent57: random network distillation and the reward modulator.

Never Give Up (Badia et al. 2020, section 2 and App. A, https://arxiv.org/abs/2002.06038),
with random network distillation (RND; Burda et al. 2018, https://arxiv.org/abs/1810.12894):
a fixed, randomly initialised target network ``g`` and a predictor ``g_hat`` trained to match
it on visited observations. Observations seen often are predicted well, so the error::

    err(x) = ||g_hat(x) - g(x)||^2

is a lifelong novelty signal. NGU turns it into a multiplicative modulator of the episodic
reward, using a running mean ``mu_e`` and standard deviation ``sigma_e`` of the error::

    alpha_t = 1 + (err(x_t) - mu_e) / sigma_e
    r^i_t   = r^episodic_t * min(max(alpha_t, 1), L),     L = 5

Two normalisers, both saved with the checkpoint so a resume is exact:

* the error's ``mu_e``, ``sigma_e``: ``RunningMeanStd`` (numpy, float64, outside jit) with a
  finite ``horizon``: an exponentially weighted mean/std over about the last ``horizon``
  errors. An all-time mean stays above the errors once the predictor has learned (they fall
  while it trains), which clips alpha to 1 everywhere (issue 11); a running one follows them,
  so alpha keeps telling new states from familiar ones;
* the observation whitening of RND's input (Burda et al. 2018, section 2.4):
  ``clip((x - mu_x) / sigma_x, -5, 5)`` with per-element running statistics of the
  observations (``ObservationStats``, a pytree updated inside the learner's jitted step from
  the replayed observations and passed to the actor with the variables).

Everything about the networks and the loss is pure and jittable (``rnd_error``, ``rnd_loss``,
``modulation``, ``normalise_observation``, ``update_observation_stats``, ``RNDModel.errors``,
``RNDModel.loss``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from agentos.agents.agent57.rnd_inputs import (  # the input statistics, re-exported here
    ObservationStats,
    initial_observation_stats,  # noqa: F401
    scaled_float,
    update_observation_stats,  # noqa: F401
)
from agentos.agents.torso import flat_float
from agentos.errors import ParameterError

Array: TypeAlias = chex.Array
Numeric: TypeAlias = chex.Numeric
Params = Any

DEFAULT_MAX_MODULATION = 5.0
"""NGU's ``L``: the largest factor the lifelong novelty may multiply the episodic reward by."""


# --------------------------------------------------------------------------- networks


class RNDNet(nn.Module):
    """MLP ``[B, ...] -> [B, output_dim]`` on flattened observations, for ``g`` and ``g_hat``.

    The same architecture serves as the fixed target and the trained predictor; they differ
    only by their initialisation key (``RNDModel.init``). Observations are flattened as float32,
    uint8 images scaled to [0, 1].
    """

    features: tuple[int, ...] = (64,)
    """Widths of the hidden ReLU layers."""
    output_dim: int = 64
    """Size ``K`` of the embedding whose squared distance is the novelty error."""

    @nn.compact
    def __call__(self, observation: jax.Array) -> jax.Array:
        x = flat_float(observation)
        for width in self.features:
            x = nn.relu(nn.Dense(int(width))(x))
        return nn.Dense(int(self.output_dim))(x)


# --------------------------------------------------------------------------- pure math


def rnd_error(predictor_out: Array, target_out: Array) -> Array:
    """Per-row squared Euclidean distance ``||g_hat(x) - g(x)||^2``; ``[B, K] x [B, K] -> [B]``.

    NGU (Badia et al. 2020, section 2, https://arxiv.org/abs/2002.06038): ``err(x_t) =
    ||g_hat(x_t; theta) - g(x_t)||^2``. This is the SUM over the ``K`` features (the squared
    norm), not the mean that Burda et al.'s code uses; only the scale differs, and the
    modulator divides it out through the running statistics.
    """
    chex.assert_rank([predictor_out, target_out], 2)
    chex.assert_type([predictor_out, target_out], float)
    chex.assert_equal_shape([predictor_out, target_out])
    return jnp.sum(jnp.square(predictor_out - target_out), axis=-1)


def rnd_loss(predictor_out: Array, target_out: Array, mask: Array) -> Array:
    """Masked mean of ``rnd_error`` over the batch; the target side gets no gradient.

    ``loss = sum_b mask_b ||g_hat(x_b) - sg(g(x_b))||^2 / max(sum_b mask_b, 1)`` (NGU, App. A,
    https://arxiv.org/abs/2002.06038; RND, Burda et al. 2018, section 2.2,
    https://arxiv.org/abs/1810.12894). ``mask`` (bool or float, ``[B]``) marks the rows that
    count: padding after an episode's end, or the random subset RND trains on. An all-zero
    mask gives 0.
    """
    chex.assert_rank(mask, 1)
    chex.assert_equal_shape_prefix([predictor_out, target_out, mask], 1)
    mask = mask.astype(predictor_out.dtype)
    errors = rnd_error(predictor_out, jax.lax.stop_gradient(target_out))
    return jnp.sum(mask * errors) / jnp.maximum(jnp.sum(mask), 1.0)


def modulation(
    error: Array,
    mean: Numeric,
    std: Numeric,
    max_modulation: Numeric = DEFAULT_MAX_MODULATION,
    eps: Numeric = 1e-8,
) -> Array:
    """NGU's lifelong modulator ``clip(1 + (err - mu_e) / (sigma_e + eps), 1, L)``; ``[B] -> [B]``.

    Badia et al. (2020), section 2, https://arxiv.org/abs/2002.06038 : ``alpha_t = 1 +
    (err(x_t) - mu_e) / sigma_e`` and the intrinsic reward uses ``min(max(alpha_t, 1), L)``.
    Errors at or below the running mean give 1 (no boost), never less: the lifelong signal can
    only amplify the episodic reward. ``eps`` keeps ``sigma_e = 0`` finite.
    """
    chex.assert_rank(error, 1)
    chex.assert_type(error, float)
    alpha = 1.0 + (error - mean) / (std + eps)
    return jnp.clip(alpha, 1.0, max_modulation)


def modulated_intrinsic_reward(
    episodic_reward: Array, alpha: Array, max_modulation: Numeric = DEFAULT_MAX_MODULATION
) -> Array:
    """NGU's intrinsic reward ``r^i_t = r^episodic_t * min(max(alpha_t, 1), L)``.

    Badia et al. (2020), section 2, eq. (1), https://arxiv.org/abs/2002.06038 . Clips again so
    an unclipped ``alpha`` is safe to pass; shapes broadcast.
    """
    return episodic_reward * jnp.clip(alpha, 1.0, max_modulation)


def normalise_observation(
    observation: Array, mean: Array, std: Array, clip: Numeric = 5.0, eps: Numeric = 1e-8
) -> Array:
    """RND's observation whitening ``clip((x - mu) / (sigma + eps), -clip, clip)``.

    Burda et al. (2018), section 2.4, https://arxiv.org/abs/1810.12894 : without it the fixed
    random target's outputs carry little information about the observation. ``mean`` and
    ``std`` are per-element running statistics (``RunningMeanStd(shape=observation_shape)``)
    and broadcast against ``observation``. ``RNDModel.errors`` / ``loss`` apply it when given
    ``ObservationStats`` (the Agent57 network always does).
    """
    z = (observation - mean) / (std + eps)
    return jnp.clip(z, -clip, clip)


# --------------------------------------------------------------------------- running statistics


class RunningMeanStd:
    """Running mean and (population) standard deviation of a stream of batches, in float64.

    Batches are merged with the parallel-variance formula of Chan, Golub and LeVeque (1979,
    "Updating formulae and a pairwise algorithm for computing sample variances")::

        delta = mean_B - mean,  n' = n + m
        mean' = mean + delta m / n'
        M2'   = M2 + M2_B + delta^2 n m / n'

    so after any sequence of updates ``mean``/``std`` equal ``np.mean``/``np.std`` of the
    concatenated values (up to rounding). ``shape`` is the shape of one value: ``()`` for the
    RND error, ``observation_shape`` for observation whitening. Before the first update
    ``count`` is 0, ``mean`` 0 and ``std`` 0.

    ``horizon`` (None: all-time statistics) makes them running ones: before a batch of ``m``
    values is merged, the weight ``n`` of the past is multiplied by ``(1 - 1/horizon)^m``, so
    each value's weight decays by ``1 - 1/horizon`` per later value (an exponentially weighted
    mean and variance over about the last ``horizon`` values; the weight ``count`` is then a
    float that tends to ``horizon``). Early on, while ``count << horizon``, they equal the
    all-time ones.
    """

    def __init__(self, shape: Sequence[int] = (), horizon: float | None = None) -> None:
        if horizon is not None and not horizon >= 1.0:
            raise ParameterError(f"RunningMeanStd horizon must be >= 1 or None, got {horizon!r}")
        self._shape = tuple(int(d) for d in shape)
        self._decay = 1.0 if horizon is None else 1.0 - 1.0 / float(horizon)
        self._count: int | float = 0
        self._mean = np.zeros(self._shape, dtype=np.float64)
        self._var = np.zeros(self._shape, dtype=np.float64)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one value."""
        return self._shape

    @property
    def count(self) -> int | float:
        """How many values have been merged in (their decayed weight with a ``horizon``)."""
        return self._count

    @property
    def mean(self) -> np.ndarray | float:
        """Running mean (a float when ``shape == ()``)."""
        return self._as_output(self._mean)

    @property
    def var(self) -> np.ndarray | float:
        """Running population variance (``ddof = 0``)."""
        return self._as_output(self._var)

    @property
    def std(self) -> np.ndarray | float:
        """Running population standard deviation, ``sqrt(var)``."""
        return self._as_output(np.sqrt(self._var))

    def _as_output(self, x: np.ndarray) -> np.ndarray | float:
        return float(x) if not self._shape else x.copy()

    def update(self, values: Any) -> None:
        """Merge a batch ``[B, *shape]`` (``B`` may be 0) into the statistics."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape[1:] != self._shape or values.ndim != len(self._shape) + 1:
            raise ParameterError(
                f"RunningMeanStd.update expects values of shape [B, *{self._shape}], "
                f"got {values.shape}",
                fix="pass a batch with a leading batch axis and the statistics' value shape",
            )
        batch_count = values.shape[0]
        if batch_count == 0:
            return
        if self._decay < 1.0:  # the past's weight decays by (1 - 1/horizon) per new value
            self._count = float(self._count) * self._decay**batch_count
        batch_mean = values.mean(axis=0)
        batch_m2 = np.square(values - batch_mean).sum(axis=0)
        total = self._count + batch_count
        delta = batch_mean - self._mean
        m2 = (
            self._var * self._count
            + batch_m2
            + np.square(delta) * self._count * batch_count / total
        )
        self._mean = self._mean + delta * batch_count / total
        self._var = m2 / total
        self._count = total

    def state_dict(self) -> dict[str, Any]:
        """Plain Python numbers (nested lists when ``shape != ()``) that resume the stream exactly.

        float64 values round-trip through ``float`` and JSON without loss.
        """
        return {
            "shape": list(self._shape),
            "count": self._count,
            "mean": self._mean.tolist(),
            "var": self._var.tolist(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned; the shapes must match."""
        missing = {"count", "mean", "var"} - set(state)
        if missing:
            raise ParameterError(
                f"RunningMeanStd state is missing {sorted(missing)}",
                fix="load a dict produced by RunningMeanStd.state_dict()",
            )
        mean = np.asarray(state["mean"], dtype=np.float64)
        var = np.asarray(state["var"], dtype=np.float64)
        if mean.shape != self._shape or var.shape != self._shape:
            raise ParameterError(
                f"RunningMeanStd state has shape {mean.shape}, expected {self._shape}",
                fix="load the state into a RunningMeanStd built with the same shape",
            )
        count = int(state["count"]) if self._decay == 1.0 else float(state["count"])
        if count < 0:
            raise ParameterError(f"RunningMeanStd count must be >= 0, got {count}")
        self._count = count
        self._mean = mean
        self._var = var


# --------------------------------------------------------------------------- model


class RNDModel:
    """Target and predictor ``RNDNet`` plus NGU's modulator, for one observation shape.

    ``errors`` and ``loss`` are pure in ``params = {"predictor": ..., "target": ...}`` and
    jittable; the learner differentiates ``loss`` (only ``params["predictor"]`` gets a
    gradient) and the actor calls ``alpha``.
    """

    def __init__(
        self,
        observation_shape: Sequence[int],
        features: Sequence[int] = (64,),
        output_dim: int = 64,
        max_modulation: float = DEFAULT_MAX_MODULATION,
    ) -> None:
        """Build the networks.

        Args:
          observation_shape: shape of one observation (without the batch axis).
          features: hidden widths of both MLPs.
          output_dim: embedding size ``K``.
          max_modulation: NGU's ``L`` (>= 1); 5 in the paper.
        """
        try:
            shape = tuple(int(d) for d in observation_shape)
            widths = tuple(int(w) for w in features)
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"observation_shape and features must be sequences of ints, got "
                f"{observation_shape!r} and {features!r}",
                fix="pass tuples of positive ints",
            ) from exc
        if any(d < 1 for d in shape):
            raise ParameterError(
                f"observation_shape must have positive sizes, got {shape}",
                fix="pass the environment's observation shape",
            )
        if any(w < 1 for w in widths):
            raise ParameterError(
                f"features must be positive widths, got {widths}", fix="e.g. features=(64,)"
            )
        if not isinstance(output_dim, int) or output_dim < 1:
            raise ParameterError(
                f"output_dim must be a positive int, got {output_dim!r}", fix="e.g. output_dim=64"
            )
        if not math.isfinite(max_modulation) or max_modulation < 1.0:
            raise ParameterError(
                f"max_modulation (NGU's L) must be a finite number >= 1, got {max_modulation!r}",
                fix="use the paper's L = 5",
            )
        self.observation_shape = shape
        self.max_modulation = float(max_modulation)
        self.net = RNDNet(features=widths, output_dim=output_dim)

    def init(self, rng: jax.Array) -> dict[str, Params]:
        """``{"predictor": params, "target": params}`` from two independent keys."""
        predictor_key, target_key = jax.random.split(rng)
        dummy = jnp.zeros((1, *self.observation_shape), dtype=jnp.float32)
        return {
            "predictor": self.net.init(predictor_key, dummy),
            "target": self.net.init(target_key, dummy),
        }

    def _check_observation(self, observation: jax.Array) -> None:
        if tuple(observation.shape[1:]) != self.observation_shape:
            raise ParameterError(
                f"RND expects observations of shape [B, *{self.observation_shape}], "
                f"got {tuple(observation.shape)}",
                fix="batch observations of the shape the RNDModel was built with",
            )

    def _outputs(
        self, params: dict[str, Params], observation: jax.Array, stats: ObservationStats | None
    ) -> tuple[jax.Array, jax.Array]:
        self._check_observation(observation)
        if stats is not None:  # RND's input whitening (Burda et al. 2018, section 2.4)
            std = jnp.sqrt(stats["var"])
            observation = normalise_observation(scaled_float(observation), stats["mean"], std)
        predicted = self.net.apply(params["predictor"], observation)
        target = self.net.apply(params["target"], observation)
        return predicted, target  # type: ignore[return-value]

    def errors(
        self,
        params: dict[str, Params],
        observation: jax.Array,
        stats: ObservationStats | None = None,
    ) -> jax.Array:
        """Novelty errors ``err(x) = ||g_hat(x) - g(x)||^2``, ``[B, *obs_shape] -> [B]``; the
        input is whitened with ``stats`` when given."""
        return rnd_error(*self._outputs(params, observation, stats))

    def loss(
        self,
        params: dict[str, Params],
        observation: jax.Array,
        mask: jax.Array,
        stats: ObservationStats | None = None,
    ) -> jax.Array:
        """The predictor's distillation loss (``rnd_loss``); zero gradient for the target."""
        return rnd_loss(*self._outputs(params, observation, stats), mask)

    @functools.cached_property
    def _jitted_errors(self) -> Callable[[dict[str, Params], jax.Array], jax.Array]:
        return jax.jit(self.errors)

    def alpha(
        self,
        params: dict[str, Params],
        observation: Any,
        normaliser: RunningMeanStd,
        update: bool = True,
    ) -> np.ndarray:
        """NGU's clipped modulator ``[B]`` (float32) for a batch of observations.

        With ``update=True`` the normaliser merges this batch's errors BEFORE the modulator is
        computed, so each error is compared with statistics that include it: the first batch
        is well defined (no division by an empty ``sigma_e``), and a single outlier cannot
        produce an unbounded ``z`` (it is clipped at ``L`` anyway). With a normaliser that has
        seen nothing (``count == 0``, ``update=False``) there is no scale to compare with and
        the modulator is 1.
        """
        if normaliser.shape != ():
            raise ParameterError(
                f"the error normaliser must have shape (), got {normaliser.shape}",
                fix="use RunningMeanStd() for the RND error",
            )
        errors = np.asarray(
            self._jitted_errors(params, jnp.asarray(observation)),  # uint8 stays uint8: /255
            dtype=np.float64,
        )
        if update:
            normaliser.update(errors)
        if normaliser.count == 0:
            return np.ones(errors.shape, dtype=np.float32)
        alpha = modulation(errors, normaliser.mean, normaliser.std, self.max_modulation)
        return np.asarray(alpha, dtype=np.float32)
