"""Fixed-number tests of the Agent57 (beta_j, gamma_j) ladders.

The ladders are plain numpy (they are built once, outside any jitted function), so there is no
jit variant to check here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from agentos.agents.agent57 import mixtures
from agentos.agents.agent57.mixtures import Mixture, agent57_gammas, mixture, ngu_betas
from agentos.errors import ParameterError

ALL_N = range(1, 33)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# --------------------------------------------------------------------------- betas


def test_ngu_betas_small_n_by_hand():
    np.testing.assert_array_equal(ngu_betas(1), [0.0])
    np.testing.assert_array_equal(ngu_betas(2), [0.0, 0.3])
    np.testing.assert_array_equal(ngu_betas(2, beta_max=0.5), [0.0, 0.5])
    # N = 3: the one middle arm i = 1 has 10 (2 - 1) / 1 = 10 -> 0.3 sigmoid(10) = 0.2999864.
    np.testing.assert_allclose(ngu_betas(3), [0.0, 0.2999864, 0.3], rtol=1e-6)


def test_ngu_betas_n4_by_hand():
    # N = 4, N - 2 = 2:
    #   i = 1: 10 (2 - 2) / 2 = 0  -> 0.3 sigmoid(0)  = 0.15
    #   i = 2: 10 (4 - 2) / 2 = 10 -> 0.3 sigmoid(10) = 0.3 * 0.9999546 = 0.2999864
    np.testing.assert_allclose(ngu_betas(4), [0.0, 0.15, 0.2999864, 0.3], rtol=1e-6)


def test_ngu_betas_n32_middle():
    betas = ngu_betas(32)
    # i = 15: 10 (30 - 30) / 30 = 0 -> 0.15.
    # i = 1: 10 (2 - 30) / 30 = -28/3, e^(28/3) = e^9 e^(1/3) = 8103.08 * 1.39561 = 11308.7,
    #        0.3 / (1 + 11308.7) = 2.6526e-5.
    assert betas[15] == pytest.approx(0.15)
    assert betas[1] == pytest.approx(0.3 * _sigmoid(-28.0 / 3.0))
    assert betas[1] == pytest.approx(2.6526e-5, rel=1e-3)


@pytest.mark.parametrize("n", ALL_N)
def test_ngu_betas_invariants(n):
    betas = ngu_betas(n)
    assert betas.shape == (n,) and betas.dtype == np.float64
    assert betas[0] == 0.0
    assert np.all(np.diff(betas) >= 0.0)
    if n > 1:
        assert betas[-1] == 0.3


# --------------------------------------------------------------------------- gammas


def test_agent57_gammas_small_n_use_ngu_log_interpolation():
    np.testing.assert_array_equal(agent57_gammas(1), [0.9999])
    np.testing.assert_array_equal(agent57_gammas(2), [0.9999, 0.99])
    # N = 3, j = 1: 1 - exp((log(1e-4) + log(1e-2)) / 2) = 1 - sqrt(1e-6) = 0.999.
    np.testing.assert_allclose(agent57_gammas(3), [0.9999, 0.999, 0.99], rtol=0, atol=1e-12)
    # N = 5, j = 2: 1 - exp((2 log(1e-4) + 2 log(1e-2)) / 4) = 0.999 again.
    assert agent57_gammas(5)[2] == pytest.approx(0.999, abs=1e-12)


def test_agent57_gammas_n32_paper_values():
    g = agent57_gammas(32)
    assert g[0] == 0.9999
    # j = 1: 10 (2 - 6) / 6 = -20/3, sigmoid(-20/3) = 1 / (1 + 786.13) = 0.0012708
    #        -> 0.9999 - 0.0029 * 0.0012708 = 0.9998963
    assert g[1] == pytest.approx(0.9999 - 0.0029 * _sigmoid(-20.0 / 3.0), abs=1e-12)
    assert g[1] == pytest.approx(0.9998963, abs=1e-7)
    # j = 3: sigmoid(0) = 1/2 -> halfway between 0.9999 and 0.997 = 0.99845.
    assert g[3] == pytest.approx(0.99845, abs=1e-12)
    # j = 6: sigmoid(10) = 0.9999546 -> 0.9999 - 0.0029 * 0.9999546 = 0.9970001.
    assert g[6] == pytest.approx(0.9970001, abs=1e-7)
    # j = 7 is gamma_mid; the tail starts at gamma_mid (j = 8) and ends at gamma_min (j = 31).
    assert g[7] == 0.997 and g[8] == 0.997 and g[31] == 0.99


def test_agent57_gammas_tail_by_hand():
    # N = 11, tail j = 8, 9, 10 over N - 9 = 2 steps; j = 9 is the geometric middle:
    # 1 - exp((log(0.003) + log(0.01)) / 2) = 1 - sqrt(3e-5) = 1 - 0.0054772 = 0.9945228.
    g = agent57_gammas(11)
    np.testing.assert_allclose(g[8:], [0.997, 0.9945228, 0.99], rtol=0, atol=1e-7)
    # N = 10 is the smallest piecewise ladder: its tail is just [gamma_mid, gamma_min].
    g10 = agent57_gammas(10)
    np.testing.assert_allclose(g10[:8], agent57_gammas(32)[:8], rtol=0, atol=0)
    np.testing.assert_array_equal(g10[8:], [0.997, 0.99])


def test_agent57_gammas_do_not_follow_the_misprinted_formula():
    # Read literally, the printed App. G formula has gamma_1 + (gamma_0 - gamma_1) sigmoid(.)
    # for j = 1..6 (rising from ~0.997 to ~0.9999) and a tail ending at
    # 1 - exp(log(0.003) + log(0.01)) = 1 - 3e-5 = 0.99997 instead of 0.99.
    g = agent57_gammas(32)
    literal_last = 1.0 - math.exp(math.log(0.003) + math.log(0.01))
    assert literal_last == pytest.approx(0.99997)
    assert g[-1] == 0.99 != pytest.approx(literal_last)
    assert g[1] > g[6]


@pytest.mark.parametrize("n", ALL_N)
def test_exploitative_arm_has_largest_gamma_unlike_drlearner_linspace(n):
    """DRLearner built gammas with a linspace that gave arm 0 (beta = 0) the SMALLEST gamma."""
    betas, gammas = mixture(n)
    assert betas[0] == 0.0
    assert gammas[0] == 0.9999 == gammas.max()
    if n > 1:
        drlearner_like = np.linspace(0.99, 0.9999, n)
        assert drlearner_like[0] == gammas.min()  # what the bug does ...
        assert gammas[0] > gammas[-1]  # ... and what we do instead.


@pytest.mark.parametrize("n", ALL_N)
def test_agent57_gammas_invariants(n):
    gammas = agent57_gammas(n)
    assert gammas.shape == (n,) and gammas.dtype == np.float64
    assert np.all(np.diff(gammas) <= 0.0), gammas
    assert np.all((gammas >= 0.99) & (gammas <= 0.9999))
    if n > 1:
        assert gammas[-1] == 0.99


def test_agent57_gammas_custom_range():
    g = agent57_gammas(3, gamma_max=0.99, gamma_mid=0.95, gamma_min=0.9)
    # 1 - exp((log(0.01) + log(0.1)) / 2) = 1 - sqrt(1e-3) = 0.9683772.
    np.testing.assert_allclose(g, [0.99, 0.9683772, 0.9], rtol=0, atol=1e-7)


# --------------------------------------------------------------------------- Mixture


def test_mixture_dataclass_matches_functions_and_is_read_only():
    m = Mixture.create(8)
    betas, gammas = mixture(8)
    np.testing.assert_array_equal(m.betas, betas)
    np.testing.assert_array_equal(m.gammas, gammas)
    assert m.num_arms == 8
    with pytest.raises(ValueError):
        m.betas[0] = 1.0
    with pytest.raises(AttributeError):
        m.betas = betas  # type: ignore[misc]


def test_mixture_rejects_mismatched_arrays():
    with pytest.raises(ParameterError):
        Mixture(betas=np.zeros(3), gammas=np.zeros(4))


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("n", [0, -1, 2.0, True])
def test_bad_num_arms(n):
    with pytest.raises(ParameterError):
        ngu_betas(n)
    with pytest.raises(ParameterError):
        agent57_gammas(n)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gamma_max": 1.0},
        {"gamma_min": 0.0},
        {"gamma_mid": 0.98},  # below gamma_min
        {"gamma_mid": 0.99995},  # above gamma_max
    ],
)
def test_bad_gammas(kwargs):
    with pytest.raises(ParameterError):
        agent57_gammas(32, **kwargs)


@pytest.mark.parametrize("beta_max", [-0.1, float("nan"), float("inf")])
def test_bad_beta_max(beta_max):
    with pytest.raises(ParameterError):
        ngu_betas(4, beta_max)


def test_piecewise_threshold_is_ten_arms():
    # Below 10 arms the ladder is NGU's single log-interpolation, whose second arm is not the
    # piecewise sigmoid value; from 10 on it is.
    assert mixtures._MIN_ARMS_PIECEWISE == 10
    assert agent57_gammas(9)[1] != agent57_gammas(32)[1]
    assert agent57_gammas(10)[1] == agent57_gammas(32)[1]
