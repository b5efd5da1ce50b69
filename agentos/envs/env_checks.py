"""Checks of a user's own environment class (a local or git ``gymnasium.Env``): gymnasium's
env checker at build time (``check_environment``), observations that hold values, and every
later ``reset``/``step`` result (``step_contract``); and, for any environment, finite
observations (``check_finite_observations``). Each failure is one AgentOSError naming the
class, what it returned and what it should."""

from __future__ import annotations

import logging
import warnings
from typing import Any

from agentos.errors import AgentOSError, raised_at

logger = logging.getLogger(__name__)


def check_observations_hold_values(space: Any, label: str) -> None:
    """Refuse observations of no values (a ``Box`` of shape ``(0,)``): the networks divide by
    their input size (``ZeroDivisionError`` deep in JAX)."""
    import math

    shape = getattr(space, "shape", None)
    if isinstance(shape, tuple) and shape and math.prod(shape) == 0:
        raise AgentOSError(
            f"the environment {label}'s observations hold no values: {space}",
            fix="give the observation_space at least one entry (an agent acts on what it "
            "observes), or check environment.params.observation_indices and wrappers",
        )


def check_finite_observations(obs: Any, label: str, call: str, params: Any) -> None:
    """Refuse NaN / infinite observations ``[copies, ...]`` of any environment, naming the
    call and the first such copy, unless ``params.check_finite`` is off (the rewards of a
    user's class are checked by ``step_contract``)."""
    import numpy as np

    if not params.check_finite or obs.dtype.kind != "f":
        return
    finite = np.isfinite(obs).reshape(len(obs), -1).all(axis=1)
    if not finite.all():
        raise AgentOSError(
            f"the environment {label} returned a NaN or infinite observation from {call} "
            f"(copy {int(np.flatnonzero(~finite)[0])})",
            fix="fix the environment (or its kwargs/wrappers in the spec); or set "
            "environment.params.check_finite: false where such values are meant",
        )


_FLOAT32_MAX = 3.4028234663852886e38


def step_contract(env: Any, name: str) -> Any:
    """``env`` (a user's gymnasium.Env class) with every ``reset``/``step`` result checked
    against gymnasium's API: the env checker tries the first steps only, and a later result of
    the wrong form fails deep in the vector code (``Output array is the wrong shape``), or a
    NaN reward trains a learner to NaN. A broken result is an AgentOSError naming the class,
    the call, what it returned and what it should."""
    import math

    import gymnasium
    import numpy as np
    from gymnasium import spaces

    for attribute in ("observation_space", "action_space"):
        if not isinstance(getattr(env, attribute, None), spaces.Space):
            raise AgentOSError(
                f"the environment {name} has no {attribute} (a gymnasium Space), found "
                f"{type(getattr(env, attribute, None)).__name__}",
                fix=f"set self.{attribute} in {name}.__init__, e.g. gymnasium.spaces."
                + ("Box(...)" if attribute == "observation_space" else "Discrete(n)"),
            )
    space = env.observation_space
    shape = space.shape if isinstance(space, spaces.Box) else None

    def refuse(call: str, what: str, fix: str) -> AgentOSError:
        return AgentOSError(f"the environment {name}'s {call} returned {what}", fix=fix)

    def check_observation(call: str, obs: Any) -> None:
        if obs is None:
            raise refuse(call, "the observation None", f"return an observation of {space}")
        if shape is not None and np.shape(obs) != shape:
            raise refuse(
                call,
                f"an observation of shape {np.shape(obs)}, but its observation_space {space} "
                f"has shape {shape}",
                "return observations of the observation_space's shape (or change the space)",
            )

    def check_info(call: str, info: Any) -> None:
        if not isinstance(info, dict):
            raise refuse(call, f"the info {info!r}, not a dict", "return {} when there is none")

    class StepContract(gymnasium.Wrapper):
        """Each result of the environment's reset/step checked (see ``step_contract``)."""

        def close(self) -> None:
            try:
                self.env.close()
            except Exception as e:  # the work is done: a failed close is not worth a traceback
                logger.warning("the environment %s's close() failed (ignored): %r", name, e)

        def reset(self, **kwargs: Any) -> Any:
            try:
                result = self.env.reset(**kwargs)
            except TypeError as e:
                if "unexpected keyword argument" not in str(e):
                    raise
                raise AgentOSError(
                    f"the environment {name}'s reset() does not take gymnasium's keyword "
                    f"arguments ({', '.join(kwargs)}): {e}",
                    fix="define it as `def reset(self, *, seed=None, options=None)` and call "
                    "`super().reset(seed=seed)` in it",
                ) from e
            if not (isinstance(result, tuple) and len(result) == 2):
                raise refuse(
                    "reset()",
                    f"{_values(result)}, not (observation, info)",
                    "return `observation, info` from reset() (gymnasium >= 0.26 API)",
                )
            check_observation("reset()", result[0])
            check_info("reset()", result[1])
            return result

        def step(self, action: Any) -> Any:
            result = self.env.step(action)
            if not (isinstance(result, tuple) and len(result) == 5):
                raise refuse(
                    "step()",
                    f"{_values(result)}, not (observation, reward, terminated, truncated, info)",
                    "return the five values of gymnasium's API (old gym's `done` is now "
                    "`terminated, truncated`)",
                )
            obs, reward, _, _, info = result
            check_observation("step()", obs)
            value = np.asarray(reward) if reward is not None else None
            if value is None or value.size != 1 or value.dtype.kind not in "biuf":
                raise refuse("step()", f"the reward {reward!r}", "return a number as reward")
            number = float(value.reshape(()))
            if not math.isfinite(number) or abs(number) > _FLOAT32_MAX:
                beyond = " (beyond float32)" if math.isfinite(number) else ""
                raise refuse(
                    "step()",
                    f"the reward {number!r}{beyond}",
                    "return finite rewards within float32's range (|reward| < 3.4e38): a NaN or "
                    "infinite one makes returns and learning NaN",
                )
            check_info("step()", info)
            return result

    return StepContract(env)


