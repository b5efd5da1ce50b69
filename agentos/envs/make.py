"""Make one copy of an environment: base env, Atari preprocessing, spec wrappers, Box view.

The pipeline for every copy, in this order:

1. the base environment: ``gymnasium.make(env_id)`` (ALE and MiniGrid ids register their
   package first), or a plain ``gymnasium.Env`` class of the user's (a local file or git
   component) built with ``kwargs``;
2. ``preprocessing: auto`` and an Atari game: the R2D2/Agent57 preprocessing (see
   ``agentos.envs.atari``);
3. the spec's ``wrappers:``, in order (``agentos.envs.wrappers``);
4. ``preprocessing: auto`` and observations that are not a Box: one flat float32 vector
   (``agentos.envs.observations``);
5. a ``Discrete(n, start=s)`` action space with ``s != 0``: actions numbered from 0, as every
   agent numbers them (``zero_based_actions``).

``EnvFactory`` is picklable, so ``vectorization: async`` subprocesses make their own copies
(a class from a file of the agent folder is imported again there, by path).
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import inspect
import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentos.envs.env_checks import (
    check_environment,
    check_observations_hold_values,
    step_contract,
)
from agentos.errors import AgentOSError

logger = logging.getLogger(__name__)

PLUGIN_PREFIXES = {"ALE/": "ale_py", "MiniGrid-": "minigrid", "BabyAI-": "minigrid"}
"""Id prefixes whose package registers them with gymnasium when imported."""
PLUGIN_PACKAGES = ("ale_py", "minigrid")
"""Packages tried, when installed, for an id gymnasium does not know (ALE's v0/v4 ids such
as ``BreakoutNoFrameskip-v4`` have no prefix)."""
DEFAULT_TIME_LIMIT = 10_000
"""Steps after which agentos truncates episodes of an environment that has no time limit
of its own (a greedy policy that never reaches a terminal state would run forever)."""


def register_plugins(env_id: str) -> str:
    """Import the package that registers ``env_id`` (``package:Id``, ALE, MiniGrid); returns
    the id without its ``package:`` part."""
    import gymnasium as gym

    package, _, bare = env_id.rpartition(":")
    packages = [package] if package else []
    packages += [pkg for prefix, pkg in PLUGIN_PREFIXES.items() if bare.startswith(prefix)]
    named = package
    for package in packages:
        if package:
            try:
                module = importlib.import_module(package)
            except ImportError as e:
                fix = f"pip install {package}"
                top = package.split(".")[0]
                missing = getattr(e, "name", None) or top
                if missing.split(".")[0] != top:  # the package imports, one it needs does not
                    fix = f"pip install {missing.split('.')[0]} (which {package} imports)"
                elif package == named and isinstance(e, ModuleNotFoundError):
                    fix += (
                        f"; a module of your own ({top}.py, or a folder {top}/) imports only "
                        "from a folder on PYTHONPATH or an installed project (pip install -e "
                        "PATH); a gymnasium.Env class in the agent folder needs no id: make it "
                        f"the environment with `source: local, module: {top}.py, class: NAME`"
                    )
                raise AgentOSError(
                    f"'{env_id}' needs the package {package}, which does not import: {e}",
                    fix=fix,
                ) from None
            _registered(gym, package, module)
    if not packages and bare not in gym.registry:
        for package in PLUGIN_PACKAGES:
            try:
                _registered(gym, package, importlib.import_module(package))
            except ImportError:
                continue
            if bare in gym.registry:
                break
    return bare


def _registered(gym: Any, package: str, module: Any) -> None:
    """Lets an imported plugin package register its ids (ALE needs to be asked)."""
    if package == "ale_py":
        gym.register_envs(module)
        # ALE's banner and per-game notes go to the terminal unless told otherwise
        module.ALEInterface.setLoggerMode(module.LoggerMode.Error)


def is_atari(env_id: str) -> bool:
    """Whether ``env_id`` is an ALE game."""
    import gymnasium as gym

    bare = register_plugins(env_id)
    try:
        entry = gym.spec(bare).entry_point
    except gym.error.Error:
        return False
    return isinstance(entry, str) and entry.startswith("ale_py")


def make_gym(env_id: str, max_episode_steps: int | None = None, kwargs: dict | None = None):
    """gymnasium.make with an unknown id turned into a clear AgentOSError."""
    import gymnasium as gym

    env_id = register_plugins(env_id)
    try:
        env = gym.make(env_id, max_episode_steps=max_episode_steps, **(kwargs or {}))
    except (gym.error.DependencyNotInstalled, ImportError) as e:
        # ImportError: a constructor that imports its package late (shimmy's compatibility ids)
        raise AgentOSError(
            f"gymnasium environment '{env_id}' needs a package that is not installed: {e}",
            fix=_install_hint(str(e)),
        ) from None
    except gym.error.Error as e:
        known = list(gym.registry)
        close = difflib.get_close_matches(env_id, known, n=3)
        fix = (f"did you mean {', '.join(close)}? " if close else "") + (
            "gymnasium ids look like CartPole-v1, ALE/Pong-v5, MiniGrid-DoorKey-5x5-v0; "
            "a package's own ids as package:Id-v0"
        )
        raise AgentOSError(f"unknown gymnasium environment id '{env_id}' ({e})", fix=fix) from None
    except TypeError as e:
        raise AgentOSError(
            f"gymnasium environment '{env_id}' rejected its kwargs: {e}",
            fix="check params.kwargs against the environment's documentation",
        ) from None
    except Exception as e:  # the environment's own constructor: name it, not a traceback
        raise AgentOSError(
            f"gymnasium.make('{env_id}') failed: {type(e).__name__}: {e}",
            fix="check environment.params.kwargs in agentos.yaml (and any -p for them) "
            "against the environment's documentation; "
            "--debug shows the traceback",
        ) from None
    if max_episode_steps is None and not _has_time_limit(env):
        env = with_default_time_limit(env, env_id)
    return env


def _install_hint(message: str) -> str:
    """The fix for a missing package: the pip command the message quotes, else a generic one."""
    import re

    quoted = re.findall(r"`(pip install [^`]+)`", message)
    if quoted:
        return f"{' or '.join(quoted)} (not part of agentos), then rerun"
    return "install the package the message names (pip install NAME), then rerun"


def _has_time_limit(env: Any) -> bool:
    """Whether ``env`` ends its episodes by itself: its registration's or a TimeLimit's step
    limit, ALE's frame limit, or its own ``max_steps`` (MiniGrid)."""
    spec = getattr(env, "spec", None)
    if getattr(spec, "max_episode_steps", None):
        return True
    entry = getattr(spec, "entry_point", None)
    return (isinstance(entry, str) and entry.startswith("ale_py")) or _truncates_itself(env)


