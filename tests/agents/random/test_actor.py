"""The random actor: seeded actions inside the action space, and exact resume."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import numpy as np
import pytest

from agentos.agents.random.actor import RandomActor
from agentos.errors import IncompatibleSpaceError
from agentos.runtime.roles import BuildContext, NoParams

OBS = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
SPACES = {
    "discrete": gymnasium.spaces.Discrete(3, start=-1),
    "box": gymnasium.spaces.Box(
        np.array([-2.0, 0.0], np.float32), np.array([2.0, 0.5], np.float32), dtype=np.float32
    ),
    "half_bounded_box": gymnasium.spaces.Box(
        np.array([0.0, -np.inf], np.float32), np.array([np.inf, np.inf], np.float32)
    ),
    "integer_box": gymnasium.spaces.Box(-3, 3, (2,), dtype=np.int64),
    "multi_discrete": gymnasium.spaces.MultiDiscrete([2, 5]),
    "multi_binary": gymnasium.spaces.MultiBinary(4),
}


def make_actor(action_space, seed: int = 0) -> RandomActor:
    context = BuildContext(
        name="actor",
        seed=seed,
        agent_dir=Path("."),
        observation_space=OBS,
        action_space=action_space,
    )
    return RandomActor(NoParams(), context)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_actions_lie_in_the_space(name):
    space = SPACES[name]
    actor = make_actor(space)
    actions, extras = actor.select_action(np.zeros((50, 2)), {}, explore=True, env_steps=0)
    assert actions.shape == (50,) + space.shape and extras == {}
    assert all(space.contains(action) for action in actions)


def test_discrete_actions_cover_the_space_uniformly():
    actor = make_actor(SPACES["discrete"])
    actions, _ = actor.select_action(np.zeros((3000, 2)), {}, explore=False, env_steps=0)
    counts = np.bincount(actions + 1, minlength=3)
    assert counts.min() > 900


def test_actions_are_seeded():
    space = SPACES["box"]
    obs = np.zeros((8, 2))
    a = make_actor(space, 0).select_action(obs, {}, explore=True, env_steps=0)[0]
    b = make_actor(space, 0).select_action(obs, {}, explore=True, env_steps=0)[0]
    c = make_actor(space, 1).select_action(obs, {}, explore=True, env_steps=0)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_state_round_trip():
    actor = make_actor(SPACES["discrete"])
    obs = np.zeros((10, 2))
    actor.select_action(obs, {}, explore=True, env_steps=0)
    other = make_actor(SPACES["discrete"], seed=5)
    other.load_state_dict(actor.state_dict())
    np.testing.assert_array_equal(
        actor.select_action(obs, {}, explore=True, env_steps=0)[0],
        other.select_action(obs, {}, explore=True, env_steps=0)[0],
    )


def test_unsupported_space_is_rejected():
    space = gymnasium.spaces.Tuple([gymnasium.spaces.Discrete(2)])
    with pytest.raises(IncompatibleSpaceError, match="random actor"):
        RandomActor.check_spaces(NoParams(), OBS, space)


def test_observe_stores_nothing():
    assert make_actor(SPACES["discrete"]).observe(None) == 0
