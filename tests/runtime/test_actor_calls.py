"""A user's own actor (the template's random_policy.py, edited) is checked like an environment:
what it raises or returns wrongly is one message naming the actor, not the environment."""

from __future__ import annotations

import numpy as np
import pytest

from tests.cli.bad_input_checks import assert_clean_exit_2

RETURN = "        return sample_actions(self.action_space, self._rng, num), extras\n"


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ("        raise KeyError('boom in my actor')\n",
         ("actor RandomActor failed in select_action()", "boom in my actor", "random_policy.py:")),
        ("        return sample_actions(self.action_space, self._rng, num)\n",
         ("RandomActor's select_action() returned", "not a pair (actions, extras)")),
        ("        return np.full(num, 7), extras\n",
         ("RandomActor's select_action() returned the action 7, outside 0..1",)),
        ("        return np.full(num, 0.5), extras\n",
         ("float64 actions (e.g. 0.5), not integers",)),
        ("        return np.zeros((num, 3), np.int64), extras\n",
         ("actions of shape (1, 3), where 1 copies need (1,)",)),
        ("        return None, extras\n", ("actions of shape None",)),
    ],
)  # fmt: skip
@pytest.mark.parametrize(
    "command", [("run", "-e", "1"), ("record", "-e", "1", "--dataset", "x-v0")]
)
def test_a_users_actor_that_fails_is_named(agent_dir, cli, body, fragments, command):
    policy = agent_dir / "random_policy.py"
    source = policy.read_text()
    assert RETURN in source
    policy.write_text(source.replace(RETURN, body))
    code, out, err = cli(*command, "--agent", agent_dir)
    assert_clean_exit_2(code, out, err, fragments)
    assert "the environment" not in err


def test_built_in_actors_are_not_checked_per_step():
    from agentos.agents.random.actor import RandomActor
    from agentos.runtime.actor_calls import check_actions, is_user_actor

    assert not is_user_actor(RandomActor.__new__(RandomActor))
    import gymnasium as gym

    check_actions(np.array([0, 1]), gym.spaces.Discrete(2), 2, "A")  # fine
    check_actions(np.zeros((2, 3), np.float32), gym.spaces.Box(-1, 1, (3,)), 2, "A")  # fine
    with pytest.raises(Exception, match="NaN or infinite"):
        check_actions(np.full((2, 3), np.nan), gym.spaces.Box(-1, 1, (3,)), 2, "A")
