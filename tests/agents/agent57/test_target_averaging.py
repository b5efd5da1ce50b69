"""The Agent57 learner's target networks: copies every ``target_update_period`` updates, or
Polyak averaging with ``target_update_tau`` < 1 (target <- tau online + (1 - tau) target)."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest
from tiny_agents import TINY_AGENT57

import agentos
from agentos.cli.init_cmd import init
from agentos.components.install import install
from agentos.errors import ParameterError
from agentos.runtime.loop import training_step


def _learner_with_full_replay(tmp_path: Path, overrides: list[str]):
    folder = tmp_path / "agent"
    init(folder, None, False)
    install(folder, ["agent57", "permuted_chain"], [])
    built = agentos.load_agent(folder, [*TINY_AGENT57, *overrides]).graph.build(seed=0)
    env, actor, learner = built.one("environment"), built.one("actor"), built.one("learner")
    obs, extras = env.reset(seed=0), actor.initial_extras(2)
    while not learner.ready():
        step, extras = training_step(env, actor, obs, extras, 0)
        obs = step.observation
    return built, learner


def _leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def test_polyak_target_moves_a_quarter_of_the_way_at_each_update(tmp_path):
    built, learner = _learner_with_full_replay(
        tmp_path, ["learner.target_update_period=1", "learner.target_update_tau=0.25"]
    )
    target = _leaves(learner.state.target_params)
    for _ in range(2):
        learner.step(1)
        online = _leaves(learner.state.params["q"])
        expected = [0.25 * o + 0.75 * t for o, t in zip(online, target, strict=True)]
        got = _leaves(learner.state.target_params)
        for e, g in zip(expected, got, strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-7)
        # the online networks did move, so the target is strictly between the two
        assert any(not np.allclose(o, g) for o, g in zip(online, got, strict=True))
        target = got
    built.close()


def test_hard_copy_every_third_update(tmp_path):
    built, learner = _learner_with_full_replay(tmp_path, ["learner.target_update_period=3"])
    start = _leaves(learner.state.target_params)
    learner.step(2)
    for s, g in zip(start, _leaves(learner.state.target_params), strict=True):
        np.testing.assert_array_equal(g, s)
    learner.step(1)
    online, target = _leaves(learner.state.params["q"]), _leaves(learner.state.target_params)
    for o, t in zip(online, target, strict=True):
        np.testing.assert_array_equal(t, o)
    assert any(not np.array_equal(s, t) for s, t in zip(start, target, strict=True))
    built.close()


@pytest.mark.parametrize("tau", [0.0, -0.1, 1.5])
def test_a_tau_outside_0_1_is_refused(tau):
    from agentos.agents.agent57.learner import Agent57Learner

    with pytest.raises(ParameterError, match="target_update_tau"):
        Agent57Learner.Params(target_update_tau=tau)
