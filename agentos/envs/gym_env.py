"""Any gymnasium environment as a vectorised agentos Environment.

Copies are stepped in one process and reset themselves when an episode ends; the true
last observation of an episode is kept in ``EnvStep.final_observation`` so learners can
bootstrap correctly from time-limit truncations.

Checkpoints hold each copy's episode in progress as the way it began (the reset seed, or
the state of the copy's ``np_random`` before an automatic reset) and the actions taken
since; restoring replays them, so a resumed run goes on inside the same episodes. A
gymnasium environment is a black box with no portable state, and replaying its episode is
exact for every environment whose randomness is its ``np_random`` (classic control, Box2D,
toy text). Where a replay does not reproduce the saved observation (an environment with
hidden randomness), the copies restart their episodes instead, with a warning.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agentos.errors import AgentOSError
from agentos.runtime.roles import BuildContext, Environment, EnvStep

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GymParams:
    """Parameters of a gymnasium environment."""

    env_id: str = "CartPole-v1"
    """A registered gymnasium id, e.g. CartPole-v1, LunarLander-v3, Acrobot-v1."""
    num_envs: int = 1
    """Copies stepped together (one batched actor call per step)."""
    max_episode_steps: int | None = None
    """Override the id's time limit (None keeps gymnasium's)."""
    kwargs: dict = field(default_factory=dict)
    """Keyword arguments for gymnasium.make (e.g. {continuous: true})."""
    observation_indices: tuple[int, ...] | None = None
    """Keep only these entries of a flat Box observation (e.g. [0, 2] hides CartPole's
    velocities, so the agent needs memory); None keeps all."""


def make_gym(env_id: str, max_episode_steps: int | None = None, kwargs: dict | None = None):
    """gymnasium.make with an unknown id turned into a clear AgentOSError."""
    import gymnasium as gym

    try:
        return gym.make(env_id, max_episode_steps=max_episode_steps, **(kwargs or {}))
    except gym.error.Error as e:
        known = [k for k in gym.registry if not k.startswith(("ALE/", "phys2d/", "tabular/"))]
        close = difflib.get_close_matches(env_id, known, n=3)
        fix = (f"did you mean {', '.join(close)}? " if close else "") + (
            "list ids with: python -c 'import gymnasium; gymnasium.pprint_registry()'"
        )
        raise AgentOSError(f"unknown gymnasium environment id '{env_id}' ({e})", fix=fix) from None
    except TypeError as e:
        raise AgentOSError(
            f"gymnasium environment '{env_id}' rejected its kwargs: {e}",
            fix="check params.kwargs against the environment's documentation",
        ) from None


def _select(env: Any, params: GymParams) -> tuple[Any, Any]:
    """(observation space, action space), the observation cut to ``observation_indices``."""
    obs_space = env.observation_space
    if params.observation_indices is None:
        return obs_space, env.action_space
    from gymnasium import spaces

    if not isinstance(obs_space, spaces.Box) or len(obs_space.shape) != 1:
        raise AgentOSError(
            f"observation_indices needs a flat Box observation, {params.env_id} has {obs_space}",
            fix="remove params.observation_indices",
        )
    keep = list(params.observation_indices)
    if not keep or min(keep) < 0 or max(keep) >= obs_space.shape[0]:
        raise AgentOSError(
            f"observation_indices {keep} out of range for {obs_space.shape[0]} entries",
            fix=f"use indices in 0..{obs_space.shape[0] - 1}",
        )
    box = spaces.Box(obs_space.low[keep], obs_space.high[keep], dtype=obs_space.dtype)
    return box, env.action_space


class GymEnvironment(Environment):
    """N copies of a gymnasium environment with automatic reset."""

    Params = GymParams

    def __init__(self, params: GymParams, context: BuildContext, **dependencies: Any):
        super().__init__(params, context)
        if params.num_envs < 1:
            raise AgentOSError("num_envs must be >= 1", fix="set params.num_envs to 1 or more")
        self._envs = [
            make_gym(params.env_id, params.max_episode_steps, params.kwargs)
            for _ in range(params.num_envs)
        ]
        self.num_envs = params.num_envs
        self.observation_space, self.action_space = _select(self._envs[0], params)
        indices = params.observation_indices
        self._keep = None if indices is None else list(indices)
        self._discrete = hasattr(self.action_space, "n")
        self._seed = context.component_seed("env")
        # Per copy, how its current episode began ({"seed": s} or {"rng": np_random state}),
        # the actions taken since and the latest raw observation: enough to replay it.
        self._starts: list[dict[str, Any] | None] = [None] * params.num_envs
        self._actions: list[list[Any]] = [[] for _ in range(params.num_envs)]
        self._last_obs: list[np.ndarray | None] = [None] * params.num_envs
        self._continued = False

    @classmethod
    def spaces(cls, params: GymParams) -> tuple[Any, Any]:
        """Spaces of one copy (makes and closes one environment)."""
        env = make_gym(params.env_id, params.max_episode_steps, params.kwargs)
        try:
            return _select(env, params)
        finally:
            env.close()

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Reset every copy; copy i gets ``seed + i`` (the component's own seed if None)."""
        base = self._seed if seed is None else seed
        first = [env.reset(seed=int(base) + i)[0] for i, env in enumerate(self._envs)]
        self._starts = [{"seed": int(base) + i} for i in range(self.num_envs)]
        self._actions = [[] for _ in range(self.num_envs)]
        self._last_obs = list(first)
        return self._view(np.stack(first))

    def _view(self, obs: np.ndarray) -> np.ndarray:
        return obs if self._keep is None else obs[:, self._keep]

    def step(self, action: np.ndarray) -> EnvStep:
        """Step every copy; finished copies are reset and their last obs kept."""
        n = self.num_envs
        obs, final = [], []
        reward = np.zeros(n, np.float32)
        terminated = np.zeros(n, bool)
        truncated = np.zeros(n, bool)
        for i, env in enumerate(self._envs):
            a = int(action[i]) if self._discrete else np.asarray(action[i])
            o, r, term, trunc, _ = env.step(a)
            reward[i], terminated[i], truncated[i] = r, term, trunc
            final.append(o)
            self._actions[i].append(a)
            if term or trunc:
                self._starts[i] = {"rng": _rng_state(env)}
                self._actions[i] = []
                o, _ = env.reset()
            self._last_obs[i] = o
            obs.append(o)
        return EnvStep(
            self._view(np.stack(obs)), reward, terminated, truncated, self._view(np.stack(final))
        )

    # --- state ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Each copy's episode in progress: how it began, its actions, its observation and
        the copy's rng now ({} before the first reset)."""
        if any(start is None for start in self._starts):
            return {}
        copies = []
        for i, env in enumerate(self._envs):
            actions = self._actions[i]
            copies.append(
                {
                    "start": dict(self._starts[i]),
                    "actions": np.asarray(actions) if actions else np.zeros((0,), np.int64),
                    "observation": np.asarray(self._last_obs[i]),
                    "rng": _rng_state(env),
                }
            )
        return {"copies": copies}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replay every copy's saved episode; see the module docstring."""
        self._continued = False
        copies = state.get("copies") or []
        if len(copies) != self.num_envs:
            if copies:
                logger.info(
                    "checkpoint has %d environment copies, this environment %d: episodes restart",
                    len(copies),
                    self.num_envs,
                )
            return
        for i, (env, saved) in enumerate(zip(self._envs, copies, strict=True)):
            start = saved["start"]
            if "seed" in start:
                obs, _ = env.reset(seed=int(start["seed"]))
            else:
                _set_rng_state(env, start["rng"])
                obs, _ = env.reset()
            for a in saved["actions"]:
                obs, _, term, trunc, _ = env.step(int(a) if self._discrete else np.asarray(a))
                if term or trunc:
                    break
            if not _same(obs, saved["observation"]):
                logger.warning(
                    "%s: replaying copy %d's episode did not reproduce the saved observation "
                    "(the environment has randomness outside its np_random): episodes restart",
                    self.params.env_id,
                    i,
                )
                return
            _set_rng_state(env, saved["rng"])
            self._starts[i] = dict(start)
            self._actions[i] = list(saved["actions"])
            self._last_obs[i] = obs
        self._continued = True

    def continues_episodes(self) -> bool:
        """Whether the last ``load_state_dict`` put every copy back in its saved episode."""
        return self._continued

    def close(self) -> None:
        """Close every copy."""
        for env in self._envs:
            env.close()


def _rng_state(env: Any) -> dict[str, Any]:
    """The bit generator state of a gymnasium environment's ``np_random``."""
    return env.unwrapped.np_random.bit_generator.state


def _set_rng_state(env: Any, state: dict[str, Any]) -> None:
    bit_generator = getattr(np.random, str(state["bit_generator"]))()
    bit_generator.state = state
    env.unwrapped.np_random = np.random.Generator(bit_generator)


def _same(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