def _values(result: Any) -> str:
    """What a reset/step call returned, for a message: '4 values' or 'a dict'."""
    if isinstance(result, tuple):
        return f"{len(result)} values"
    return f"a {type(result).__name__}"


def check_environment(env: Any, name: str) -> None:
    """gymnasium's env checker on a user's environment; a failed check is an AgentOSError,
    and so is a reward that is not a number (None, a string) or is NaN: nothing could learn
    from it. The checker's other warnings are logged once each."""
    from gymnasium.utils.env_checker import check_env

    fix = (
        "make reset/step follow the gymnasium.Env API (see gymnasium.utils.env_checker."
        "check_env), or set environment.params.check_env: false to skip the check"
    )
    cause: Exception | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            check_env(env, skip_render_check=True)
            failure = None
        except Exception as e:  # the checker asserts; any failure names the check
            cause = e
            failure = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if not isinstance(e, AssertionError):  # the environment's own code raised
                failure = f"{type(e).__name__}: {failure}{raised_at(e)}"
    notes = list(dict.fromkeys(_plain(str(w.message)) for w in caught))
    # a NaN reward or observation also fails the determinism check (NaN != NaN): name it
    failure = next((n for n in notes if n.startswith(_BAD_REWARDS)), failure)
    if failure is not None and "eterministic" in failure and _observes_nan(env):
        failure = "the observations contain NaN"
    if failure is not None and "truncates after 1 step" in failure and not _truncates_at_once(env):
        # gymnasium asserts `truncated is False`: numpy's np.False_ (valid) failed it
        failure = None
    if failure is not None:
        detail = "; ".join(n for n in notes if n != failure and "expecting" in n)[:400]
        if "not within the observation space" in failure and not detail:
            detail = _observation_mismatch(env)
        raise AgentOSError(
            f"environment {name} fails gymnasium's env checker: {failure}"
            + (f" ({detail})" if detail else ""),
            fix=fix,
        ) from cause
    for note in notes[:5]:
        logger.warning("env checker (%s): %s", name, note)


def _truncates_at_once(env: Any) -> bool:
    """Whether ``env`` really truncates its first step (the checker's seed and a sampled
    action, as its determinism check steps)."""
    env.action_space.seed(123)
    env.reset(seed=123)
    truncated = env.step(env.action_space.sample())[3]
    return bool(truncated)


def _observes_nan(env: Any) -> bool:
    """Whether ``env``'s first observations (reset, one step) hold a NaN."""
    import numpy as np

    def has_nan(obs: Any) -> bool:
        try:
            return bool(np.isnan(np.asarray(obs, dtype=np.float64)).any())
        except (TypeError, ValueError):  # dicts, tuples, text: not checked
            return False

    try:
        obs, _ = env.reset(seed=0)
        step_obs = env.step(env.action_space.sample())[0]
    except Exception:
        return False
    return has_nan(obs) or has_nan(step_obs)


_BAD_REWARDS = ("The reward returned by `step()` must be", "The reward is a NaN value")
"""Checker warnings about rewards no agent can learn from: refused, not just logged."""


def _plain(message: str) -> str:
    """A checker warning without its terminal colours and ``WARN:`` prefix."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", message).strip()
    return text.removeprefix("WARN:").strip()


def _observation_mismatch(env: Any) -> str:
    """What differs between ``reset()``'s observation and a Box observation space."""
    import numpy as np
    from gymnasium import spaces

    space = env.observation_space
    try:
        observation = np.asarray(env.reset(seed=0)[0])
    except Exception:  # a reset that fails says so itself, elsewhere
        return ""
    if not isinstance(space, spaces.Box):
        return ""
    if observation.shape != space.shape:
        return f"reset() returned shape {observation.shape}, the space has {space.shape}"
    if observation.dtype != space.dtype:
        return f"reset() returned dtype {observation.dtype}, the space has {space.dtype}"
    if observation.dtype.kind == "f" and np.isnan(observation).any():
        return "reset() returned NaN values"
    return f"reset() returned values outside the space's bounds, {space}"


RENDER_FIX = "film an environment whose render() returns frames in rgb_array mode"


def rendered(render: Any, name: str) -> Any:
    """What ``render()`` returned (a frame, or a list of frames): an error naming ``name``
    when it raised or returned no frame."""
    try:
        frames = render()
    except AgentOSError:
        raise
    except NotImplementedError:
        frames = None
    except Exception as e:  # the environment's own render() raised: name what it said
        raise AgentOSError(
            f"{name}: render() failed: {type(e).__name__}: {e}"[:600], fix=RENDER_FIX
        ) from e
    if frames is None or (isinstance(frames, list) and any(f is None for f in frames)):
        raise AgentOSError(f"{name} returned no rgb_array frame from render()", fix=RENDER_FIX)
    return frames
