"""Tests of the RND lifelong-novelty module: hand-computed numbers, with and without jit."""

from __future__ import annotations

import functools
import json
import logging

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from agentos.agents.agent57 import rnd
from agentos.errors import ParameterError

JIT = pytest.mark.parametrize("jit", [False, True], ids=["nojit", "jit"])


def _variant(fn, jit: bool, **static_kwargs):
    """``fn`` with ``static_kwargs`` bound, jitted if ``jit``."""
    bound = functools.partial(fn, **static_kwargs)
    return jax.jit(bound) if jit else bound


def _f32(x) -> jnp.ndarray:
    return jnp.asarray(x, dtype=jnp.float32)


PRED = [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]
TARGET = [[1.0, 0.0, 1.0], [1.0, -1.0, 2.0]]
# row 0: (1-1)^2 + (2-0)^2 + (3-1)^2 = 0 + 4 + 4 = 8
# row 1: (0-1)^2 + (0+1)^2 + (0-2)^2 = 1 + 1 + 4 = 6
ERRORS = [8.0, 6.0]


# --------------------------------------------------------------------------- pure math


@JIT
def test_rnd_error_is_squared_norm_per_row(jit):
    fn = _variant(rnd.rnd_error, jit)
    np.testing.assert_allclose(fn(_f32(PRED), _f32(TARGET)), ERRORS, rtol=1e-6)


@JIT
@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        ([1.0, 0.0], 8.0),  # 8 / 1
        ([1.0, 1.0], 7.0),  # (8 + 6) / 2
        ([0.0, 1.0], 6.0),  # 6 / 1
        ([0.0, 0.0], 0.0),  # 0 / max(0, 1)
    ],
)
def test_rnd_loss_masked_mean(jit, mask, expected):
    fn = _variant(rnd.rnd_loss, jit)
    assert float(fn(_f32(PRED), _f32(TARGET), _f32(mask))) == pytest.approx(expected, rel=1e-6)
    bool_mask = jnp.asarray(mask, dtype=bool)
    assert float(fn(_f32(PRED), _f32(TARGET), bool_mask)) == pytest.approx(expected, rel=1e-6)


@JIT
def test_rnd_loss_gradients(jit):
    mask = _f32([1.0, 0.0])
    grad_fn = _variant(jax.grad(rnd.rnd_loss, argnums=(0, 1)), jit)
    grad_pred, grad_target = grad_fn(_f32(PRED), _f32(TARGET), mask)
    # d/dpred of (1/1) * sum_k (pred_0k - target_0k)^2 = 2 (pred_0 - target_0) = [0, 4, 4];
    # row 1 is masked out.
    np.testing.assert_allclose(grad_pred, [[0.0, 4.0, 4.0], [0.0, 0.0, 0.0]], atol=1e-6)
    # Without the stop_gradient this would be -[0, 4, 4].
    np.testing.assert_array_equal(grad_target, np.zeros((2, 3)))


@JIT
def test_modulation_by_hand(jit):
    fn = _variant(rnd.modulation, jit)
    mean, std = 2.0, 0.5
    errors = _f32([1.0, 2.0, 2.5, 2.8, 10.0])
    # 1 + (e - 2) / 0.5 = [-1, 1, 2, 2.6, 17] -> clip to [1, 5] = [1, 1, 2, 2.6, 5]
    np.testing.assert_allclose(fn(errors, mean, std), [1.0, 1.0, 2.0, 2.6, 5.0], rtol=1e-6)
    fn_l3 = _variant(rnd.modulation, jit, max_modulation=3.0)
    np.testing.assert_allclose(fn_l3(errors, mean, std), [1.0, 1.0, 2.0, 2.6, 3.0], rtol=1e-6)


@JIT
def test_modulation_zero_std_is_finite(jit):
    fn = _variant(rnd.modulation, jit)
    # sigma = 0: equal to the mean -> 1 + 0 / eps = 1; above it -> huge -> L.
    np.testing.assert_allclose(fn(_f32([3.0, 3.5]), 3.0, 0.0), [1.0, 5.0])


@JIT
def test_modulated_intrinsic_reward(jit):
    fn = _variant(rnd.modulated_intrinsic_reward, jit)
    # r_episodic * min(max(alpha, 1), 5): 0.5 * 1, 0.5 * 2.5, 0.5 * 5
    out = fn(_f32([0.5, 0.5, 0.5]), _f32([0.2, 2.5, 9.0]))
    np.testing.assert_allclose(out, [0.5, 1.25, 2.5], rtol=1e-6)


@JIT
def test_normalise_observation_by_hand(jit):
    fn = _variant(rnd.normalise_observation, jit)
    obs = _f32([[3.0, 5.0], [-10.0, 1.0]])
    # (obs - [0, 1]) / [1, 2] = [[3, 2], [-10, 0]] -> clip [-5, 5] = [[3, 2], [-5, 0]]
    out = fn(obs, _f32([0.0, 1.0]), _f32([1.0, 2.0]))
    np.testing.assert_allclose(out, [[3.0, 2.0], [-5.0, 0.0]], rtol=1e-6)


