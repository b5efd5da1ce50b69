"""Asking an actor for actions, with the checks a user's own actor needs.

Built-in actors are tested and called as they are. An actor from the user's own files (the
``agentos init`` template invites editing one) is checked like an environment: an error it
raises becomes one message naming the actor and the line, and what it returns must be
``(actions, extras)`` with one action per environment copy inside the action space, so a
wrong action is blamed on the actor rather than on the environment it was sent to.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agentos.errors import AgentOSError, raised_at

_BUILT_IN = "agentos."
_FIX = "fix the actor's select_action(); --debug shows the whole traceback"


def is_user_actor(actor: Any) -> bool:
    """Whether ``actor`` comes from the user's files rather than from agentos itself."""
    return not type(actor).__module__.startswith(_BUILT_IN)


def select_actions(
    actor: Any, env: Any, observation: Any, extras: Any, *, explore: bool, env_steps: int
) -> tuple[Any, Any]:
    """``actor.select_action(...)`` -> (actions, extras); a user's actor is checked."""
    if not is_user_actor(actor):
        return actor.select_action(observation, extras, explore=explore, env_steps=env_steps)
    name = type(actor).__name__
    try:
        result = actor.select_action(observation, extras, explore=explore, env_steps=env_steps)
    except AgentOSError:
        raise
    except Exception as e:
        raise AgentOSError(
            f"the actor {name} failed in select_action(): {type(e).__name__}: {e}{raised_at(e)}"[
                :600
            ],
            fix=_FIX,
        ) from e
    if not (isinstance(result, tuple) and len(result) == 2):
        raise AgentOSError(
            f"the actor {name}'s select_action() returned {_describe(result)}, not a pair "
            "(actions, extras)",
            fix="return (actions, extras): one action per environment copy, and a dict "
            "(may be empty) of what the actor carries to the next step",
        )
    space = getattr(env, "action_space", None)  # None: a stand-in without spaces
    if space is not None:
        check_actions(result[0], space, int(env.num_envs), name)
    return result


def check_actions(actions: Any, space: Any, num_envs: int, actor: str) -> None:
    """Refuse actions that are not one per copy inside one copy's ``space``."""
    import gymnasium as gym

    array = np.asarray(actions) if actions is not None else None
    if isinstance(space, gym.spaces.Discrete):
        expected: tuple[int, ...] = (num_envs,)
    elif isinstance(space, gym.spaces.Box):
        expected = (num_envs, *space.shape)
    else:
        return
    problem = None
    if array is None or array.shape != expected:
        shape = None if array is None else array.shape
        problem = f"actions of shape {shape}, where {num_envs} copies need {expected}"
    elif isinstance(space, gym.spaces.Discrete):
        low, high = int(space.start), int(space.start + space.n - 1)
        if array.dtype.kind not in "iub":
            problem = f"{array.dtype} actions (e.g. {array.reshape(-1)[0]}), not integers"
        elif array.min() < low or array.max() > high:
            problem = f"the action {_outside(array, low, high)}, outside {low}..{high}"
    elif not np.all(np.isfinite(array.astype(np.float64))):
        problem = "a NaN or infinite action"
    if problem is not None:
        raise AgentOSError(
            f"the actor {actor}'s select_action() returned {problem} (the action space is {space})",
            fix="return one action per environment copy, each inside the action space",
        )


def _outside(array: np.ndarray, low: int, high: int) -> int:
    flat = array.reshape(-1)
    return int(flat[(flat < low) | (flat > high)][0])


def _describe(value: Any) -> str:
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    return f"a {type(value).__name__}"
