"""Any gymnasium environment as a vectorised agentos Environment, on gymnasium.vector.

Each copy is made by ``agentos.envs.make.EnvFactory`` (base env, Atari preprocessing, the
spec's ``wrappers:``, a flat Box for structured observations). The copies run in a
``SyncVectorEnv`` (one process) or, with ``vectorization: async``, an ``AsyncVectorEnv``
(one subprocess per copy, started through a forkserver so that they do not inherit JAX's
threads). Copies reset themselves when an episode ends; the true last observation of an
episode is kept in ``EnvStep.final_observation`` so learners can bootstrap correctly from
time-limit truncations.

Checkpoints of sync copies hold each copy's episode in progress as the way it began (the
reset seed, or the state of the copy's ``np_random`` before an automatic reset) and the
actions taken since; restoring replays them, so a resumed run goes on inside the same
episodes. A gymnasium environment is a black box with no portable state, and replaying its
episode is exact for every environment whose randomness is its ``np_random`` (classic
control, Box2D, toy text, MiniGrid). Where a replay does not reproduce the saved
observation (an environment with hidden randomness, such as ALE after an automatic reset),
the copies restart their episodes instead, with a warning. Async copies live in other
processes: a resume restarts their episodes (counters, replay and learner stay exact).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from agentos.envs.env_checks import check_finite_observations
from agentos.envs.make import EnvFactory, make_gym, stdout_to_log
from agentos.envs.vector import AsyncCopies
from agentos.envs.wrappers import parse_wrappers
from agentos.errors import AgentOSError, raised_at
from agentos.runtime.roles import BuildContext, Environment, EnvStep

logger = logging.getLogger(__name__)

__all__ = ["GymEnvironment", "GymParams", "environment_for_class", "make_gym"]


@dataclass(frozen=True)
class GymParams:
    """Parameters of a gymnasium environment."""

    env_id: str = "CartPole-v1"
    """A registered gymnasium id, e.g. CartPole-v1, LunarLander-v3, ALE/Pong-v5,
    MiniGrid-DoorKey-5x5-v0, or package:Id-v0 for a package's own ids."""
    num_envs: int = 1
    """Copies stepped together (one batched actor call per step)."""
    vectorization: Literal["sync", "async"] = "sync"
    """``sync``: copies stepped one after another in this process (exact resume);
    ``async``: copies in worker subprocesses, so slow environments (Atari, simulators) use
    every core (a resume restarts their episodes)."""
    async_workers: int = 0
    """Worker subprocesses of ``async`` copies, each stepping an equal share of them
    (0: one per CPU core, as many as divide ``num_envs``)."""
    max_episode_steps: int | None = None
    """Override the id's time limit (None keeps gymnasium's)."""
    kwargs: dict = field(default_factory=dict)
    """Keyword arguments for gymnasium.make, or for the class of a plain gymnasium.Env."""
    wrappers: tuple[str | dict, ...] = ()
    """gymnasium wrappers applied to every copy, in order: a name of gymnasium.wrappers,
    package.module.Class or file.py:Class, or {wrapper: NAME, kwargs: {...}}."""
    preprocessing: Literal["auto", "none"] = "auto"
    """``auto``: Atari games get the R2D2/Agent57 preprocessing, and observations that are not
    a Box (Dict, Tuple, Discrete) become one flat float32 vector; ``none``: as they are."""
    render_mode: str | None = None
    """gymnasium's render_mode for every copy (``agentos run --video`` sets ``rgb_array``
    for its evaluation copies); None: no rendering."""
    check_env: bool = True
    """Run gymnasium's env checker on a plain gymnasium.Env class when it is loaded."""
    check_finite: bool = True
    """Stop with an error naming the environment when it returns a NaN or infinite
    observation (a network would turn it into a NaN loss far from its cause)."""
    observation_indices: tuple[int, ...] | None = None
    """Keep only these entries of a flat Box observation (e.g. [0, 2] hides CartPole's
    velocities, so the agent needs memory); None keeps all."""
    must_be_written: ClassVar[dict[str, str]] = {
        "env_id": "env_id: CartPole-v1 (any gymnasium id), or run `agentos install gym:ID` again"
    }
    """Fields a spec must set although they have a default ({field: how to set it}): a spec
    whose params were emptied would otherwise build CartPole-v1 without a word."""

    def __post_init__(self) -> None:
        if self.num_envs < 1:
            raise AgentOSError(
                f"num_envs must be >= 1, got {self.num_envs}", fix="set num_envs to 1 or more"
            )
        if self.max_episode_steps is not None and self.max_episode_steps < 1:
            raise AgentOSError(
                f"max_episode_steps must be >= 1, got {self.max_episode_steps}",
                fix="set max_episode_steps to 1 or more, or remove it to keep the "
                "environment's own time limit",
            )
        if self.async_workers < 0:
            raise AgentOSError(
                f"async_workers must be >= 0, got {self.async_workers}",
                fix="set async_workers to 0 (one per CPU core) or more",
            )
        parse_wrappers(self.wrappers)

    def gym_id(self) -> str:
        """The gymnasium id to make."""
        return self.env_id