# --------------------------------------------------------------------------- running statistics


def test_running_mean_std_by_hand():
    stats = rnd.RunningMeanStd()
    assert (stats.count, stats.mean, stats.std) == (0, 0.0, 0.0)
    stats.update([1.0, 2.0, 3.0])
    # mean 2, var ((-1)^2 + 0 + 1^2) / 3 = 2/3
    assert stats.count == 3
    assert stats.mean == pytest.approx(2.0)
    assert stats.var == pytest.approx(2.0 / 3.0)
    stats.update([5.0])
    # values 1, 2, 3, 5: mean 11/4 = 2.75; squared deviations 3.0625 + 0.5625 + 0.0625 +
    # 5.0625 = 8.75; var 8.75 / 4 = 2.1875
    assert stats.count == 4
    assert stats.mean == pytest.approx(2.75, rel=1e-12)
    assert stats.var == pytest.approx(2.1875, rel=1e-12)
    assert stats.std == pytest.approx(np.sqrt(2.1875), rel=1e-12)
    stats.update(np.zeros((0,)))  # an empty batch changes nothing
    assert stats.count == 4 and stats.mean == pytest.approx(2.75, rel=1e-12)


def test_running_mean_std_matches_numpy_over_concatenation():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=n) for n in (1, 7, 3, 50, 2, 1000)]
    stats = rnd.RunningMeanStd()
    for batch in batches:
        stats.update(batch)
    everything = np.concatenate(batches)
    assert stats.count == everything.size
    assert stats.mean == pytest.approx(np.mean(everything), rel=1e-12)
    assert stats.std == pytest.approx(np.std(everything), rel=1e-12)


def test_running_mean_std_vector_shape_matches_numpy():
    rng = np.random.default_rng(1)
    batches = [rng.normal([0.0, 10.0], [1.0, 3.0], size=(n, 2)) for n in (4, 1, 9)]
    stats = rnd.RunningMeanStd(shape=(2,))
    for batch in batches:
        stats.update(batch)
    everything = np.concatenate(batches)
    np.testing.assert_allclose(stats.mean, everything.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.std, everything.std(axis=0), rtol=1e-12)
    with pytest.raises(ParameterError, match="shape"):
        stats.update(np.zeros((3, 5)))


def test_running_mean_std_state_dict_resumes_exactly():
    rng = np.random.default_rng(2)
    original = rnd.RunningMeanStd()
    original.update(rng.normal(size=17))
    original.update(rng.normal(size=5))
    state = json.loads(json.dumps(original.state_dict()))  # plain numbers survive JSON
    assert isinstance(state["mean"], float) and isinstance(state["count"], int)
    resumed = rnd.RunningMeanStd()
    resumed.load_state_dict(state)
    nxt = rng.normal(size=11)
    original.update(nxt)
    resumed.update(nxt)
    assert (resumed.count, resumed.mean, resumed.std) == (
        original.count,
        original.mean,
        original.std,
    )
    with pytest.raises(ParameterError, match="shape"):
        rnd.RunningMeanStd(shape=(2,)).load_state_dict(state)
    with pytest.raises(ParameterError, match="missing"):
        resumed.load_state_dict({"count": 1})


# --------------------------------------------------------------------------- model


OBS_SHAPE = (8,)


@pytest.fixture(scope="module")
def model_and_params():
    model = rnd.RNDModel(OBS_SHAPE, features=(32,), output_dim=16)
    return model, model.init(jax.random.PRNGKey(0))


def test_init_gives_different_target_and_predictor(model_and_params):
    _, params = model_and_params
    assert set(params) == {"predictor", "target"}
    pred_leaves = jax.tree_util.tree_leaves(params["predictor"])
    target_leaves = jax.tree_util.tree_leaves(params["target"])
    assert [p.shape for p in pred_leaves] == [t.shape for t in target_leaves]
    assert not np.allclose(pred_leaves[-1], target_leaves[-1])


@JIT
def test_errors_match_rnd_error_of_network_outputs(jit, model_and_params):
    model, params = model_and_params
    obs = jax.random.normal(jax.random.PRNGKey(1), (5, *OBS_SHAPE))
    errors = _variant(model.errors, jit)(params, obs)
    assert errors.shape == (5,)
    g_hat = model.net.apply(params["predictor"], obs)
    g = model.net.apply(params["target"], obs)
    np.testing.assert_allclose(errors, np.sum((np.asarray(g_hat) - np.asarray(g)) ** 2, -1), 1e-5)
    assert np.all(np.asarray(errors) > 0)
    # Identical networks predict perfectly.
    same = {"predictor": params["target"], "target": params["target"]}
    np.testing.assert_array_equal(_variant(model.errors, jit)(same, obs), np.zeros(5))