def _truncates_itself(env: Any) -> bool:
    """Whether the environment truncates at its own ``max_steps``. MiniGrid's base class always
    does; BabyAI levels set the value only at reset (0 before), so the class decides there."""
    unwrapped = env.unwrapped
    if any(c.__name__ == "MiniGridEnv" for c in type(unwrapped).__mro__):
        return True
    own = getattr(unwrapped, "max_steps", None)
    return isinstance(own, int) and not isinstance(own, bool) and own > 0


def time_limit_ends_task(env: Any) -> bool:
    """Whether ``env``'s time limit is part of its task (Pardo et al. 2018,
    https://arxiv.org/abs/1712.00378 ): the environment truncates by itself, as MiniGrid does at
    ``max_steps`` and pays less the longer an episode takes. A ``TimeLimit`` wrapper (the
    registration's ``max_episode_steps``, ``environment.max_episode_steps`` or agentos's
    default) and ALE's frame limit only cut an endless task: False."""
    from gymnasium.wrappers import TimeLimit

    layer = env
    while layer is not None:
        if isinstance(layer, TimeLimit):
            return False
        layer = getattr(layer, "env", None)
    entry = getattr(getattr(env, "spec", None), "entry_point", None)
    if isinstance(entry, str) and entry.startswith("ale_py"):
        return False
    return _truncates_itself(env)