@dataclass(frozen=True)
class ClassEnvParams(GymParams):
    """Parameters of a plain gymnasium.Env class (built with ``kwargs``)."""

    env_id: str = ""
    """Not used: the class is the environment."""
    must_be_written: ClassVar[dict[str, str]] = {}
    constructor_args: ClassVar[tuple[str, ...]] = ()
    """Fields passed to the class's constructor (besides ``kwargs``)."""

    def constructor_kwargs(self) -> dict[str, Any]:
        """The keyword arguments the class is built with."""
        return {**self.kwargs, **{name: getattr(self, name) for name in self.constructor_args}}


def _select(obs_space: Any, params: GymParams) -> Any:
    """The observation space cut to ``observation_indices``."""
    if params.observation_indices is None:
        return obs_space
    from gymnasium import spaces

    if not isinstance(obs_space, spaces.Box) or len(obs_space.shape) != 1:
        raise AgentOSError(
            f"observation_indices needs a flat Box observation, {params.gym_id()} has {obs_space}",
            fix="remove params.observation_indices",
        )
    keep = list(params.observation_indices)
    if not keep or min(keep) < 0 or max(keep) >= obs_space.shape[0]:
        raise AgentOSError(
            f"observation_indices {keep} out of range for {obs_space.shape[0]} entries",
            fix=f"use indices in 0..{obs_space.shape[0] - 1}",
        )
    return spaces.Box(obs_space.low[keep], obs_space.high[keep], dtype=obs_space.dtype)


def _sync_copies(factory: EnvFactory, params: GymParams) -> Any:
    """The copies in this process, leaving resets to us (autoreset disabled)."""
    from gymnasium.vector import AutoresetMode, SyncVectorEnv

    return SyncVectorEnv([factory] * params.num_envs, autoreset_mode=AutoresetMode.DISABLED)


_LIMIT_ENDS_TASK: dict[tuple[str, str], bool] = {}
"""``time_limit_ends_task`` of the environments ``spaces`` made, by (params, agent folder)."""