@JIT
def test_loss_has_no_gradient_for_target(jit, model_and_params):
    model, params = model_and_params
    obs = jax.random.normal(jax.random.PRNGKey(2), (6, *OBS_SHAPE))
    mask = _f32([1, 1, 1, 0, 1, 0])
    loss_fn = _variant(model.loss, jit)
    grads = jax.grad(loss_fn)(params, obs, mask)
    for leaf in jax.tree_util.tree_leaves(grads["target"]):
        np.testing.assert_array_equal(leaf, np.zeros_like(leaf))
    assert any(np.any(leaf != 0) for leaf in jax.tree_util.tree_leaves(grads["predictor"]))
    errors = model.errors(params, obs)
    expected = float(np.sum(np.asarray(errors) * np.asarray(mask)) / 4.0)
    assert float(loss_fn(params, obs, mask)) == pytest.approx(expected, rel=1e-5)


def test_errors_reject_wrong_observation_shape(model_and_params):
    model, params = model_and_params
    with pytest.raises(ParameterError, match="shape"):
        model.errors(params, jnp.zeros((2, 7)))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_modulation": 0.5},
        {"max_modulation": float("nan")},
        {"output_dim": 0},
        {"features": (0,)},
        {"observation_shape": (0, 3)},
    ],
)
def test_model_rejects_bad_parameters(kwargs):
    args = {"observation_shape": OBS_SHAPE, **kwargs}
    with pytest.raises(ParameterError):
        rnd.RNDModel(**args)


def test_alpha_updates_normaliser_then_modulates(model_and_params):
    model, params = model_and_params
    obs = np.asarray(jax.random.normal(jax.random.PRNGKey(3), (10, *OBS_SHAPE)))
    errors = np.asarray(model.errors(params, obs), dtype=np.float64)

    fresh = rnd.RunningMeanStd()
    np.testing.assert_array_equal(model.alpha(params, obs, fresh, update=False), np.ones(10))
    assert fresh.count == 0

    normaliser = rnd.RunningMeanStd()
    alpha = model.alpha(params, obs, normaliser)
    assert alpha.shape == (10,) and alpha.dtype == np.float32
    # The statistics include this batch: alpha = clip(1 + (e - mean(e)) / std(e), 1, 5).
    assert normaliser.count == 10
    assert normaliser.mean == pytest.approx(errors.mean(), rel=1e-5)
    expected = np.clip(1.0 + (errors - errors.mean()) / errors.std(), 1.0, 5.0)
    np.testing.assert_allclose(alpha, expected, rtol=1e-4)
    assert np.any(alpha == 1.0) and np.any(alpha > 1.0)

    before = normaliser.state_dict()
    model.alpha(params, obs, normaliser, update=False)
    assert normaliser.state_dict() == before


def test_alpha_far_above_running_mean_saturates_at_l(model_and_params):
    model, params = model_and_params
    obs = np.asarray(jax.random.normal(jax.random.PRNGKey(4), (4, *OBS_SHAPE)))
    errors = np.asarray(model.errors(params, obs), dtype=np.float64)
    normaliser = rnd.RunningMeanStd()
    # A history with mean 0 and std 1e-3 makes every positive error far above the mean.
    normaliser.load_state_dict({"count": 1000, "mean": 0.0, "var": 1e-6})
    assert np.all(errors > 0.1)
    np.testing.assert_array_equal(model.alpha(params, obs, normaliser, update=False), 5.0)


# --------------------------------------------------------------------------- learning


def test_predictor_learns_seen_observations_but_not_far_ones():
    model = rnd.RNDModel(OBS_SHAPE)
    params = model.init(jax.random.PRNGKey(0))
    key_seen, key_far = jax.random.split(jax.random.PRNGKey(1))
    seen = jax.random.normal(key_seen, (64, *OBS_SHAPE))
    far = jax.random.normal(key_far, (64, *OBS_SHAPE)) + 6.0
    mask = jnp.ones((64,))
    optimiser = optax.adam(1e-3)
    opt_state = optimiser.init(params["predictor"])

    def loss_fn(predictor):
        return model.loss({"predictor": predictor, "target": params["target"]}, seen, mask)

    def step(carry, _):
        predictor, opt_state = carry
        grads = jax.grad(loss_fn)(predictor)
        updates, opt_state = optimiser.update(grads, opt_state, predictor)
        return (optax.apply_updates(predictor, updates), opt_state), None

    @jax.jit
    def train(predictor, opt_state):
        # One compiled scan keeps the 300 Adam steps well under the time budget.
        (predictor, _), _ = jax.lax.scan(step, (predictor, opt_state), None, length=300)
        return predictor

    errors = jax.jit(model.errors)
    seen_before = float(jnp.mean(errors(params, seen)))
    predictor = train(params["predictor"], opt_state)
    trained = {"predictor": predictor, "target": params["target"]}
    seen_after = float(jnp.mean(errors(trained, seen)))
    far_after = float(jnp.mean(errors(trained, far)))

    logging.getLogger(__name__).info(
        "RND error: seen %.4f -> %.4f, far %.4f", seen_before, seen_after, far_after
    )
    assert seen_after < seen_before / 5.0, (seen_before, seen_after)
    assert far_after > 5.0 * seen_after, (seen_after, far_after)
    # Novel observations get the largest modulator.
    normaliser = rnd.RunningMeanStd()
    model.alpha(trained, seen, normaliser)
    assert np.all(model.alpha(trained, far, normaliser, update=False) == 5.0)
