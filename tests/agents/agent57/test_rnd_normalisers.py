"""RND's two normalisers (issue 11): the error's running (not all-time) mean/std, and the input
whitening clip((x - mu) / sigma, -5, 5) with running observation statistics (RND paper,
section 2.4). Hand-computed numbers, with and without jit."""

from __future__ import annotations

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentos.agents.agent57 import rnd

JIT = pytest.mark.parametrize("jit", [False, True], ids=["nojit", "jit"])


def _f32(x) -> jnp.ndarray:
    return jnp.asarray(x, dtype=jnp.float32)


# --------------------------------------------------------------------------- error statistics


def test_running_mean_std_with_horizon_by_hand():
    stats = rnd.RunningMeanStd(horizon=2.0)  # the past's weight halves per new value
    stats.update([1.0, 3.0])
    assert (stats.count, stats.mean, stats.var) == (2.0, 2.0, 1.0)
    stats.update([5.0])
    # Weights 1 and 3: 0.5 each, 5: 1 -> count 2, mean (0.5 + 1.5 + 5) / 2 = 3.5,
    # var (0.5 * 2.5^2 + 0.5 * 0.5^2 + 1 * 1.5^2) / 2 = 2.75.
    assert stats.count == pytest.approx(2.0)
    assert stats.mean == pytest.approx(3.5, rel=1e-12)
    assert stats.var == pytest.approx(2.75, rel=1e-12)


def test_horizon_state_dict_resumes_exactly():
    rng = np.random.default_rng(0)
    original = rnd.RunningMeanStd(horizon=50.0)
    for n in (7, 30, 64):
        original.update(rng.normal(size=n))
    state = json.loads(json.dumps(original.state_dict()))
    resumed = rnd.RunningMeanStd(horizon=50.0)
    resumed.load_state_dict(state)
    batch = rng.normal(size=11)
    original.update(batch)
    resumed.update(batch)
    assert (resumed.count, resumed.mean, resumed.var) == (
        original.count,
        original.mean,
        original.var,
    )


def test_running_error_statistics_keep_alpha_informative_while_errors_fall():
    # While the predictor trains, errors fall (here 100 -> 1 over 200,000 errors in batches
    # of 32). A novel state's error of 20 is far above the recent errors but below the
    # all-time mean + std: all-time statistics clip its alpha to 1 (what issue 11's runs
    # showed); statistics over the last ~10,000 errors give it a large alpha.
    errors = 100.0 * 0.01 ** (np.arange(200_000) / 200_000)
    all_time, running = rnd.RunningMeanStd(), rnd.RunningMeanStd(horizon=10_000)
    for batch in np.split(errors, 6250):
        all_time.update(batch)
        running.update(batch)
    novel = np.asarray([20.0], np.float32)
    alpha_all_time = float(rnd.modulation(novel, all_time.mean, all_time.std)[0])
    alpha_running = float(rnd.modulation(novel, running.mean, running.std)[0])
    assert alpha_all_time == 1.0
    assert alpha_running == 5.0  # clipped at L
    # A familiar state (the latest error) stays at 1 under both.
    latest = np.asarray([errors[-1]], np.float32)
    assert float(rnd.modulation(latest, running.mean, running.std)[0]) == 1.0


def test_horizon_must_be_at_least_one():
    with pytest.raises(Exception, match="horizon"):
        rnd.RunningMeanStd(horizon=0.5)


# --------------------------------------------------------------------------- observation whitening


@JIT
def test_update_observation_stats_by_hand(jit):
    update = jax.jit(rnd.update_observation_stats) if jit else rnd.update_observation_stats
    stats = rnd.initial_observation_stats((2,))
    # The masked row (padding) does not count: x = [1, 3], y = [2, 6].
    stats = update(stats, _f32([[1, 2], [3, 6], [100, 100]]), _f32([1, 1, 0]))
    np.testing.assert_allclose(stats["mean"], [2.0, 4.0])
    np.testing.assert_allclose(stats["var"], [1.0, 4.0])
    assert float(stats["count"]) == 2.0
    # Merge [5, 4]: x = 1, 3, 5 -> mean 3, var 8/3; y = 2, 6, 4 -> mean 4, var 8/3.
    stats = update(stats, _f32([[5, 4]]), _f32([1]))
    np.testing.assert_allclose(stats["mean"], [3.0, 4.0], rtol=1e-6)
    np.testing.assert_allclose(stats["var"], [8 / 3, 8 / 3], rtol=1e-6)
    assert float(stats["count"]) == 3.0
    # No valid row: nothing changes.
    same = update(stats, _f32([[7, 7]]), _f32([0]))
    for key in stats:
        np.testing.assert_array_equal(same[key], stats[key])


@JIT
def test_update_observation_stats_scales_uint8_images(jit):
    update = jax.jit(rnd.update_observation_stats) if jit else rnd.update_observation_stats
    stats = update(
        rnd.initial_observation_stats((2,)),
        jnp.asarray([[255, 0], [51, 0]], jnp.uint8),
        _f32([1, 1]),
    )
    # In [0, 1]: x = [1, 0.2] -> mean 0.6, var 0.16; y = [0, 0].
    np.testing.assert_allclose(stats["mean"], [0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(stats["var"], [0.16, 0.0], rtol=1e-5, atol=1e-7)


@JIT
def test_errors_whiten_the_input_and_clip_at_five(jit):
    model = rnd.RNDModel((3,), features=(8,), output_dim=4)
    params = model.init(jax.random.PRNGKey(0))
    stats = {"mean": _f32([1.0, 0.0, 0.0]), "var": _f32([4.0, 1.0, 0.25]), "count": _f32(9)}
    obs = _f32([[3.0, -1.0, 0.5], [1.0, 9.0, -4.0]])
    # (x - mu) / sigma: [[1, -1, 1], [0, 9 -> 5, -8 -> -5]].
    whitened = _f32([[1.0, -1.0, 1.0], [0.0, 5.0, -5.0]])
    errors = functools.partial(model.errors, params)
    if jit:
        errors = jax.jit(errors)
    np.testing.assert_allclose(errors(obs, stats), errors(whitened), rtol=1e-5)
    loss = model.loss(params, obs, _f32([1, 1]), stats)
    np.testing.assert_allclose(loss, np.mean(errors(whitened)), rtol=1e-5)