class GymEnvironment(Environment):
    """N copies of a gymnasium environment with automatic reset."""

    Params = GymParams
    env_class: ClassVar[type | None] = None
    """Set by ``environment_for_class``: the plain gymnasium.Env this component runs."""
    class_file: ClassVar[str | None] = None
    class_module: ClassVar[str | None] = None

    def __init__(self, params: GymParams, context: BuildContext, **dependencies: Any):
        super().__init__(params, context)
        self._factory = self.factory(params, context.agent_dir)
        self._sync = params.vectorization == "sync"
        if self._sync:
            self._vec = _sync_copies(self._factory, params)
        else:
            self._vec = AsyncCopies(self._factory, params.num_envs, params.async_workers)
        self.num_envs = params.num_envs
        self.observation_space = _select(self._vec.single_observation_space, params)
        self.action_space = self._vec.single_action_space
        indices = params.observation_indices
        self._keep = None if indices is None else list(indices)
        self._seed = context.component_seed("env")
        # Per copy, how its current episode began ({"seed": s} or {"rng": np_random state}),
        # the actions taken since and the latest raw observations: enough to replay it.
        self._starts: list[dict[str, Any] | None] = [None] * params.num_envs
        self._actions: list[list[Any]] = [[] for _ in range(params.num_envs)]
        self._obs: np.ndarray | None = None
        self._continued = False

    @classmethod
    def factory(cls, params: GymParams, agent_dir: Any = None) -> EnvFactory:
        """What makes one copy of this environment."""
        return EnvFactory(
            params=params,
            agent_dir=None if agent_dir is None else str(agent_dir),
            env_class=cls.env_class,
            class_file=cls.class_file,
            class_module=cls.class_module,
            class_name=None if cls.env_class is None else cls.env_class.__name__,
        )

    @classmethod
    def spaces(cls, params: GymParams, agent_dir: Any = None) -> tuple[Any, Any]:
        """Spaces of one copy (makes, checks and closes one environment)."""
        from agentos.envs.make import time_limit_ends_task

        env = cls.factory(params, agent_dir)(check=True)
        try:
            # Noted now, so that time_limit_ends_task makes no second copy.
            _LIMIT_ENDS_TASK[(repr(params), str(agent_dir))] = time_limit_ends_task(env)
            return _select(env.observation_space, params), env.action_space
        finally:
            env.close()

    @classmethod
    def time_limit_ends_task(cls, params: GymParams, agent_dir: Any = None) -> bool:
        """Whether one copy truncates by itself (``make.time_limit_ends_task``)."""
        from agentos.envs.make import time_limit_ends_task

        known = _LIMIT_ENDS_TASK.get((repr(params), str(agent_dir)))
        if known is not None:
            return known
        env = cls.factory(params, agent_dir)()
        try:
            return time_limit_ends_task(env)
        finally:
            env.close()

    def render_copies(self, indices: Any) -> list[np.ndarray]:
        """The current frame of each copy in ``indices`` (``render_mode: rgb_array``)."""
        if self.params.render_mode != "rgb_array":
            raise AgentOSError(
                "the environment renders no frames (render_mode is not rgb_array)",
                fix="set -p environment.render_mode=rgb_array (agentos run --video does)",
            )
        from agentos.envs.env_checks import rendered

        name = self.params.gym_id() or type(self).__name__
        if self._sync:
            envs = self._vec.envs
            return rendered(lambda: [envs[int(i)].render() for i in indices], name)
        return rendered(lambda: self._vec.render_copies(indices), name)

    def wrapper_chain(self) -> list[str]:
        """The wrappers agentos applied to each copy, innermost first (tracked with runs)."""
        return list(self._factory.applied)

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Reset every copy; copy i gets ``seed + i`` (the component's own seed if None)."""
        base = self._seed if seed is None else seed
        seeds = [int(base) + i for i in range(self.num_envs)]
        try:
            with stdout_to_log():
                obs = self._vec.reset(seed=seeds)[0] if self._sync else self._vec.reset(seeds)
        except Exception as e:
            raise self._failed("reset()", e) from e
        check_finite_observations(self._view(obs), self._factory.label(), "reset()", self.params)
        self._starts = [{"seed": s} for s in seeds]
        self._actions = [[] for _ in range(self.num_envs)]
        self._obs = obs
        return self._view(obs)

    def _view(self, obs: np.ndarray) -> np.ndarray:
        return obs if self._keep is None else obs[:, self._keep]

    def step(self, action: np.ndarray) -> EnvStep:
        """Step every copy; finished copies are reset and their last obs kept."""
        action = np.asarray(action)
        try:
            if self._sync:
                obs, reward, terminated, truncated, final = self._step_sync(action)
            else:
                obs, reward, terminated, truncated, final = self._vec.step(action)
        except Exception as e:
            raise self._failed("step()", e) from e
        self._obs = obs
        obs, final = self._view(obs), self._view(final)
        check_finite_observations(final, self._factory.label(), "step()", self.params)
        if final is not obs:  # copies that ended were reset: their new first observations
            check_finite_observations(obs, self._factory.label(), "reset()", self.params)
        return EnvStep(obs, reward, terminated, truncated, final)

    def _failed(self, call: str, error: Exception) -> Exception:
        """An error the environment raised, as one message naming it and where it was raised
        (AgentOSErrors, e.g. of agentos' own wrappers, pass unchanged)."""
        if isinstance(error, AgentOSError):
            return error
        return AgentOSError(
            f"the environment {self._factory.label()} failed in {call}: "
            f"{type(error).__name__}: {error}{raised_at(error)}",
            fix="fix the environment (or its kwargs/wrappers in the spec); --debug shows the "
            "whole traceback",
        )

    def _step_sync(self, action: np.ndarray) -> tuple[np.ndarray, ...]:
        """Step the in-process copies, remembering how each episode began (exact resume)."""
        obs, reward, terminated, truncated, _ = self._vec.step(action)
        terminated = np.asarray(terminated, bool)
        truncated = np.asarray(truncated, bool)
        done = terminated | truncated
        final = obs
        for i in range(self.num_envs):
            self._actions[i].append(action[i])
        if done.any():
            final = obs.copy()
            for i in np.flatnonzero(done):  # type: ignore[assignment]
                self._starts[i] = {"rng": _rng_state(self._vec.envs[i])}
                self._actions[i] = []
            with stdout_to_log():
                obs, _ = self._vec.reset(options={"reset_mask": done})
        return obs, np.asarray(reward, np.float32), terminated, truncated, final

    # --- state ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Each sync copy's episode in progress: how it began, its actions, its observation
        and the copy's rng now ({} before the first reset, and for async copies)."""
        if not self._sync or self._obs is None or any(s is None for s in self._starts):
            return {}
        copies = []
        for i, env in enumerate(self._vec.envs):
            actions = self._actions[i]
            copies.append(
                {
                    "start": dict(self._starts[i]),  # type: ignore[arg-type]
                    "actions": np.asarray(actions) if actions else np.zeros((0,), np.int64),
                    "observation": np.asarray(self._obs[i]),
                    "rng": _rng_state(env),
                }
            )
        return {"copies": copies}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replay every copy's saved episode; see the module docstring."""
        self._continued = False
        copies = state.get("copies") or []
        if not self._sync or len(copies) != self.num_envs:
            if copies:
                why = (
                    "async copies run in subprocesses"
                    if not self._sync
                    else f"the checkpoint has {len(copies)} copies, this environment "
                    f"{self.num_envs}"
                )
                logger.info("%s: episodes in progress restart", why)
            return
        restored = []
        for i, (env, saved) in enumerate(zip(self._vec.envs, copies, strict=True)):
            start = saved["start"]
            if "seed" in start:
                obs, _ = env.reset(seed=int(start["seed"]))
            else:
                _set_rng_state(env, start["rng"])
                obs, _ = env.reset()
            for a in saved["actions"]:
                obs, _, term, trunc, _ = env.step(a)
                if term or trunc:
                    break
            if not _same(obs, saved["observation"]):
                logger.warning(
                    "%s: replaying copy %d's episode did not reproduce the saved observation "
                    "(the environment has randomness outside its np_random): episodes restart",
                    self.params.gym_id() or type(self).__name__,
                    i,
                )
                return
            _set_rng_state(env, saved["rng"])
            self._starts[i] = dict(start)
            self._actions[i] = list(saved["actions"])
            restored.append(obs)
        self._obs = np.stack(restored)
        self._continued = True

    def continues_episodes(self) -> bool:
        """Whether the last ``load_state_dict`` put every copy back in its saved episode."""
        return self._continued

    def close(self) -> None:
        """Close every copy (subprocesses included, whatever state they are in)."""
        vec, self._vec = getattr(self, "_vec", None), None
        if vec is not None:
            vec.close()


def environment_for_class(
    env_class: type, *, file: str | None = None, module: str | None = None
) -> type[GymEnvironment]:
    """An environment component running the plain ``gymnasium.Env`` class ``env_class``.

    The arguments of the class's ``__init__`` become parameters of the component (typed by
    their annotations, defaulting to their defaults), beside the vectorisation options.
    """
    return type(
        env_class.__name__,
        (GymEnvironment,),
        {
            "__doc__": f"The gymnasium.Env {env_class.__name__}, vectorised by agentos.",
            "__module__": __name__,
            "Params": _constructor_params(env_class),
            "env_class": env_class,
            "class_file": file,
            "class_module": module,
        },
    )


def _constructor_params(env_class: type) -> type:
    """ClassEnvParams plus one field per argument of ``env_class.__init__``."""
    import inspect
    import typing

    own = {f.name for f in dataclasses.fields(ClassEnvParams)}
    try:
        hints = typing.get_type_hints(env_class.__init__)  # type: ignore[misc]
    except Exception:  # unresolvable annotations: leave the values untyped
        hints = {}
    fields = []
    for name, arg in list(inspect.signature(env_class.__init__).parameters.items())[1:]:  # type: ignore[misc]
        if arg.kind not in (arg.POSITIONAL_OR_KEYWORD, arg.KEYWORD_ONLY) or name in own:
            continue  # *args/**kwargs, and names of ours: reachable through ``kwargs``
        default = dataclasses.MISSING if arg.default is arg.empty else arg.default
        if isinstance(default, (list, dict, set)):
            spec = dataclasses.field(default_factory=lambda d=default: type(d)(d))  # type: ignore[misc]
        else:
            spec = dataclasses.field(default=default)
        fields.append((name, hints.get(name, Any), spec))
    params = dataclasses.make_dataclass(
        f"{env_class.__name__}Params",
        fields,
        bases=(ClassEnvParams,),
        frozen=True,
        kw_only=True,
        namespace={"constructor_args": tuple(f[0] for f in fields)},
    )
    params.__doc__ = f"Parameters of {env_class.__name__}: its constructor's, and vectorisation."
    return params


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