def with_default_time_limit(env: Any, label: str) -> Any:
    """``env`` truncated after ``DEFAULT_TIME_LIMIT`` steps; the first time the limit cuts an
    episode, a warning says how to choose another (an environment that ends its own episodes,
    such as Blackjack, never hears of it)."""
    from gymnasium.wrappers import TimeLimit

    class DefaultTimeLimit(TimeLimit):
        def step(self, action: Any) -> Any:
            out = super().step(action)
            if out[3] and not out[2] and (self._elapsed_steps or 0) >= DEFAULT_TIME_LIMIT:
                _warn_unlimited(label)
            return out

    return DefaultTimeLimit(env, max_episode_steps=DEFAULT_TIME_LIMIT)


def _warn_unlimited(label: str) -> None:
    if label not in _warned_unlimited:  # once, not once per copy or episode
        _warned_unlimited.add(label)
        logger.warning(
            "%s has no time limit: agentos ended an episode after %d steps (set "
            "environment.max_episode_steps to choose another; a class that ends its own "
            "episodes after N steps says so with self.max_steps = N in __init__)",
            label,
            DEFAULT_TIME_LIMIT,
        )


_warned_unlimited: set[str] = set()


@dataclass
class EnvFactory:
    """Makes one copy of the environment described by an environment component's params."""

    params: Any
    """The component's params (``agentos.envs.gym_env.EnvParams`` or a subclass)."""
    agent_dir: str | None = None
    """The agent folder (for ``file.py:Class`` wrappers and local environment classes)."""
    env_class: type | None = None
    """A plain gymnasium.Env class (not pickled: subprocesses import it again)."""
    class_file: str | None = None
    """Where ``env_class`` was loaded from when it is a file of the agent folder."""
    class_module: str | None = None
    """Where ``env_class`` was loaded from when it is importable."""
    class_name: str | None = None
    applied: list[str] = field(default_factory=list)
    """The wrappers agentos applied to the last copy made, innermost first (tracked)."""

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["env_class"] = None
        return state

    def _class(self) -> type:
        if self.env_class is not None:
            return self.env_class
        if self.class_file:
            from agentos.envs.wrappers import _import_path

            path = Path(self.class_file)
            module = _import_path(path, path.stat().st_mtime_ns)
        else:
            module = importlib.import_module(self.class_module or "")
        self.env_class = getattr(module, self.class_name or "")
        return self.env_class

    def label(self) -> str:
        """What the environment is, for messages."""
        if self.class_name:
            return self.class_name
        return self.params.gym_id()

    def _atari(self) -> bool:
        """Whether the papers' Atari preprocessing applies (an ALE id, ``preprocessing: auto``)."""
        p = self.params
        return p.preprocessing == "auto" and self.class_name is None and is_atari(p.gym_id())

    def base(self, check: bool = False, atari: bool | None = None) -> Any:
        """The environment before any agentos preprocessing or spec wrapper."""
        p = self.params
        if p.render_mode == "rgb_array":
            # off-screen frames: no display or sound device needed (pygame-based envs)
            os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
            os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
        if self.class_name is None:
            kwargs = dict(p.kwargs)
            atari = self._atari() if atari is None else atari
            if atari:
                from agentos.envs.atari import base_kwargs

                kwargs = base_kwargs(kwargs)
            if p.render_mode:
                kwargs.setdefault("render_mode", p.render_mode)
                _check_render_mode(p.render_mode, p.gym_id())
            # Under Atari preprocessing the limit counts the agent's steps, so it is put on
            # after the frame skip (``__call__``), not on the emulator's frames here.
            return make_gym(p.gym_id(), None if atari else p.max_episode_steps, kwargs)
        cls = self._class()
        kwargs = p.constructor_kwargs()
        if p.render_mode and "render_mode" in inspect.signature(cls.__init__).parameters:  # type: ignore[misc]
            kwargs.setdefault("render_mode", p.render_mode)
        try:
            env = cls(**kwargs)
        except Exception as e:  # the user's constructor: any error names the class
            raise AgentOSError(
                f"{cls.__name__}({_call_args(kwargs)}) failed: {type(e).__name__}: {e}",
                fix="check the environment's parameters (agentos show), or its __init__",
            ) from None
        if check and p.check_env:
            with stdout_to_log():
                check_environment(env, cls.__name__)
        env = step_contract(env, cls.__name__)
        if p.max_episode_steps:
            from gymnasium.wrappers import TimeLimit

            env = TimeLimit(env, max_episode_steps=int(p.max_episode_steps))
        elif not _has_time_limit(env):
            env = with_default_time_limit(env, cls.__name__)
        return env

    def __call__(self, check: bool = False) -> Any:
        """One fully wrapped copy (``check`` runs gymnasium's env checker on the base env)."""
        from agentos.envs.observations import flat_observation_wrapper, needs_flattening
        from agentos.envs.wrappers import apply_wrappers, parse_wrappers

        p = self.params
        atari = self._atari()
        env = self.base(check=check, atari=atari)
        applied = []
        if atari:
            from agentos.envs.atari import PREPROCESSING, preprocess

            env = preprocess(env)
            applied.append(f"AtariPreprocessing({_call_args(PREPROCESSING)})")
            if p.max_episode_steps:
                from gymnasium.wrappers import TimeLimit

                env = TimeLimit(env, max_episode_steps=int(p.max_episode_steps))
                applied.append(f"TimeLimit(max_episode_steps={int(p.max_episode_steps)})")
        agent_dir = Path(self.agent_dir) if self.agent_dir else None
        specs = parse_wrappers(p.wrappers)
        env = apply_wrappers(env, specs, agent_dir)
        applied += [s.name for s in specs]
        if p.preprocessing == "auto" and needs_flattening(env.observation_space):
            env = flat_observation_wrapper(env)
            applied.append("FlatObservation")
        check_observations_hold_values(env.observation_space, self.label())
        start = _discrete_start(env.action_space)
        if start:
            env = zero_based_actions(env)
            applied.append(f"ZeroBasedActions(start={start})")
        self.applied = applied
        return env


