"""The N (beta_j, gamma_j) pairs of the Agent57 / NGU family of policies.

Arm ``j`` of the family mixes the intrinsic value into the extrinsic one with weight ``beta_j``
and discounts with ``gamma_j``. Arm 0 is the exploitative one: ``beta_0 = 0`` and the LARGEST
discount. Moving up the ladder, ``beta_j`` grows and ``gamma_j`` shrinks (more exploratory,
shorter-sighted arms).

Sources:

- NGU, Puigdomenech Badia et al. (2020), "Never Give Up: Learning Directed Exploration
  Strategies", App. A, https://arxiv.org/abs/2002.06038 (the beta ladder and the
  log-interpolated gamma ladder).
- Agent57, Badia et al. (2020), "Agent57: Outperforming the Atari Human Benchmark", App. G,
  https://arxiv.org/abs/2003.13350 (the piecewise gamma ladder with gamma_0 = 0.9999).

The public DRLearner code built the learner's discounts with a linspace that gave the
exploitative arm the smallest gamma; ``tests/agents/agent57/test_mixtures.py`` guards against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from agentos.errors import ParameterError

# The piecewise Agent57 ladder has fixed arms 0..7 and a log-interpolated tail j = 8..N-1 whose
# denominator is N - 9, so it needs N >= 10.
_MIN_ARMS_PIECEWISE = 10


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _check_num_arms(num_arms: int) -> None:
    if isinstance(num_arms, bool) or not isinstance(num_arms, (int, np.integer)) or num_arms < 1:
        raise ParameterError(
            f"num_arms must be an integer >= 1, got {num_arms!r}",
            fix="use the number of (beta, gamma) pairs of the family, e.g. 32 as in Agent57",
        )


def ngu_betas(num_arms: int, beta_max: float = 0.3) -> np.ndarray:
    """The intrinsic-reward weights ``beta_j``, ``j = 0 .. N-1``, of the NGU / Agent57 family.

    NGU (Puigdomenech Badia et al. 2020), App. A, https://arxiv.org/abs/2002.06038 :

        beta_j = 0                                              if j = 0
        beta_j = beta_max                                       if j = N - 1
        beta_j = beta_max * sigmoid(10 (2j - (N - 2)) / (N - 2))  otherwise

    ``N = 1`` gives ``[0]`` and ``N = 2`` gives ``[0, beta_max]`` (no middle arms, so the
    ``N - 2`` denominator is never formed). Returns a float64 array of shape ``(N,)``,
    non-decreasing in ``j``.
    """
    _check_num_arms(num_arms)
    if not math.isfinite(beta_max) or beta_max < 0.0:
        raise ParameterError(
            f"beta_max must be a finite number >= 0, got {beta_max!r}",
            fix="use the intrinsic reward weight of the most exploratory arm, e.g. 0.3",
        )
    betas = np.zeros(num_arms, dtype=np.float64)
    if num_arms == 1:
        return betas
    j = np.arange(1, num_arms - 1, dtype=np.float64)
    if num_arms > 2:
        betas[1:-1] = beta_max * _sigmoid(10.0 * (2.0 * j - (num_arms - 2)) / (num_arms - 2))
    betas[-1] = beta_max
    return betas


def _log_interpolate(gamma_hi: float, gamma_lo: float, num: int) -> np.ndarray:
    """``num`` discounts from ``gamma_hi`` to ``gamma_lo``, linear in ``log(1 - gamma)``.

    ``1 - exp(((num-1-k) log(1 - gamma_hi) + k log(1 - gamma_lo)) / (num - 1))``, k = 0..num-1:
    the effective horizons ``1 / (1 - gamma)`` are spaced geometrically.
    """
    if num == 1:
        return np.array([gamma_hi], dtype=np.float64)
    k = np.arange(num, dtype=np.float64)
    log_gap = ((num - 1 - k) * math.log1p(-gamma_hi) + k * math.log1p(-gamma_lo)) / (num - 1)
    return -np.expm1(log_gap)


def agent57_gammas(
    num_arms: int,
    gamma_max: float = 0.9999,
    gamma_mid: float = 0.997,
    gamma_min: float = 0.99,
) -> np.ndarray:
    """The discounts ``gamma_j``, ``j = 0 .. N-1``, of the Agent57 family (largest at ``j = 0``).

    For ``N >= 10``: Agent57 (Badia et al. 2020), App. G, https://arxiv.org/abs/2003.13350 ,
    with ``gamma_0 = gamma_max``, ``gamma_1 = gamma_mid``, ``gamma_2 = gamma_min`` of the paper:

        gamma_j = gamma_max                                                    j = 0
        gamma_j = gamma_max + (gamma_mid - gamma_max) sigmoid(10 (2j - 6) / 6)  j = 1..6
        gamma_j = gamma_mid                                                    j = 7
        gamma_j = 1 - exp(((N - 1 - j) log(1 - gamma_mid) + (j - 8) log(1 - gamma_min))
                          / (N - 9))                                           j = 8..N-1

    The paper as printed (reproduced literally in e.g. github.com/pocokhc/agent57,
    ``agent/common.py``) reads ``gamma_mid + (gamma_max - gamma_mid) sigmoid(...)`` for
    ``j = 1..6`` and ``(N - 9) log(1 - gamma_mid)`` in the tail. Taken literally, that ladder
    rises from ~gamma_mid at ``j = 1`` back to ~gamma_max at ``j = 6`` and ends at
    ``1 - (1 - gamma_mid)(1 - gamma_min) = 0.99997`` instead of ``gamma_min``, contradicting the
    paper's own description (and figure) of a ladder that goes from 0.9999 down to 0.99. The
    corrected form above (as in github.com/yuta0821/agent57_pytorch, ``utils.py``) is
    non-increasing, hits ``gamma_mid`` at ``j = 7`` and ``j = 8``, and ends at ``gamma_min``.

    For ``N < 10`` the piecewise ladder does not fit (its tail's denominator is ``N - 9``), and
    NGU's form (App. A, https://arxiv.org/abs/2002.06038) is used instead, log-interpolating from
    ``gamma_max`` to ``gamma_min``:

        gamma_j = 1 - exp(((N - 1 - j) log(1 - gamma_max) + j log(1 - gamma_min)) / (N - 1))

    ``N = 1`` gives ``[gamma_max]``. In both forms ``gamma_0 = gamma_max`` is the largest
    discount, the ladder is non-increasing, and ``gamma_{N-1} = gamma_min`` when ``N > 1``.
    """
    _check_num_arms(num_arms)
    if not (0.0 < gamma_min <= gamma_mid <= gamma_max < 1.0):
        raise ParameterError(
            "discounts must satisfy 0 < gamma_min <= gamma_mid <= gamma_max < 1, got "
            f"gamma_min={gamma_min!r}, gamma_mid={gamma_mid!r}, gamma_max={gamma_max!r}",
            fix="use the Agent57 values gamma_max=0.9999, gamma_mid=0.997, gamma_min=0.99",
        )
    if num_arms < _MIN_ARMS_PIECEWISE:
        gammas = _log_interpolate(gamma_max, gamma_min, num_arms)
        gammas[0] = gamma_max
        if num_arms > 1:
            gammas[-1] = gamma_min
        return gammas

    gammas = np.empty(num_arms, dtype=np.float64)
    gammas[0] = gamma_max
    j = np.arange(1, 7, dtype=np.float64)
    gammas[1:7] = gamma_max + (gamma_mid - gamma_max) * _sigmoid(10.0 * (2.0 * j - 6.0) / 6.0)
    gammas[7] = gamma_mid
    gammas[8:] = _log_interpolate(gamma_mid, gamma_min, num_arms - 8)
    # Pin the end points exactly so that equality checks downstream are not at the mercy of
    # exp/log round-off.
    gammas[8] = gamma_mid
    gammas[-1] = gamma_min
    return gammas


def mixture(
    num_arms: int,
    beta_max: float = 0.3,
    gamma_max: float = 0.9999,
    gamma_mid: float = 0.997,
    gamma_min: float = 0.99,
) -> tuple[np.ndarray, np.ndarray]:
    """``(betas, gammas)``, each of shape ``(num_arms,)``: ``ngu_betas`` and ``agent57_gammas``."""
    return (
        ngu_betas(num_arms, beta_max),
        agent57_gammas(num_arms, gamma_max=gamma_max, gamma_mid=gamma_mid, gamma_min=gamma_min),
    )


@dataclass(frozen=True)
class Mixture:
    """The Agent57 family of policies: arm ``j`` uses ``(betas[j], gammas[j])``.

    Build it with ``Mixture.create``; the arrays are made read-only so that the frozen object
    really is immutable.
    """

    betas: np.ndarray
    """Intrinsic-reward weights, shape ``(N,)``, ``betas[0] = 0``, non-decreasing."""

    gammas: np.ndarray
    """Discounts, shape ``(N,)``, ``gammas[0]`` the largest, non-increasing."""

    def __post_init__(self) -> None:
        betas = np.array(self.betas, dtype=np.float64)
        gammas = np.array(self.gammas, dtype=np.float64)
        if betas.ndim != 1 or betas.shape != gammas.shape or betas.size == 0:
            raise ParameterError(
                f"betas and gammas must be non-empty 1-D arrays of the same length, got shapes "
                f"{betas.shape} and {gammas.shape}",
                fix="build the mixture with Mixture.create(num_arms)",
            )
        betas.setflags(write=False)
        gammas.setflags(write=False)
        object.__setattr__(self, "betas", betas)
        object.__setattr__(self, "gammas", gammas)

    @property
    def num_arms(self) -> int:
        """The number of arms ``N``."""
        return int(self.betas.shape[0])

    @classmethod
    def create(
        cls,
        num_arms: int,
        beta_max: float = 0.3,
        gamma_max: float = 0.9999,
        gamma_mid: float = 0.997,
        gamma_min: float = 0.99,
    ) -> Mixture:
        """The Agent57 mixture of ``num_arms`` arms (see ``mixture``)."""
        betas, gammas = mixture(num_arms, beta_max, gamma_max, gamma_mid, gamma_min)
        return cls(betas=betas, gammas=gammas)