def _discrete_start(space: Any) -> int:
    """The first action of a ``Discrete`` space (0 for every other space)."""
    from gymnasium import spaces

    return int(space.start) if isinstance(space, spaces.Discrete) else 0


def zero_based_actions(env: Any) -> Any:
    """``env`` with its ``Discrete(n, start=s)`` actions numbered ``0..n-1``: agents index
    actions from 0 (one Q-value per action), so action ``a`` steps ``env`` with ``a + s``."""
    import gymnasium
    from gymnasium import spaces

    inner_space = env.action_space
    start = int(inner_space.start)

    class ZeroBasedActions(gymnasium.ActionWrapper):
        """Discrete actions from 0, whatever the environment's first action is."""

        def __init__(self, inner: Any):
            super().__init__(inner)
            self.action_space = spaces.Discrete(int(inner_space.n))

        def action(self, action: Any) -> Any:
            return inner_space.dtype.type(int(action) + start)

    return ZeroBasedActions(env)


def _check_render_mode(mode: str, env_id: str) -> None:
    """Refuse a render_mode the registered environment does not list (gymnasium only warns,
    then renders nothing or fails at the first frame)."""
    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    try:
        spec = gym.spec(register_plugins(env_id))
        creator = (
            load_env_creator(spec.entry_point)
            if isinstance(spec.entry_point, str)
            else spec.entry_point
        )
        metadata = getattr(creator, "metadata", None)
        modes = list(metadata.get("render_modes") or []) if isinstance(metadata, dict) else []
    except Exception:  # an unknown id or entry point is reported by make_gym
        return
    # gymnasium also takes "human" for an rgb_array env and "MODE_list" for MODE
    allowed = {*modes, *(f"{m}_list" for m in modes), *(["human"] if "rgb_array" in modes else [])}
    if modes and mode not in allowed:
        raise AgentOSError(
            f"render_mode '{mode}' is not one of {env_id}'s render modes: {', '.join(modes)}",
            fix="set environment.render_mode to one of them (rgb_array films episodes), or "
            "remove it",
        )


def _call_args(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


@contextlib.contextmanager
def stdout_to_log() -> Iterator[None]:
    """What an environment prints while it resets (e.g. BabyAI's "Sampling rejected") goes to
    the debug log, not to stdout, where it would mix with the CLI's output."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield
    for line in buffer.getvalue().splitlines():
        if line.strip():
            logger.debug("environment printed: %s", line)
